"""Which point targets Z a protocol trains on: none (baseline), the byproduct (LUAB), or random (Rand).

Rand (the paper's control for "any extra regression task helps") draws one uniform point in [0, 1]²
per (sample, head) **once**, from the run seed and the sample's index only, so it is the same in
every epoch and whatever the batch order (the text does not say whether the paper redraws it; fixed
is ours). Which slots get one is the protocol's ``random_slots``: ``every_sample`` (v1.1 protocols,
LUAB §5.1 "a uniform-random point Z for each image"; per present class for COCO, §5.2) or
``with_byproduct`` (v1.0: exactly the samples that have a byproduct Z, the same ``has_point`` mask
as LUAB, so that LUAB and Rand differ only in *where* the target is).

All functions take and return numpy arrays: points float32 (N, P, 2), has_point bool (N, P).
"""

from __future__ import annotations

import zlib

import numpy as np

from luab_bench.errors import DataError
from luab_bench.seeds import seeded_generator

_RAND_STREAM = zlib.crc32(b"luab-bench/uniform_random_targets")


def check_point_arrays(points: np.ndarray, has_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate shapes/dtypes ((N, P, 2) float, (N, P) bool) and return float32 / bool copies."""
    points = np.asarray(points)
    has_point = np.asarray(has_point)
    if points.ndim != 3 or points.shape[-1] != 2:
        raise DataError(f"point targets must have shape (N, P, 2), got {points.shape}")
    if has_point.shape != points.shape[:2]:
        raise DataError(
            f"has_point must have shape {points.shape[:2]} to match the points, got {has_point.shape}"
        )
    if has_point.dtype != np.bool_:
        raise DataError(f"has_point must be boolean, got {has_point.dtype}")
    return points.astype(np.float32, copy=True), has_point.copy()


def no_targets(num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: zero point slots, (N, 0, 2) and (N, 0)."""
    return np.zeros((num_samples, 0, 2), np.float32), np.zeros((num_samples, 0), bool)


def byproduct_targets(points: np.ndarray, has_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LUAB: the byproduct points themselves (validated copies); rows without Z are zeroed."""
    points, has_point = check_point_arrays(points, has_point)
    points[~has_point] = 0.0
    return points, has_point


def all_slots(has_point: np.ndarray) -> np.ndarray:
    """Every slot set (Rand with ``random_slots: every_sample``: a random Z for each image / class)."""
    return np.ones_like(np.asarray(has_point, dtype=bool))


def uniform_random_targets(has_point: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rand: a uniform point in [0, 1)² for every (sample, head) that has a byproduct Z; others 0.

    The draw for sample i depends only on ``seed`` and i (one generator fills the whole (N, P, 2)
    table in index order), so the targets are fixed for the run and independent of batching.
    """
    has_point = np.asarray(has_point)
    if has_point.ndim != 2 or has_point.dtype != np.bool_:
        raise DataError(f"has_point must be a boolean (N, P) array, got {has_point.dtype} {has_point.shape}")
    rng = seeded_generator(int(seed) & 0xFFFFFFFF, _RAND_STREAM)
    points = rng.random((*has_point.shape, 2), dtype=np.float64).astype(np.float32)
    points[~has_point] = 0.0
    return points, has_point.copy()
