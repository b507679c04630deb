"""Classification metrics and bootstrap intervals against independent brute-force computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from luab_bench.metrics.bootstrap import (
    BootstrapCI,
    bootstrap_ci,
    bootstrap_diff_ci,
    bootstrap_means,
)
from luab_bench.metrics.classification import accuracy, bg_gap, point_in_box, top1_correct

# --------------------------------------------------------------------------- references (plain loops)


def ref_top1(logits: np.ndarray, labels: np.ndarray) -> list[bool]:
    out = []
    for row, lab in zip(logits.tolist(), labels.tolist(), strict=True):
        best = 0
        for k, v in enumerate(row):
            if v > row[best]:
                best = k
        out.append(best == lab)
    return out


def ref_in_box(points: np.ndarray, boxes: np.ndarray) -> list[bool]:
    res = []
    for (x, y), (x1, y1, x2, y2) in zip(points.tolist(), boxes.tolist(), strict=True):
        res.append(bool(x1 <= x <= x2 and y1 <= y <= y2))
    return res


def ref_resample_indices(rng: np.random.Generator, n: int) -> np.ndarray:
    """One resample, drawn exactly as the documented definition says (one row of uniforms)."""
    u = rng.random(n)
    return np.minimum(np.floor(u * n).astype(int), n - 1)


def ref_percentile(stats: list[float], q: float) -> float:
    """Linear-interpolation percentile written out (numpy's default 'linear' method)."""
    s = sorted(stats)
    pos = (len(s) - 1) * q / 100.0
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def ref_ci(values: np.ndarray, n_boot: int, seed, confidence: float = 0.95) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = ref_resample_indices(rng, len(values))
        stats.append(float(np.sum(values[idx]) / len(values)))
    a = 1 - confidence
    return ref_percentile(stats, 100 * a / 2), ref_percentile(stats, 100 * (1 - a / 2))


def ref_paired_ci(a: np.ndarray, b: np.ndarray, n_boot: int, seed) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = ref_resample_indices(rng, len(a))
        stats.append(float(np.mean(a[idx]) - np.mean(b[idx])))
    return ref_percentile(stats, 2.5), ref_percentile(stats, 97.5)


def ref_independent_ci(a: np.ndarray, b: np.ndarray, n_boot: int, seed: int) -> tuple[float, float]:
    ss_a, ss_b = np.random.SeedSequence(seed).spawn(2)
    rng_a, rng_b = np.random.default_rng(ss_a), np.random.default_rng(ss_b)
    ma = [float(np.mean(a[ref_resample_indices(rng_a, len(a))])) for _ in range(n_boot)]
    mb = [float(np.mean(b[ref_resample_indices(rng_b, len(b))])) for _ in range(n_boot)]
    stats = [x - y for x, y in zip(ma, mb, strict=True)]
    return ref_percentile(stats, 2.5), ref_percentile(stats, 97.5)


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)

# --------------------------------------------------------------------------- top-1 / accuracy


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 30),
    k=st.integers(1, 6),
)
def test_top1_correct_matches_loop_including_ties(data, n, k):
    # small integer logits make ties frequent: the lowest index must win, as in the loop
    logits = data.draw(arrays(np.float32, (n, k), elements=st.integers(-2, 2).map(float)))
    labels = data.draw(arrays(np.int64, (n,), elements=st.integers(-1, k)))
    got = top1_correct(logits, labels)
    assert got.dtype == bool and got.shape == (n,)
    assert got.tolist() == ref_top1(logits, labels)
    # torch tensors give the same answer
    assert top1_correct(torch.from_numpy(logits), torch.from_numpy(labels)).tolist() == got.tolist()


def test_top1_hand_cases():
    logits = np.array([[0.1, 0.9, 0.0], [2.0, 2.0, 1.0], [0.0, 0.0, 5.0]])
    assert top1_correct(logits, np.array([1, 0, 2])).tolist() == [True, True, True]
    assert top1_correct(logits, np.array([0, 1, 1])).tolist() == [False, False, False]
    assert top1_correct(logits, np.array([-1, 3, 2])).tolist() == [False, False, True]
    with pytest.raises(ValueError):
        top1_correct(logits, np.array([0, 1]))
    with pytest.raises(ValueError):
        top1_correct(logits[0], np.array([0]))
    with pytest.raises(ValueError):
        top1_correct(logits, np.array([0.0, 1.0, 2.0]))


def test_accuracy_hand_cases():
    assert accuracy(np.ones(7, bool)) == 100.0
    assert accuracy(np.zeros(7, bool)) == 0.0
    assert accuracy(np.array([True, False, False, True])) == 50.0
    assert accuracy(np.array([1, 0, 0])) == pytest.approx(100 / 3)
    with pytest.raises(ValueError):
        accuracy(np.zeros(0, bool))
    with pytest.raises(ValueError):
        accuracy(np.zeros((2, 2), bool))


@settings(max_examples=80, deadline=None)
@given(correct=arrays(bool, st.integers(1, 400)), seed=st.integers(0, 2**32 - 1))
def test_accuracy_is_bitwise_the_bootstrap_estimate(correct, seed):
    # the suite reports accuracy(c) with the interval of bootstrap_ci(100 * c): they must agree exactly
    ci = bootstrap_ci(100.0 * correct, n_boot=50, seed=seed)
    assert accuracy(correct) == ci.estimate
    assert accuracy(correct) == pytest.approx(100.0 * sum(correct.tolist()) / correct.size)
    assert ci.low <= ci.estimate <= ci.high


def test_bg_gap():
    assert bg_gap(90.0, 60.0) == 30.0
    assert bg_gap(50.0, 75.0) == -25.0


# --------------------------------------------------------------------------- point in box


@settings(max_examples=80, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 25),
)
def test_point_in_box_matches_loop(data, n):
    # coordinates on a coarse grid so points often land exactly on borders
    grid = st.integers(0, 8).map(lambda v: v / 8)
    points = data.draw(arrays(np.float32, (n, 2), elements=grid))
    corners = data.draw(arrays(np.float32, (n, 4), elements=grid))
    boxes = np.concatenate(
        [np.minimum(corners[:, :2], corners[:, 2:]), np.maximum(corners[:, :2], corners[:, 2:])], axis=1
    )
    got = point_in_box(points, boxes)
    assert got.dtype == bool and got.tolist() == ref_in_box(points, boxes)
    assert point_in_box(torch.from_numpy(points), torch.from_numpy(boxes)).tolist() == got.tolist()


def test_point_in_box_borders_are_inclusive():
    box = np.array([0.25, 0.5, 0.75, 1.0], np.float32)
    pts = np.array(
        [
            [0.25, 0.5],  # top-left corner
            [0.75, 1.0],  # bottom-right corner
            [0.25, 0.75],  # left edge
            [0.5, 1.0],  # bottom edge
            [0.5, 0.75],  # interior
            [np.nextafter(np.float32(0.25), np.float32(0)), 0.75],  # just left of the box
            [0.5, np.nextafter(np.float32(1.0), np.float32(2))],  # just below the box
            [np.nan, 0.75],  # NaN is never inside
            [-0.1, 0.75],
        ],
        np.float32,
    )
    got = point_in_box(pts, np.tile(box, (len(pts), 1)))
    assert got.tolist() == [True, True, True, True, True, False, False, False, False]


def test_point_in_box_degenerate_box_and_shape_errors():
    assert point_in_box(np.array([[0.5, 0.5]]), np.array([[0.5, 0.5, 0.5, 0.5]])).tolist() == [True]
    with pytest.raises(ValueError):
        point_in_box(np.zeros((3, 3)), np.zeros((3, 4)))
    with pytest.raises(ValueError):
        point_in_box(np.zeros((3, 2)), np.zeros((2, 4)))


# --------------------------------------------------------------------------- bootstrap


@settings(max_examples=40, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 40), elements=finite),
    n_boot=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    chunk=st.integers(1, 200),
)
def test_bootstrap_ci_matches_plain_loop(values, n_boot, seed, chunk):
    ci = bootstrap_ci(values, n_boot=n_boot, seed=seed, max_chunk_elements=chunk)
    low, high = ref_ci(values, n_boot, seed)
    assert isinstance(ci, BootstrapCI)
    assert ci.estimate == pytest.approx(float(np.mean(values)), rel=1e-12, abs=1e-9)
    scale = 1e-9 * (1 + np.abs(values).max())
    assert ci.low == pytest.approx(low, abs=scale)
    assert ci.high == pytest.approx(high, abs=scale)
    assert ci.low <= ci.high


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, st.integers(1, 60), elements=st.integers(0, 1).map(lambda v: 100.0 * v)),
    seed=st.integers(0, 2**32 - 1),
)
def test_bootstrap_interval_contains_point_estimate(values, seed):
    ci = bootstrap_ci(values, n_boot=200, seed=seed)
    assert ci.low <= ci.estimate <= ci.high
    assert values.min() <= ci.low and ci.high <= values.max()


def test_bootstrap_chunking_does_not_change_result():
    v = np.random.default_rng(0).normal(size=333)
    ref = bootstrap_means(v, n_boot=101, seed=5)
    for chunk in (1, 332, 333 * 7 + 1, 10**9):
        np.testing.assert_array_equal(bootstrap_means(v, n_boot=101, seed=5, max_chunk_elements=chunk), ref)


def test_bootstrap_seeding():
    v = np.random.default_rng(1).normal(size=50)
    assert bootstrap_ci(v, seed=3) == bootstrap_ci(v, seed=3)
    assert bootstrap_ci(v, seed=3) != bootstrap_ci(v, seed=4)
    assert bootstrap_ci(v, seed=[3, 7]) != bootstrap_ci(v, seed=[3, 8])


def test_bootstrap_hand_cases():
    assert bootstrap_ci(np.full(10, 100.0)) == BootstrapCI(100.0, 100.0, 100.0)
    assert bootstrap_ci(np.zeros(10)) == BootstrapCI(0.0, 0.0, 0.0)
    assert bootstrap_ci(np.array([42.0])) == BootstrapCI(42.0, 42.0, 42.0)
    for bad in (np.zeros(0), np.array([1.0, np.nan]), np.array([np.inf]), np.zeros((2, 2))):
        with pytest.raises(ValueError):
            bootstrap_ci(bad)
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(3), n_boot=0)
    with pytest.raises(ValueError):
        bootstrap_ci(np.ones(3), confidence=1.0)


def test_bootstrap_agrees_with_scipy_percentile_method():
    # different resamples (scipy's own rng), same estimator: endpoints agree up to Monte Carlo noise
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(11)
    values = 100.0 * (rng.random(2000) < 0.7)
    ours = bootstrap_ci(values, n_boot=4000, seed=0)
    res = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=4000, method="percentile", confidence_level=0.95, random_state=1
    )
    assert ours.low == pytest.approx(res.confidence_interval.low, abs=0.4)
    assert ours.high == pytest.approx(res.confidence_interval.high, abs=0.4)
    # and the width is the normal-approximation width 2 * 1.96 * sd / sqrt(n) within Monte Carlo noise
    width = 2 * 1.96 * values.std() / np.sqrt(values.size)
    assert ours.high - ours.low == pytest.approx(width, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 40),
    n_boot=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_paired_diff_matches_plain_loop(data, n, n_boot, seed):
    a = data.draw(arrays(np.float64, (n,), elements=st.integers(0, 1).map(lambda v: 100.0 * v)))
    b = data.draw(arrays(np.float64, (n,), elements=st.integers(0, 1).map(lambda v: 100.0 * v)))
    ci = bootstrap_diff_ci(a, b, paired=True, n_boot=n_boot, seed=seed, max_chunk_elements=7)
    low, high = ref_paired_ci(a, b, n_boot, seed)
    assert ci.estimate == bg_gap(accuracy(a / 100), accuracy(b / 100))
    assert ci.low == pytest.approx(low, abs=1e-9)
    assert ci.high == pytest.approx(high, abs=1e-9)
    # the paired statistic is the mean of the differences: same interval as bootstrap_ci(a - b)
    d = bootstrap_ci(a - b, n_boot=n_boot, seed=seed)
    assert d.low == pytest.approx(ci.low, abs=1e-9) and d.high == pytest.approx(ci.high, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    n=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_paired_diff_interval_contains_point_estimate(data, n, seed):
    a = data.draw(arrays(np.float64, (n,), elements=st.integers(0, 1).map(lambda v: 100.0 * v)))
    b = data.draw(arrays(np.float64, (n,), elements=st.integers(0, 1).map(lambda v: 100.0 * v)))
    ci = bootstrap_diff_ci(a, b, paired=True, n_boot=200, seed=seed)
    assert ci.low <= ci.estimate <= ci.high


@settings(max_examples=30, deadline=None)
@given(
    a=arrays(np.float64, st.integers(1, 30), elements=finite),
    b=arrays(np.float64, st.integers(1, 30), elements=finite),
    seed=st.integers(0, 2**32 - 1),
)
def test_independent_diff_matches_plain_loop(a, b, seed):
    ci = bootstrap_diff_ci(a, b, paired=False, n_boot=40, seed=seed)
    low, high = ref_independent_ci(a, b, 40, seed)
    scale = 1e-9 * (1 + max(np.abs(a).max(), np.abs(b).max()))
    assert ci.estimate == pytest.approx(float(np.mean(a) - np.mean(b)), abs=scale)
    assert ci.low == pytest.approx(low, abs=scale)
    assert ci.high == pytest.approx(high, abs=scale)


def test_pairing_narrows_the_interval_for_correlated_samples():
    rng = np.random.default_rng(2)
    a = 100.0 * (rng.random(500) < 0.8)
    b = a.copy()
    flip = rng.random(500) < 0.1  # b differs from a on 10% of the units
    b[flip] = 100.0 - b[flip]
    paired = bootstrap_diff_ci(a, b, paired=True, seed=0)
    indep = bootstrap_diff_ci(a, b, paired=False, seed=0)
    assert paired.estimate == pytest.approx(indep.estimate)
    assert paired.low <= paired.estimate <= paired.high
    assert indep.low <= indep.estimate <= indep.high
    assert (paired.high - paired.low) < 0.6 * (indep.high - indep.low)


def test_diff_errors():
    with pytest.raises(ValueError):
        bootstrap_diff_ci(np.ones(3), np.ones(4), paired=True)
    with pytest.raises(ValueError):
        bootstrap_diff_ci(np.ones(3), np.zeros(0), paired=False)
    # unequal lengths are fine when independent
    ci = bootstrap_diff_ci(np.full(3, 100.0), np.zeros(4), paired=False)
    assert ci == BootstrapCI(100.0, 100.0, 100.0)
