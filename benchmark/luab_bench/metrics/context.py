"""Context dependence of a multi-label classifier: V^avg, V^min and the self-erasure drop.

LUAB §5.2 (Han et al., ICCV 2023) reports V^avg and V^min "after Shetty et al. [84]" on COCO (Tables 6
and 7, lower is better) and describes them only in words: the difference between the score of the
class of interest c when c is erased and when another class is erased; V^avg erases a random other
class, V^min the worst-case class per image. **No formula is printed, so the definition below is
ours** (luab-bench ``CONTEXT_DEFINITION``), written to match that description:

* Eligible images: those with at least two labelled classes. Pairs: every (image x, labelled class c).
* ``s_c(x)`` = sigmoid(logit_c(x)) × 100. ``x∖d`` = x with every instance of class d erased (the
  caller fills d's masks with the image's mean colour: :mod:`luab_bench.suites.context`).
* ``V(x, c, d) = s_c(x) − s_c(x∖d)`` for a labelled d ≠ c: how much of c's score the *other* object d
  was carrying.
* **V^avg** = mean over pairs of ``V(x, c, d)`` with d drawn uniformly from the other labelled classes
  of x. The draw is seeded: one ``numpy.random.default_rng(seed)`` stream, one
  ``rng.integers(L - 1)`` per pair, images in order, c in ascending class index, the candidates d in
  ascending class index with c left out.
* **V^min** = mean over pairs of ``V(x, c, d*)`` with ``d* = argmin_{d ≠ c} s_c(x∖d)``, i.e. the
  largest drop any single other class causes (ties: the lowest class index). The paper's "worst case"
  read as worst for the model; its "min" names the minimum of the erased score.
* Diagnostic **self-erasure drop** = mean over pairs of ``s_c(x) − s_c(x∖c)``: erasing the object itself
  should remove most of its score; a small value means the erasure leaves the evidence in place.

Values are in score points (the × 100 scale of the paper's tables, unit "%"). Intervals: percentile
bootstrap over *images* (a resample keeps all pairs of an image together; the statistic is the
pair mean of the resampled images), as for the other metrics (:mod:`luab_bench.metrics.bootstrap`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from luab_bench.metrics.bootstrap import bootstrap_index_ci
from luab_bench.seeds import named_seed

#: Recorded in every context metric's ``task`` so a result says whose definition it is.
CONTEXT_DEFINITION = (
    "definition ours (luab-bench context-erasure v1): LUAB §5.2 / Shetty et al. 2019 give no formula"
)


def sigmoid_score(logits: Any) -> np.ndarray:
    """``sigmoid(logits) × 100`` in float64 (numerically stable for large |logit|)."""
    z = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 100.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = 100.0 * ez / (1.0 + ez)
    return out


@dataclass(frozen=True)
class ErasureScores:
    """Scores of one eligible image.

    ``classes`` (L,) its labelled class indices, ascending, L ≥ 2; ``clean`` (K,) s(x) for every class;
    ``erased`` (L, K): row j = s(x with ``classes[j]`` erased). Scores on the × 100 scale.
    """

    classes: np.ndarray
    clean: np.ndarray
    erased: np.ndarray

    def __post_init__(self) -> None:
        c = np.asarray(self.classes)
        if c.ndim != 1 or c.size < 2 or np.any(np.diff(c) <= 0):
            raise ValueError(f"classes must be >= 2 ascending distinct indices, got {c.tolist()}")
        if np.asarray(self.erased).shape != (c.size, np.asarray(self.clean).shape[0]):
            raise ValueError(
                f"erased must be (L, K) = ({c.size}, {np.asarray(self.clean).shape[0]}), "
                f"got {np.asarray(self.erased).shape}"
            )


@dataclass(frozen=True)
class ContextPairs:
    """One row per (image, class) pair: its image row, V with the random d, V at d*, the self drop."""

    image: np.ndarray
    v_avg: np.ndarray
    v_min: np.ndarray
    self_drop: np.ndarray
    n_images: int


def context_pairs(items: Sequence[ErasureScores], seed: int) -> ContextPairs:
    """Per-pair V values of ``items`` (see the module docstring for the order of the seeded draw)."""
    rng = np.random.default_rng(seed)
    image, v_avg, v_min, self_drop = [], [], [], []
    for row, it in enumerate(items):
        classes = np.asarray(it.classes)
        clean = np.asarray(it.clean, dtype=np.float64)
        erased = np.asarray(it.erased, dtype=np.float64)
        for j, c in enumerate(classes):
            others = np.delete(np.arange(classes.size), j)  # rows of the other labelled classes
            drops = clean[c] - erased[others, c]
            v_avg.append(drops[int(rng.integers(others.size))])
            v_min.append(clean[c] - erased[others, c].min())
            self_drop.append(clean[c] - erased[j, c])
            image.append(row)
    f64 = np.float64
    return ContextPairs(
        np.asarray(image, dtype=np.int64),
        np.asarray(v_avg, dtype=f64),
        np.asarray(v_min, dtype=f64),
        np.asarray(self_drop, dtype=f64),
        len(items),
    )


def _image_mean_ci(
    values: np.ndarray, image: np.ndarray, n_images: int, *, n_boot: int, seed: list[int]
) -> tuple[float, float, float]:
    """Pair mean and its bootstrap interval over images (all pairs of a resampled image kept)."""
    sums = np.bincount(image, weights=values, minlength=n_images)
    counts = np.bincount(image, minlength=n_images).astype(np.float64)

    def stat(idx: np.ndarray) -> float:
        return float(sums[idx].sum() / counts[idx].sum())

    ci = bootstrap_index_ci(stat, n_images, n_boot=n_boot, seed=seed)
    return ci.estimate, ci.low, ci.high


def context_metrics(
    items: Sequence[ErasureScores], *, prefix: str, dataset: str, seed: int, n_boot: int, erasure: str
) -> dict[str, dict[str, Any]]:
    """``{prefix}_vavg``, ``{prefix}_vmin`` (lower is better) and ``{prefix}_self_drop`` metric dicts.

    ``dataset`` and ``erasure`` (how objects were erased, e.g. the mask dilation) go into each
    metric's ``task`` with :data:`CONTEXT_DEFINITION`. No eligible image: an empty dict.
    """
    from luab_bench.suites.base import make_metric

    if not items:
        return {}
    pairs = context_pairs(items, seed)
    what = {
        "vavg": (pairs.v_avg, False, "V^avg: mean drop of s_c when a random other labelled class is erased"),
        "vmin": (pairs.v_min, False, "V^min: mean drop of s_c when the worst other labelled class is erased"),
        "self_drop": (pairs.self_drop, True, "diagnostic: mean drop of s_c when c itself is erased"),
    }
    out: dict[str, dict[str, Any]] = {}
    for key, (values, higher, label) in what.items():
        name = f"{prefix}_{key}"
        est, low, high = _image_mean_ci(
            values, pairs.image, pairs.n_images, n_boot=n_boot, seed=named_seed(seed, name)
        )
        out[name] = make_metric(
            est,
            n=int(values.size),
            ci=(low, high),
            unit="%",
            higher_is_better=higher,
            task=(
                f"{dataset}: {label}; s_c = sigmoid × 100; {pairs.n_images} images with >= 2 labelled "
                f"classes, n = (image, class) pairs, CI over images; {erasure}; {CONTEXT_DEFINITION}"
            ),
        )
    return out
