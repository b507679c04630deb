"""Seeded generators of the synthetic suite's OOD / spurious-correlation analogues.

Each analogue mirrors one column of the paper's Table 1 on the embedded benchmark:

* ``si_size`` / ``si_loc`` / ``si_rot`` (SI-Score, Djolonga et al. 2021): the *same* foregrounds
  (``si_fg_per_class`` per class: class shape + colour) rendered on the neutral grey of ``only_fg`` at
  controlled object size (diameter / image side, centred, upright), location (a ``g x g`` grid of
  centres at a fixed diameter, upright) and rotation (angle bins, centred, fixed diameter).
* ``corrupt`` (ImageNet-C): the first ``corrupt_per_class`` val images of each class under every
  corruption of :data:`CORRUPTIONS` at severities 1-5. Severity parameters are those of
  Tiny-ImageNet-C (64 px; hendrycks/robustness ``ImageNet-C/create_c/make_tinyimagenet_c.py``),
  reimplemented vectorised in numpy/scipy/Pillow; ``gaussian_blur`` sigma scales up with
  ``image_size / 64`` for images larger than 64 px.
* ``ood`` (ImageNet-O): ``ood_n`` images of :data:`NOVEL_SHAPES` (shapes that are no class) drawn like
  the class foregrounds, on backgrounds of uniformly random classes (the val background
  distribution without an own class). Labels are -1.
* ``bgc`` (Backgrounds Challenge): the first ``bgc_fg_per_class`` val foregrounds of each class, each
  pasted on ``bgc_bg_per_class`` fresh backgrounds of *every* class (the ``only_bg_t`` analogue).
  Image ``f * B + b`` is foreground f on background b (B = K * ``bgc_bg_per_class``).

Every split stores ``images.npy`` (uint8 NHWC), ``labels.npy`` (int64), ``groups.npy`` (int64: the
bin / corruption-severity cell / background class, named in the manifest) and ``units.npy`` (int64:
the independent unit the bootstrap resamples: the foreground, or the clean val image).

Layout: ``<dataset_dir>/analogues-<hash8>/`` next to the dataset's own files, with
``analogues.json`` (analogue version, config, parent dataset fingerprint, per-file sha256 and an
analogue fingerprint) written last. The parent dataset's manifest and fingerprint are untouched, so
existing checkpoints keep verifying; the analogue fingerprint is reported separately.

This module is the analogue directory on disk (write, verify, reuse, load); the corruptions live in
``synthetic_corruptions``, the config and rendering in ``synthetic_ood_render``; their public names
are re-exported here.
"""

from __future__ import annotations

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
from luab_bench.data.synthetic_corruptions import (
    CORRUPTIONS,
    DEFAULT_CORRUPTIONS,
    SEVERITIES,
    Corruption,
    brightness,
    contrast,
    corrupt,
    gaussian_blur,
    gaussian_noise,
    impulse_noise,
    jpeg_compression,
    pixelate,
    shot_noise,
)
from luab_bench.data.synthetic_ood_render import (
    ANALOGUE_SPLITS,
    NOVEL_SHAPES,
    AnalogueConfig,
    AnalogueSplit,
    novel_shape_mask,
    render_analogues,
)
from luab_bench.errors import DataError
from luab_bench.hashing import sha256_hex
from luab_bench.io import atomic_write_bytes

ANALOGUE_VERSION = "1.0.0"
ANALOGUE_ARRAYS: tuple[str, ...] = ("images", "labels", "groups", "units")
ANALOGUE_MANIFEST = "analogues.json"
FIX_HINT = "delete the analogues-* directory; it is rebuilt on the next evaluation"


def analogue_dirname(acfg: AnalogueConfig, parent_fingerprint: str) -> str:
    """``analogues-<hash8>``: hash of the analogue version, config and the parent dataset fingerprint."""
    payload = {
        "analogue_version": ANALOGUE_VERSION,
        "config": acfg.model_dump(mode="json"),
        "parent_fingerprint": parent_fingerprint,
    }
    return f"analogues-{sha256_hex(canonical_json(payload))[:8]}"


def _fingerprint(files: dict[str, dict[str, str]]) -> str:
    return sha256_hex(canonical_json(files))


def _write(out: Path, splits: dict[str, AnalogueSplit], acfg: AnalogueConfig, parent_fp: str) -> None:
    meta: dict[str, Any] = {}
    hashes: dict[str, dict[str, str]] = {}
    for name in ANALOGUE_SPLITS:
        sp = splits[name]
        files = {}
        for key in ANALOGUE_ARRAYS:
            files[f"{key}.npy"] = write_hashed(out / name / f"{key}.npy", npy_bytes(getattr(sp, key)))
        hashes[name] = files
        meta[name] = {"n": len(sp), "group_names": sp.group_names, "files": files}
    manifest = {
        "analogue_version": ANALOGUE_VERSION,
        "config": acfg.model_dump(mode="json"),
        "parent_fingerprint": parent_fp,
        "splits": meta,
        "fingerprint": _fingerprint(hashes),
    }
    atomic_write_bytes(
        out / ANALOGUE_MANIFEST, json.dumps(manifest, sort_keys=True, indent=2).encode() + b"\n"
    )


def load_analogue_manifest(analogue_dir: Path) -> dict[str, Any]:
    """The ``analogues.json`` of an analogue directory (DataError when missing or malformed)."""
    return read_manifest(
        Path(analogue_dir) / ANALOGUE_MANIFEST,
        required=("splits", "fingerprint", "config"),
        incomplete="incomplete analogue set",
        kind="an analogue manifest",
        fix=FIX_HINT,
    )


def verify_analogues(
    analogue_dir: Path, acfg: AnalogueConfig | None = None, parent_fingerprint: str | None = None
) -> str | None:
    """None when the directory is complete, matches the config/parent and every hash verifies."""
    analogue_dir = Path(analogue_dir)
    try:
        m = load_analogue_manifest(analogue_dir)
    except DataError as err:
        return str(err)
    if m.get("analogue_version") != ANALOGUE_VERSION:
        return f"analogue version {m.get('analogue_version')!r} != {ANALOGUE_VERSION!r}"
    if acfg is not None and m["config"] != acfg.model_dump(mode="json"):
        return "analogue manifest config differs from the requested config"
    if parent_fingerprint is not None and m.get("parent_fingerprint") != parent_fingerprint:
        return "analogues were built from a different dataset (parent fingerprint differs)"
    try:
        hashes = {s: dict(m["splits"][s]["files"]) for s in ANALOGUE_SPLITS}
    except (KeyError, TypeError):
        return "analogue manifest lacks split hashes"
    expected = {f"{a}.npy" for a in ANALOGUE_ARRAYS}
    problem = check_file_hashes(analogue_dir, hashes, expected, what="analogue manifest")
    if problem is not None:
        return problem
    if m["fingerprint"] != _fingerprint(hashes):
        return "analogue fingerprint does not match its file hashes"
    return None


def generate_analogues(dataset_dir: Path, acfg: AnalogueConfig | None = None, progress: Any = None) -> Path:
    """Write (or reuse, if complete and hash-verified) the analogue splits of a generated dataset.

    The config is read from the dataset's manifest and the val split from its files, so the
    analogues are a deterministic function of (dataset, ``acfg``). Returns the analogue directory.
    """
    from luab_bench.data import synthetic as syn

    dataset_dir = Path(dataset_dir)
    acfg = acfg or AnalogueConfig()
    manifest = syn.load_manifest(dataset_dir)
    try:
        cfg = syn.SyntheticConfig.model_validate(manifest["config"])
    except ValueError as err:
        raise DataError(f"{dataset_dir / syn.MANIFEST_FILE}: bad config ({err}); {syn.FIX_HINT}") from None
    parent_fp = manifest["fingerprint"]
    target = dataset_dir / analogue_dirname(acfg, parent_fp)
    if target.exists() and verify_analogues(target, acfg, parent_fp) is None:
        return target
    val = syn.load_split(dataset_dir, "val")
    splits = render_analogues(cfg, acfg, np.asarray(val.images), np.asarray(val.labels), progress)
    return build_directory(
        target,
        lambda tmp: _write(tmp, splits, acfg, parent_fp),
        lambda: verify_analogues(target, acfg, parent_fp),
    )


def load_analogues(analogue_dir: Path) -> dict[str, AnalogueSplit]:
    """Memory-map every analogue split of a directory written by :func:`generate_analogues`."""
    analogue_dir = Path(analogue_dir)
    m = load_analogue_manifest(analogue_dir)
    out = {}
    for name in ANALOGUE_SPLITS:
        if name not in m["splits"]:
            raise DataError(f"{analogue_dir / ANALOGUE_MANIFEST}: no split {name!r}; {FIX_HINT}")
        arrays = {}
        for key in ANALOGUE_ARRAYS:
            path = analogue_dir / name / f"{key}.npy"
            try:
                arrays[key] = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError, EOFError) as err:
                raise DataError(f"{path}: missing or unreadable ({err}); {FIX_HINT}") from None
        n = len(arrays["labels"])
        if any(len(a) != n for a in arrays.values()) or arrays["images"].ndim != 4:
            raise DataError(f"{analogue_dir / name}: arrays disagree in length; {FIX_HINT}")
        out[name] = AnalogueSplit(group_names=list(m["splits"][name]["group_names"]), **arrays)
    return out


__all__ = [
    "ANALOGUE_ARRAYS",
    "ANALOGUE_MANIFEST",
    "ANALOGUE_SPLITS",
    "ANALOGUE_VERSION",
    "CORRUPTIONS",
    "DEFAULT_CORRUPTIONS",
    "NOVEL_SHAPES",
    "SEVERITIES",
    "AnalogueConfig",
    "AnalogueSplit",
    "Corruption",
    "analogue_dirname",
    "brightness",
    "contrast",
    "corrupt",
    "gaussian_blur",
    "gaussian_noise",
    "generate_analogues",
    "impulse_noise",
    "jpeg_compression",
    "load_analogue_manifest",
    "load_analogues",
    "novel_shape_mask",
    "pixelate",
    "render_analogues",
    "shot_noise",
    "verify_analogues",
]
