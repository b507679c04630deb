"""Comparing model saliency with human maps (Langlois et al. 2021, "Passive attention ...").

Protocol, as specified for luab-bench (issue #5) after the paper:

1. Model and human maps are resized to 100 x 100 (:func:`resize_maps`, bilinear with antialiasing).
2. Each *model* map is blurred with an isotropic Gaussian of std sigma pixels for every sigma of the
   grid (default 0, 1, ..., 30 px at the 100-px scale, SI §D.2 "sigma = 0 - 30"; sigma 0 = unblurred).
   The paper smooths with MATLAB's ``imgaussfilt`` (SI §D.2), whose documented defaults are a kernel
   of ``2*ceil(2*sigma)+1`` taps normalised to sum 1 and ``'replicate'`` padding; :func:`blur_maps`
   with ``boundary="imgaussfilt"`` (default) is exactly that (scipy ``gaussian_filter`` with
   ``mode="nearest"`` = replicate and ``radius=ceil(2*sigma)``). ``"scipy-4sigma"`` (luab-v1: nearest,
   truncated at 4 sigma) is kept as a named option.
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

import math
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


BLUR_BOUNDARIES = ("imgaussfilt", "scipy-4sigma")


def imgaussfilt_radius(sigma: float) -> int:
    """Half-width of MATLAB ``imgaussfilt``'s default kernel: its size is ``2*ceil(2*sigma)+1``."""
    return math.ceil(2.0 * sigma)


def blur_maps(maps: np.ndarray, sigma: float, boundary: str = "imgaussfilt") -> np.ndarray:
    """Gaussian blur of every (H, W) map of a stack (N, H, W) with std ``sigma`` px (0 = copy).

    ``boundary="imgaussfilt"``: MATLAB ``imgaussfilt(A, sigma)`` with its defaults (module doc);
    ``"scipy-4sigma"``: replicate padding, kernel truncated at 4 sigma (luab-v1).
    """
    from scipy.ndimage import gaussian_filter

    arr = np.asarray(maps, dtype=np.float64)
    if sigma <= 0:
        return arr.copy()
    if boundary == "imgaussfilt":
        return gaussian_filter(
            arr, sigma=sigma, mode="nearest", radius=imgaussfilt_radius(sigma), axes=(1, 2)
        )
    if boundary == "scipy-4sigma":
        return gaussian_filter(arr, sigma=sigma, mode="nearest", truncate=4.0, axes=(1, 2))
    raise ValueError(f"unknown blur boundary {boundary!r}; use one of {', '.join(BLUR_BOUNDARIES)}")


def pearson_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of each pair of maps over pixels, (N,) float64; NaN where either map is constant."""
    x = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    y = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    constant = (np.ptp(x, axis=1) == 0) | (np.ptp(y, axis=1) == 0)
    x = x - x.mean(1, keepdims=True)
    y = y - y.mean(1, keepdims=True)
    # sqrt of each sum, then the product: the product of the two sums underflows to 0 for maps of
    # tiny (e.g. 1e-131) values that are not constant, where each factor is still a normal float
    den = np.sqrt((x * x).sum(1)) * np.sqrt((y * y).sum(1))
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
    model_maps: np.ndarray,
    human_maps: np.ndarray,
    sigmas: Sequence[float] = SIGMA_GRID,
    boundary: str = "imgaussfilt",
) -> np.ndarray:
    """(S, N) Pearson r of every image for every sigma (maps resized to 100 x 100 first)."""
    model = resize_maps(model_maps)
    human = resize_maps(human_maps)
    if len(model) != len(human):
        raise ValueError(f"{len(model)} model maps but {len(human)} human maps")
    return np.stack([pearson_per_image(blur_maps(model, s, boundary), human) for s in sigmas])


def sigma_search(
    model_maps: np.ndarray,
    human_maps: np.ndarray,
    sigmas: Sequence[float] = SIGMA_GRID,
    boundary: str = "imgaussfilt",
) -> SigmaSearch:
    """The sigma maximising mean Pearson r over images, with per-image r and Spearman (see module doc)."""
    sigmas = tuple(float(s) for s in sigmas)
    if not sigmas or min(sigmas) < 0:
        raise ValueError(f"sigma grid must be non-empty and non-negative, got {sigmas}")
    table = correlation_table(model_maps, human_maps, sigmas, boundary)
    valid = np.isfinite(table).all(0)
    if not valid.any():
        raise ValueError("every image has a constant model or human map: no correlation is defined")
    mean_r = table[:, valid].mean(1)
    best = _best_index(mean_r)
    model = blur_maps(resize_maps(model_maps), sigmas[best], boundary)
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


@dataclass(frozen=True)
class SplitHalfCV:
    """Repeated split-half cross-validation of sigma (SI §I): means and sds over the splits."""

    n_splits: int
    train_r: float
    train_sd: float
    test_r: float
    test_sd: float


def split_half_repeated(table: np.ndarray, *, n_splits: int = 100, seed: int = 0) -> SplitHalfCV:
    """SI §I: ``n_splits`` times, permute the images, fit sigma on ``floor(N/2)`` of them (12 of 25 in
    the paper) by the peak mean r, and score the other ``N - floor(N/2)`` at that sigma. Returns the
    mean and sd (ddof=0) over splits of the training peak r and the held-out r. ``table`` is (S, N) of
    valid images."""
    _s, n = table.shape
    if n < 2:
        raise ValueError("split-half cross-validation needs at least 2 images")
    rng = np.random.default_rng(seed)
    k = n // 2
    train, test = np.empty(n_splits), np.empty(n_splits)
    for b in range(n_splits):
        perm = rng.permutation(n)
        fit, held = perm[:k], perm[k:]
        curve = table[:, fit].mean(1)
        best = _best_index(curve)
        train[b], test[b] = curve[best], table[best, held].mean()
    return SplitHalfCV(
        n_splits, float(train.mean()), float(train.std()), float(test.mean()), float(test.std())
    )


@dataclass(frozen=True)
class PairwiseTests:
    """Paired t-tests of per-image r between every pair of methods (SI §D.3), Bonferroni-corrected."""

    names: list[str]
    n: int  # images defined for every method
    t: np.ndarray  # (M, M) t statistic of row - column (NaN on the diagonal)
    p: np.ndarray  # (M, M) two-sided p, uncorrected
    p_bonferroni: np.ndarray  # (M, M) min(1, p * number of pairs)
    mean_diff: np.ndarray  # (M, M) mean over images of r_row - r_col


def pairwise_t_tests(per_image_r: dict[str, np.ndarray]) -> PairwiseTests:
    """SI §D.3: a paired t-test across images for every pair of methods' per-image r (each at its own
    peak sigma), two-sided, with the Bonferroni correction over the ``M (M - 1) / 2`` pairs. Images
    where any method's r is undefined are left out (NaN entries)."""
    from scipy.stats import ttest_rel

    names = list(per_image_r)
    m = len(names)
    mat = np.stack([np.asarray(per_image_r[k], dtype=np.float64) for k in names]) if m else np.empty((0, 0))
    ok = np.isfinite(mat).all(0) if m else np.zeros(0, dtype=bool)
    mat = mat[:, ok] if m else mat
    t = np.full((m, m), np.nan)
    p = np.full((m, m), np.nan)
    diff = np.full((m, m), np.nan)
    pairs = m * (m - 1) // 2
    for i in range(m):
        for j in range(m):
            if i == j or mat.shape[1] < 2:
                continue
            d = mat[i] - mat[j]
            diff[i, j] = d.mean()
            if np.ptp(d) == 0:  # identical per-image differences: t undefined, not a finding
                t[i, j], p[i, j] = (0.0, 1.0) if d[0] == 0 else (np.sign(d[0]) * np.inf, 0.0)
                continue
            res = ttest_rel(mat[i], mat[j])
            t[i, j], p[i, j] = float(res.statistic), float(res.pvalue)
    bonf = np.minimum(1.0, p * max(1, pairs))
    return PairwiseTests(names, int(ok.sum()), t, p, bonf, diff)


@dataclass(frozen=True)
class HumanBootstrap:
    """Mean r at a fixed sigma against ``B`` human-map resamples (SI §D.2 error bars)."""

    n_boot: int
    mean_r: np.ndarray  # (B,) mean r over images per resample
    sd: float  # what the paper's error bars show (sd over resamples)
    ci: tuple[float, float]  # 95% percentile interval over resamples


def human_bootstrap(
    model_maps: np.ndarray, human_resamples: Sequence[np.ndarray], sigma: float, boundary: str = "imgaussfilt"
) -> HumanBootstrap:
    """SI §D.2: the model maps smoothed at their peak ``sigma`` against each resampled human map set
    (annotators / clicks drawn with replacement, maps rebuilt); per resample the mean r over images
    with a defined r; the paper's error bar is the sd over the resamples (ddof=0)."""
    model = blur_maps(resize_maps(model_maps), sigma, boundary)
    means = []
    for human in human_resamples:
        r = pearson_per_image(model, resize_maps(human))
        means.append(float(np.nanmean(r)) if np.isfinite(r).any() else np.nan)
    arr = np.asarray(means, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if not len(arr):
        raise ValueError("no human resample gave a defined correlation")
    lo, hi = np.percentile(arr, [2.5, 97.5])
    return HumanBootstrap(len(arr), arr, float(arr.std()), (float(lo), float(hi)))
