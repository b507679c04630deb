"""Label-space mappings from 1000-way ImageNet logits to a test set's classes.

- IN-A / IN-R / IN-O: the dataset's 200 wnid folders define the subset; keep those 200 logit columns
  in ascending ImageNet-index order and take the argmax (label = position in that order). A 1000-way
  argmax is *not* the metric (hendrycks/natural-adv-examples, imagenet-r ``eval.py``).
- ObjectNet: each ObjectNet class maps to one or more ImageNet classes; its score is the max over
  those logits; only images of mapped classes count (objectnet's released ``mappings``).
- ImageNet-ReaL: a prediction is right when it is in the image's (non-empty) ReaL label list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from luab_bench.metrics.classification import _as_numpy


def subset_class_indices(wnids: Sequence[str], synsets: Sequence[str]) -> np.ndarray:
    """Ascending ImageNet indices (int64) of ``wnids`` given the 1000 ``synsets`` in index order."""
    pos = {w: i for i, w in enumerate(synsets)}
    unknown = [w for w in wnids if w not in pos]
    if unknown:
        raise ValueError(f"wnids not among the ImageNet synsets: {unknown[:5]}")
    if len(set(wnids)) != len(wnids):
        raise ValueError("duplicate wnids in the subset")
    return np.sort(np.array([pos[w] for w in wnids], dtype=np.int64))


def subset_predictions(logits: Any, class_indices: Any) -> np.ndarray:
    """Argmax (N,) over the ``class_indices`` columns only: a position in ``class_indices``."""
    z = _as_numpy(logits)
    idx = np.asarray(class_indices, dtype=np.intp)
    if z.ndim != 2 or idx.ndim != 1 or idx.size == 0:
        raise ValueError(f"need logits (N, K) and 1-D class indices, got {z.shape} and {idx.shape}")
    return z[:, idx].argmax(axis=1)


def grouped_max_scores(logits: Any, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """(N, G) scores: column g = max of ``logits`` over the ImageNet indices in ``groups[g]``."""
    z = _as_numpy(logits)
    if z.ndim != 2:
        raise ValueError(f"logits must be (N, K), got shape {z.shape}")
    if any(len(g) == 0 for g in groups):
        raise ValueError("every group needs at least one ImageNet index")
    return np.stack([z[:, np.asarray(g, dtype=np.intp)].max(axis=1) for g in groups], axis=1)


def real_correct(pred: Any, real_labels: Sequence[Sequence[int]]) -> np.ndarray:
    """Per-image ReaL correctness over images with a non-empty label list (empty ones are dropped).

    ``pred`` (N,) are 1000-way predictions in val order, ``real_labels`` the N label lists of
    ``real.json`` (same order). Returns a bool array over the scored images only.
    """
    pred = np.asarray(pred).ravel()
    if pred.size != len(real_labels):
        raise ValueError(f"{pred.size} predictions for {len(real_labels)} ReaL label lists")
    return np.array([int(p) in set(lab) for p, lab in zip(pred, real_labels, strict=True) if lab], dtype=bool)
