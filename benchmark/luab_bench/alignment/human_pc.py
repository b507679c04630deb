"""Human PC (Langlois et al. SI §D.1): the first principal component of the z-scored human measures.

Convention ``langlois2021`` (default): each measure's maps of *all* images are z-scored together (the
paper z-scores each "2,500 x 100" concatenation of the 25 maps of one measure), MATLAB ``pca``
(columns centred) of the (pixels of all images) x (measures) matrix gives the loadings of the first
component (signed so they sum to >= 0), and the Human PC is ``sum_m w_m l_m z_m`` with ``w_m =
sqrt(1/3)`` for the measures flagged ``fixation_like`` (the paper's three fixation maps) and 1
otherwise; each image's PC map is then centred (the released PC maps have mean 0 per image; the
centring does not change any per-image correlation). Checked against the paper's released maps
(github czhao39/neurips-attention ``human-maps/img*_{patchRate, discr, chainKDE, freeFIX, salFIX,
objFIX, humanPC}.mat``, 25 images, maps resized to 100 x 100 bilinearly): this reproduces their
``humanPC`` maps at mean per-image r = 0.9997, first component 53.1 % of the variance (SI: 53.3 %),
loadings 0.37, 0.36, 0.20, 0.49, 0.49, 0.45; the earlier luab-v1 convention (each map z-scored over
its own pixels, the sqrt(1/3) weights applied *before* the PCA) gives r = 0.94 and stays available.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from luab_bench.errors import LuabError

FIXATION_WEIGHT = math.sqrt(1.0 / 3.0)
PC_CONVENTIONS = ("langlois2021", "luab-v1")


@dataclass(frozen=True)
class HumanPC:
    """The Human PC maps and how they were made (SI §D.1)."""

    maps: np.ndarray  # (N, H, W) float32
    measures: list[str]
    loadings: np.ndarray  # (M,) first-component coefficients (sum >= 0)
    weights: np.ndarray  # (M,) sqrt(1/3) for fixation-like measures, else 1
    explained: float  # fraction of variance of the first component
    convention: str


def zscore_maps(maps: np.ndarray) -> np.ndarray:
    """Each map (last two axes) minus its mean over pixels, divided by its std (constant maps -> 0)."""
    m = np.asarray(maps, dtype=np.float64)
    mu = m.mean(axis=(-2, -1), keepdims=True)
    sd = m.std(axis=(-2, -1), keepdims=True)
    return np.where(sd > 0, (m - mu) / np.where(sd > 0, sd, 1.0), 0.0)


def _design(arr: np.ndarray, w: np.ndarray, convention: str) -> np.ndarray:
    """The (pixels of all images) x (measures) matrix the PCA sees (before column centring)."""
    if convention == "langlois2021":
        flat = arr.reshape(arr.shape[0], -1)
        sd = flat.std(axis=1, keepdims=True)
        z = np.where(sd > 0, (flat - flat.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)
        return z.T
    return (zscore_maps(arr) * w[:, None, None, None]).reshape(arr.shape[0], -1).T


def _project(
    x: np.ndarray, v: np.ndarray, w: np.ndarray, shape: tuple[int, ...], convention: str
) -> np.ndarray:
    if convention == "langlois2021":
        pc = (x @ (v * w)).reshape(shape)
        return pc - pc.mean(axis=(-2, -1), keepdims=True)
    return ((x - x.mean(axis=0, keepdims=True)) @ v).reshape(shape)


def human_pc_fit(
    maps: np.ndarray,
    fixation_like: Sequence[bool] | None = None,
    measures: Sequence[str] | None = None,
    convention: str = "langlois2021",
) -> HumanPC:
    """First principal component of M measures' maps (M, N, H, W), by ``convention`` (module doc)."""
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"maps must be (measures, images, H, W), got {arr.shape}")
    if convention not in PC_CONVENTIONS:
        raise LuabError(f"unknown Human PC convention {convention!r}; use one of {', '.join(PC_CONVENTIONS)}")
    flags = list(fixation_like) if fixation_like is not None else [False] * arr.shape[0]
    if len(flags) != arr.shape[0]:
        raise ValueError(f"{len(flags)} fixation flags for {arr.shape[0]} measures")
    names = list(measures) if measures is not None else [f"m{k}" for k in range(arr.shape[0])]
    w = np.array([FIXATION_WEIGHT if f else 1.0 for f in flags])
    x = _design(arr, w, convention)
    _, s, vt = np.linalg.svd(x - x.mean(axis=0, keepdims=True), full_matrices=False)
    v = vt[0]
    if v.sum() < 0:
        v = -v
    explained = float(s[0] ** 2 / np.sum(s**2)) if np.sum(s**2) > 0 else float("nan")
    pc = _project(x, v, w, arr.shape[1:], convention)
    return HumanPC(pc.astype(np.float32), names, v, w, explained, convention)


def pc_combine(maps: np.ndarray, pc: HumanPC) -> np.ndarray:
    """Human PC maps (N, H, W) of other maps of the same measures (M, N, H, W) with ``pc``'s loadings
    and weights kept fixed (SI §D.2: the PC's bootstrap estimates are that combination of the
    measures' bootstrap estimates); ``pc_combine(original maps, pc) == pc.maps``."""
    arr = np.asarray(maps, dtype=np.float64)
    if arr.shape[0] != len(pc.loadings):
        raise ValueError(f"{arr.shape[0]} measures for a PC of {len(pc.loadings)}")
    x = _design(arr, pc.weights, pc.convention)
    return _project(x, pc.loadings, pc.weights, arr.shape[1:], pc.convention).astype(np.float32)


def human_pc(
    maps: np.ndarray, fixation_like: Sequence[bool] | None = None, convention: str = "langlois2021"
) -> np.ndarray:
    """First principal component of z-scored maps (M measures, N, H, W) -> (N, H, W) float32."""
    return human_pc_fit(maps, fixation_like, convention=convention).maps
