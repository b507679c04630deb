"""ImageNet train images joined with ImageNet-AB records: which images have a Z, which records no image.

Two image sources:

* a local ``ImageFolder`` tree (``<root>/<wnid>/<wnid>_<n>.JPEG``): :func:`imagefolder_samples` lists
  it in torchvision's ``ImageFolder`` order (classes sorted, then files sorted), so index i of the
  training dataset is row i of the alignment;
* the HF ``imagenet-1k`` dataset: its image file names (``n01440764_10026.JPEG``) map to ImageNet-AB
  ids with :func:`id_from_filename`. How the file name is exposed per row (e.g. the ``image`` column's
  ``path``) depends on the ``datasets`` version and was not checked here (no ``datasets`` install).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from luab_bench.errors import DataError

IMAGE_SUFFIXES: tuple[str, ...] = (".jpeg", ".jpg", ".png")


def id_from_filename(name: str) -> str:
    """``n01440764_10026.JPEG`` (or a path ending in it) -> ``n01440764/n01440764_10026``."""
    stem = Path(name).name.rsplit(".", 1)[0]
    wnid = stem.split("_", 1)[0]
    return f"{wnid}/{stem}"


def imagefolder_samples(root: str | Path) -> tuple[list[str], list[int], list[str]]:
    """``(ids, labels, classes)`` of an ImageFolder tree, in torchvision ``ImageFolder`` order."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: not a directory; give the ImageNet train folder (<root>/<wnid>/*.JPEG)")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{root}: no class folders; expected <root>/<wnid>/<wnid>_<n>.JPEG")
    ids: list[str] = []
    labels: list[int] = []
    for label, wnid in enumerate(classes):
        for file in sorted((root / wnid).iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                ids.append(f"{wnid}/{file.name.rsplit('.', 1)[0]}")
                labels.append(label)
    return ids, labels, classes


def ids_from_filenames(names: Iterable[str]) -> list[str]:
    """ImageNet-AB ids for a sequence of image file names (e.g. from the HF ``imagenet-1k`` rows)."""
    return [id_from_filename(n) for n in names]
