"""Causal masking tests (Langlois et al. 2021, main §5-6, SI §E-H).

The paper runs masking in two directions; luab-bench can only run the second (no human observers):

* **Human recognition of ANN-masked images** (main §5, SI §E.1, SI Fig. 5A): the image is converted to
  grayscale; the mask is an ANN map smoothed at its peak sigma, thresholded "so that only 50 % of its
  values were above 0", and multiplied element-wise with the grayscale image. Incorrect masks are
  maps of other images, randomly rotated, kept only when they correlate with the correct mask at
  r < 0.4. :func:`human_stimuli` builds these stimuli (protocol ``langlois2021-human``), e.g. to run
  the experiment elsewhere.
* **ANN recognition of human-masked images** (main §6, SI §G-H), what ``align_mask_*`` measure
  (protocol ``langlois2021``, default): the masks are the *human* maps, thresholded as above and
  multiplied with the **RGB** image (SI §G.1: RGB "to minimize distribution shift for the ANNs"); every
  image is masked with its own map and with the maps of the other images (the paper: all 24 others
  of 25; here up to :data:`MAX_MISMATCHED` = 24 others drawn at random, seeded, all others when
  N <= 25). The reference label is the model's **top-1 class on the unmasked image** (SI §G.2) and the
  score the inverse rank ``N / (r + N)`` with ``N`` the number of classes and ``r`` the 0-based rank
  of that class on the masked image (main §6). Per image, the mismatched score is the mean over its
  mismatched masks.

Thresholding (:func:`threshold_map`): the SI's sentence fixes *how much* is revealed, not the form.
We subtract the map's median (the 50 % quantile) and clip at 0, so exactly the pixels above the
median stay positive (half of them, up to ties: 50 % +- one pixel for 10,000 pixels without ties),
and scale the result to a maximum of 1 so that the masked image stays on the image's [0, 1] scale.
The paper's exact scaling is not stated.

``luab-v1`` (the protocol of luab-bench before, kept as a named option): BT.601 grayscale, the top
50 % pixels of the map kept as a binary mask and the rest set to grey 0.5, one mismatched map per
image drawn among those with r < 0.4 (not rotated), the *true* class ranked, ``N = 1``. Its differences
from the paper: grayscale is the human experiment's (§E), not the ANN one's (§G); the binary mask and
grey fill are not the paper's product with the thresholded map; N = 1 is not the number of classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REVEAL_FRACTION = 0.5
MISMATCH_MAX_R = 0.4
MAX_MISMATCHED = 24  # SI §G.1: the 24 other images of 25
FILL_VALUE = 0.5
LUMA = (0.299, 0.587, 0.114)
MASK_PROTOCOLS = ("langlois2021", "luab-v1")


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


def threshold_map(saliency: np.ndarray, fraction: float = REVEAL_FRACTION) -> np.ndarray:
    """``max(m - q, 0) / max`` with ``q`` the ``1 - fraction`` quantile: the top ``fraction`` of pixels
    stay > 0 (module doc). A map with nothing above ``q`` gives all zeros. (H, W) float64 in [0, 1]."""
    m = np.asarray(saliency, dtype=np.float64)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    q = np.quantile(m, 1.0 - fraction)
    out = np.clip(m - q, 0.0, None)
    top = out.max()
    return out / top if top > 0 else out


def grayscale(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) images on [0, 1] -> (N, H, W, 3) BT.601 luma replicated over channels."""
    x = np.asarray(images, dtype=np.float64)
    y = x @ np.asarray(LUMA)
    return np.repeat(y[..., None], 3, axis=-1)


def _resized(maps: np.ndarray, size: int) -> np.ndarray:
    from luab_bench.alignment.correlate import resize_maps

    return resize_maps(np.asarray(maps), size)


def mask_images(
    images: np.ndarray,
    maps: np.ndarray,
    fraction: float = REVEAL_FRACTION,
    protocol: str = "luab-v1",
    gray: bool | None = None,
) -> np.ndarray:
    """Masked images (N, H, W, 3) on [0, 1]; ``maps`` (N, h, w) are resized to the image grid first.

    ``protocol="langlois2021"``: image x :func:`threshold_map` (RGB unless ``gray``); ``"luab-v1"``:
    grayscale, top ``fraction`` kept, the rest grey :data:`FILL_VALUE`.
    """
    x = np.asarray(images, dtype=np.float64)
    _n, h, w = x.shape[:3]
    if h != w:
        raise ValueError("masking expects square images")
    resized = _resized(maps, h)
    if protocol == "luab-v1":
        keep = np.stack([reveal_mask(m, fraction) for m in resized])
        return np.where(keep[..., None], grayscale(x), FILL_VALUE)
    if protocol != "langlois2021":
        raise ValueError(f"unknown masking protocol {protocol!r}; use one of {', '.join(MASK_PROTOCOLS)}")
    base = grayscale(x) if gray else x
    return base * np.stack([threshold_map(m, fraction) for m in resized])[..., None]


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = a.reshape(len(a), -1) - a.reshape(len(a), -1).mean(1, keepdims=True)
    y = b.reshape(len(b), -1) - b.reshape(len(b), -1).mean(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))


def mismatched_partners(maps: np.ndarray, *, max_r: float = MISMATCH_MAX_R, seed: int = 0) -> np.ndarray:
    """For each map i the index of a random other map j with Pearson r(i, j) < ``max_r`` (-1 if none)."""
    m = _resized(maps, 100).reshape(len(maps), -1)
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


@dataclass(frozen=True)
class RotatedMismatch:
    """SI §E.1 incorrect masks: per image the other image used (-1: none found), the rotation angle in
    degrees, the rotated map (at the maps' grid) and its r with the correct map."""

    partner: np.ndarray
    angle: np.ndarray
    maps: np.ndarray
    r: np.ndarray


def rotated_mismatches(
    maps: np.ndarray, *, max_r: float = MISMATCH_MAX_R, seed: int = 0, tries: int = 100
) -> RotatedMismatch:
    """SI Fig. 5A: for each map, another image's map rotated by a uniform random angle (bilinear,
    edge values replicated, same grid), redrawn (image and angle) up to ``tries`` times until its
    Pearson r with the correct map is below ``max_r``."""
    from scipy.ndimage import rotate

    arr = np.asarray(maps, dtype=np.float64)
    n = len(arr)
    rng = np.random.default_rng(seed)
    partner = np.full(n, -1, dtype=np.int64)
    angle = np.full(n, np.nan)
    out = np.zeros_like(arr)
    rs = np.full(n, np.nan)
    for i in range(n):
        if n < 2:
            break
        for _ in range(tries):
            j = int(rng.integers(n - 1))
            j += j >= i
            a = float(rng.uniform(0.0, 360.0))
            rot = rotate(arr[j], a, reshape=False, order=1, mode="nearest")
            r = float(_pearson_rows(rot[None], arr[i][None])[0])
            if np.isfinite(r) and r < max_r:
                partner[i], angle[i], out[i], rs[i] = j, a, rot, r
                break
    return RotatedMismatch(partner, angle, out, rs)


def human_stimuli(
    images: np.ndarray,
    model_maps: np.ndarray,
    sigma: float,
    *,
    fraction: float = REVEAL_FRACTION,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, RotatedMismatch]:
    """SI §E.1 stimuli: (correctly masked, incorrectly masked, the mismatches) grayscale images from
    ANN maps smoothed at their peak ``sigma`` (100 x 100 scale) and thresholded to reveal ``fraction``."""
    from luab_bench.alignment.correlate import blur_maps, resize_maps

    smoothed = blur_maps(resize_maps(model_maps), sigma)
    mism = rotated_mismatches(smoothed, seed=seed)
    correct = mask_images(images, smoothed, fraction, "langlois2021", gray=True)
    wrong_maps = np.where((mism.partner >= 0)[:, None, None], mism.maps, 0.0)
    return correct, mask_images(images, wrong_maps, fraction, "langlois2021", gray=True), mism


def class_rank(logits: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """0-based rank of ``classes`` among the logits: how many classes score strictly higher, (N,) int."""
    lg = np.asarray(logits, dtype=np.float64)
    y = np.asarray(classes, dtype=np.int64)
    ref = lg[np.arange(len(y)), y]
    return (lg > ref[:, None]).sum(1)


true_class_rank = class_rank  # the luab-v1 name


def inverse_rank(rank: np.ndarray, n: float = 1.0) -> np.ndarray:
    """``n / (rank + n)`` per image (see module doc)."""
    if n <= 0:
        raise ValueError(f"n must be > 0, got {n}")
    return n / (np.asarray(rank, dtype=np.float64) + n)


@dataclass(frozen=True)
class MaskingOutcome:
    """Per-image inverse ranks with the correct and the mismatched maps (images with a partner only)."""

    correct: np.ndarray
    mismatched: np.ndarray  # per image: the mean over its mismatched masks
    indices: np.ndarray  # which images took part
    protocol: str = "luab-v1"
    n: float = 1.0  # N of the inverse rank
    mismatches_per_image: int = 1


def masking_test(
    predict: Callable[[np.ndarray], np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    human_maps: np.ndarray,
    *,
    fraction: float = REVEAL_FRACTION,
    max_r: float = MISMATCH_MAX_R,
    n: float | None = None,
    seed: int = 0,
    protocol: str = "langlois2021",
    max_mismatched: int = MAX_MISMATCHED,
) -> MaskingOutcome:
    """Run the test; ``predict(images (N, H, W, 3) on [0, 1]) -> logits (N, K)`` wraps the model.

    ``labels`` are used by ``luab-v1`` only (the paper ranks the unmasked top-1 class). ``n``: the
    inverse-rank N (default: the number of classes for ``langlois2021``, 1 for ``luab-v1``).
    """
    imgs_all = np.asarray(images)
    maps = np.asarray(human_maps)
    if protocol == "luab-v1":
        partners = mismatched_partners(maps, max_r=max_r, seed=seed)
        idx = np.flatnonzero(partners >= 0)
        if idx.size == 0:
            raise ValueError(f"no image has a mismatched map with r < {max_r}")
        imgs, y = imgs_all[idx], np.asarray(labels)[idx]
        nn = 1.0 if n is None else n
        correct = predict(mask_images(imgs, maps[idx], fraction, "luab-v1"))
        wrong = predict(mask_images(imgs, maps[partners[idx]], fraction, "luab-v1"))
        return MaskingOutcome(
            inverse_rank(class_rank(correct, y), nn),
            inverse_rank(class_rank(wrong, y), nn),
            idx,
            protocol,
            nn,
        )
    if protocol != "langlois2021":
        raise ValueError(f"unknown masking protocol {protocol!r}; use one of {', '.join(MASK_PROTOCOLS)}")
    count = len(imgs_all)
    if count < 2:
        raise ValueError("the masking test needs at least 2 images (mismatched masks come from others)")
    clean = predict(imgs_all)
    ref = clean.argmax(1)
    nn = float(clean.shape[1]) if n is None else n
    correct = inverse_rank(
        class_rank(predict(mask_images(imgs_all, maps, fraction, "langlois2021")), ref), nn
    )
    k = min(max_mismatched, count - 1)
    rng = np.random.default_rng(seed)
    others = np.stack([rng.permutation(np.delete(np.arange(count), i))[:k] for i in range(count)])
    wrong = np.zeros(count)
    for c in range(k):  # one pass per mismatch slot: every image with its c-th other map
        j = others[:, c]
        out = predict(mask_images(imgs_all, maps[j], fraction, "langlois2021"))
        wrong += inverse_rank(class_rank(out, ref), nn)
    return MaskingOutcome(correct, wrong / k, np.arange(count), protocol, nn, k)
