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
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from luab_bench.config import StrictModel
from luab_bench.data.manifest import check_file_hashes
from luab_bench.errors import ConfigError, DataError
from luab_bench.hashing import sha256_hex
from luab_bench.io import atomic_write_bytes, remove_stale_temp_files, temp_suffix
from luab_bench.registry import Registry

ANALOGUE_VERSION = "1.0.0"
ANALOGUE_SPLITS: tuple[str, ...] = ("si_size", "si_loc", "si_rot", "corrupt", "ood", "bgc")
ANALOGUE_ARRAYS: tuple[str, ...] = ("images", "labels", "groups", "units")
ANALOGUE_MANIFEST = "analogues.json"
NOVEL_SHAPES: tuple[str, ...] = ("crescent", "semicircle", "chevron", "tee")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
_MIN_DIAMETER_PX = 6.0
FIX_HINT = "delete the analogues-* directory; it is rebuilt on the next evaluation"

#: A corruption maps float32 images (N, H, W, 3) in [0, 1], a severity 1..5, the image side the
#: parameters are scaled for, and a seeded generator, to float images (clipped to [0, 1] afterwards).
Corruption = Callable[[np.ndarray, int, int, np.random.Generator], np.ndarray]
CORRUPTIONS: Registry[Corruption] = Registry("corruption")


# ---------------------------------------------------------------------------------------- corruptions
@CORRUPTIONS.register("gaussian_noise")
def gaussian_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Additive N(0, c^2) noise per element, c = .04 .08 .12 .15 .18."""
    c = (0.04, 0.08, 0.12, 0.15, 0.18)[severity - 1]
    return x + rng.normal(0.0, c, x.shape).astype(np.float32)


@CORRUPTIONS.register("shot_noise")
def shot_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson photon noise: ``Poisson(x * c) / c``, c = 250 100 50 30 15."""
    c = (250, 100, 50, 30, 15)[severity - 1]
    return (rng.poisson(x * c) / c).astype(np.float32)


@CORRUPTIONS.register("impulse_noise")
def impulse_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper: a fraction c (= .01 .02 .05 .08 .14) of elements set to 0 or 1 (50/50)."""
    c = (0.01, 0.02, 0.05, 0.08, 0.14)[severity - 1]
    hit = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    out = x.copy()
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return out


@CORRUPTIONS.register("gaussian_blur")
def gaussian_blur(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur, sigma = (.5 .75 1 1.25 1.5) * max(size, 64) / 64 px, 'nearest' borders, truncate 4.

    The sigmas are Tiny-ImageNet-C's (64 px); they scale up for larger images but not down (at 32 px
    a halved sigma of .25 px changes no uint8 pixel, so severity 1 would be a no-op).
    """
    from scipy.ndimage import gaussian_filter

    sigma = (0.5, 0.75, 1.0, 1.25, 1.5)[severity - 1] * max(size, 64) / 64.0
    return gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0)


@CORRUPTIONS.register("contrast")
def contrast(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Shrink towards each image's per-channel mean by c = .4 .3 .2 .1 .05."""
    c = np.float32((0.4, 0.3, 0.2, 0.1, 0.05)[severity - 1])
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) * c + mean


@CORRUPTIONS.register("brightness")
def brightness(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """HSV value + c (= .1 .2 .3 .4 .5), clipped to 1, hue and saturation kept.

    With V = max(r, g, b), scaling all channels by V'/V changes V to V' and keeps H and S; a black
    pixel (V = 0, S = 0 by convention) becomes grey V'.
    """
    c = np.float32((0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1])
    v = x.max(axis=-1, keepdims=True)
    v_new = np.minimum(v + c, np.float32(1.0))
    scale = np.divide(v_new, v, out=np.zeros_like(v), where=v > 0)
    return np.where(v > 0, x * scale, v_new)


def _per_image_pil(x: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    from PIL import Image

    u8 = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    out = np.empty(x.shape, dtype=np.float32)
    for i in range(len(u8)):
        out[i] = np.asarray(fn(Image.fromarray(u8[i])).convert("RGB"), dtype=np.float32) / 255.0
    return out


@CORRUPTIONS.register("pixelate")
def pixelate(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Box-downsample to ``int(side * c)`` (c = .9 .8 .7 .6 .5) and box-upsample back (Pillow)."""
    from PIL import Image

    c = (0.9, 0.8, 0.7, 0.6, 0.5)[severity - 1]
    h, w = x.shape[1:3]
    small = (max(1, int(w * c)), max(1, int(h * c)))
    return _per_image_pil(x, lambda im: im.resize(small, Image.BOX).resize((w, h), Image.BOX))


@CORRUPTIONS.register("jpeg_compression")
def jpeg_compression(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG round trip through Pillow at quality 65 58 50 40 25 (bytes depend on Pillow's libjpeg)."""
    from PIL import Image

    q = (65, 58, 50, 40, 25)[severity - 1]

    def roundtrip(im: Any) -> Any:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=q)
        buf.seek(0)
        return Image.open(buf)

    return _per_image_pil(x, roundtrip)


DEFAULT_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "gaussian_blur",
    "brightness",
    "contrast",
    "pixelate",
    "jpeg_compression",
)


def corrupt(images: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, H, W, 3) images under corruption ``name`` at ``severity`` (1..5), as uint8."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity}")
    fn = CORRUPTIONS.get(name)
    x = np.asarray(images, dtype=np.float32) / np.float32(255.0)
    y = fn(x, severity, images.shape[1], rng) * np.float32(255.0)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------- config
class AnalogueConfig(StrictModel):
    """Sizes and bins of the analogue splits; its hash (with the parent fingerprint) names the directory."""

    si_fg_per_class: int = Field(3, ge=1)
    si_sizes: tuple[float, ...] = (0.2, 0.3, 0.4, 0.55, 0.7, 0.85)  # object diameter / image side
    si_loc_diameter: float = Field(0.4, gt=0.0, le=1.0)
    si_loc_grid: int = Field(3, ge=2, le=16)
    si_rot_diameter: float = Field(0.6, gt=0.0, le=1.0)
    si_rot_angles_deg: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)
    corruptions: tuple[str, ...] = DEFAULT_CORRUPTIONS
    corrupt_per_class: int = Field(4, ge=1)
    ood_n: int = Field(200, ge=2)
    bgc_fg_per_class: int = Field(10, ge=1)
    bgc_bg_per_class: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check(self) -> AnalogueConfig:
        if not self.si_sizes or not all(0.0 < d <= 1.0 for d in self.si_sizes):
            raise ValueError("si_sizes must be a non-empty list of diameters in (0, 1]")
        if not self.si_rot_angles_deg:
            raise ValueError("si_rot_angles_deg must not be empty")
        if not self.corruptions or len(set(self.corruptions)) != len(self.corruptions):
            raise ValueError("corruptions must be a non-empty list of distinct names")
        for name in self.corruptions:
            if name not in CORRUPTIONS:
                raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS.names())}")
        return self


# ---------------------------------------------------------------------------------------- shapes
def novel_shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Mask of novel (non-class) shape ``k`` (index into :data:`NOVEL_SHAPES`) in object coords."""
    r2 = u * u + v * v
    au = np.abs(u)
    if k == 0:  # crescent: disc minus a disc shifted right
        return (r2 <= 1.0) & ((u - 0.45) ** 2 + v * v > 0.75**2)
    if k == 1:  # semicircle, flat side down
        return (r2 <= 1.0) & (v >= -0.1)
    if k == 2:  # chevron (a thick V)
        d = v - (au * 1.2 - 0.6)
        return (au <= 0.9) & (d >= -0.15) & (d <= 0.3)
    if k == 3:  # T
        return ((v >= 0.45) & (v <= 0.85) & (au <= 0.85)) | ((au <= 0.22) & (v >= -0.9) & (v <= 0.85))
    raise ValueError(f"no novel shape {k}")


# ---------------------------------------------------------------------------------------- render
def _take(params: Any, idx: np.ndarray) -> Any:
    """Rows ``idx`` of a generator parameter dataclass (foregrounds or backgrounds)."""
    return type(params)(**{f.name: getattr(params, f.name)[idx] for f in dataclasses.fields(params)})


@dataclasses.dataclass
class AnalogueSplit:
    """One analogue split: images, labels (-1 = no class), group and unit indices, group names."""

    images: np.ndarray  # uint8 (N, H, W, 3)
    labels: np.ndarray  # int64 (N,)
    groups: np.ndarray  # int64 (N,) index into group_names
    units: np.ndarray  # int64 (N,) bootstrap unit (foreground / clean image)
    group_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)


def _render(cfg: Any, fg: Any, bg: Any, rng: np.random.Generator, shape_fn: Any = None) -> np.ndarray:
    """Batched render of foregrounds on backgrounds (None = neutral grey) with sensor noise."""
    from luab_bench.data import synthetic as syn

    n = len(fg.labels)
    out = np.empty((n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    for start in range(0, n, syn._BATCH):
        sl = slice(start, min(start + syn._BATCH, n))
        f, b = syn._sliced(fg, sl), syn._sliced(bg, sl)
        masks = syn._render_masks(cfg, f, shape_fn)
        if not masks.reshape(len(masks), -1).any(axis=1).all():
            raise ConfigError(
                f"analogues: an object renders to no pixel at image_size {cfg.image_size}; "
                "raise the smallest si_sizes / diameters"
            )
        out[sl] = syn._compose(cfg, f, b, masks, rng, sl.stop - sl.start)
    return out


def _sweep(
    cfg: Any, acfg: AnalogueConfig, stream: int, bins: list[tuple[float, float, float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same foregrounds at each (cx, cy, diameter, angle_deg) bin, on neutral grey."""
    from luab_bench.data import synthetic as syn

    rng = syn._rng(cfg.seed, 300, stream)
    k, m, nb = cfg.num_classes, acfg.si_fg_per_class, len(bins)
    base = syn._draw_foregrounds(cfg, np.repeat(np.arange(k), m), rng)
    unit = np.repeat(np.arange(k * m), nb)
    group = np.tile(np.arange(nb), k * m)
    table = np.asarray(bins, dtype=np.float64)
    fg = syn._Foregrounds(
        labels=base.labels[unit],
        cx=table[group, 0],
        cy=table[group, 1],
        radius=table[group, 2] / 2,
        angle=np.deg2rad(table[group, 3]),
        rgb=base.rgb[unit],
    )
    images = _render(cfg, fg, None, syn._rng(cfg.seed, 301, stream))
    return images, fg.labels.astype(np.int64), group.astype(np.int64), unit.astype(np.int64)


def _check_sizes(cfg: Any, acfg: AnalogueConfig) -> None:
    smallest = min(*acfg.si_sizes, acfg.si_loc_diameter, acfg.si_rot_diameter)
    if smallest * cfg.image_size < _MIN_DIAMETER_PX:
        raise ConfigError(
            f"analogues: the smallest object diameter {smallest} x {cfg.image_size} px is below "
            f"{_MIN_DIAMETER_PX:g} px; raise si_sizes / si_loc_diameter / si_rot_diameter"
        )


def _first_per_class(labels: np.ndarray, k: int, m: int, what: str) -> np.ndarray:
    idx = []
    for c in range(k):
        pool = np.flatnonzero(labels == c)
        if len(pool) < m:
            raise ConfigError(
                f"analogues: {what} needs {m} images of class {c}, the val split has {len(pool)}"
            )
        idx.append(pool[:m])
    return np.concatenate(idx)


def render_analogues(
    cfg: Any, acfg: AnalogueConfig, val_images: np.ndarray, val_labels: np.ndarray, progress: Any = None
) -> dict[str, AnalogueSplit]:
    """Render every analogue split in memory for the dataset config ``cfg`` and its val split."""
    from luab_bench.data import synthetic as syn

    _check_sizes(cfg, acfg)
    k = cfg.num_classes
    task = progress.add_task(f"analogues {cfg.variant}", total=len(ANALOGUE_SPLITS)) if progress else None
    out: dict[str, AnalogueSplit] = {}

    def done(name: str, images: np.ndarray, labels: Any, groups: Any, units: Any, names: list[str]) -> None:
        out[name] = AnalogueSplit(
            images,
            np.asarray(labels, np.int64),
            np.asarray(groups, np.int64),
            np.asarray(units, np.int64),
            names,
        )
        if task is not None:
            progress.advance(task, 1)

    sizes = [(0.5, 0.5, d, 0.0) for d in acfg.si_sizes]
    done("si_size", *_sweep(cfg, acfg, 0, sizes), [f"diameter={d:g}" for d in acfg.si_sizes])
    g, d = acfg.si_loc_grid, acfg.si_loc_diameter
    pos = d / 2 + (1 - d) * np.arange(g) / (g - 1)
    locs = [(float(x), float(y), d, 0.0) for y in pos for x in pos]
    done("si_loc", *_sweep(cfg, acfg, 1, locs), [f"x={x:.2f},y={y:.2f}" for x, y, _, _ in locs])
    rots = [(0.5, 0.5, acfg.si_rot_diameter, a) for a in acfg.si_rot_angles_deg]
    done("si_rot", *_sweep(cfg, acfg, 2, rots), [f"angle={a:g}deg" for a in acfg.si_rot_angles_deg])

    # corruptions of the first corrupt_per_class val images of each class
    src = _first_per_class(val_labels, k, acfg.corrupt_per_class, "corrupt_per_class")
    clean = np.ascontiguousarray(val_images[src])
    parts, names = [], []
    for ci, name in enumerate(acfg.corruptions):
        for s in SEVERITIES:
            parts.append(corrupt(clean, name, s, syn._rng(cfg.seed, 400, ci, s)))
            names.append(f"{name}/{s}")
    cells = len(parts)
    done(
        "corrupt",
        np.concatenate(parts),
        np.tile(val_labels[src], cells),
        np.repeat(np.arange(cells), len(src)),
        np.tile(np.arange(len(src)), cells),
        names,
    )

    # novel shapes on the val background distribution (uniformly random class backgrounds)
    rng = syn._rng(cfg.seed, 500)
    shape = rng.integers(0, len(NOVEL_SHAPES), acfg.ood_n)
    fg = syn._draw_foregrounds(cfg, shape, rng)
    bg = syn._draw_backgrounds(cfg, rng.integers(0, k, acfg.ood_n), rng)
    images = _render(cfg, fg, bg, syn._rng(cfg.seed, 501), novel_shape_mask)
    done("ood", images, np.full(acfg.ood_n, -1), shape, np.arange(acfg.ood_n), list(NOVEL_SHAPES))

    # Backgrounds-Challenge analogue: val foregrounds x backgrounds of every class
    plan = syn.plan_splits(cfg)["only_fg"]
    fsel = _first_per_class(plan.labels, k, acfg.bgc_fg_per_class, "bgc_fg_per_class")
    bg_cls = np.repeat(np.arange(k), acfg.bgc_bg_per_class)
    bgs = syn._draw_backgrounds(cfg, bg_cls, syn._rng(cfg.seed, 600))
    nf, nb = len(fsel), len(bg_cls)
    fi, bi = np.repeat(np.arange(nf), nb), np.tile(np.arange(nb), nf)
    pair_fg = _take(plan.fg, fsel[fi])
    images = _render(cfg, pair_fg, bgs.take(bi), syn._rng(cfg.seed, 601))
    bg_names = [f"bg={syn.SHAPE_NAMES[c]}#{j}" for c in range(k) for j in range(acfg.bgc_bg_per_class)]
    done("bgc", images, pair_fg.labels, bi, fi, bg_names)
    return out


# ---------------------------------------------------------------------------------------- files
def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def analogue_dirname(acfg: AnalogueConfig, parent_fingerprint: str) -> str:
    """``analogues-<hash8>``: hash of the analogue version, config and the parent dataset fingerprint."""
    payload = {
        "analogue_version": ANALOGUE_VERSION,
        "config": acfg.model_dump(mode="json"),
        "parent_fingerprint": parent_fingerprint,
    }
    return f"analogues-{sha256_hex(_canonical(payload))[:8]}"


def _fingerprint(files: dict[str, dict[str, str]]) -> str:
    return sha256_hex(_canonical(files))


def _write(out: Path, splits: dict[str, AnalogueSplit], acfg: AnalogueConfig, parent_fp: str) -> None:
    meta: dict[str, Any] = {}
    hashes: dict[str, dict[str, str]] = {}
    for name in ANALOGUE_SPLITS:
        sp = splits[name]
        files = {}
        for key in ANALOGUE_ARRAYS:
            buf = io.BytesIO()
            np.save(buf, np.ascontiguousarray(getattr(sp, key)), allow_pickle=False)
            blob = buf.getvalue()
            atomic_write_bytes(out / name / f"{key}.npy", blob)
            files[f"{key}.npy"] = sha256_hex(blob)
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
    path = Path(analogue_dir) / ANALOGUE_MANIFEST
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing (incomplete analogue set); {FIX_HINT}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not valid JSON ({err}); {FIX_HINT}") from None
    if not isinstance(m, dict) or not {"splits", "fingerprint", "config"} <= set(m):
        raise DataError(f"{path}: not an analogue manifest; {FIX_HINT}")
    return m


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
    remove_stale_temp_files(dataset_dir)  # half-rendered analogues of killed runs
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=temp_suffix(), dir=dataset_dir))
    try:
        _write(tmp, splits, acfg, parent_fp)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=dataset_dir))
            os.replace(target, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first; keep its copy if it verifies
            if verify_analogues(target, acfg, parent_fp) is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


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
    "ANALOGUE_SPLITS",
    "CORRUPTIONS",
    "DEFAULT_CORRUPTIONS",
    "NOVEL_SHAPES",
    "AnalogueConfig",
    "AnalogueSplit",
    "corrupt",
    "generate_analogues",
    "load_analogue_manifest",
    "load_analogues",
    "novel_shape_mask",
    "render_analogues",
    "verify_analogues",
]
