"""Pixels of the synthetic benchmark: background textures, exact object masks, boxes, composites.

:func:`render_splits` renders the splits planned by ``synthetic_plan.plan_splits`` in batches of
``_BATCH`` images, each split with its own sensor-noise stream (``100 + split index``).
``_render_masks`` / ``_compose`` are shared with the analogue generator (``synthetic_ood``) and the
positive controls (``synthetic_controls``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from luab_bench.data.synthetic_config import SPLITS, SyntheticConfig
from luab_bench.data.synthetic_plan import _Backgrounds, _Foregrounds, _Plan, _sliced, plan_splits
from luab_bench.data.synthetic_shapes import _shape_mask
from luab_bench.seeds import seeded_generator

_BATCH = 256
_NEUTRAL_GREY = 0.5


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
        arrays: dict[str, Any] = _render_split(cfg, plans[name], seeded_generator(cfg.seed, 100 + i), tick)
        arrays["ids"] = plans[name].ids
        out[name] = arrays
    return out
