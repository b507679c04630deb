"""Causal masking test (after Langlois et al. 2021, Sec. "causal manipulations").

For each image: convert it to grayscale, keep the 50% of pixels where a selectivity map is highest
and replace the rest by mid-grey (0.5 on the [0, 1] scale); feed the masked image to the model and
score the rank of the true class. The *correct* map is the image's own human map, the *mismatched*
map is the human map of another image whose map correlates weakly with the correct one
(Pearson r < 0.4 at 100 x 100), chosen at random (seeded). If maps carry the information the model
uses, the correct mask keeps recognition higher than the mismatched one.

Score (:func:`inverse_rank`): ``N / (r + N)`` where ``r`` is the 0-based rank of the true class among
the logits (``r`` = number of classes with a strictly larger logit; ties count in the model's favour)
and ``N`` a constant (default 1, giving the reciprocal rank ``1 / (rank + 1)``; top-1 scores 1).
The issue text gives the formula ``N/(r+N)`` without fixing N; luab-bench reports N = 1 and records
N in the metric's task string.

Definitions chosen here (the paper's exact grayscale conversion and fill value were not confirmed):
grayscale = ITU-R BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` replicated to 3 channels; "reveal 50%"
keeps exactly ``round(0.5 * H * W)`` pixels, the highest map values, ties broken by raster order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REVEAL_FRACTION = 0.5
MISMATCH_MAX_R = 0.4
FILL_VALUE = 0.5
LUMA = (0.299, 0.587, 0.114)


def reveal_mask(saliency: np.ndarray, fraction: float = REVEAL_FRACTION) -> np.ndarray:
    """Bool mask (H, W) keeping exactly ``round(fraction * H * W)`` pixels with the highest values."""
    s = np.asarray(saliency, dtype=np.float64)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    k = round(fraction * s.size)
    order = np.argsort(-s.reshape(-1), kind="stable")  # descending, ties in raster order
    mask = np.zeros(s.size, dtype=bool)
    mask[order[:k]] = True
    return mask.reshape(s.shape)


def grayscale(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) images on [0, 1] -> (N, H, W, 3) BT.601 luma replicated over channels."""
    x = np.asarray(images, dtype=np.float64)
    y = x @ np.asarray(LUMA)
    return np.repeat(y[..., None], 3, axis=-1)


def mask_images(images: np.ndarray, maps: np.ndarray, fraction: float = REVEAL_FRACTION) -> np.ndarray:
    """Grayscale images (N, H, W, 3) on [0, 1] with all but the top ``fraction`` of each map set to grey.

    ``maps`` (N, h, w) are resized to the image grid first (bilinear).
    """
    from luab_bench.alignment.correlate import resize_maps

    imgs = grayscale(images)
    _n, h, w = imgs.shape[:3]
    if h != w:
        raise ValueError("masking expects square images")
    resized = resize_maps(np.asarray(maps), h)
    keep = np.stack([reveal_mask(m, fraction) for m in resized])
    return np.where(keep[..., None], imgs, FILL_VALUE)


def mismatched_partners(maps: np.ndarray, *, max_r: float = MISMATCH_MAX_R, seed: int = 0) -> np.ndarray:
    """For each map i the index of a random other map j with Pearson r(i, j) < ``max_r`` (-1 if none)."""
    from luab_bench.alignment.correlate import resize_maps

    m = resize_maps(np.asarray(maps)).reshape(len(maps), -1)
    m = m - m.mean(1, keepdims=True)
    norm = np.linalg.norm(m, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (m @ m.T) / np.outer(norm, norm)
    rng = np.random.default_rng(seed)
    out = np.full(len(m), -1, dtype=np.int64)
    for i in range(len(m)):
        ok = np.flatnonzero((r[i] < max_r) & np.isfinite(r[i]))
        ok = ok[ok != i]
        if ok.size:
            out[i] = int(ok[rng.integers(ok.size)])
    return out


def true_class_rank(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of the true class: how many classes have a strictly larger logit, (N,) int."""
    lg = np.asarray(logits, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    true = lg[np.arange(len(y)), y]
    return (lg > true[:, None]).sum(1)


def inverse_rank(rank: np.ndarray, n: float = 1.0) -> np.ndarray:
    """``n / (rank + n)`` per image (see module doc)."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    return n / (np.asarray(rank, dtype=np.float64) + n)


@dataclass(frozen=True)
class MaskingOutcome:
    """Per-image inverse ranks with the correct and the mismatched map (images with a partner only)."""

    correct: np.ndarray
    mismatched: np.ndarray
    indices: np.ndarray  # which images took part


def masking_test(
    predict: object,
    images: np.ndarray,
    labels: np.ndarray,
    human_maps: np.ndarray,
    *,
    fraction: float = REVEAL_FRACTION,
    max_r: float = MISMATCH_MAX_R,
    n: float = 1.0,
    seed: int = 0,
) -> MaskingOutcome:
    """Run the test; ``predict(images (N, H, W, 3) on [0, 1]) -> logits (N, K)`` wraps the model."""
    partners = mismatched_partners(human_maps, max_r=max_r, seed=seed)
    idx = np.flatnonzero(partners >= 0)
    if idx.size == 0:
        raise ValueError(f"no image has a mismatched map with r < {max_r}")
    imgs = np.asarray(images)[idx]
    y = np.asarray(labels)[idx]
    maps = np.asarray(human_maps)
    correct = predict(mask_images(imgs, maps[idx], fraction))  # type: ignore[operator]
    wrong = predict(mask_images(imgs, maps[partners[idx]], fraction))  # type: ignore[operator]
    return MaskingOutcome(
        inverse_rank(true_class_rank(correct, y), n), inverse_rank(true_class_rank(wrong, y), n), idx
    )
