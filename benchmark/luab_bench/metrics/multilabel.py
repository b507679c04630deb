"""Multi-label classification metrics (COCO-2014 val): mean average precision over classes.

``mAP`` = mean over classes of the per-class non-interpolated average precision
(:func:`luab_bench.metrics.ranking.average_precision`) of the class scores against the multi-hot
targets, the convention of multi-label COCO classification (e.g. ML-GCN, ASL; = sklearn's
``average_precision_score(..., average="macro")``). Classes without a positive are undefined under
that definition: they are excluded and their count is returned so the caller can report it.

The COCO context metrics V^avg / V^min of LUAB Tables 6-7 live in :mod:`luab_bench.metrics.context`
(the text prints no formula; the operational definition there is ours).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from luab_bench.metrics.ranking import average_precision


class MultilabelAP(NamedTuple):
    """mAP in percent, per-class AP in percent (NaN for excluded classes) and the excluded count."""

    map: float
    per_class: np.ndarray
    n_excluded: int


def mean_average_precision(scores: Any, targets: Any) -> MultilabelAP:
    """mAP (%) of ``scores`` (N, C) against multi-hot ``targets`` (N, C) over classes with a positive."""
    s = np.asarray(scores, dtype=np.float64)
    t = np.asarray(targets)
    if s.ndim != 2 or s.shape != t.shape:
        raise ValueError(f"scores and targets must be (N, C) of equal shape, got {s.shape} and {t.shape}")
    t = t.astype(bool)
    per = np.full(s.shape[1], np.nan)
    for c in range(s.shape[1]):
        if t[:, c].any():
            per[c] = 100.0 * average_precision(s[:, c], t[:, c])
    valid = ~np.isnan(per)
    if not valid.any():
        raise ValueError("no class has a positive sample: mAP is undefined")
    return MultilabelAP(float(per[valid].mean()), per, int((~valid).sum()))
