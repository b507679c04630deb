"""Weakly-supervised object localisation metrics (Choe et al. 2020, clovaai/wsolevaluation).

Score maps (CAMs) are min-max normalised to [0, 1] (:func:`normalize_cam`; resizing a CAM to the
image is the caller's job). Pixel box coordinates follow wsolevaluation: integer ``x0, y0, x1, y1``
with *inclusive* areas ``(x1 - x0 + 1) * (y1 - y0 + 1)``.

MaxBoxAccV2 (wsolevaluation ``BoxEvaluator`` with ``multi_contour_eval=True``):
for each CAM threshold ``tau`` in ``arange(0, 1, 0.001)`` the map is quantised as the reference does
(``u8 = uint8(cam * 255)``, foreground ``u8 > int(tau * max(u8))``, i.e. ``cv2.threshold`` BINARY)
and a box is taken around *every* contour of ``cv2.findContours(RETR_TREE)``: one per 8-connected
foreground component and one per hole (a 4-connected background component not touching the image
edge, whose contour runs through the foreground pixels around it, i.e. its box grown by one pixel).
``cv2.boundingRect`` + the reference's clipping give ``[x, y, min(x + w, W - 1), min(y + h, H - 1)]``
(one pixel wider than the inclusive extent, a quirk kept for comparability). No contour: the box
``[0, 0, 0, 0]``. An image is correct at ``(tau, delta)`` when the best IoU of any estimated box with
any ground-truth box is ``>= delta / 100``; BoxAcc(delta) = max over tau of the % correct;
MaxBoxAccV2 = mean over delta in {30, 50, 70}.

The contour boxes are computed with scipy's connected-component labelling instead of OpenCV (not a
dependency); ``tests/test_metrics_wsol.py`` checks them against ``cv2`` when it is installed.

PxAP (``MaskEvaluator``): histograms of CAM values at ground-truth foreground (mask 1) and
background (mask 0) pixels over bins ``[0, b), [b, 2b), ..., [1-b, 1), [1, 2), [2, 3)``
(``b`` = 0.001; other mask values are ignored), summed over the dataset; PxAP = 100 * the average
precision of that pixel ranking (:func:`luab_bench.metrics.ranking.average_precision_from_histograms`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from luab_bench.metrics.ranking import average_precision_from_histograms

IOU_THRESHOLDS: tuple[int, ...] = (30, 50, 70)
CAM_CURVE_INTERVAL = 0.001


def cam_thresholds(interval: float = CAM_CURVE_INTERVAL) -> np.ndarray:
    """The reference threshold list ``arange(0, 1, interval)``."""
    return np.arange(0, 1, interval)


def normalize_cam(cam: Any) -> np.ndarray:
    """``(cam - min) / max(cam - min)`` as float32; a constant map becomes all zeros."""
    c = np.asarray(cam, dtype=np.float32)
    c = c - c.min()
    m = c.max()
    return c / m if m > 0 else np.zeros_like(c)


def _check_cam(cam: np.ndarray) -> None:
    if cam.ndim != 2:
        raise ValueError(f"a CAM must be (H, W), got shape {cam.shape}")
    if not np.all(np.isfinite(cam)) or cam.min() < 0 or cam.max() > 1:
        raise ValueError("a CAM must be finite and in [0, 1]; apply normalize_cam first")


def contour_boxes(foreground: Any) -> np.ndarray:
    """Boxes (K, 4) int64 of every contour of a binary map, as wsolevaluation derives them (see module)."""
    from scipy import ndimage

    fg = np.asarray(foreground, dtype=bool)
    if fg.ndim != 2:
        raise ValueError(f"foreground must be (H, W), got shape {fg.shape}")
    h, w = fg.shape
    boxes: list[tuple[int, int, int, int]] = []
    lab, n = ndimage.label(fg, structure=np.ones((3, 3), dtype=bool))
    for sl in ndimage.find_objects(lab)[:n]:
        ys, xs = sl
        boxes.append((xs.start, ys.start, xs.stop - 1, ys.stop - 1))
    if n:
        bg_lab, m = ndimage.label(~fg)  # 4-connectivity
        edge = np.unique(np.r_[bg_lab[0], bg_lab[-1], bg_lab[:, 0], bg_lab[:, -1]])
        for i, sl in enumerate(ndimage.find_objects(bg_lab)[:m], start=1):
            if sl is None or i in edge:
                continue
            ys, xs = sl
            boxes.append((xs.start - 1, ys.start - 1, xs.stop, ys.stop))
    if not boxes:
        return np.zeros((1, 4), dtype=np.int64)
    b = np.array(boxes, dtype=np.int64)
    # cv2.boundingRect gives (x, y, w, h) with x + w = last + 1; the reference clips to W-1 / H-1
    b[:, 2] = np.minimum(b[:, 2] + 1, w - 1)
    b[:, 3] = np.minimum(b[:, 3] + 1, h - 1)
    return b


def box_iou(a: Any, b: Any) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of integer xyxy boxes with inclusive pixel areas (+1 convention)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ix = np.maximum(
        0, np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + 1
    )
    iy = np.maximum(
        0, np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + 1
    )
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0] + 1) * (a[:, 3] - a[:, 1] + 1)
    area_b = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    denom = area_a[:, None] + area_b[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, denom, out=out, where=denom > 0)
    return out


def best_iou_per_threshold(cam: Any, gt_boxes: Any, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Best IoU (T,) over all contour boxes and ground-truth boxes at each CAM threshold."""
    cam = np.asarray(cam, dtype=np.float32)
    _check_cam(cam)
    thr = cam_thresholds() if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    gt = np.asarray(gt_boxes).reshape(-1, 4)
    if gt.shape[0] == 0:
        raise ValueError("an image needs at least one ground-truth box")
    u8 = (cam * 255).astype(np.uint8)
    # int(tau * max) truncates toward zero, like the reference's int()
    levels = (thr * float(u8.max())).astype(np.int64)
    out = np.empty(thr.shape[0], dtype=np.float64)
    for level in np.unique(levels):
        out[levels == level] = box_iou(contour_boxes(u8 > level), gt).max()
    return out


class BoxAccuracy(NamedTuple):
    """MaxBoxAccV2 (%), BoxAcc per IoU threshold (%), the best CAM threshold per delta, and the
    per-image best IoUs (N, T) from which everything is computed (a bootstrap resamples its rows)."""

    max_box_acc_v2: float
    per_delta: dict[int, float]
    best_threshold: dict[int, float]
    ious: np.ndarray


def box_accuracy_from_ious(
    ious: np.ndarray, iou_thresholds: Sequence[int] = IOU_THRESHOLDS
) -> dict[int, float]:
    """BoxAcc(delta) in % = max over thresholds (columns) of the % of rows with IoU >= delta/100."""
    return {d: float(100.0 * (ious >= d / 100).mean(axis=0).max()) for d in iou_thresholds}


def max_box_acc_v2(
    cams: Sequence[Any],
    gt_boxes: Sequence[Any],
    *,
    iou_thresholds: Sequence[int] = IOU_THRESHOLDS,
    cam_curve_interval: float = CAM_CURVE_INTERVAL,
) -> BoxAccuracy:
    """MaxBoxAccV2 over images: ``cams[i]`` (H, W) in [0, 1], ``gt_boxes[i]`` (M_i, 4) pixel xyxy."""
    if len(cams) != len(gt_boxes) or len(cams) == 0:
        raise ValueError(
            f"need as many ground-truth box sets as CAMs (>0), got {len(gt_boxes)} and {len(cams)}"
        )
    thr = cam_thresholds(cam_curve_interval)
    ious = np.stack([best_iou_per_threshold(c, g, thr) for c, g in zip(cams, gt_boxes, strict=True)])
    per = box_accuracy_from_ious(ious, iou_thresholds)
    best = {d: float(thr[int((ious >= d / 100).mean(axis=0).argmax())]) for d in iou_thresholds}
    return BoxAccuracy(float(np.mean(list(per.values()))), per, best, ious)


def pixel_histograms(
    cam: Any, mask: Any, interval: float = CAM_CURVE_INTERVAL
) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (foreground, background) histograms of CAM values over the PxAP bins."""
    cam = np.asarray(cam, dtype=np.float32)
    _check_cam(cam)
    m = np.asarray(mask)
    if m.shape != cam.shape:
        raise ValueError(f"mask shape {m.shape} differs from CAM shape {cam.shape}")
    edges = np.append(cam_thresholds(interval), [1.0, 2.0, 3.0])
    pos, _ = np.histogram(cam[m == 1], bins=edges)
    neg, _ = np.histogram(cam[m == 0], bins=edges)
    return pos.astype(np.float64), neg.astype(np.float64)


def pxap(cams: Sequence[Any], masks: Sequence[Any], *, interval: float = CAM_CURVE_INTERVAL) -> float:
    """PxAP in % over a dataset: masks are 1 (object), 0 (background), anything else ignored."""
    if len(cams) != len(masks) or len(cams) == 0:
        raise ValueError(f"need as many masks as CAMs (>0), got {len(masks)} and {len(cams)}")
    pos = neg = None
    for c, m in zip(cams, masks, strict=True):
        p, n = pixel_histograms(c, m, interval)
        pos, neg = (p, n) if pos is None else (pos + p, neg + n)
    return 100.0 * average_precision_from_histograms(pos, neg)
