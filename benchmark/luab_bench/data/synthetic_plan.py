"""Per-image parameters of every split of the synthetic benchmark, drawn before any pixel.

Foregrounds (class shape, centre, size, rotation, colour) and class-keyed backgrounds (grating,
colours, low-frequency noise, optional distractor) are drawn from the config's seeded streams
(``seeds.seeded_generator(seed, stream)``); :func:`plan_splits` pairs them into the six splits of the
Backgrounds-Challenge design (see ``synthetic``'s module docstring). ``synthetic_render`` turns a
plan into images.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from luab_bench.data.synthetic_config import SyntheticConfig, class_wnid
from luab_bench.data.synthetic_shapes import _hsv_to_rgb
from luab_bench.seeds import seeded_generator


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
    rng = seeded_generator(cfg.seed, 1)
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
    rng = seeded_generator(cfg.seed, 2)
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
