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


def zscore_flat(maps: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N, P) float64, each map minus its pixel mean over its population std (ddof=0);
    NaN rows for constant maps (all pixels equal; a float std of ~1e-16 is not trusted) and for maps
    whose std underflows."""
    x = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    sd = x.std(axis=1, keepdims=True)
    ok = (np.ptp(x, axis=1) > 0)[:, None] & (sd > 0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore", under="ignore"):
        z = np.where(ok, (x - x.mean(axis=1, keepdims=True)) / np.where(ok, sd, 1.0), np.nan)
    z[~np.isfinite(z).all(axis=1)] = np.nan  # std underflow (subnormal inputs): treat as constant
    return z


def cc_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Linear correlation coefficient CC of the saliency benchmarks (Bylinskii et al. 2018, "What do
    different evaluation metrics tell us about saliency models?"): ``mean_p z(a)_p z(b)_p`` of the
    z-scored maps, (N,) float64. This is the Pearson r of :func:`pearson_per_image`, so the
    ``align_<m>_r`` metric *is* the CC at the chosen sigma; the function exists to say and test that."""
    za, zb = zscore_flat(a), zscore_flat(b)
    return np.clip((za * zb).mean(axis=1), -1.0, 1.0)


def nss_per_image(saliency: np.ndarray, fixations: np.ndarray) -> np.ndarray:
    """Normalised scanpath saliency (Peters et al. 2005; Bylinskii et al. 2018), (N,) float64.

    ``NSS = sum_p z(s)_p w_p / sum_p w_p``: the z-scored saliency map (population std) averaged over
    fixated pixels with weights ``w`` = the fixation map (counts of events per pixel; for a binary
    fixation map this is the textbook mean of z(s) at the fixated pixels, a pixel fixated twice
    counts twice). NaN where the saliency map is constant or there is no fixation (``sum w == 0``).
    ``saliency`` and ``fixations`` must be on the same grid; ``w`` must be >= 0.
    """
    s = zscore_flat(saliency)
    w = np.asarray(fixations, dtype=np.float64).reshape(len(fixations), -1)
    if s.shape != w.shape:
        raise ValueError(f"saliency {s.shape} and fixation maps {w.shape} must have the same grid")
    if (w < 0).any():
        raise ValueError("fixation weights must be >= 0")
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            total > 0, (np.nan_to_num(s) * w).sum(axis=1) / np.where(total > 0, total, 1.0), np.nan
        ) + np.where(np.isnan(s).any(1), np.nan, 0.0)


def same_group_partners(groups: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """For each unit, a random (seeded) *other* unit of the same group (e.g. another class of the same
    COCO image), or -1 when its group has one unit. (N,) int64."""
    g = np.asarray(groups)
    rng = np.random.default_rng(seed)
    out = np.full(len(g), -1, dtype=np.int64)
    for i in range(len(g)):
        others = np.flatnonzero(g == g[i])
        others = others[others != i]
        if others.size:
            out[i] = int(others[rng.integers(others.size)])
    return out


def class_gap_per_unit(model_maps: np.ndarray, human_maps: np.ndarray, partners: np.ndarray) -> np.ndarray:
    """Class specificity of class-conditional maps: ``r(model_c, human_c) - r(model_c, human_c')`` per
    unit with a partner ``c'`` (same image, other class), on maps already at the comparison scale and
    blur. Units without a partner or with an undefined r are left out. (M,) float64."""
    have = np.flatnonzero(np.asarray(partners) >= 0)
    if have.size == 0:
        return np.empty(0)
    model = np.asarray(model_maps)[have]
    own = pearson_per_image(model, np.asarray(human_maps)[have])
    other = pearson_per_image(model, np.asarray(human_maps)[np.asarray(partners)[have]])
    gap = own - other
    return gap[np.isfinite(gap)]
