"""WSOL metrics against a literal OpenCV re-statement of clovaai/wsolevaluation's evaluators ([14] of LUAB).

ImageNet Loc (LUAB Table 3) = MaxBoxAccV2 of [14] (BoxEvaluator, multi_contour_eval=True, IoU 30/50/70);
PxAP (and COCO's class-averaged mPxAP, Table 5) = MaskEvaluator's precision-recall area over 0.001 bins.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from luab_bench.metrics.wsol import max_box_acc_v2, pxap
from luab_bench.suites.wsol import scale_boxes

cv2 = pytest.importorskip("cv2")


def ref_boxes(cam: np.ndarray, threshold: float) -> np.ndarray:
    """[14]'s boxes at one CAM threshold: uint8 map, cv2 threshold, all RETR_TREE contours, clipped."""
    u8 = (cam * 255).astype(np.uint8)
    _, fg = cv2.threshold(u8, int(threshold * np.max(u8)), 255, cv2.THRESH_BINARY)
    contours = cv2.findContours(fg, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
    if len(contours) == 0:
        return np.array([[0, 0, 0, 0]])
    h, w = cam.shape
    out = []
    for c in contours:
        x, y, bw, bh = cv2.boundingRect(c)
        out.append([x, y, min(x + bw, w - 1), min(y + bh, h - 1)])
    return np.array(out)


def ref_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of integer boxes with inclusive pixel areas (+1), one pair at a time."""
    out = np.zeros((len(a), len(b)))
    for i, (ax0, ay0, ax1, ay1) in enumerate(a):
        for j, (bx0, by0, bx1, by1) in enumerate(b):
            inter = max(0, min(ax1, bx1) - max(ax0, bx0) + 1) * max(0, min(ay1, by1) - max(ay0, by0) + 1)
            den = (ax1 - ax0 + 1) * (ay1 - ay0 + 1) + (bx1 - bx0 + 1) * (by1 - by0 + 1) - inter
            out[i, j] = inter / den if den > 0 else 0.0
    return out


def ref_max_box_acc_v2(cams, gts, interval):
    thresholds = np.arange(0, 1, interval)
    correct = {d: np.zeros(len(thresholds)) for d in (30, 50, 70)}
    for cam, gt in zip(cams, gts, strict=True):
        best = np.array([ref_iou(ref_boxes(cam, t), gt).max() for t in thresholds])
        for d in correct:
            correct[d][best >= d / 100] += 1
    return float(np.mean([100.0 * correct[d].max() / len(cams) for d in correct]))


def _cams(seed: int, n: int, size: int = 28):
    rng = np.random.default_rng(seed)
    cams, gts = [], []
    for _ in range(n):
        raw = ndimage.gaussian_filter(rng.random((size, size)), sigma=rng.uniform(1.5, 4))
        raw = raw - raw.min()
        cams.append((raw / raw.max()).astype(np.float32))
        boxes = []
        for _ in range(int(rng.integers(1, 3))):
            x0, y0 = rng.integers(0, size - 6, 2)
            boxes.append([x0, y0, x0 + rng.integers(4, size - x0), y0 + rng.integers(4, size - y0)])
        gts.append(np.minimum(np.array(boxes), size - 1))
    return cams, gts


@pytest.mark.parametrize("seed", [0, 1])
def test_max_box_acc_v2_equals_the_reference_evaluator(seed):
    cams, gts = _cams(seed, 10)
    ours = max_box_acc_v2(cams, gts, cam_curve_interval=0.01).max_box_acc_v2
    assert ours == pytest.approx(ref_max_box_acc_v2(cams, gts, 0.01))


def test_box_resizing_truncates_like_the_reference():
    boxes = [(10.7, 3.2, 400.9, 299.99)]
    got = scale_boxes(boxes, 500, 375).tolist()[0]
    want = [int(10.7 * 224 / 500), int(3.2 * 224 / 375), int(400.9 * 224 / 500), int(299.99 * 224 / 375)]
    assert got == want


def test_pxap_equals_the_reference_precision_recall_area():
    cams, _ = _cams(3, 4, 16)
    rng = np.random.default_rng(4)
    masks = [(rng.random(c.shape) < 0.3).astype(np.uint8) for c in cams]
    masks[1][:2] = 255  # ignored pixels
    edges = np.append(np.arange(0, 1, 0.001), [1.0, 2.0, 3.0])
    pos = sum(np.histogram(c[m == 1], bins=edges)[0] for c, m in zip(cams, masks, strict=True)).astype(float)
    neg = sum(np.histogram(c[m == 0], bins=edges)[0] for c, m in zip(cams, masks, strict=True)).astype(float)
    tp, fp = pos[::-1].cumsum(), neg[::-1].cumsum()
    nonzero = (tp + fp) != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = tp / (tp + fp), tp / pos.sum()
    want = 100 * (precision[1:] * np.diff(recall))[nonzero[1:]].sum()
    assert pxap(cams, masks) == pytest.approx(want)
