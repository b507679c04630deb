"""Distribution-shift metrics: ImageNet-C accuracy and mCE, ImageNet-O AUPR.

ImageNet-C (Hendrycks & Dietterich 2019, hendrycks/robustness ``test.py``): 15 corruptions x 5
severities. Top-1 accuracy is averaged over all 75 (corruption, severity) cells. The corruption error
of corruption c is ``CE_c = sum_s E_{c,s} / sum_s E^AlexNet_{c,s}``; because the AlexNet reference
numbers below are already averaged over the 5 severities, ``CE_c = mean_s E_{c,s} / E^AlexNet_c``.
``mCE = 100 * mean_c CE_c`` (in %, lower is better; AlexNet itself scores 100).

ImageNet-O (Hendrycks et al. 2021): AUPR with the ImageNet-O images as the *positive* class and the
ImageNet val images of the same 200 classes as negatives; the anomaly score is ``-max softmax`` over
the 200 ImageNet-O class logits (:func:`imagenet_o_anomaly_score`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from luab_bench.metrics.ranking import average_precision

IMAGENET_C_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)
IMAGENET_C_SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

#: AlexNet top-1 error (fraction, mean over the 5 severities) per corruption, the mCE normaliser
#: (hendrycks/robustness ImageNet-C ``test.py``).
ALEXNET_ERRORS: dict[str, float] = dict(
    zip(
        IMAGENET_C_CORRUPTIONS,
        (
            0.886428,
            0.894468,
            0.922640,
            0.819880,
            0.826268,
            0.785948,
            0.798360,
            0.866816,
            0.826572,
            0.819324,
            0.564592,
            0.853204,
            0.646056,
            0.717840,
            0.606500,
        ),
        strict=True,
    )
)


def corruption_errors(errors: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """``CE_c`` (ratio, AlexNet = 1) per corruption from top-1 errors in % per severity 1..5.

    ``errors[c]`` lists the 5 per-severity errors in percent. Every corruption of
    :data:`IMAGENET_C_CORRUPTIONS` must be present (mCE over a subset is not ImageNet-C's mCE).
    """
    missing = [c for c in IMAGENET_C_CORRUPTIONS if c not in errors]
    unknown = sorted(set(errors) - set(IMAGENET_C_CORRUPTIONS))
    if missing or unknown:
        raise ValueError(f"ImageNet-C errors: missing corruptions {missing}, unknown {unknown}")
    out: dict[str, float] = {}
    for c in IMAGENET_C_CORRUPTIONS:
        e = np.asarray(errors[c], dtype=np.float64)
        if e.shape != (len(IMAGENET_C_SEVERITIES),):
            raise ValueError(f"ImageNet-C {c}: need {len(IMAGENET_C_SEVERITIES)} severities, got {e.shape}")
        out[c] = float(e.mean() / 100.0 / ALEXNET_ERRORS[c])
    return out


def mean_corruption_error(errors: Mapping[str, Sequence[float]]) -> float:
    """ImageNet-C mCE in % (AlexNet-normalised, lower is better); ``errors`` as for corruption_errors."""
    ce = corruption_errors(errors)
    return float(100.0 * np.mean([ce[c] for c in IMAGENET_C_CORRUPTIONS]))


def imagenet_o_anomaly_score(logits: Any, class_indices: Sequence[int] | None = None) -> np.ndarray:
    """``-max softmax`` (N,) over the logits of ``class_indices`` (all columns if None); higher = more OOD.

    Computed stably in float64 (log-sum-exp), so large logits do not overflow.
    """
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"logits must be (N, K), got shape {z.shape}")
    if class_indices is not None:
        z = z[:, np.asarray(class_indices, dtype=np.intp)]
    zmax = z.max(axis=1)
    # max softmax = exp(zmax - logsumexp(z)) = 1 / sum exp(z - zmax)
    return -1.0 / np.exp(z - zmax[:, None]).sum(axis=1)


def ood_aupr(ood_scores: Any, in_scores: Any) -> float:
    """AUPR in % with the OOD samples as positives, ranked by anomaly score (higher = more OOD)."""
    pos = np.asarray(ood_scores, dtype=np.float64).ravel()
    neg = np.asarray(in_scores, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("AUPR needs at least one OOD and one in-distribution sample")
    labels = np.r_[np.ones(pos.size, dtype=bool), np.zeros(neg.size, dtype=bool)]
    return 100.0 * average_precision(np.r_[pos, neg], labels)
