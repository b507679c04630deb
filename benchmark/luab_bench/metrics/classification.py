"""Per-sample classification and localisation metrics (pure numpy, vectorised).

Each function returns either a per-sample array (so a bootstrap can resample it) or a scalar computed
from one. Accuracies are in percent; differences of accuracies are in percentage points (pp).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _as_numpy(x: Any) -> np.ndarray:
    """numpy view of a numpy array or a (CPU or device) torch tensor, without importing torch."""
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def top1_correct(logits: Any, labels: Any) -> np.ndarray:
    """Per-sample top-1 correctness: ``argmax(logits[i]) == labels[i]`` as a bool array of shape (N,).

    ``logits`` is (N, K), ``labels`` (N,) integer class indices; numpy arrays or torch tensors. Ties
    go to the lowest class index (numpy's argmax). A label outside ``[0, K)`` (e.g. -1 for "no class
    of this label space") can never be predicted and so always counts as wrong.
    """
    logits = _as_numpy(logits)
    labels = _as_numpy(labels)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, K), got shape {logits.shape}")
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"labels must be ({logits.shape[0]},) to match logits, got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if logits.shape[0] == 0:
        return np.zeros(0, dtype=bool)
    return logits.argmax(axis=1) == labels


def accuracy(correct: Any) -> float:
    """Accuracy in percent (0–100) of a per-sample bool/0-1 array; an empty array is an error.

    Computed as ``(100 * sum) / n``, the same arithmetic as the mean of the 0/100 per-sample scores
    that :func:`luab_bench.metrics.bootstrap.bootstrap_ci` resamples, so value and interval agree
    to the last bit (sums of 0/100 are exact in float64).
    """
    correct = _as_numpy(correct)
    if correct.ndim != 1:
        raise ValueError(f"correct must be 1-D, got shape {correct.shape}")
    if correct.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float(100.0 * correct.sum(dtype=np.float64) / correct.size)


def point_in_box(points: Any, boxes: Any) -> np.ndarray:
    """Whether each point lies inside its box, as a bool array (N,).

    ``points`` (N, 2) as (x, y); ``boxes`` (N, 4) as (x1, y1, x2, y2), both in the same coordinates
    (relative to the image in this package). Borders are *inclusive*: a point exactly on an edge or
    corner counts as inside (``x1 <= x <= x2 and y1 <= y <= y2``). A NaN coordinate is outside.
    """
    points = _as_numpy(points)
    boxes = _as_numpy(boxes)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {points.shape}")
    if boxes.shape != (points.shape[0], 4):
        raise ValueError(f"boxes must be ({points.shape[0]}, 4) to match points, got shape {boxes.shape}")
    x, y = points[:, 0], points[:, 1]
    return (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])


def bg_gap(acc_mixed_same: float, acc_mixed_rand: float) -> float:
    """Backgrounds-Challenge BG-gap in percentage points: ``acc(mixed_same) - acc(mixed_rand)``.

    Both accuracies in percent. Larger = the classifier leans more on the background.
    """
    return float(acc_mixed_same) - float(acc_mixed_rand)
