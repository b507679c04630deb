"""Loaders for the released layouts of the ImageNet test sets (one function per layout).

Each loader reads a local directory and returns an :class:`ImageSet` (sorted file paths + integer
labels + the label space); it never downloads. Layouts (as released):

- ImageNet val: ``<root>/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG`` (the usual class-folder layout);
  labels = ImageNet index (timm's synset order). ReaL: ``real.json`` lists 50,000 label lists in
  val-number order; images are matched by the number in their file name.
- ImageNetV2: ``<root>/<k>/*.jpeg`` with k = 0..999 the class *index* (numeric, not string order);
  the release tarball ``imagenetv2-matched-frequency.tar.gz`` extracts to
  ``imagenetv2-matched-frequency-format-val/``.
- ImageNet-A / -R / -O: ``<root>/<wnid>/*`` with 200 wnid folders; label = position of the wnid
  in the ascending-ImageNet-index order of the folders present (the 200-class logit mask).
- ImageNet-Sketch: ``<root>/<wnid>/*`` with 1000 wnid folders; labels = ImageNet index.
- ImageNet-C: ``<root>/<corruption>/<severity 1..5>/<wnid>/*``.
- ObjectNet 1.0: ``<root>/images/<folder>/*`` and ``<root>/mappings/`` with
  ``folder_to_objectnet_label.json``, ``objectnet_to_imagenet_1k.json`` (ImageNet names joined by
  ``"; "``), ``pytorch_to_imagenet_2012_id.json`` and ``imagenet_to_label_2012_v2`` (one name per line).
- Backgrounds Challenge (IN-9): ``<root>/<variant>/val/<NN_class>/*`` (variants original, only_fg,
  no_fg, mixed_same, mixed_rand, only_bg_t, ...), ``<root>/fg_mask/val/<NN_class>/*.npy``; the
  challenge pairs ``fg_mask/val/<c>/<name>.npy`` with ``original/val/<c>/<name>.JPEG`` (MadryLab
  ``challenge_eval.py``).
- SI-Score (google-research/si-score, ``dataset_generator.py``): one folder per subset, in either
  released layout: the ``si-score-dataset`` bucket (``object_size``, ``object_location``,
  ``object_rotation``, each with ``<label>/<image_id>.jpg`` and ``foreground_classes.csv``, header
  ``int,label``; ``int`` = the ImageNet index of the label, from the repo's
  ``label_str_to_imagenet_classes``), or the https zips that TFDS downloads (``size.zip``,
  ``location.zip``, ``rotation.zip`` from ``s3.us-east-1.amazonaws.com/si-score-dataset``), which
  extract to ``area/``, ``location20_area02_min0pc/`` and ``rotation/`` with ``<label>/<id>.jpg``
  and no table: the labels' ImageNet indices are then :data:`SI_SCORE_IMAGENET_INDEX`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from luab_bench.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_WNID = re.compile(r"^n\d{8}$")
_VAL_NUMBER = re.compile(r"ILSVRC2012_val_(\d{8})")


@dataclass(frozen=True)
class ImageSet:
    """Files and labels of one test set. ``class_indices[k]`` = ImageNet indices of label k (if any)."""

    name: str
    paths: list[Path]
    labels: np.ndarray
    class_indices: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


@lru_cache(maxsize=1)
def imagenet_synsets() -> tuple[str, ...]:
    """The 1000 ImageNet-1k wnids in class-index order (shipped with timm)."""
    from timm.data import ImageNetInfo

    return tuple(ImageNetInfo().label_names())


def _require_dir(root: str | Path, what: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{what}: directory {root} not found")
    return root


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _class_folders(root: Path, what: str) -> list[Path]:
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    if not folders:
        raise DataError(f"{what}: {root} has no class folders")
    return folders


def _folder_set(name: str, folders: Sequence[Path], labels_of: Sequence[int]) -> ImageSet:
    paths: list[Path] = []
    labels: list[int] = []
    for folder, lab in zip(folders, labels_of, strict=True):
        files = _images(folder)
        paths += files
        labels += [lab] * len(files)
    if not paths:
        raise DataError(f"{name}: no images under {folders[0].parent}")
    return ImageSet(name, paths, np.asarray(labels, dtype=np.int64))


def load_wnid_folders(root: str | Path, name: str, *, expect: int | None = None) -> ImageSet:
    """Class folders named by wnid; labels = ImageNet index (all 1000) or subset position (fewer)."""
    root = _require_dir(root, name)
    folders = _class_folders(root, name)
    synsets = imagenet_synsets()
    index = {w: i for i, w in enumerate(synsets)}
    bad = [f.name for f in folders if not _WNID.match(f.name) or f.name not in index]
    if bad:
        raise DataError(f"{name}: {root} has folders that are not ImageNet wnids: {bad[:5]}")
    if expect is not None and len(folders) != expect:
        raise DataError(f"{name}: expected {expect} class folders in {root}, found {len(folders)}")
    folders.sort(key=lambda f: index[f.name])
    idx = [index[f.name] for f in folders]
    if len(folders) == len(synsets):
        s = _folder_set(name, folders, idx)
        return ImageSet(name, s.paths, s.labels, [[i] for i in range(len(synsets))])
    s = _folder_set(name, folders, list(range(len(folders))))
    return ImageSet(name, s.paths, s.labels, [[i] for i in idx])


def load_imagenet_val(root: str | Path) -> ImageSet:
    """ImageNet-1k val in class folders (50,000 images for the full set)."""
    return load_wnid_folders(root, "in1k_val", expect=1000)


def load_imagenet_v2(root: str | Path) -> ImageSet:
    """ImageNetV2 (matched-frequency): folders ``0..999`` are class indices, sorted numerically."""
    root = _require_dir(root, "v2")
    folders = _class_folders(root, "v2")
    bad = [f.name for f in folders if not f.name.isdigit() or not 0 <= int(f.name) < 1000]
    if bad:
        raise DataError(f"v2: {root} has non-numeric class folders {bad[:5]}; expected 0..999")
    folders.sort(key=lambda f: int(f.name))
    s = _folder_set("v2", folders, [int(f.name) for f in folders])
    return ImageSet("v2", s.paths, s.labels, [[i] for i in range(1000)])


def val_numbers(paths: Sequence[Path]) -> np.ndarray:
    """1-based val numbers from ``ILSVRC2012_val_XXXXXXXX`` file names."""
    out = []
    for p in paths:
        m = _VAL_NUMBER.search(p.name)
        if not m:
            raise DataError(f"{p}: not an ILSVRC2012_val_XXXXXXXX file name; ReaL needs them")
        out.append(int(m.group(1)))
    return np.asarray(out, dtype=np.int64)


def load_real_labels(path: str | Path, val: ImageSet) -> list[list[int]]:
    """ReaL label lists aligned with ``val.paths`` (from ``real.json``, matched by val number)."""
    path = Path(path)
    try:
        real = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read ReaL labels ({e})") from e
    if not isinstance(real, list) or not all(isinstance(r, list) for r in real):
        raise DataError(f"{path}: expected a JSON list of label lists")
    nums = val_numbers(val.paths)
    if nums.max() > len(real):
        raise DataError(f"{path}: {len(real)} label lists but val image number {nums.max()}")
    return [list(map(int, real[k - 1])) for k in nums]


def imagenet_c_cells(root: str | Path) -> set[tuple[str, int]]:
    """The ``(corruption, severity)`` folders present under an ImageNet-C root (no image listed)."""
    root = _require_dir(root, "c")
    return {
        (cdir.name, int(sdir.name))
        for cdir in _class_folders(root, "c")
        for sdir in cdir.iterdir()
        if sdir.is_dir() and sdir.name.isdigit()
    }


def load_imagenet_c(root: str | Path) -> dict[tuple[str, int], ImageSet]:
    """ImageNet-C: ``{(corruption, severity): ImageSet}`` for every corruption/severity present."""
    root = _require_dir(root, "c")
    out: dict[tuple[str, int], ImageSet] = {}
    for cdir in _class_folders(root, "c"):
        for sdir in sorted(p for p in cdir.iterdir() if p.is_dir() and p.name.isdigit()):
            out[(cdir.name, int(sdir.name))] = load_wnid_folders(
                sdir, f"c/{cdir.name}/{sdir.name}", expect=1000
            )
    if not out:
        raise DataError(f"c: no <corruption>/<severity> folders under {root}")
    return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read ({e}); it ships in ObjectNet's mappings/ folder") from e


def load_objectnet(root: str | Path) -> ImageSet:
    """ObjectNet images of the classes that map to ImageNet; label = ObjectNet class position."""
    root = _require_dir(root, "objectnet")
    maps = root / "mappings"
    folder_to_label = _read_json(maps / "folder_to_objectnet_label.json")
    on_to_in = _read_json(maps / "objectnet_to_imagenet_1k.json")
    pytorch_to_id = _read_json(maps / "pytorch_to_imagenet_2012_id.json")
    names_file = maps / "imagenet_to_label_2012_v2"
    if not names_file.is_file():
        raise DataError(f"{names_file}: missing; it ships in ObjectNet's mappings/ folder")
    id_to_pytorch = {int(v): int(k) for k, v in pytorch_to_id.items()}
    name_to_index = {
        line.strip(): id_to_pytorch[i]
        for i, line in enumerate(names_file.read_text().splitlines())
        if line.strip()
    }
    label_to_folder = {v: k for k, v in folder_to_label.items()}
    folders: list[Path] = []
    groups: list[list[int]] = []
    for on_name in sorted(on_to_in):
        try:
            idx = sorted(name_to_index[n] for n in on_to_in[on_name].split("; "))
            folder = root / "images" / label_to_folder[on_name]
        except KeyError as e:
            raise DataError(f"objectnet: mapping for {on_name!r} refers to unknown {e}") from None
        if folder.is_dir():
            folders.append(folder)
            groups.append(idx)
    if not folders:
        raise DataError(f"objectnet: no mapped class folders under {root / 'images'}")
    s = _folder_set("objectnet", folders, list(range(len(folders))))
    return ImageSet("objectnet", s.paths, s.labels, groups)


def load_in9(root: str | Path, variant: str) -> ImageSet:
    """A Backgrounds-Challenge variant: ``<root>/<variant>/val/<NN_class>/``; label = folder position."""
    vdir = _require_dir(Path(root) / variant / "val", f"backgrounds/{variant}")
    folders = _class_folders(vdir, f"backgrounds/{variant}")
    if len(folders) != 9:
        raise DataError(f"backgrounds/{variant}: expected 9 class folders in {vdir}, found {len(folders)}")
    return _folder_set(f"backgrounds/{variant}", folders, list(range(9)))


SI_SCORE_SUBSETS: dict[str, str] = {
    "size": "object_size",
    "loc": "object_location",
    "rot": "object_rotation",
}
#: The folder each subset's https zip extracts to (TFDS ``siscore.py``, ``_VARIANT_EXPANDED_DIR_NAMES``).
SI_SCORE_ZIP_FOLDERS: dict[str, str] = {
    "size": "area",
    "loc": "location20_area02_min0pc",
    "rot": "rotation",
}
#: ImageNet-1k index of each of the 61 SI-Score foreground classes, the numbers of google-research/
#: si-score's ``label_str_to_imagenet_classes`` as TFDS ships them (``siscore_labels.IMAGENET_LABELS``);
#: used when a subset folder has no ``foreground_classes.csv`` (the https zips).
#: ``tests/test_real_releases.py`` checks every entry against timm's ImageNet class names.
SI_SCORE_IMAGENET_INDEX: dict[str, int] = {
    "ambulance": 407, "artichoke": 944, "backpack": 414, "bagel": 931, "banana": 954, "beaker": 438,
    "binoculars": 447, "broccoli": 937, "burrito": 965, "candle": 470, "canoe": 472, "cello": 486,
    "cucumber": 943, "dumbbell": 543, "envelope": 549, "flowerpot": 738, "flute": 558, "goose": 99,
    "guacamole": 924, "hamster": 333, "hedgehog": 334, "hippopotamus": 344, "ipod": 605, "jeans": 608,
    "kite": 21, "koala": 105, "lemon": 951, "lighthouse": 437, "limousine": 627, "lipstick": 629,
    "magpie": 18, "miniskirt": 655, "missile": 657, "mushroom": 947, "orange": 950, "ostrich": 9,
    "otter": 360, "pig": 341, "pillow": 721, "pizza": 963, "pomegranate": 957, "pretzel": 932,
    "printer": 742, "racket": 752, "ruler": 769, "saxophone": 776, "screwdriver": 784, "skunk": 361,
    "snowmobile": 802, "sock": 806, "sombrero": 808, "starfish": 327, "strawberry": 949, "taxi": 468,
    "teapot": 849, "toaster": 859, "torch": 862, "vase": 883, "wok": 909, "zebra": 340, "zucchini": 939,
}  # fmt: skip


def load_si_score(root: str | Path, subset: str) -> ImageSet:
    """An SI-Score subset (``root`` = the subset folder): label = the ImageNet index of its class folder.

    The indices come from ``foreground_classes.csv`` (bucket layout) when the folder has one, else
    from :data:`SI_SCORE_IMAGENET_INDEX` (the https-zip layout). ``class_indices`` lists the ImageNet
    index of each class present (one per class), in the table's order; labels are ImageNet indices
    (1000-way top-1 is the metric).
    """
    root = _require_dir(root, f"si_{subset}")
    table = root / "foreground_classes.csv"
    if table.exists():
        try:
            with table.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            mapping = {r["label"]: int(r["int"]) for r in rows}
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"si_{subset}: cannot read {table} ({type(e).__name__}: {e}); it ships with each SI-Score "
                "subset of the bucket layout (header int,label); delete it to use the built-in table"
            ) from None
    else:
        mapping = dict(SI_SCORE_IMAGENET_INDEX)
    source = str(table) if table.exists() else "the built-in SI-Score class table (no foreground_classes.csv)"
    bad = {k: v for k, v in mapping.items() if not 0 <= v < 1000}
    if bad:
        raise DataError(f"si_{subset}: {source} has ImageNet indices outside 0..999: {bad}")
    folders = _class_folders(root, f"si_{subset}")
    unknown = [f.name for f in folders if f.name not in mapping]
    if unknown:
        raise DataError(f"si_{subset}: class folders {unknown[:5]} are not listed in {source}")
    order = {name: i for i, name in enumerate(mapping)}
    folders.sort(key=lambda f: order[f.name])
    s = _folder_set(f"si_{subset}", folders, [mapping[f.name] for f in folders])
    return ImageSet(s.name, s.paths, s.labels, [[mapping[f.name]] for f in folders])


@dataclass(frozen=True)
class ChallengeSet:
    """Backgrounds Challenge inputs: foreground images + masks + IN-9 labels, and the backgrounds."""

    fg_paths: list[Path]
    mask_paths: list[Path]
    labels: np.ndarray
    bg_paths: list[Path]


def load_bg_challenge(root: str | Path) -> ChallengeSet:
    """Pair every ``fg_mask/val/<c>/<n>.npy`` with ``original/val/<c>/<n>.JPEG``; list ``only_bg_t``."""
    root = Path(root)
    mask_root = _require_dir(root / "fg_mask" / "val", "backgrounds challenge")
    classes = _class_folders(mask_root, "backgrounds challenge")
    if len(classes) != 9:
        raise DataError(
            f"backgrounds challenge: expected 9 class folders in {mask_root}, found {len(classes)}"
        )
    fgs: list[Path] = []
    masks: list[Path] = []
    labels: list[int] = []
    for k, cdir in enumerate(classes):
        for m in sorted(p for p in cdir.iterdir() if p.suffix == ".npy"):
            img = root / "original" / "val" / cdir.name / (m.stem + ".JPEG")
            if not img.is_file():
                raise DataError(f"backgrounds challenge: {m} has no foreground image {img}")
            fgs.append(img)
            masks.append(m)
            labels.append(k)
    if not fgs:
        raise DataError(f"backgrounds challenge: no .npy masks under {mask_root}")
    bgs = load_in9(root, "only_bg_t").paths
    return ChallengeSet(fgs, masks, np.asarray(labels, dtype=np.int64), bgs)
