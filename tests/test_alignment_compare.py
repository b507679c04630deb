"""Human maps, sigma search, correlations, Human PC and masking against independent computations."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.ndimage import gaussian_filter

from luab_bench.alignment import correlate, human_maps, masking
from luab_bench.errors import DataError


def _blobs(n: int, seed: int, size: int = 100) -> np.ndarray:
    """Sparse random points, i.e. maps with detail at every scale."""
    rng = np.random.default_rng(seed)
    maps = np.zeros((n, size, size))
    for m in maps:
        idx = rng.integers(0, size, (6, 2))
        m[idx[:, 0], idx[:, 1]] = rng.uniform(1, 3, 6)
    return maps


def _imgaussfilt(m: np.ndarray, sigma: float) -> np.ndarray:
    """MATLAB ``imgaussfilt(m, sigma)`` written out: a 2*ceil(2*sigma)+1 tap kernel normalised to sum 1,
    'replicate' padding (np.pad 'edge'), a separable correlation by explicit loops over the taps."""
    if sigma == 0:
        return m.copy()
    r = math.ceil(2 * sigma)
    k = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
    k /= k.sum()
    p = np.pad(m, r, mode="edge")
    rows = sum(k[i] * p[i : i + m.shape[0], :] for i in range(2 * r + 1))
    return sum(k[j] * rows[:, j : j + m.shape[1]] for j in range(2 * r + 1))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.3, 2.5, 7.0, 30.0])
def test_blur_is_matlab_imgaussfilt(sigma: float) -> None:
    maps = _blobs(2, seed=7, size=40) + np.linspace(0, 1, 40)[None, :, None]  # a ramp: the border matters
    got = correlate.blur_maps(maps, sigma)
    ref = np.stack([_imgaussfilt(m, sigma) for m in maps])
    assert np.allclose(got, ref, atol=1e-12)
    assert correlate.imgaussfilt_radius(sigma) * 2 + 1 == 2 * math.ceil(2 * sigma) + 1
    old = correlate.blur_maps(maps, sigma, "scipy-4sigma")  # luab-v1: 4-sigma truncation
    assert np.allclose(old, gaussian_filter(maps, sigma, mode="nearest", truncate=4.0, axes=(1, 2)))


@pytest.mark.parametrize("true_sigma", [0.0, 4.0, 9.0])
def test_sigma_search_recovers_the_blur_of_the_human_maps(true_sigma: float) -> None:
    model = _blobs(12, seed=1)
    human = np.stack([_imgaussfilt(m, true_sigma) for m in model])
    res = correlate.sigma_search(model, human)
    assert res.best_sigma == true_sigma
    assert res.best_r == pytest.approx(1.0)
    assert np.allclose(res.spearman, 1.0)
    assert res.mean_r.shape == (31,) and res.valid.all()


def test_sigma_search_recovers_sigma_under_noise_and_split_half() -> None:
    rng = np.random.default_rng(0)
    model = _blobs(40, seed=2)
    human = np.stack([gaussian_filter(m, 6.0, mode="nearest") for m in model])
    human = human + 0.2 * human.std() * rng.standard_normal(human.shape)
    res = correlate.sigma_search(model, human)
    assert abs(res.best_sigma - 6.0) <= 1.0
    cv, per_image = correlate.split_half_score(res.r_by_sigma[:, res.valid], seed=0)
    assert per_image.shape == (40,) and cv <= res.best_r + 1e-12
    table = res.r_by_sigma[:, res.valid]
    rep = correlate.split_half_repeated(table, n_splits=50, seed=0)
    # independent loop: 50 permutations, fit on the first floor(N/2), score the rest
    rng2 = np.random.default_rng(0)
    tr, te = [], []
    for _ in range(50):
        perm = rng2.permutation(40)
        fit, held = perm[:20], perm[20:]
        best = int(np.argmax(table[:, fit].mean(1)))
        tr.append(table[best, fit].mean())
        te.append(table[best, held].mean())
    assert rep.train_r == pytest.approx(np.mean(tr)) and rep.test_r == pytest.approx(np.mean(te))
    assert rep.test_sd == pytest.approx(np.std(te)) and rep.n_splits == 50
    lo, hi = correlate.bootstrap_best_r(res.r_by_sigma[:, res.valid], n_boot=100, seed=0)
    assert lo <= hi and lo <= res.best_r + 0.05


def test_constant_maps_are_left_out() -> None:
    model = _blobs(3, seed=3)
    human = model.copy()
    human[1] = 1.0
    res = correlate.sigma_search(model, human, sigmas=(0.0, 2.0))
    assert res.valid.tolist() == [True, False, True]
    assert res.per_image_r.shape == (2,)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (3, 5, 4), elements=st.integers(-50, 50).map(float)),
    arrays(np.float64, (3, 5, 4), elements=st.floats(-1e3, 1e3).map(lambda v: round(v, 3))),
)
def test_pearson_and_spearman_match_scipy(a: np.ndarray, b: np.ndarray) -> None:
    r = correlate.pearson_per_image(a, b)
    rho = correlate.spearman_per_image(a, b)
    for i in range(3):
        x, y = a[i].ravel(), b[i].ravel()
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            assert math.isnan(r[i])
            continue
        assert r[i] == pytest.approx(stats.pearsonr(x, y)[0], abs=1e-9)
        assert rho[i] == pytest.approx(stats.spearmanr(x, y)[0], abs=1e-9)


def test_resize_keeps_100_and_resizes_others() -> None:
    m = np.arange(64 * 64, dtype=float).reshape(1, 64, 64)
    out = correlate.resize_maps(m)
    assert out.shape == (1, 100, 100)
    assert np.array_equal(correlate.resize_maps(out), out)


# --------------------------------------------------------------------------------------- Human PC
def test_human_pc_recovers_the_shared_component() -> None:
    rng = np.random.default_rng(0)
    shared = gaussian_filter(rng.standard_normal((10, 30, 30)), (0, 3, 3))
    loadings = [1.0, 0.8, 1.2, 0.6, 0.9, 1.1]
    measures = np.stack(
        [a * shared / shared.std() + 0.7 * rng.standard_normal(shared.shape) for a in loadings]
    )
    pc = human_pc = human_maps.human_pc(measures)
    r_pc = stats.pearsonr(pc.ravel(), shared.ravel())[0]
    r_each = [stats.pearsonr(m.ravel(), shared.ravel())[0] for m in measures]
    assert r_pc > 0.9 and r_pc > max(r_each) + 0.05
    assert human_pc.shape == shared.shape


def test_human_pc_langlois_loadings_match_numpy_svd_and_weights_enter_the_combination() -> None:
    rng = np.random.default_rng(1)
    maps = rng.random((4, 5, 8, 8)) + np.linspace(0, 1, 8)[None, None, None, :] * np.array(
        [1, 2, 0.5, 1]
    ).reshape(4, 1, 1, 1)
    flags = [False, True, True, False]
    fit = human_maps.human_pc_fit(maps, flags, ["a", "b", "c", "d"])
    # independent: z-score each measure over all its images' pixels, centred SVD, first right vector
    z = np.stack([(m - m.mean()) / m.std() for m in maps]).reshape(4, -1).T
    _, s, vt = np.linalg.svd(z - z.mean(0), full_matrices=False)
    v = vt[0] * np.sign(vt[0].sum())
    assert np.allclose(fit.loadings, v) and fit.explained == pytest.approx(s[0] ** 2 / (s**2).sum())
    w = np.array([1, math.sqrt(1 / 3), math.sqrt(1 / 3), 1])
    ref = (z @ (v * w)).reshape(5, 8, 8)
    ref -= ref.mean(axis=(1, 2), keepdims=True)
    assert np.allclose(fit.maps, ref, atol=1e-5) and np.allclose(fit.weights, w)
    assert fit.measures == ["a", "b", "c", "d"] and fit.convention == "langlois2021"


def test_human_pc_luab_v1_matches_sklearn_pca_with_fixation_weights() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(1)
    maps = rng.random((4, 5, 8, 8)) + np.linspace(0, 1, 8)[None, None, None, :]
    flags = [False, True, True, False]
    pc = human_maps.human_pc(maps, flags, convention="luab-v1")
    z = (maps - maps.mean(axis=(2, 3), keepdims=True)) / maps.std(axis=(2, 3), keepdims=True)
    w = np.array([1, math.sqrt(1 / 3), math.sqrt(1 / 3), 1])[:, None, None, None]
    x = (z * w).reshape(4, -1).T
    ref = PCA(n_components=1, svd_solver="full").fit_transform(x)[:, 0]
    assert abs(stats.pearsonr(pc.ravel(), ref)[0]) == pytest.approx(1.0, abs=1e-6)
    assert not np.allclose(pc, human_maps.human_pc(maps, convention="luab-v1"))  # the weighting matters


# ---------------------------------------------------------------------------------- density maps
def test_density_map_single_click_and_tracks() -> None:
    k = human_maps.DensityKernel(size=10, sigma_px=0.0)
    d = human_maps.density_map(np.array([[0.55, 0.25]]), np.array([1.0]), k)
    assert d.sum() == pytest.approx(1.0) and d[2, 5] == pytest.approx(1.0)
    rec = {
        "imageID": "a/b",
        "selectedRecord": [{"x": 0.05, "y": 0.05, "time": 1}],
        "mouseTracking": [{"x": 0.95, "y": 0.95, "time": 0}, {"x": 0.95, "y": 0.05, "time": 1}],
    }
    hm = human_maps.byproduct_density_maps([rec, {"imageID": "other"}], ["a/b", "c/d"], k)
    m = hm.maps["clicks"][0]
    # click weight 1, track weight 1 spread over 2 samples: 0.5 / 0.25 / 0.25 after normalising
    assert m[0, 0] == pytest.approx(0.5) and m[9, 9] == pytest.approx(0.25) and m[0, 9] == pytest.approx(0.25)
    assert hm.ids == ["a/b"] and hm.dropped == {"clicks": 1}


def test_density_kernel_blur_is_gaussian() -> None:
    k = human_maps.DensityKernel(size=41, sigma_px=3.0, track_weight=0.0)
    d = human_maps.density_map(np.array([[20.5 / 41, 20.5 / 41]]), np.array([1.0]), k)
    _ys, xs = np.mgrid[:41, :41]
    var = (d * (xs - 20) ** 2).sum()
    assert var == pytest.approx(9.0, rel=1e-3)


def test_map_folder_loads_and_reports_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"measures\.json"):
        human_maps.load_map_folder(tmp_path, ["x/1"])
    (tmp_path / "measures.json").write_text(
        json.dumps({"measures": {"clicks": {}, "fix": {"fixation_like": True}}})
    )
    for m in ("clicks", "fix"):
        (tmp_path / m).mkdir()
        for key in ("x__1", "x__2"):
            np.save(tmp_path / m / f"{key}.npy", np.random.default_rng(0).random((20, 30)))
    hm = human_maps.load_map_folder(tmp_path, ["x/1", "x/2", "x/3"])  # x/3 has no map at all: left out
    assert hm.ids == ["x/1", "x/2"] and hm.fixation_like == {"clicks": False, "fix": True}
    assert hm.maps["fix"].shape == (2, 100, 100)
    assert hm.measure("human_pc").shape == (2, 100, 100)
    with pytest.raises(Exception, match="did you mean 'clicks'"):
        hm.measure("clickz")


# --------------------------------------------------------------------------------------- masking
def test_inverse_rank_hand_built() -> None:
    logits = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0], [1.0, 2.0, 3.0]])
    ranks = masking.true_class_rank(logits, np.array([0, 1, 0]))
    assert ranks.tolist() == [0, 0, 2]  # a tie counts in the model's favour
    assert masking.inverse_rank(ranks).tolist() == [1.0, 1.0, pytest.approx(1 / 3)]
    assert masking.inverse_rank(ranks, n=2).tolist() == [1.0, 1.0, 0.5]


def test_reveal_mask_keeps_exactly_half_highest_first() -> None:
    s = np.array([[4.0, 1.0], [1.0, 3.0]])
    assert masking.reveal_mask(s).tolist() == [[True, False], [False, True]]
    ties = np.ones((3, 3))
    assert masking.reveal_mask(ties).sum() == 4 and masking.reveal_mask(ties).ravel()[:4].all()


def test_mask_images_grayscale_and_grey_fill() -> None:
    img = np.zeros((1, 2, 2, 3))
    img[0, :, :, 0] = 1.0  # pure red: luma 0.299
    sal = np.array([[[1.0, 0.0], [0.0, 0.5]]])
    out = masking.mask_images(img, sal)
    assert np.allclose(out[0, 0, 0], 0.299) and np.allclose(out[0, 1, 1], 0.299)
    assert np.allclose(out[0, 0, 1], 0.5) and np.allclose(out[0, 1, 0], 0.5)


def test_mismatched_partners_are_weakly_correlated() -> None:
    maps = _blobs(10, seed=4, size=20)
    maps[1] = maps[0]  # 0 and 1 identical: never each other's partner
    partners = masking.mismatched_partners(maps, seed=0)
    r = np.corrcoef(maps.reshape(10, -1))
    for i, j in enumerate(partners):
        assert j != i and (j == -1 or r[i, j] < 0.4)
    assert partners[0] != 1 and partners[1] != 0


def test_masking_test_correct_beats_mismatched_for_an_oracle() -> None:
    # grey images whose object (white = class 1, black = class 0) fills the left or right half; the
    # "model" scores a class when it sees its object and a third "nothing" class at 0.5
    n, s = 8, 16
    labels = np.arange(n) % 2
    images = np.full((n, s, s, 3), 0.5)
    maps = np.zeros((n, s, s))
    for i in range(n):
        half = slice(0, s // 2) if i < n // 2 else slice(s // 2, s)
        images[i, :, half] = float(labels[i])
        maps[i, :, half] = 1.0

    def predict(x: np.ndarray) -> np.ndarray:
        bright = (x[..., 0] > 0.9).any(axis=(1, 2))
        dark = (x[..., 0] < 0.1).any(axis=(1, 2))
        return np.stack([dark, bright, np.full(len(x), 0.5)], 1).astype(float)

    out = masking.masking_test(predict, images, labels, maps, seed=0, protocol="luab-v1")
    assert out.indices.tolist() == list(range(n))
    assert out.correct.tolist() == [1.0] * n  # own map reveals the object: rank 0
    assert out.mismatched.tolist() == [0.5] * n  # the other half: "nothing" wins, rank 1 -> 1/2


# ------------------------------------------------------------------ masking: Langlois et al. steps
@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (100, 100), elements=st.floats(-5, 5, allow_nan=False, width=32)))
def test_threshold_reveals_half_of_the_area_within_one_pixel(m: np.ndarray) -> None:
    out = masking.threshold_map(m)
    assert out.min() >= 0 and out.max() <= 1
    revealed = int((out > 0).sum())
    above = int((m > np.median(m)).sum())  # independent: pixels strictly above the median
    assert revealed == above
    if np.unique(m).size == m.size:  # no ties: 50 % +- one pixel
        assert abs(revealed - 5000) <= 1


def test_threshold_keeps_the_map_shape_above_the_median() -> None:
    m = np.arange(16, dtype=float).reshape(4, 4)
    out = masking.threshold_map(m)
    med = np.median(m)  # 7.5
    assert np.allclose(out, np.clip(m - med, 0, None) / (15 - med))


def test_rotated_mismatches_are_other_images_rotated_with_r_below_04() -> None:
    from scipy.ndimage import rotate

    maps = gaussian_filter(_blobs(12, seed=9, size=40), (0, 3, 3))
    mm = masking.rotated_mismatches(maps, seed=1)
    assert (mm.partner >= 0).all() and (mm.partner != np.arange(12)).all()
    for i in range(12):
        ref = rotate(maps[mm.partner[i]], mm.angle[i], reshape=False, order=1, mode="nearest")
        assert np.allclose(mm.maps[i], ref)
        r = stats.pearsonr(ref.ravel(), maps[i].ravel())[0]
        assert r < 0.4 and r == pytest.approx(mm.r[i])
        assert 0 <= mm.angle[i] < 360


def test_human_stimuli_are_grayscale_times_the_smoothed_thresholded_map() -> None:
    rng = np.random.default_rng(3)
    images = rng.random((6, 100, 100, 3))
    model_maps = _blobs(6, seed=5)
    correct, wrong, mm = masking.human_stimuli(images, model_maps, sigma=4.0, seed=0)
    gray = images @ np.array(masking.LUMA)
    smoothed = np.stack([_imgaussfilt(m, 4.0) for m in model_maps])
    for i in range(6):
        expected = gray[i] * masking.threshold_map(smoothed[i])
        assert np.allclose(correct[i, ..., 0], expected) and np.allclose(correct[i, ..., 2], expected)
    assert wrong.shape == correct.shape and (mm.partner >= 0).any()


def test_ann_masking_protocol_against_an_independent_loop() -> None:
    """SI §G: RGB x thresholded human map; reference = unmasked top-1; N = classes; all other maps."""
    rng = np.random.default_rng(0)
    n, s, k = 5, 16, 7
    images = rng.random((n, s, s, 3))
    maps = gaussian_filter(rng.random((n, s, s)), (0, 2, 2))
    proj = rng.standard_normal((s * s * 3, k))

    def predict(x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1) @ proj

    out = masking.masking_test(predict, images, np.zeros(n, int), maps, seed=0)
    ref = predict(images).argmax(1)
    thr = np.stack([masking.threshold_map(m) for m in maps])
    correct, wrong = [], []
    for i in range(n):
        lg = predict((images[i] * thr[i][..., None])[None])[0]
        correct.append(k / ((lg > lg[ref[i]]).sum() + k))
        others = []
        for j in range(n):
            if j != i:
                lg = predict((images[i] * thr[j][..., None])[None])[0]
                others.append(k / ((lg > lg[ref[i]]).sum() + k))
        wrong.append(np.mean(others))  # n - 1 = 4 <= 24: every other image's map
    assert out.n == k and out.mismatches_per_image == n - 1 and out.protocol == "langlois2021"
    assert np.allclose(out.correct, correct) and np.allclose(out.mismatched, wrong)


# ------------------------------------------------------------------------- statistics (SI §D)
def test_pairwise_t_tests_and_bonferroni_match_scipy() -> None:
    rng = np.random.default_rng(4)
    base = rng.random(25)
    per = {"a": base + 0.1 + 0.05 * rng.standard_normal(25), "b": base, "c": base + 0.01 * rng.random(25)}
    per["c"][3] = np.nan  # undefined for one image: left out of every test
    res = correlate.pairwise_t_tests(per)
    keep = np.isfinite(per["c"])
    assert res.n == 24 and res.names == ["a", "b", "c"]
    for i, x in enumerate(res.names):
        for j, y in enumerate(res.names):
            if i == j:
                assert np.isnan(res.p[i, j])
                continue
            ref = stats.ttest_rel(per[x][keep], per[y][keep])
            assert res.t[i, j] == pytest.approx(ref.statistic) and res.p[i, j] == pytest.approx(ref.pvalue)
            assert res.p_bonferroni[i, j] == pytest.approx(min(1.0, ref.pvalue * 3))
            assert res.mean_diff[i, j] == pytest.approx(np.mean(per[x][keep] - per[y][keep]))


def test_human_bootstrap_resamples_annotators_and_rebuilds_maps() -> None:
    kernel = human_maps.DensityKernel(size=20, sigma_px=1.0)
    recs = [
        {"imageID": "a", "selectedRecord": [{"x": 0.1, "y": 0.1}]},
        {"imageID": "a", "selectedRecord": [{"x": 0.9, "y": 0.9}]},
        {"imageID": "b", "selectedRecord": [{"x": 0.5, "y": 0.5}]},
    ]
    sets = list(human_maps.bootstrap_byproduct_maps(recs, ["a", "b"], kernel, n_boot=30, seed=0))
    full = human_maps.byproduct_density_maps(recs, ["a", "b"], kernel).maps["clicks"]
    assert len(sets) == 30 and all(x.shape == (2, 20, 20) for x in sets)
    assert all(np.allclose(x[1], full[1]) for x in sets)  # one annotator: always the same map
    only = [human_maps.byproduct_density_maps([r], ["a"], kernel).maps["clicks"][0] for r in recs[:2]]
    kinds = set()
    for x in sets:  # each draw of 2 from {r0, r1}: both r0, both r1, or one of each (the full map)
        if np.allclose(x[0], only[0]):
            kinds.add("r0")
        elif np.allclose(x[0], only[1]):
            kinds.add("r1")
        else:
            assert np.allclose(x[0], full[0], atol=1e-6)
            kinds.add("both")
    assert kinds == {"r0", "r1", "both"}
    hb = correlate.human_bootstrap(np.stack([only[0], full[1]]), sets, sigma=0.0)
    model = correlate.resize_maps(np.stack([only[0], full[1]]))  # compared at 100 x 100
    manual = [np.nanmean(correlate.pearson_per_image(model, correlate.resize_maps(x))) for x in sets]
    assert hb.n_boot == 30 and hb.sd == pytest.approx(np.std(manual))


def test_baselines_centre_and_spectral_residual() -> None:
    from luab_bench.alignment.baselines import BASELINES

    imgs = np.full((2, 32, 32, 3), 40, dtype=np.uint8)
    imgs[0, 4:10, 20:28] = 250  # a bright patch: bottom-up saliency peaks there
    c = BASELINES.get("centre")(imgs)
    assert c.shape == (2, 32, 32) and c[0, 15:17, 15:17].sum() == 4 and c.sum() == 8
    sr = BASELINES.get("spectral_residual")(imgs)
    assert sr.shape == (2, 32, 32) and np.isfinite(sr).all()
    assert sr[0, 4:10, 20:28].mean() > sr[0, 20:28, 4:10].mean()
