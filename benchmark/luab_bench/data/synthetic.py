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

Everything derives from ``np.random.Generator(PCG64(SeedSequence([seed, stream])))``: the same
config gives byte-identical files (``np.save``, never ``np.savez``; JSON with sorted keys and fixed
separators). :func:`generate` reuses a complete, hash-verified directory and rebuilds a partial or
corrupted one by writing into a temporary directory and renaming it into place.
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
from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from luab_bench import safe_json
from luab_bench.config import StrictModel
from luab_bench.data.manifest import check_file_hashes
from luab_bench.errors import DataError, LuabError
from luab_bench.hashing import sha256_hex
from luab_bench.io import atomic_write_bytes, remove_stale_temp_files, temp_suffix

GENERATOR_VERSION = "1.0.0"
SPLITS: tuple[str, ...] = ("train", "val", "only_fg", "no_fg", "mixed_same", "mixed_rand")
EVAL_SPLITS: tuple[str, ...] = SPLITS[1:]
ARRAY_FILES: tuple[str, ...] = ("images.npy", "labels.npy", "boxes.npy", "masks.npy", "bg_labels.npy")
SPLIT_FILES: tuple[str, ...] = (*ARRAY_FILES, "ids.json")
RECORDS_FILE = "imagenet_ab.json"
MANIFEST_FILE = "manifest.json"
SHAPE_NAMES: tuple[str, ...] = (
    "disc",
    "square",
    "triangle",
    "cross",
    "ring",
    "star",
    "diamond",
    "hexagon",
    "bar",
    "ell",
)
FIX_HINT = "delete the directory and re-run `luab-bench data generate`"
_BATCH = 256
_NEUTRAL_GREY = 0.5
# ImageNet-AB totals (Han et al. 2023): images, interacted, re-selected.
_AB_IMAGES, _AB_INTERACTED, _AB_SELECTED = 1_281_167, 1_272_225, 1_110_786


class DistractorConfig(StrictModel):
    """A second, class-correlated object that belongs to the *background* (the where-matters variant).

    Every background carries one extra shape: the shape of class ``(c + class_shift) % K`` where c is
    the background's class, at a random position, with a random colour, diameter drawn from ``scale``.
    It travels with its background through every split, so in ``train``/``val`` it is as correlated
    with the label as the background is (``bg_correlation``), it is shown in ``no_fg`` and it comes
    from another class in ``mixed_rand``. The labelled object is pasted last (always fully visible;
    the distractor may be partly hidden behind it). Both objects have the same size range, so a
    model that does not use *where* the labelled object is cannot tell which shape is the label.
    """

    class_shift: int = Field(1, ge=1)
    scale: tuple[float, float] = (0.2, 0.45)


class SyntheticConfig(StrictModel):
    """Everything that determines a generated dataset; its hash names the dataset directory."""

    variant: str = "synthetic"
    seed: int = Field(0, ge=0)
    num_classes: int = Field(10, ge=2, le=len(SHAPE_NAMES))
    image_size: int = Field(64, ge=16, le=512)
    train_per_class: int = Field(400, ge=2)
    eval_per_class: int = Field(100, ge=2)
    bg_correlation: float = Field(0.9, ge=0.0, le=1.0)
    # foreground: object diameter as a fraction of the image side; rotation jitter in degrees
    fg_scale: tuple[float, float] = (0.45, 0.75)
    fg_max_rotation_deg: float = Field(15.0, ge=0.0, le=180.0)
    fg_saturation: tuple[float, float] = (0.5, 1.0)
    fg_value: tuple[float, float] = (0.55, 1.0)
    # background: class-keyed means with jitter (std); overlap grows with the jitter. Defaults are the
    # calibrated ones (docs/calibration.md): a resnet10t baseline lands in the partial-shortcut regime.
    bg_orientation_jitter_deg: float = Field(30.0, ge=0.0)
    bg_frequency_range: tuple[float, float] = (2.0, 7.0)
    bg_frequency_jitter: float = Field(1.5, ge=0.0)
    bg_hue_jitter: float = Field(0.15, ge=0.0)
    bg_grating_contrast: float = Field(0.25, ge=0.0, le=1.0)
    bg_noise: float = Field(0.15, ge=0.0)
    bg_saturation: tuple[float, float] = (0.25, 0.6)
    bg_value: tuple[float, float] = (0.35, 0.75)
    pixel_noise: float = Field(0.03, ge=0.0)
    # simulated annotator (defaults: the ImageNet-AB rates)
    p_interacted: float = Field(_AB_INTERACTED / _AB_IMAGES, ge=0.0, le=1.0)
    p_selected: float = Field(_AB_SELECTED / _AB_INTERACTED, ge=0.0, le=1.0)
    p_click_in_box: float = Field(0.83, ge=0.0, le=1.0)
    p_miss_near: float = Field(0.7, ge=0.0, le=1.0)  # share of off-box final clicks near the object
    p_extra_toggle: float = Field(0.05, ge=0.0, lt=1.0)  # chance of each extra deselect/select pair
    # where-matters variant: a class-correlated distractor object in every background (None = none)
    distractor: DistractorConfig | None = None

    @model_serializer(mode="wrap")
    def _omit_unset_distractor(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a distractor the dump (hence the config hash and manifests) is the pre-distractor one."""
        out = handler(self)
        if out.get("distractor", 0) is None:
            del out["distractor"]
        return out

    @model_validator(mode="after")
    def _check_ranges(self) -> SyntheticConfig:
        for name in ("fg_scale", "fg_saturation", "fg_value", "bg_saturation", "bg_value"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError(f"{name} must be [lo, hi] with 0 <= lo <= hi <= 1")
        lo, hi = self.bg_frequency_range
        if not 0.0 < lo <= hi:
            raise ValueError("bg_frequency_range must be [lo, hi] with 0 < lo <= hi")
        if self.fg_scale[0] * self.image_size < 8:
            raise ValueError("fg_scale[0] * image_size must be >= 8 pixels so every shape is visible")
        if self.distractor is not None:
            lo, hi = self.distractor.scale
            if not 0.0 < lo <= hi <= 1.0 or lo * self.image_size < 8:
                raise ValueError("distractor.scale must be [lo, hi] with lo * image_size >= 8 and hi <= 1")
            if self.distractor.class_shift % self.num_classes == 0:
                raise ValueError("distractor.class_shift must not be a multiple of num_classes")
        return self


def _variant(name: str, **kw: Any) -> SyntheticConfig:
    return SyntheticConfig(variant=name, **kw)


SYNTHETIC_VARIANTS: dict[str, SyntheticConfig] = {
    "synthetic": _variant("synthetic"),
    "synthetic-corr50": _variant("synthetic-corr50", bg_correlation=0.5),
    "synthetic-corr75": _variant("synthetic-corr75", bg_correlation=0.75),
    "synthetic-corr90": _variant("synthetic-corr90", bg_correlation=0.9),
    "synthetic-corr99": _variant("synthetic-corr99", bg_correlation=0.99),
    "synthetic-tiny": _variant("synthetic-tiny", image_size=32, train_per_class=20, eval_per_class=10),
    # where-matters (docs/calibration.md): small objects anywhere + a class-correlated distractor shape
    "synthetic-where": _variant(
        "synthetic-where",
        bg_correlation=0.5,
        fg_scale=(0.3, 0.5),
        distractor=DistractorConfig(scale=(0.3, 0.5)),
    ),
}


def class_wnid(index: int) -> str:
    """Fake, clearly non-ImageNet wnid of class ``index`` (``n99000003``)."""
    return f"n{99000000 + index:08d}"


def class_table(num_classes: int) -> list[dict[str, Any]]:
    """``[{"index", "wnid", "name"}]`` for the manifest."""
    return [{"index": k, "wnid": class_wnid(k), "name": SHAPE_NAMES[k]} for k in range(num_classes)]


def config_hash(cfg: SyntheticConfig) -> str:
    """sha256 of the canonical JSON of the config and generator version."""
    payload = {"config": cfg.model_dump(mode="json"), "generator_version": GENERATOR_VERSION}
    return sha256_hex(_canonical_json(payload))


def dataset_dirname(cfg: SyntheticConfig) -> str:
    """``<variant>-s<seed>-<confighash8>``."""
    return f"{cfg.variant}-s{cfg.seed}-{config_hash(cfg)[:8]}"


# ------------------------------------------------------------------------------------------- shapes
def _regular_polygon(u: np.ndarray, v: np.ndarray, n: int, phase: float) -> np.ndarray:
    """Inside a regular n-gon of circumradius 1 (edge normals at ``phase + 2πk/n``)."""
    angles = phase + 2 * np.pi * np.arange(n) / n
    proj = u[..., None] * np.cos(angles) + v[..., None] * np.sin(angles)
    return proj.max(axis=-1) <= np.cos(np.pi / n)


def _shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact mask of class-``k`` shape in object coords (u, v); every shape fits the unit disc."""
    au, av = np.abs(u), np.abs(v)
    r2 = u * u + v * v
    if k == 0:  # disc
        return r2 <= 1.0
    if k == 1:  # square
        return np.maximum(au, av) <= 0.7
    if k == 2:  # triangle, apex up
        return _regular_polygon(u, v, 3, np.pi / 2)
    if k == 3:  # cross
        return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))
    if k == 4:  # ring
        return (r2 <= 1.0) & (r2 >= 0.55**2)
    if k == 5:  # five-lobed star
        theta = np.arctan2(v, u)
        return np.sqrt(r2) <= 0.55 + 0.45 * np.cos(5 * theta)
    if k == 6:  # elongated diamond
        return au + av / 0.5 <= 1.0
    if k == 7:  # hexagon
        return _regular_polygon(u, v, 6, 0.0)
    if k == 8:  # bar
        return (au <= 0.95) & (av <= 0.28)
    if k == 9:  # L
        return ((u >= -0.75) & (u <= 0.75) & (v >= 0.35) & (v <= 0.75)) | (
            (u >= -0.75) & (u <= -0.35) & (v >= -0.75) & (v <= 0.75)
        )
    raise ValueError(f"no shape for class {k}")


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB; h in [0,1) (wraps), s, v in [0,1]; returns (..., 3)."""
    h = np.mod(h, 1.0) * 6.0
    i = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack(
        [
            np.stack([v, t, p], -1),
            np.stack([q, v, p], -1),
            np.stack([p, v, t], -1),
            np.stack([p, q, v], -1),
            np.stack([t, p, v], -1),
            np.stack([v, p, q], -1),
        ]
    )
    return np.take_along_axis(table, i[None, ..., None], axis=0)[0]


# ------------------------------------------------------------------------------------------- params
@dataclasses.dataclass
class _Foregrounds:
    labels: np.ndarray  # (N,) int64
    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray  # relative half-extent
    angle: np.ndarray  # radians
    rgb: np.ndarray  # (N, 3)


@dataclasses.dataclass
class _Backgrounds:
    labels: np.ndarray  # (N,) int64 class the background belongs to
    orientation: np.ndarray
    frequency: np.ndarray
    phase: np.ndarray
    rgb_a: np.ndarray  # (N, 3) dark texture colour
    rgb_b: np.ndarray  # (N, 3) light texture colour
    noise: np.ndarray  # (N, 8, 8) low-frequency noise coefficients
    distractor: _Foregrounds | None = None  # where-matters variant: one extra shape per background

    def take(self, idx: np.ndarray) -> _Backgrounds:
        return _take_fields(self, idx)


def _take_fields(params: Any, idx: Any) -> Any:
    """Rows ``idx`` (index array or slice) of every per-image field; nested parameter sets too."""
    if params is None:
        return None
    out = {}
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        nested = dataclasses.is_dataclass(value) or value is None
        out[f.name] = _take_fields(value, idx) if nested else value[idx]
    return type(params)(**out)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def _draw_foregrounds(
    cfg: SyntheticConfig,
    labels: np.ndarray,
    rng: np.random.Generator,
    scale: tuple[float, float] | None = None,
) -> _Foregrounds:
    n = len(labels)
    lo, hi = cfg.fg_scale if scale is None else scale
    radius = rng.uniform(lo, hi, n) / 2
    cx = rng.uniform(radius, 1 - radius)
    cy = rng.uniform(radius, 1 - radius)
    angle = np.deg2rad(rng.uniform(-cfg.fg_max_rotation_deg, cfg.fg_max_rotation_deg, n))
    hue = rng.uniform(0, 1, n)
    sat = rng.uniform(*cfg.fg_saturation, n)
    val = rng.uniform(*cfg.fg_value, n)
    return _Foregrounds(labels, cx, cy, radius, angle, _hsv_to_rgb(hue, sat, val))


def _class_bg_means(cfg: SyntheticConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class-keyed background means: orientation, frequency and hue, spread so neighbours differ."""
    k = np.arange(cfg.num_classes)
    orientation = k * np.pi / cfg.num_classes
    # a stride coprime with K reorders frequencies so orientation neighbours differ in frequency
    stride = next(s for s in (3, 7, 11, 13) if np.gcd(s, cfg.num_classes) == 1)
    lo, hi = cfg.bg_frequency_range
    frequency = lo + (hi - lo) * ((k * stride) % cfg.num_classes) / max(cfg.num_classes - 1, 1)
    hue = k / cfg.num_classes
    return orientation, frequency, hue


def _draw_backgrounds(cfg: SyntheticConfig, bg_labels: np.ndarray, rng: np.random.Generator) -> _Backgrounds:
    n = len(bg_labels)
    o_mean, f_mean, h_mean = _class_bg_means(cfg)
    orientation = o_mean[bg_labels] + np.deg2rad(cfg.bg_orientation_jitter_deg) * rng.standard_normal(n)
    frequency = np.maximum(0.5, f_mean[bg_labels] + cfg.bg_frequency_jitter * rng.standard_normal(n))
    phase = rng.uniform(0, 2 * np.pi, n)
    hue = h_mean[bg_labels] + cfg.bg_hue_jitter * rng.standard_normal(n)
    hue_b = hue + rng.uniform(-0.08, 0.08, n)
    sat = rng.uniform(*cfg.bg_saturation, n)
    v_lo, v_hi = cfg.bg_value
    val = rng.uniform(v_lo, v_hi, n)
    c = cfg.bg_grating_contrast
    rgb_a = _hsv_to_rgb(hue, sat, np.clip(val * (1 - c), 0, 1))
    rgb_b = _hsv_to_rgb(hue_b, sat, np.clip(val * (1 + c), 0, 1))
    noise = rng.standard_normal((n, 8, 8))
    distractor = None
    if cfg.distractor is not None:  # drawn last: variants without one keep their random stream
        d_labels = (bg_labels + cfg.distractor.class_shift) % cfg.num_classes
        distractor = _draw_foregrounds(cfg, d_labels, rng, scale=cfg.distractor.scale)
    return _Backgrounds(bg_labels, orientation, frequency, phase, rgb_a, rgb_b, noise, distractor)


def _other_class(labels: np.ndarray, num_classes: int, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random class different from each label."""
    return (labels + rng.integers(1, num_classes, len(labels))) % num_classes


def _index_of_class(
    labels: np.ndarray, want: np.ndarray, rng: np.random.Generator, exclude_self: bool
) -> np.ndarray:
    """For each i, a random index j with ``labels[j] == want[i]`` (and ``j != i`` if ``exclude_self``)."""
    out = np.empty(len(want), dtype=np.int64)
    for k in np.unique(want):
        pool = np.flatnonzero(labels == k)
        rows = np.flatnonzero(want == k)
        if exclude_self:
            # pick from the pool minus self: draw a position among len(pool)-1 and skip self's slot
            pos_self = np.searchsorted(pool, rows)
            pick = rng.integers(0, len(pool) - 1, len(rows))
            pick = pick + (pick >= pos_self)
        else:
            pick = rng.integers(0, len(pool), len(rows))
        out[rows] = pool[pick]
    return out


# ------------------------------------------------------------------------------------------- render
def _upsample_matrix(size: int, coarse: int = 8) -> np.ndarray:
    """(size, coarse) linear-interpolation matrix from a coarse grid to pixel centres."""
    pos = (np.arange(size) + 0.5) / size * coarse - 0.5
    pos = np.clip(pos, 0, coarse - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, coarse - 1)
    w = pos - lo
    m = np.zeros((size, coarse))
    m[np.arange(size), lo] += 1 - w
    m[np.arange(size), hi] += w
    return m


def _render_backgrounds(cfg: SyntheticConfig, bg: _Backgrounds) -> np.ndarray:
    """(B, H, W, 3) float32 background textures."""
    s = cfg.image_size
    f32 = np.float32
    xs = ((np.arange(s) + 0.5) / s).astype(f32)
    cos = np.cos(bg.orientation).astype(f32)[:, None, None]
    sin = np.sin(bg.orientation).astype(f32)[:, None, None]
    arg = (2 * np.pi * bg.frequency).astype(f32)[:, None, None] * (
        cos * xs[None, None, :] + sin * xs[None, :, None]
    ) + bg.phase.astype(f32)[:, None, None]
    g = (0.5 + 0.5 * np.sin(arg))[..., None]
    up = _upsample_matrix(s).astype(f32)
    lowfreq = (up @ bg.noise.astype(f32) @ up.T)[..., None]
    a = bg.rgb_a.astype(f32)[:, None, None, :]
    b = bg.rgb_b.astype(f32)[:, None, None, :]
    img = a + (b - a) * g + f32(cfg.bg_noise) * lowfreq
    if bg.distractor is not None:
        d = bg.distractor
        img = np.where(_render_masks(cfg, d)[..., None], d.rgb.astype(f32)[:, None, None, :], img)
    return img


def _render_masks(
    cfg: SyntheticConfig,
    fg: _Foregrounds,
    shape_fn: Callable[[int, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """(B, H, W) exact boolean object masks; ``shape_fn`` (default: the K class shapes) maps a label.

    ``shape_fn`` lets the analogue generator (``synthetic_ood``) draw shapes that are not classes.
    """
    shape_fn = _shape_mask if shape_fn is None else shape_fn
    s = cfg.image_size
    xs = (np.arange(s) + 0.5) / s
    dx = xs[None, None, :] - fg.cx[:, None, None]
    dy = xs[None, :, None] - fg.cy[:, None, None]
    cos, sin = np.cos(fg.angle)[:, None, None], np.sin(fg.angle)[:, None, None]
    r = fg.radius[:, None, None]
    u = (dx * cos + dy * sin) / r
    v = (-dx * sin + dy * cos) / r
    # image y grows downwards; flip v so "up" shapes point up on screen
    v = -v
    masks = np.zeros((len(fg.labels), s, s), dtype=bool)
    for k in np.unique(fg.labels):
        sel = fg.labels == k
        masks[sel] = shape_fn(int(k), u[sel], v[sel])
    return masks


def _boxes_from_masks(masks: np.ndarray) -> np.ndarray:
    """Tight xyxy boxes, relative to the image size (x1/y1 exclusive pixel edge)."""
    _, h, w = masks.shape
    cols, rows = masks.any(axis=1), masks.any(axis=2)
    if not (cols.any(axis=1).all() and rows.any(axis=1).all()):
        raise RuntimeError("empty object mask; the fg_scale / image_size validation should prevent this")
    x0 = cols.argmax(axis=1)
    x1 = w - cols[:, ::-1].argmax(axis=1)
    y0 = rows.argmax(axis=1)
    y1 = h - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0 / w, y0 / h, x1 / w, y1 / h], axis=1).astype(np.float32)


def _compose(
    cfg: SyntheticConfig,
    fg: _Foregrounds | None,
    bg: _Backgrounds | None,
    masks: np.ndarray | None,
    rng: np.random.Generator,
    n: int,
) -> np.ndarray:
    """uint8 images: foreground (if any) over background (or neutral grey), plus sensor noise."""
    s = cfg.image_size
    if bg is not None:
        img = _render_backgrounds(cfg, bg)
    else:
        img = np.full((n, s, s, 3), _NEUTRAL_GREY, dtype=np.float32)
    if fg is not None and masks is not None:
        img = np.where(masks[..., None], fg.rgb.astype(np.float32)[:, None, None, :], img)
    img += np.float32(cfg.pixel_noise) * rng.standard_normal(img.shape, dtype=np.float32)
    img *= np.float32(255.0)
    np.rint(img, out=img)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclasses.dataclass
class _Plan:
    """What one split is made of: per-image foreground and background parameters."""

    labels: np.ndarray
    fg: _Foregrounds | None
    bg: _Backgrounds | None
    ids: list[str]

    @property
    def bg_labels(self) -> np.ndarray:
        if self.bg is None:
            return np.full(len(self.labels), -1, dtype=np.int64)
        return self.bg.labels.astype(np.int64)


def _sliced(params: Any, sl: slice) -> Any:
    return _take_fields(params, sl)


def _render_split(
    cfg: SyntheticConfig,
    plan: _Plan,
    rng: np.random.Generator,
    tick: Callable[[int], None],
) -> dict[str, np.ndarray]:
    n, s = len(plan.labels), cfg.image_size
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    masks = np.zeros((n, s, s), dtype=bool)
    boxes = np.zeros((n, 4), dtype=np.float32)
    for start in range(0, n, _BATCH):
        sl = slice(start, min(start + _BATCH, n))
        fg, bg = _sliced(plan.fg, sl), _sliced(plan.bg, sl)
        m = _render_masks(cfg, fg) if fg is not None else None
        images[sl] = _compose(cfg, fg, bg, m, rng, sl.stop - sl.start)
        if m is not None:
            masks[sl] = m
            boxes[sl] = _boxes_from_masks(m)
        tick(sl.stop - sl.start)
    return {
        "images": images,
        "labels": plan.labels.astype(np.int64),
        "boxes": boxes,
        "masks": masks,
        "bg_labels": plan.bg_labels,
    }


def _image_ids(labels: np.ndarray, offset: int) -> list[str]:
    """``n99000003/n99000003_17``: per-class running number starting at ``offset``."""
    counters: dict[int, int] = {}
    ids = []
    for y in labels.tolist():
        j = counters.get(y, 0)
        counters[y] = j + 1
        wnid = class_wnid(y)
        ids.append(f"{wnid}/{wnid}_{offset + j}")
    return ids


def plan_splits(cfg: SyntheticConfig) -> dict[str, _Plan]:
    """Draw the (cheap) per-image parameters of every split; rendering happens later."""
    k = cfg.num_classes
    # train: per class, images in class order then shuffled once (fixed by the seed)
    rng = _rng(cfg.seed, 1)
    y_tr = rng.permutation(np.repeat(np.arange(k), cfg.train_per_class))
    own = rng.random(len(y_tr)) < cfg.bg_correlation
    bg_cls = np.where(own, y_tr, _other_class(y_tr, k, rng))
    train = _Plan(
        y_tr,
        _draw_foregrounds(cfg, y_tr, rng),
        _draw_backgrounds(cfg, bg_cls, rng),
        _image_ids(y_tr, 0),
    )

    # evaluation images: one foreground + one own-class "original" background each
    rng = _rng(cfg.seed, 2)
    y_ev = np.repeat(np.arange(k), cfg.eval_per_class)
    fg = _draw_foregrounds(cfg, y_ev, rng)
    orig = _draw_backgrounds(cfg, y_ev, rng)
    ids = _image_ids(y_ev, cfg.train_per_class)
    n = len(y_ev)
    val_own = rng.random(n) < cfg.bg_correlation
    val_src = np.where(
        val_own, np.arange(n), _index_of_class(y_ev, _other_class(y_ev, k, rng), rng, exclude_self=False)
    )
    same_src = _index_of_class(y_ev, y_ev, rng, exclude_self=True)
    rand_src = _index_of_class(y_ev, _other_class(y_ev, k, rng), rng, exclude_self=False)
    return {
        "train": train,
        "val": _Plan(y_ev, fg, orig.take(val_src), ids),
        "only_fg": _Plan(y_ev, fg, None, ids),
        "no_fg": _Plan(y_ev, None, orig, ids),
        "mixed_same": _Plan(y_ev, fg, orig.take(same_src), ids),
        "mixed_rand": _Plan(y_ev, fg, orig.take(rand_src), ids),
    }


def render_splits(
    cfg: SyntheticConfig, progress: Any = None, splits: tuple[str, ...] = SPLITS
) -> dict[str, dict[str, Any]]:
    """Render arrays (and ids) of ``splits`` in memory; used by :func:`generate` and for experiments."""
    plans = plan_splits(cfg)
    total = sum(len(plans[s].labels) for s in splits)
    task = progress.add_task(f"generating {cfg.variant}", total=total) if progress is not None else None

    def tick(n: int) -> None:
        if progress is not None:
            progress.advance(task, n)

    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(SPLITS):
        if name not in splits:
            continue
        arrays: dict[str, Any] = _render_split(cfg, plans[name], _rng(cfg.seed, 100 + i), tick)
        arrays["ids"] = plans[name].ids
        out[name] = arrays
    return out


# ---------------------------------------------------------------------------------------- annotator
def simulate_annotator(
    cfg: SyntheticConfig, labels: np.ndarray, boxes: np.ndarray, masks: np.ndarray, ids: list[str]
) -> list[dict[str, Any]]:
    """ImageNet-AB-schema records of a simulated annotator for the train split.

    Schema (one record per interacted image; non-interacted images get no record), confirmed from
    the annotation front-end naver-ai/imagenet-annotation-tool (``projectAnnotationsForImageNet``,
    ``AnnotationComponent.handler.ts``) and the XML ``<metadata>`` fields read by the LUAB loaders in
    aldakata/NeglectedFreeLunch: ``imageID``, ``selected``, ``selectedCount``, ``selectedRecord``
    [{x, y, time}], ``hoveredCount``, ``hoveredRecord`` [{action: enter|leave, time}],
    ``imagePosition`` {x, y}, ``imageWidth``/``imageHeight`` (displayed size, px),
    ``originalImageWidth``/``originalImageHeight``, ``estimateTime`` (ms hovered while unselected),
    ``mouseTracking`` [{x, y, time}], ``worker_id``, ``assignment_id`` (LUAB Fig. 4 shows ``imageID``,
    the original size, ``selected``, ``selectedRecord`` and ``mouseTracking`` with x, y, time; its full
    list is Appendix Fig. A, not in the available text). Not written, as no source shows them per
    record: HIT id and page number (the front-end sends them at HIT/page level).

    Click semantics follow the front-end: a click toggles ``selected``; only *select* clicks are
    appended to ``selectedRecord`` (deselects are not recorded), so ``selectedCount ==
    len(selectedRecord)`` and the final click Z of a selected image is its last (latest) entry.
    Mouse moves are tracked (60 Hz throttle) only while the image is unselected. Coordinates are
    relative in [0, 1], quantised to displayed pixels; times are epoch milliseconds.
    The final select click lands on the object with probability ``p_click_in_box``, otherwise near
    the box (``p_miss_near``) or anywhere outside it.
    """
    rng = _rng(cfg.seed, 3)
    n = len(labels)
    interacted = rng.random(n) < cfg.p_interacted
    selected = rng.random(n) < cfg.p_selected
    in_box = rng.random(n) < cfg.p_click_in_box
    near = rng.random(n) < cfg.p_miss_near
    # number of extra (deselect, select) pairs; unselected images: 0 -> hover only, else select+deselect
    extra_pairs = rng.geometric(1 - cfg.p_extra_toggle, n) - 1
    unselected_clicked = rng.random(n) < 0.5
    disp = 150  # displayed thumbnail size in px (the front-end scales images to a grid)
    per_page, pages_per_hit = 48, 10
    t0 = 1_654_041_600_000  # 2022-06-01T00:00:00Z in ms
    records: list[dict[str, Any]] = []
    worker = assignment = ""
    t_now = t0
    slot = 0
    for i in range(n):
        if slot % (per_page * pages_per_hit) == 0:  # a new HIT: new worker and assignment
            worker = _hex_id(rng, 10)
            assignment = _hex_id(rng, 30, alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            t_now += int(rng.integers(60_000, 3_600_000))
        page_slot = slot % per_page
        slot += 1
        if not interacted[i]:
            continue
        t_now += int(rng.integers(200, 2_500))
        rec = _annotate_one(
            cfg, rng, masks[i], boxes[i], bool(selected[i]), bool(in_box[i]), bool(near[i]),
            int(extra_pairs[i]), bool(unselected_clicked[i]), t_now, disp,
        )  # fmt: skip
        t_now = rec["hoveredRecord"][-1]["time"]
        s = cfg.image_size
        rec.update(
            imageID=ids[i],
            imagePosition=_grid_position(page_slot, disp),
            imageWidth=disp,
            imageHeight=disp,
            originalImageWidth=s,
            originalImageHeight=s,
            worker_id=worker,
            assignment_id=assignment,
        )
        records.append(rec)
    return records


def _grid_position(page_slot: int, disp: int, columns: int = 6) -> dict[str, int]:
    """Page position (px) of a thumbnail in the annotation grid."""
    return {"x": 40 + (page_slot % columns) * (disp + 10), "y": 220 + (page_slot // columns) * (disp + 10)}


def _hex_id(rng: np.random.Generator, n: int, alphabet: str = "0123456789ABCDEF") -> str:
    return "".join(alphabet[j] for j in rng.integers(0, len(alphabet), n))


def _quantise(p: np.ndarray, disp: int) -> np.ndarray:
    """Relative coords of the displayed pixel a point falls in (what the front-end reports)."""
    return np.clip(np.floor(np.clip(p, 0, 1 - 1e-9) * disp), 0, disp - 1) / disp


def _point_on_object(rng: np.random.Generator, mask: np.ndarray, box: np.ndarray, disp: int) -> np.ndarray:
    """A quantised point on a random object pixel; rounds up where flooring would leave the box."""
    ys, xs = np.nonzero(mask)
    j = int(rng.integers(0, len(xs)))
    h, w = mask.shape
    p = np.array([(xs[j] + rng.random()) / w, (ys[j] + rng.random()) / h])
    q = _quantise(p, disp)
    return np.where(q < box[:2], np.ceil(p * disp) / disp, q)


def _point_off_box(rng: np.random.Generator, box: np.ndarray, near: bool, disp: int) -> np.ndarray:
    """A point outside the box: within a margin around it (near) or anywhere else in the image."""
    x0, y0, x1, y1 = box.tolist()
    margin = 0.15
    lo = np.array([max(0.0, x0 - margin), max(0.0, y0 - margin)]) if near else np.zeros(2)
    hi = np.array([min(1.0, x1 + margin), min(1.0, y1 + margin)]) if near else np.ones(2)
    for attempt in range(64):
        p = _quantise(rng.uniform(lo, hi), disp)
        if not (x0 <= p[0] <= x1 and y0 <= p[1] <= y1):
            return p
        if attempt == 31:  # the margin is all box (object near the border): try anywhere
            lo, hi = np.zeros(2), np.ones(2)
    return np.array([0.0, 0.0])  # the box covers the whole image: a corner (degenerate case)


def _track(rng: np.random.Generator, a: np.ndarray, b: np.ndarray, t: int, disp: int) -> list[dict]:
    """Mouse samples moving from ``a`` to ``b`` at ~60 Hz with jitter; starts at time ``t``."""
    steps = int(rng.integers(4, 28))
    frac = np.linspace(0, 1, steps)
    ease = frac * frac * (3 - 2 * frac)
    pts = a[None, :] + (b - a)[None, :] * ease[:, None] + rng.normal(0, 0.015, (steps, 2))
    pts[-1] = b
    pts = _quantise(pts, disp)
    dts = rng.integers(16, 40, steps)
    times = t + np.cumsum(dts)
    return [{"x": float(x), "y": float(y), "time": int(tt)} for (x, y), tt in zip(pts, times, strict=True)]


def _entry_point(rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(0, 4))
    u = float(rng.random())
    return np.array([[u, 0.0], [u, 0.999], [0.0, u], [0.999, u]][side])


def _annotate_one(
    cfg: SyntheticConfig,
    rng: np.random.Generator,
    mask: np.ndarray,
    box: np.ndarray,
    selected: bool,
    in_box: bool,
    near: bool,
    extra_pairs: int,
    unselected_clicked: bool,
    t_enter: int,
    disp: int,
) -> dict[str, Any]:
    """One record's clicks, mouse track and timings (see :func:`simulate_annotator`)."""
    # clicks toggle the selection: odd for a finally selected image, even (maybe 0) otherwise
    n_toggles = 1 + 2 * extra_pairs if selected else (2 * (extra_pairs + 1) if unselected_clicked else 0)
    # positions of every toggle; the last select of a selected image follows the in-box model
    toggles = []
    for j in range(n_toggles):
        is_final = selected and j == n_toggles - 1
        if is_final:
            on_object = _point_on_object(rng, mask, box, disp) if in_box else None
            p = on_object if on_object is not None else _point_off_box(rng, box, near, disp)
        elif rng.random() < 0.6:
            p = _point_on_object(rng, mask, box, disp)
        else:
            p = _point_off_box(rng, box, True, disp)
        toggles.append(p)
    tracking: list[dict] = []
    selected_record: list[dict] = []
    t = t_enter
    pos = _entry_point(rng)
    estimate = 0
    is_sel = False
    if not toggles:  # hovered only: wander towards a random point and leave
        seg = _track(rng, pos, rng.uniform(0, 1, 2), t, disp)
        tracking += seg
        estimate += seg[-1]["time"] - t
        t = seg[-1]["time"]
    for p in toggles:
        if not is_sel:  # moving while unselected is tracked
            seg = _track(rng, pos, p, t, disp)
            tracking += seg
            estimate += seg[-1]["time"] - t
            t = seg[-1]["time"] + int(rng.integers(30, 400))
            selected_record.append({"x": float(p[0]), "y": float(p[1]), "time": int(t)})
        else:  # moving while selected is not tracked; the deselect click is not recorded
            t += int(rng.integers(300, 2_000))
        is_sel = not is_sel
        pos = p
    t_leave = t + int(rng.integers(50, 600))
    return {
        "selected": is_sel,
        "selectedCount": len(selected_record),
        "selectedRecord": selected_record,
        "hoveredCount": 1,
        "hoveredRecord": [
            {"action": "enter", "time": int(t_enter)},
            {"action": "leave", "time": int(t_leave)},
        ],
        "estimateTime": int(estimate),
        "mouseTracking": tracking,
    }


# ------------------------------------------------------------------------------------------- files
def _canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _fingerprint(split_hashes: dict[str, dict[str, str]], record_hashes: dict[str, str]) -> str:
    return sha256_hex(_canonical_json({"records": record_hashes, "splits": split_hashes}))


def _write_dataset(cfg: SyntheticConfig, out: Path, progress: Any) -> None:
    data = render_splits(cfg, progress)
    split_meta: dict[str, Any] = {}
    split_hashes: dict[str, dict[str, str]] = {}
    for name in SPLITS:
        arrays = data[name]
        files: dict[str, str] = {}
        for fname in ARRAY_FILES:
            blob = _npy_bytes(arrays[fname[: -len(".npy")]])
            atomic_write_bytes(out / name / fname, blob)
            files[fname] = sha256_hex(blob)
        blob = _canonical_json(arrays["ids"])
        atomic_write_bytes(out / name / "ids.json", blob)
        files["ids.json"] = sha256_hex(blob)
        split_meta[name] = {"n": len(arrays["labels"]), "files": files}
        split_hashes[name] = files
    tr = data["train"]
    records = simulate_annotator(cfg, tr["labels"], tr["boxes"], tr["masks"], tr["ids"])
    blob = _canonical_json(records)
    atomic_write_bytes(out / RECORDS_FILE, blob)
    record_hashes = {RECORDS_FILE: sha256_hex(blob)}
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
    remove_stale_temp_files(root)  # half-generated datasets of killed runs
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=temp_suffix(), dir=root))
    try:
        _write_dataset(cfg, tmp, progress)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=root))
            os.replace(target, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            # another process finished first; keep its copy if it verifies
            if verify_dataset(target, cfg) is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


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
    path = Path(dataset_dir) / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing (incomplete dataset); {FIX_HINT}")
    try:
        manifest = safe_json.read_json_file(path)
    except (OSError, ValueError) as err:  # safe_json.InputProblem is a ValueError
        raise DataError(f"{path}: not valid JSON ({err}); {FIX_HINT}") from None
    if not isinstance(manifest, dict) or not {"config", "splits", "fingerprint"} <= set(manifest):
        raise DataError(f"{path}: not a synthetic-dataset manifest; {FIX_HINT}")
    return manifest


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
    "EVAL_SPLITS",
    "SPLITS",
    "SYNTHETIC_VARIANTS",
    "DistractorConfig",
    "SplitArrays",
    "SyntheticConfig",
    "generate",
    "load_manifest",
    "load_split",
    "render_splits",
    "simulate_annotator",
    "verify_dataset",
]
