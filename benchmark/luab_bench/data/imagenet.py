"""ImageNet train images joined with ImageNet-AB records: which images have a Z, which records no image.

Two image sources:

* a local ``ImageFolder`` tree (``<root>/<wnid>/<wnid>_<n>.JPEG``): :func:`imagefolder_samples` lists
  it in torchvision's ``ImageFolder`` order (classes sorted, then files sorted), so index i of the
  training dataset is row i of the alignment;
* the HF ``imagenet-1k`` dataset's parquet shards (``data/train-*.parquet``, in a local folder or the HF
  cache): each row has ``image`` = {``bytes``, ``path``} and ``label`` (int); the file name in ``path``
  (``n01440764_10026.JPEG``) maps to the ImageNet-AB id with :func:`id_from_filename`.
  :func:`parquet_samples` lists the rows with pyarrow only (``datasets`` is not needed). The class
  names come from the shard's ``huggingface`` schema metadata (``ClassLabel`` names) when present.
"""

from __future__ import annotations

import dataclasses
import json
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


def imagefolder_files(root: str | Path) -> tuple[list[Path], list[int], list[str]]:
    """``(paths, labels, classes)`` of an ImageFolder tree, in :func:`imagefolder_samples` order."""
    root = Path(root).expanduser()
    ids, labels, classes = imagefolder_samples(root)
    paths: list[Path] = []
    for wnid in classes:
        for file in sorted((root / wnid).iterdir()):
            if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES:
                paths.append(file)
    assert len(paths) == len(ids)
    return paths, labels, classes


@dataclasses.dataclass(frozen=True)
class ParquetListing:
    """Rows of imagenet-1k parquet shards: sample i = row ``rows[i]`` of ``shards[shard_of[i]]``."""

    shards: list[Path]
    shard_of: list[int]
    rows: list[int]
    names: list[str]  # the image file name of each row (``image.path``)
    labels: list[int]
    class_names: list[str] | None  # ClassLabel names from the schema metadata, if present


def parquet_shards(root: str | Path) -> list[Path]:
    """The training shards under ``root`` (a shard file, or a folder searched recursively).

    ``train-*.parquet`` when there are any (the HF layout also holds validation/test shards), else
    every ``*.parquet``; sorted by path.
    """
    root = Path(root).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: not a file or directory; give the imagenet-1k parquet folder")
    train = sorted(root.rglob("train-*.parquet"))
    return train or sorted(root.rglob("*.parquet"))


def _class_names(schema_metadata: dict[bytes, bytes] | None) -> list[str] | None:
    raw = (schema_metadata or {}).get(b"huggingface")
    if not raw:
        return None
    try:
        feature = json.loads(raw)["info"]["features"]["label"]
        names = feature.get("names")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return [str(n) for n in names] if isinstance(names, list) else None


def parquet_samples(root: str | Path) -> ParquetListing:
    """List the rows of HF ``imagenet-1k`` parquet shards (``image`` {bytes, path}, ``label``).

    Reads only the ``image.path`` and ``label`` columns. A shard without them, or a row without a
    path or with a negative label (the test split's -1), is a :class:`DataError` naming the shard.
    """
    import pyarrow.parquet as pq

    shards = parquet_shards(root)
    if not shards:
        raise DataError(f"{root}: no .parquet shards found (expected e.g. data/train-00000-of-00294.parquet)")
    shard_of: list[int] = []
    rows: list[int] = []
    names: list[str] = []
    labels: list[int] = []
    class_names: list[str] | None = None
    for s, shard in enumerate(shards):
        try:
            pf = pq.ParquetFile(shard)
            table = pf.read(columns=["image.path", "label"])
        except (OSError, KeyError, ValueError) as err:
            raise DataError(
                f"{shard}: not an imagenet-1k parquet shard with image {{bytes, path}} and label columns "
                f"({type(err).__name__}: {err})"
            ) from None
        if class_names is None:
            class_names = _class_names(pf.schema_arrow.metadata)
        paths = table.column("image").combine_chunks().field("path").to_pylist()
        shard_labels = table.column("label").to_pylist()
        for r, (path, label) in enumerate(zip(paths, shard_labels, strict=True)):
            if not path or label is None or int(label) < 0:
                raise DataError(
                    f"{shard} row {r}: no image path or no label ({path!r}, {label!r}); use the train "
                    "split's shards (the test split has label -1)"
                )
            shard_of.append(s)
            rows.append(r)
            names.append(Path(str(path)).name)
            labels.append(int(label))
    return ParquetListing(shards, shard_of, rows, names, labels, class_names)
