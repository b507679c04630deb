"""Metric functions of the full evaluation table vs independent computations and hand-built cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.metrics import average_precision_score

from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_index_ci
from luab_bench.metrics.multilabel import mean_average_precision
from luab_bench.metrics.ood import (
    ALEXNET_ERRORS,
    IMAGENET_C_CORRUPTIONS,
    corruption_errors,
    imagenet_o_anomaly_score,
    mean_corruption_error,
    ood_aupr,
)
from luab_bench.metrics.ranking import average_precision, average_precision_from_histograms
from luab_bench.metrics.spurious import challenge_survivors, composite, map_to_in9
from luab_bench.metrics.subset import grouped_max_scores, real_correct, subset_predictions
from luab_bench.metrics.wsol import (
    box_iou,
    contour_boxes,
    max_box_acc_v2,
    normalize_cam,
    pixel_histograms,
    pxap,
)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 60), st.integers(1, 6))
def test_average_precision_matches_sklearn(seed, n, levels):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    y[0] = True
    s = rng.integers(0, levels + 1, n).astype(float)  # many ties
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def test_average_precision_needs_a_positive():
    with pytest.raises(ValueError, match="positive"):
        average_precision([0.1, 0.2], [0, 0])


def test_histogram_ap_equals_ap_on_binned_scores():
    rng = np.random.default_rng(1)
    s = rng.random(500)
    y = rng.random(500) < 0.3
    edges = np.linspace(0, 1, 11)
    pos, _ = np.histogram(s[y], edges)
    neg, _ = np.histogram(s[~y], edges)
    binned = np.digitize(s, edges[1:-1])
    assert average_precision_from_histograms(pos, neg) == pytest.approx(average_precision_score(y, binned))


def test_map_matches_sklearn_macro_and_skips_empty_classes():
    rng = np.random.default_rng(2)
    t = rng.random((80, 6)) < 0.3
    t[:, 5] = False
    s = rng.normal(size=(80, 6))
    res = mean_average_precision(s, t)
    assert res.n_excluded == 1 and np.isnan(res.per_class[5])
    assert res.map == pytest.approx(100 * average_precision_score(t[:, :5], s[:, :5], average="macro"))


def test_mce_is_100_for_alexnet_and_scales():
    alex = {c: [100 * ALEXNET_ERRORS[c]] * 5 for c in IMAGENET_C_CORRUPTIONS}
    assert mean_corruption_error(alex) == pytest.approx(100.0)
    half = {c: [50 * ALEXNET_ERRORS[c]] * 5 for c in IMAGENET_C_CORRUPTIONS}
    assert mean_corruption_error(half) == pytest.approx(50.0)
    # per-severity mean over 5 severities, not the last one
    errs = {c: [10, 20, 30, 40, 50] for c in IMAGENET_C_CORRUPTIONS}
    ce = corruption_errors(errs)
    assert ce["fog"] == pytest.approx(0.30 / 0.819324)
    with pytest.raises(ValueError, match="missing"):
        mean_corruption_error({"fog": [1, 2, 3, 4, 5]})


def test_in_o_score_and_aupr():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(30, 1000)) * 5
    cols = np.sort(rng.choice(1000, 200, replace=False))
    expect = -softmax(z[:, cols], axis=1).max(axis=1)
    np.testing.assert_allclose(imagenet_o_anomaly_score(z, cols), expect, rtol=1e-12)
    pos, neg = rng.normal(1, 1, 40), rng.normal(0, 1, 60)
    labels = np.r_[np.ones(40), np.zeros(60)]
    assert ood_aupr(pos, neg) == pytest.approx(100 * average_precision_score(labels, np.r_[pos, neg]))
    assert ood_aupr([2.0, 3.0], [0.0, 1.0]) == pytest.approx(100.0)  # perfectly separated


def test_subset_and_grouped_and_real():
    z = np.array([[0.0, 9.0, 1.0, 2.0], [5.0, 0.0, 1.0, 3.0]])
    # 4-way argmax is class 1 / 0, but over the subset [2, 3] it is position 1 for both
    np.testing.assert_array_equal(subset_predictions(z, [2, 3]), [1, 1])
    np.testing.assert_array_equal(grouped_max_scores(z, [[0, 2], [1], [3]]), [[1, 9, 2], [5, 0, 3]])
    np.testing.assert_array_equal(real_correct([1, 2, 3], [[1, 5], [], [4]]), [True, False])


def test_in9_mapping_and_challenge():
    mapping = np.full(1000, -1)
    mapping[151] = 0
    np.testing.assert_array_equal(map_to_in9([151, 0], mapping), [0, -1])
    c = np.array([[True, True, True], [True, False, True]])
    np.testing.assert_array_equal(challenge_survivors(c), [True, False])
    fg, bg = np.ones((2, 2, 3)), np.zeros((2, 2, 3))
    m = np.array([[1, 0], [0, 1]])
    np.testing.assert_array_equal(composite(fg, m, bg)[..., 0], m)


def _brute_iou(a, b):
    pa = {(x, y) for x in range(a[0], a[2] + 1) for y in range(a[1], a[3] + 1)}
    pb = {(x, y) for x in range(b[0], b[2] + 1) for y in range(b[1], b[3] + 1)}
    return len(pa & pb) / len(pa | pb)


def test_box_iou_brute_force():
    rng = np.random.default_rng(4)
    for _ in range(100):
        a = np.sort(rng.integers(0, 12, (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]]
        b = np.sort(rng.integers(0, 12, (2, 2)), axis=0).T.ravel()[[0, 2, 1, 3]]
        assert box_iou(a, b)[0, 0] == pytest.approx(_brute_iou(a, b))


def test_cam_covering_the_box_gives_100():
    cams, boxes = [], []
    for x0, y0, x1, y1 in [(3, 5, 8, 10), (0, 0, 12, 6), (10, 2, 20, 19)]:
        cam = np.zeros((24, 24), np.float32)
        cam[y0:y1, x0:x1] = 1.0  # pixels x0..x1-1: the box in pixel-edge coordinates
        cams.append(cam)
        boxes.append(np.array([[x0, y0, x1, y1]]))
    res = max_box_acc_v2(cams, boxes)
    assert res.max_box_acc_v2 == 100.0 and set(res.per_delta.values()) == {100.0}
    # a CAM on the wrong place scores 0 at every IoU threshold
    assert max_box_acc_v2([cams[0]], [np.array([[15, 15, 22, 22]])]).max_box_acc_v2 == 0.0


def test_multi_contour_finds_the_second_blob():
    cam = np.zeros((30, 30), np.float32)
    cam[2:20, 2:20] = 1.0  # big distractor
    cam[24:28, 24:28] = 1.0  # the object
    res = max_box_acc_v2([cam], [np.array([[24, 24, 28, 28]])])
    assert res.per_delta[70] == 100.0


def test_contour_boxes_match_opencv():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(5)
    for _ in range(300):
        h, w = rng.integers(3, 16, 2)
        fg = rng.random((h, w)) < rng.uniform(0.2, 0.8)
        contours = cv2.findContours((fg * 255).astype(np.uint8), cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[0]
        ref = []
        for c in contours:
            x, y, ww, hh = cv2.boundingRect(c)
            ref.append((x, y, min(x + ww, w - 1), min(y + hh, h - 1)))
        ref = ref or [(0, 0, 0, 0)]
        assert sorted(ref) == sorted(map(tuple, contour_boxes(fg).tolist()))


def test_pxap_matches_sklearn_on_quantised_scores_and_ignores_pixels():
    rng = np.random.default_rng(6)
    cams = [normalize_cam(rng.random((8, 8))) for _ in range(3)]
    masks = [(rng.random((8, 8)) < 0.4).astype(np.uint8) for _ in range(3)]
    masks[0][0, :] = 255  # ignored
    s = np.concatenate([np.floor(c[m != 255] * 1000) for c, m in zip(cams, masks, strict=True)])
    y = np.concatenate([m[m != 255] == 1 for m in masks])
    s = np.minimum(s, 1000)  # value 1.0 falls in the [1, 2) bin
    assert pxap(cams, masks) == pytest.approx(100 * average_precision_score(y, s))
    perfect = np.zeros((6, 6), np.float32)
    perfect[2:4, 2:4] = 1
    assert pxap([perfect], [(perfect > 0).astype(int)]) == pytest.approx(100.0)
    pos, neg = pixel_histograms(perfect, perfect > 0)
    assert pos.sum() == 4 and neg.sum() == 32


def test_bootstrap_index_ci_reduces_to_bootstrap_ci_for_means():
    v = np.random.default_rng(7).random(50)
    a = bootstrap_ci(v, n_boot=200, seed=3)
    b = bootstrap_index_ci(lambda i: v[i].mean(), 50, n_boot=200, seed=3)
    assert a.estimate == pytest.approx(b.estimate) and a.low == pytest.approx(b.low)
    assert a.high == pytest.approx(b.high)


def test_foreground_survives_stops_at_first_miss():
    from luab_bench.metrics.spurious import foreground_survives

    fg = np.full((4, 4, 3), 0.5, np.float32)
    mask = np.zeros((4, 4))
    mask[1:3, 1:3] = 1
    batches = [np.zeros((2, 4, 4, 3)), np.ones((2, 4, 4, 3)), np.zeros((2, 4, 4, 3))]
    seen_batches = []

    def classify(x):  # class 1 iff the background (corner pixel) is dark
        seen_batches.append(x)
        np.testing.assert_allclose(x[:, 1, 1], 0.5)  # the foreground is pasted
        return np.where(x[:, 0, 0, 0] < 0.5, 1, 0)

    ok, n = foreground_survives(fg, mask, 1, iter(batches), classify)
    assert not ok and n == 4 and len(seen_batches) == 2  # stopped after the bright batch
    ok, n = foreground_survives(fg, mask, 1, iter([batches[0], batches[2]]), classify)
    assert ok and n == 4
    with pytest.raises(ValueError, match="background"):
        foreground_survives(fg, mask, 1, iter([]), classify)
