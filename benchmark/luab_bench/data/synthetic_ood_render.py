"""What the synthetic suite's Table-1 analogues are and how they are rendered (in memory).

:class:`AnalogueConfig` (sizes and bins), :data:`NOVEL_SHAPES` (the IN-O analogue's non-class
shapes), :class:`AnalogueSplit` and :func:`render_analogues`, which renders every split of
``synthetic_ood``'s module docstring from the dataset config and its val split, through the same
mask and composite code as the dataset itself (``synthetic_render``). Files: ``synthetic_ood``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from luab_bench.config import StrictModel
from luab_bench.data.synthetic_config import SHAPE_NAMES
from luab_bench.data.synthetic_corruptions import CORRUPTIONS, DEFAULT_CORRUPTIONS, SEVERITIES, corrupt
from luab_bench.data.synthetic_plan import (
    _draw_backgrounds,
    _draw_foregrounds,
    _Foregrounds,
    _sliced,
    _take_fields,
    plan_splits,
)
from luab_bench.data.synthetic_render import _BATCH, _compose, _render_masks
from luab_bench.errors import ConfigError
from luab_bench.seeds import seeded_generator

ANALOGUE_SPLITS: tuple[str, ...] = ("si_size", "si_loc", "si_rot", "corrupt", "ood", "bgc")
NOVEL_SHAPES: tuple[str, ...] = ("crescent", "semicircle", "chevron", "tee")
_MIN_DIAMETER_PX = 6.0


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
    n = len(fg.labels)
    out = np.empty((n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    for start in range(0, n, _BATCH):
        sl = slice(start, min(start + _BATCH, n))
        f, b = _sliced(fg, sl), _sliced(bg, sl)
        masks = _render_masks(cfg, f, shape_fn)
        if not masks.reshape(len(masks), -1).any(axis=1).all():
            raise ConfigError(
                f"analogues: an object renders to no pixel at image_size {cfg.image_size}; "
                "raise the smallest si_sizes / diameters"
            )
        out[sl] = _compose(cfg, f, b, masks, rng, sl.stop - sl.start)
    return out


def _sweep(
    cfg: Any, acfg: AnalogueConfig, stream: int, bins: list[tuple[float, float, float, float]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same foregrounds at each (cx, cy, diameter, angle_deg) bin, on neutral grey."""
    rng = seeded_generator(cfg.seed, 300, stream)
    k, m, nb = cfg.num_classes, acfg.si_fg_per_class, len(bins)
    base = _draw_foregrounds(cfg, np.repeat(np.arange(k), m), rng)
    unit = np.repeat(np.arange(k * m), nb)
    group = np.tile(np.arange(nb), k * m)
    table = np.asarray(bins, dtype=np.float64)
    fg = _Foregrounds(
        labels=base.labels[unit],
        cx=table[group, 0],
        cy=table[group, 1],
        radius=table[group, 2] / 2,
        angle=np.deg2rad(table[group, 3]),
        rgb=base.rgb[unit],
    )
    images = _render(cfg, fg, None, seeded_generator(cfg.seed, 301, stream))
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
            parts.append(corrupt(clean, name, s, seeded_generator(cfg.seed, 400, ci, s)))
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
    rng = seeded_generator(cfg.seed, 500)
    shape = rng.integers(0, len(NOVEL_SHAPES), acfg.ood_n)
    fg = _draw_foregrounds(cfg, shape, rng)
    bg = _draw_backgrounds(cfg, rng.integers(0, k, acfg.ood_n), rng)
    images = _render(cfg, fg, bg, seeded_generator(cfg.seed, 501), novel_shape_mask)
    done("ood", images, np.full(acfg.ood_n, -1), shape, np.arange(acfg.ood_n), list(NOVEL_SHAPES))

    # Backgrounds-Challenge analogue: val foregrounds x backgrounds of every class
    plan = plan_splits(cfg)["only_fg"]
    fsel = _first_per_class(plan.labels, k, acfg.bgc_fg_per_class, "bgc_fg_per_class")
    bg_cls = np.repeat(np.arange(k), acfg.bgc_bg_per_class)
    bgs = _draw_backgrounds(cfg, bg_cls, seeded_generator(cfg.seed, 600))
    nf, nb = len(fsel), len(bg_cls)
    fi, bi = np.repeat(np.arange(nf), nb), np.tile(np.arange(nb), nf)
    pair_fg = _take_fields(plan.fg, fsel[fi])
    images = _render(cfg, pair_fg, bgs.take(bi), seeded_generator(cfg.seed, 601))
    bg_names = [f"bg={SHAPE_NAMES[c]}#{j}" for c in range(k) for j in range(acfg.bgc_bg_per_class)]
    done("bgc", images, pair_fg.labels, bi, fi, bg_names)
    return out
