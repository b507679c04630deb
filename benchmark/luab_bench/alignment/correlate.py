"""Comparing model saliency with human maps (Langlois et al. 2021, "Passive attention ...").

Protocol, as specified for luab-bench (issue #5) after the paper:

1. Model and human maps are resized to 100 x 100 (:func:`resize_maps`, bilinear with antialiasing).
2. Each *model* map is blurred with an isotropic Gaussian of std sigma pixels for every sigma of the
   grid (default 0, 1, ..., 30 px at the 100-px scale; sigma 0 = unblurred). scipy ``gaussian_filter``
   with ``mode="nearest"`` and ``truncate=4``.
3. Per image, Pearson r between the blurred model map and the human map over the 10,000 pixels; the
   score of a method is ``max_sigma mean_images r`` and the arg-max sigma (ties -> smallest sigma).
   Spearman rho (the ClickMe convention) is reported at the same sigma. Images whose human or model
   map is constant have no correlation and are left out (their count is reported).
4. Optional split-half cross-validation (:func:`split_half_score`): the images are split at random
   (seeded) into halves A and B; sigma is chosen on A and scored on B and vice versa; the score is the
   mean over all images of their held-out r (no image's r was used to pick its own sigma).
5. Error bars: a percentile bootstrap over images (100 resamples by default): each resample redraws
   the images with replacement and *re-runs the sigma search* on the resample, so the interval
   includes the uncertainty of picking sigma. Resampling is over images, not over annotators, because
   folder data carry no per-annotator maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAP_SIZE = 100
SIGMA_GRID: tuple[float, ...] = tuple(float(s) for s in range(31))
N_BOOT = 100


def resize_maps(maps: np.ndarray, size: int = MAP_SIZE) -> np.ndarray:
    """(N, H, W) -> float64 (N, size, size), bilinear with antialiasing (torch ``interpolate``)."""
    import torch
    import torch.nn.functional as F

    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"maps must be (N, H, W), got {arr.shape}")
    if arr.shape[1:] == (size, size):
        return arr.copy()
    t = torch.from_numpy(arr).unsqueeze(1)
    return (
        F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        .squeeze(1)
        .numpy()
    )


def blur_maps(maps: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every (H, W) map of a stack (N, H, W) with std ``sigma`` px (0 = copy)."""
    from scipy.ndimage import gaussian_filter

    arr = np.asarray(maps, dtype=np.float64)
    if sigma <= 0:
        return arr.copy()
    return gaussian_filter(arr, sigma=sigma, mode="nearest", truncate=4.0, axes=(1, 2))


def pearson_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each pair of maps over pixels, (N,) float64; NaN where either map is constant."""
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    constant = (np.ptp(x, axis=1) == 0) | (np.ptp(y, axis=1) == 0)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    den = np.sqrt((x * x).sum(1) * (y * y).sum(1))
    num = (x * y).sum(1)
    ok = ~constant & (den > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, num / np.where(ok, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def spearman_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho of each pair of maps (Pearson r of average-tie ranks), (N,) float64."""
    from scipy.stats import rankdata

    ra = rankdata(np.asarray(a).reshape(len(a), -1), axis=1)
    rb = rankdata(np.asarray(b).reshape(len(b), -1), axis=1)
    return pearson_per_image(ra, rb)


@dataclass(frozen=True)
class SigmaSearch:
    """The outcome of a smoothing search for one method against one human measure."""

    sigmas: tuple[float, ...]
    mean_r: np.ndarray  # (S,) mean Pearson r over valid images at each sigma
    r_by_sigma: np.ndarray  # (S, N) per-image r (NaN = undefined)
    valid: np.ndarray  # (N,) bool: r defined at every sigma
    best_index: int
    spearman: np.ndarray  # (N,) per-image Spearman rho at the best sigma

    @property
    def best_sigma(self) -> float:
        return self.sigmas[self.best_index]

    @property
    def best_r(self) -> float:
        return float(self.mean_r[self.best_index])

    @property
    def per_image_r(self) -> np.ndarray:
        """Per-image Pearson r at the best sigma (valid images only)."""
        return self.r_by_sigma[self.best_index, self.valid]


def _best_index(mean_r: np.ndarray) -> int:
    return int(np.argmax(np.where(np.isfinite(mean_r), mean_r, -np.inf)))  # first max = smallest sigma


def correlation_table(
    model_maps: np.ndarray, human_maps: np.ndarray, sigmas: Sequence[float] = SIGMA_GRID
) -> np.ndarray:
    """(S, N) Pearson r of every image for every sigma (maps resized to 100 x 100 first)."""
    model = resize_maps(model_maps)
    human = resize_maps(human_maps)
    if len(model) != len(human):
        raise ValueError(f"{len(model)} model maps but {len(human)} human maps")
    return np.stack([pearson_per_image(blur_maps(model, s), human) for s in sigmas])


def sigma_search(
    model_maps: np.ndarray, human_maps: np.ndarray, sigmas: Sequence[float] = SIGMA_GRID
) -> SigmaSearch:
    """The sigma maximising mean Pearson r over images, with per-image r and Spearman (see module doc)."""
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or min(sigmas) < 0:
        raise ValueError(f"sigma grid must be non-empty and non-negative, got {sigmas}")
    table = correlation_table(model_maps, human_maps, sigmas)
    valid = np.isfinite(table).all(0)
    if not valid.any():
        raise ValueError("every image has a constant model or human map: no correlation is defined")
    mean_r = table[:, valid].mean(1)
    best = _best_index(mean_r)
    model = blur_maps(resize_maps(model_maps), sigmas[best])
    rho = spearman_per_image(model, resize_maps(human_maps))[valid]
    return SigmaSearch(sigmas, mean_r, table, valid, best, rho)


def split_half_score(table: np.ndarray, *, seed: int = 0) -> tuple[float, np.ndarray]:
    """Split-half cross-validated mean r from an (S, N) table of valid images -> (score, per-image r)."""
    _s, n = table.shape
    if n < 2:
        raise ValueError("split-half cross-validation needs at least 2 images")
    perm = np.random.default_rng(seed).permutation(n)
    halves = (perm[: n // 2], perm[n // 2 :])
    held_out = np.empty(n, dtype=np.float64)
    for fit, score in (halves, halves[::-1]):
        best = _best_index(table[:, fit].mean(1))
        held_out[score] = table[best, score]
    return float(held_out.mean()), held_out


def bootstrap_best_r(
    table: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``max_sigma mean r`` over image resamples of a valid (S, N) table.

    Resample b draws ``floor(u * N)`` indices from ``default_rng(seed).random(N)`` (the index scheme
    of :mod:`luab_bench.metrics.bootstrap`) and re-picks sigma on the resample.
    """
    _s, n = table.shape
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.minimum((rng.random(n) * n).astype(np.intp), n - 1)
        stats[b] = table[:, idx].mean(1).max()
    alpha = 1.0 - confidence
    lo, hi = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(lo), float(hi)
