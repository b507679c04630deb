"""Training data of the positive controls, derived from the synthetic generator's exact parameters.

Two *oracles* that the benchmark must be able to see (issue 13; docs/calibration.md):

* :func:`mixed_rand_training_images` — the training split re-rendered with every foreground (exact
  mask, same pixels, same label, same id) on the background of another training image whose
  background class is drawn independently of the label: the "Mixed-Rand" training set of Xiao et al.,
  "Noise or Signal: The Role of Image Backgrounds in Object Recognition" (ICLR 2021, Sec. 4: training
  on Mixed-Rand reduces background reliance). With ``classes="any"`` the background class is uniform
  over all K classes (Xiao et al.'s "random background of a random class": the background then carries
  no information about the label); ``classes="other"`` draws it among the K − 1 other classes (the
  suite's own ``mixed_rand`` split; this leaves a weak "not this class" cue).
* :func:`oracle_points` — a noise-free annotator: Z = the generator's object centre, or a point drawn
  uniformly from the exact object mask (fixed per sample and seed).

Both draw their randomness from ``(data seed, stream, training seed)`` only, so a run is reproducible
and two seeds give independent draws.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from luab_bench.data.synthetic_config import SPLITS, SyntheticConfig
from luab_bench.data.synthetic_plan import _index_of_class, _Plan, plan_splits
from luab_bench.data.synthetic_render import _render_split
from luab_bench.errors import DataError
from luab_bench.seeds import named_seed, seeded_generator

_SWAP_STREAM = "luab-bench/mixed-rand-training"
_ORACLE_STREAM = "luab-bench/oracle-mask-point"
BackgroundClasses = Literal["any", "other"]
OraclePoint = Literal["object_centre", "mask_point"]


def _train_plan(cfg: SyntheticConfig) -> _Plan:
    return plan_splits(cfg)["train"]


def swapped_background_classes(
    labels: np.ndarray, num_classes: int, rng: np.random.Generator, classes: BackgroundClasses
) -> np.ndarray:
    """The background class of each training image after the swap (see the module docstring)."""
    if classes == "any":
        return rng.integers(0, num_classes, len(labels))
    return (labels + rng.integers(1, num_classes, len(labels))) % num_classes


def mixed_rand_training_images(
    cfg: SyntheticConfig, seed: int, classes: BackgroundClasses = "any"
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, H, W, 3), new background classes (N,)) of the Mixed-Rand training split.

    Foreground parameters (hence masks, boxes, labels, ids and the annotator's Z) are those of the
    generated ``train`` split; each image takes the full background parameters (texture, colours,
    noise and, in the where-matters variant, the distractor) of a training image whose background is
    of the drawn class. Rendering uses the split's own pixel-noise stream, so only the background
    differs from the files on disk.
    """
    plan = _train_plan(cfg)
    assert plan.fg is not None and plan.bg is not None
    rng = seeded_generator(*named_seed(cfg.seed, _SWAP_STREAM), int(seed) & 0xFFFFFFFF)
    want = swapped_background_classes(plan.labels, cfg.num_classes, rng, classes)
    src = _index_of_class(plan.bg.labels, want, rng, exclude_self=False)
    swapped = _Plan(plan.labels, plan.fg, plan.bg.take(src), plan.ids)
    noise_rng = seeded_generator(cfg.seed, 100 + SPLITS.index("train"))  # the train split's own stream
    arrays = _render_split(cfg, swapped, noise_rng, lambda _: None)
    return arrays["images"], arrays["bg_labels"]


def oracle_points(cfg: SyntheticConfig, masks: np.ndarray, mode: OraclePoint, seed: int) -> np.ndarray:
    """Noise-free Z (N, 2), relative (x, y), for every training image.

    ``object_centre``: the generator's centre of the object (the shape's own centre, not the box
    centre; they differ for asymmetric shapes such as the L). ``mask_point``: the centre of a pixel
    drawn uniformly from the exact mask ``masks[i]`` (the ``train`` split's ``masks.npy``).
    """
    plan = _train_plan(cfg)
    assert plan.fg is not None
    n = len(plan.labels)
    if masks.shape[0] != n:
        raise DataError(f"oracle points: {masks.shape[0]} masks for {n} training images; regenerate the data")
    if mode == "object_centre":
        return np.stack([plan.fg.cx, plan.fg.cy], axis=1).astype(np.float32)
    rng = seeded_generator(*named_seed(cfg.seed, _ORACLE_STREAM), int(seed) & 0xFFFFFFFF)
    _, h, w = masks.shape
    out = np.empty((n, 2), dtype=np.float32)
    for i in range(n):
        flat = np.flatnonzero(np.asarray(masks[i]).ravel())
        if len(flat) == 0:
            raise DataError(f"oracle points: training image {i} has an empty mask; regenerate the data")
        j = int(flat[rng.integers(0, len(flat))])
        out[i] = ((j % w + 0.5) / w, (j // w + 0.5) / h)
    return out


__all__ = ["mixed_rand_training_images", "oracle_points", "swapped_background_classes"]
