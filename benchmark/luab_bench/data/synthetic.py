"""Seeded generator of the embedded synthetic benchmark (the ``synthetic`` suite and its training data).

Each image holds one foreground object, one of ``num_classes`` class-specific shapes (exact boolean
mask, random size/position/rotation and random colour), pasted on a procedural background texture.
Backgrounds are *class-keyed but overlapping*: an oriented grating whose orientation, frequency and
hue are centred on class-specific values with jitter wide enough that neighbouring classes overlap,
plus low-frequency noise and per-pixel sensor noise. In ``train`` and ``val`` an image's background
belongs to its own class with probability ``bg_correlation`` (the spurious cue), otherwise to a
random other class.

Evaluation splits follow the Backgrounds Challenge (IN-9) design, as variants of the same images:
each evaluation image i has a foreground fg_i and an "original" background b_i of its own class.

* ``val``: fg_i on b_i with probability ``bg_correlation``, else on the background of an image of
  another class (in-distribution: same correlation as train).
* ``only_fg``: fg_i on a flat neutral grey; ``bg_labels = -1``.
* ``no_fg``: b_i alone (the object region is the background's own continuation, so no silhouette
  leaks the shape). Label = the original image's label (Backgrounds Challenge convention), which is
  also the background's class here.
* ``mixed_same``: fg_i on the background of another image of the same class.
* ``mixed_rand``: fg_i on the background of an image of a random other class (never its own).

A simulated annotator writes ImageNet-AB-schema records (``imagenet_ab.json``) for the train split;
see :func:`simulate_annotator` for the schema and where each field was confirmed.

Everything derives from ``seeds.seeded_generator(seed, stream)`` (PCG64): the same
config gives byte-identical files (``np.save``, never ``np.savez``; JSON with sorted keys and fixed
separators). :func:`generate` reuses a complete, hash-verified directory and rebuilds a partial or
corrupted one by writing into a temporary directory and renaming it into place.

This module is the dataset on disk (write, verify, reuse, load) and the package's front door: the
config and variants live in ``synthetic_config``, per-image parameters in ``synthetic_plan``, pixels
in ``synthetic_render``, shapes and colours in ``synthetic_shapes`` and the annotator in
``synthetic_annotator``; their public names are re-exported here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.data.manifest import (
    build_directory,
    canonical_json,
    check_file_hashes,
    npy_bytes,
    read_manifest,
    write_hashed,
)
from luab_bench.data.synthetic_annotator import simulate_annotator
from luab_bench.data.synthetic_config import (
    EVAL_SPLITS,
    GENERATOR_VERSION,
    SHAPE_NAMES,
    SPLITS,
    SYNTHETIC_VARIANTS,
    DistractorConfig,
    SyntheticConfig,
    class_table,
    class_wnid,
    config_hash,
    dataset_dirname,
)
from luab_bench.data.synthetic_plan import plan_splits
from luab_bench.data.synthetic_render import render_splits
from luab_bench.errors import DataError, LuabError
from luab_bench.hashing import sha256_hex
from luab_bench.io import atomic_write_bytes

ARRAY_FILES: tuple[str, ...] = ("images.npy", "labels.npy", "boxes.npy", "masks.npy", "bg_labels.npy")
SPLIT_FILES: tuple[str, ...] = (*ARRAY_FILES, "ids.json")
RECORDS_FILE = "imagenet_ab.json"
MANIFEST_FILE = "manifest.json"
FIX_HINT = "delete the directory and re-run `luab-bench data generate`"


# ------------------------------------------------------------------------------------------- files
def _fingerprint(split_hashes: dict[str, dict[str, str]], record_hashes: dict[str, str]) -> str:
    return sha256_hex(canonical_json({"records": record_hashes, "splits": split_hashes}))


def _write_dataset(cfg: SyntheticConfig, out: Path, progress: Any) -> None:
    data = render_splits(cfg, progress)
    split_meta: dict[str, Any] = {}
    split_hashes: dict[str, dict[str, str]] = {}
    for name in SPLITS:
        arrays = data[name]
        files: dict[str, str] = {}
        for fname in ARRAY_FILES:
            files[fname] = write_hashed(out / name / fname, npy_bytes(arrays[fname[: -len(".npy")]]))
        files["ids.json"] = write_hashed(out / name / "ids.json", canonical_json(arrays["ids"]))
        split_meta[name] = {"n": len(arrays["labels"]), "files": files}
        split_hashes[name] = files
    tr = data["train"]
    records = simulate_annotator(cfg, tr["labels"], tr["boxes"], tr["masks"], tr["ids"])
    record_hashes = {RECORDS_FILE: write_hashed(out / RECORDS_FILE, canonical_json(records))}
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "config": cfg.model_dump(mode="json"),
        "classes": class_table(cfg.num_classes),
        "splits": split_meta,
        "records": record_hashes,
        "fingerprint": _fingerprint(split_hashes, record_hashes),
    }
    # the manifest is written last: its presence marks a complete directory
    atomic_write_bytes(out / MANIFEST_FILE, json.dumps(manifest, sort_keys=True, indent=2).encode() + b"\n")


def verify_dataset(dataset_dir: Path, cfg: SyntheticConfig | None = None) -> str | None:
    """None if the directory is complete, matches ``cfg`` and every hash verifies; else the reason."""
    dataset_dir = Path(dataset_dir)
    try:
        manifest = load_manifest(dataset_dir)
    except DataError as err:
        return str(err)
    if manifest.get("generator_version") != GENERATOR_VERSION:
        return f"generator version {manifest.get('generator_version')!r} != {GENERATOR_VERSION!r}"
    if cfg is not None and manifest.get("config") != cfg.model_dump(mode="json"):
        return "manifest config differs from the requested config"
    try:
        split_hashes = {s: dict(manifest["splits"][s]["files"]) for s in SPLITS}
        record_hashes = dict(manifest["records"])
    except (KeyError, TypeError):
        return "manifest lacks split or record hashes"
    problem = check_file_hashes(dataset_dir, split_hashes, SPLIT_FILES, record_hashes)
    if problem is not None:
        return problem
    if manifest.get("fingerprint") != _fingerprint(split_hashes, record_hashes):
        return "manifest fingerprint does not match its file hashes"
    return None


def generate(cfg: SyntheticConfig, root: Path, progress: Any = None) -> Path:
    """Write (or reuse, if complete and hash-verified) the dataset of ``cfg`` under ``root``.

    Returns ``<root>/<variant>-s<seed>-<confighash8>``. A partial or corrupted directory is rebuilt:
    the new copy is written to a temporary sibling directory and renamed into place, so a crash
    never leaves a directory that looks complete.
    """
    root = Path(root)
    target = root / dataset_dirname(cfg)
    if target.exists() and verify_dataset(target, cfg) is None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    return build_directory(
        target, lambda tmp: _write_dataset(cfg, tmp, progress), lambda: verify_dataset(target, cfg)
    )


# ------------------------------------------------------------------------------------------- loading
@dataclasses.dataclass(frozen=True)
class SplitArrays:
    """One split's arrays (memory-mapped, read-only) and image ids."""

    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    boxes: np.ndarray  # float32 (N, 4) xyxy relative
    masks: np.ndarray  # bool (N, H, W)
    bg_labels: np.ndarray  # int64 (N,), -1 = no background
    ids: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def load_manifest(dataset_dir: Path) -> dict[str, Any]:
    """The dataset's ``manifest.json``; a missing or malformed one is a :class:`DataError`."""
    return read_manifest(
        Path(dataset_dir) / MANIFEST_FILE,
        required=("config", "splits", "fingerprint"),
        incomplete="incomplete dataset",
        kind="a synthetic-dataset manifest",
        fix=FIX_HINT,
    )


_EXPECTED: dict[str, tuple[np.dtype, int]] = {
    "images": (np.dtype(np.uint8), 4),
    "labels": (np.dtype(np.int64), 1),
    "boxes": (np.dtype(np.float32), 2),
    "masks": (np.dtype(np.bool_), 3),
    "bg_labels": (np.dtype(np.int64), 1),
}


def load_split(dataset_dir: Path, split: str) -> SplitArrays:
    """Memory-map one split, checking files, dtypes and shapes; problems raise :class:`DataError`."""
    if split not in SPLITS:
        from luab_bench.registry import unknown_name_message

        raise LuabError(unknown_name_message("split", split, SPLITS))
    d = Path(dataset_dir) / split
    arrays: dict[str, np.ndarray] = {}
    for key, (dtype, ndim) in _EXPECTED.items():
        path = d / f"{key}.npy"
        if not path.is_file():
            raise DataError(f"{path}: missing; {FIX_HINT}")
        try:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise DataError(f"{path}: unreadable .npy ({err}); {FIX_HINT}") from None
        if arr.dtype != dtype or arr.ndim != ndim:
            raise DataError(
                f"{path}: expected {dtype} with {ndim} dims, found {arr.dtype} {arr.shape}; {FIX_HINT}"
            )
        arrays[key] = arr
    ids_path = d / "ids.json"
    try:
        ids = json.loads(ids_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{ids_path}: missing; {FIX_HINT}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{ids_path}: not valid JSON ({err}); {FIX_HINT}") from None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise DataError(f"{ids_path}: expected a JSON list of image-id strings; {FIX_HINT}")
    n = len(arrays["labels"])
    img = arrays["images"]
    checks = [
        ("images.npy", img.shape[0] == n and img.shape[3] == 3, f"(N={n}, H, W, 3)", img.shape),
        ("boxes.npy", arrays["boxes"].shape == (n, 4), f"({n}, 4)", arrays["boxes"].shape),
        ("masks.npy", arrays["masks"].shape == img.shape[:3], f"{img.shape[:3]}", arrays["masks"].shape),
        ("bg_labels.npy", arrays["bg_labels"].shape == (n,), f"({n},)", arrays["bg_labels"].shape),
        ("ids.json", len(ids) == n, f"{n} ids", f"{len(ids)} ids"),
    ]
    for fname, ok, want, got in checks:
        if not ok:
            raise DataError(f"{d / fname}: expected shape {want}, found {got}; {FIX_HINT}")
    return SplitArrays(ids=ids, **arrays)


__all__ = [
    "ARRAY_FILES",
    "EVAL_SPLITS",
    "FIX_HINT",
    "GENERATOR_VERSION",
    "MANIFEST_FILE",
    "RECORDS_FILE",
    "SHAPE_NAMES",
    "SPLITS",
    "SPLIT_FILES",
    "SYNTHETIC_VARIANTS",
    "DistractorConfig",
    "SplitArrays",
    "SyntheticConfig",
    "class_table",
    "class_wnid",
    "config_hash",
    "dataset_dirname",
    "generate",
    "load_manifest",
    "load_split",
    "plan_splits",
    "render_splits",
    "simulate_annotator",
    "verify_dataset",
]

# private helpers that tests reach through this module, importable here as before the split
from luab_bench.data.synthetic_plan import _index_of_class as _index_of_class  # noqa: E402
from luab_bench.data.synthetic_render import _NEUTRAL_GREY as _NEUTRAL_GREY  # noqa: E402
from luab_bench.data.synthetic_render import _boxes_from_masks as _boxes_from_masks  # noqa: E402
from luab_bench.data.synthetic_render import _render_masks as _render_masks  # noqa: E402
from luab_bench.data.synthetic_shapes import _hsv_to_rgb as _hsv_to_rgb  # noqa: E402
from luab_bench.data.synthetic_shapes import _shape_mask as _shape_mask  # noqa: E402
