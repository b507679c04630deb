"""Average precision of a ranking, the building block of mAP, IN-O AUPR and PxAP.

Definition (non-interpolated, the one ``sklearn.metrics.average_precision_score`` uses): sort the
samples by score, descending; at every *distinct* score threshold t take precision P(t) and recall
R(t) of "score >= t"; ``AP = sum_k (R_k - R_{k-1}) * P_k`` with ``R_0 = 0``. Tied scores enter
together (one threshold), so the value does not depend on the order of ties.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision in [0, 1] of ``scores`` (N,) for binary ``labels`` (N,) (1/True = positive).

    Raises ValueError when there is no positive (AP is undefined) or on NaN scores.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"scores and labels differ in length: {s.size} vs {y.size}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    n_pos = int(y.sum())
    if n_pos == 0:
        raise ValueError("average precision is undefined without a positive sample")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    tp = np.cumsum(y, dtype=np.float64)
    # last index of each run of equal scores = one threshold
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = tp[last]
    predicted = last + 1.0
    precision = tp / predicted
    recall = tp / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))


def average_precision_from_histograms(pos_hist: Any, neg_hist: Any) -> float:
    """AP in [0, 1] from score histograms over the same ascending bins (PxAP's accumulation).

    Each bin is one threshold: a bin's samples count as predicted positive together with all higher
    bins. Equivalent to :func:`average_precision` on scores quantised to the bins.
    """
    pos = np.asarray(pos_hist, dtype=np.float64)
    neg = np.asarray(neg_hist, dtype=np.float64)
    if pos.shape != neg.shape or pos.ndim != 1:
        raise ValueError(f"histograms must be 1-D and equal in shape, got {pos.shape} and {neg.shape}")
    n_pos = pos.sum()
    if n_pos <= 0:
        raise ValueError("average precision is undefined without a positive sample")
    tp = pos[::-1].cumsum()
    fp = neg[::-1].cumsum()
    predicted = tp + fp
    keep = predicted > 0
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=keep)
    recall = tp / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))
