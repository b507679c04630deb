"""Human-map inputs and fixation metrics: PNG/.npy map folders, COCO-AB (image, class) maps, NSS, CC."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from luab_bench.alignment import correlate, human_maps
from luab_bench.errors import DataError


# ------------------------------------------------------------------------------------------ folder
def _folder(tmp_path: Path, measures: dict[str, bool]) -> Path:
    (tmp_path / "measures.json").write_text(
        json.dumps({"measures": {m: {"fixation_like": f} for m, f in measures.items()}})
    )
    for m in measures:
        (tmp_path / m).mkdir()
    return tmp_path


def test_folder_reads_8_and_16_bit_png_and_npy_alike(tmp_path: Path) -> None:
    d = _folder(tmp_path, {"a": False, "b": True, "c": False})
    base = np.random.default_rng(0).random((40, 40))
    Image.fromarray((base * 255).round().astype(np.uint8)).save(d / "a" / "x__1.png")
    Image.fromarray((base * 65535).round().astype(np.uint16)).save(d / "b" / "x__1.png")
    np.save(d / "c" / "x__1.npy", base)
    assert Image.open(d / "b" / "x__1.png").mode.startswith("I")  # really stored as 16 bit
    hm = human_maps.load_map_folder(d, ["x/1", "x/2"], image_shape=(64, 64))
    assert hm.ids == ["x/1"] and hm.fixation_like == {"a": False, "b": True, "c": False}
    # the three encodings of one map agree up to quantisation (8 bit: 1/255)
    r_ab = correlate.pearson_per_image(hm.maps["a"], hm.maps["b"])[0]
    r_bc = correlate.pearson_per_image(hm.maps["b"], hm.maps["c"])[0]
    assert r_ab > 0.999 and r_bc > 0.99999
    assert np.allclose(hm.maps["b"] / 65535, hm.maps["c"], atol=1e-5)
    # NSS weights: a fixation-like folder measure is its own fixation map; others have none
    assert hm.fixation_map("b") is hm.maps["b"] and hm.fixation_map("a") is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", r"b[/\\]x__2\.png: missing; image 'x/2' has maps in other measures"),
        ("aspect", r"a[/\\]x__1\.npy: map is 10x20 \(HxW\) but the image is 64x64"),
        ("nan", r"a[/\\]x__1\.npy: map has 1 NaN/inf values"),
        ("rgb", r"a[/\\]x__1\.png: PNG mode RGB is not 8/16-bit grayscale"),
        ("duplicate", r"x__1\.(png|npy): x__1\.(png|npy) has the same key"),
        ("3d", r"a[/\\]x__1\.npy: a map must be a 2-D array"),
        ("no_folder", r"[/\\]b: missing folder for measure 'b'"),
    ],
)
def test_folder_errors_name_the_file_and_the_fix(tmp_path: Path, setup: str, message: str) -> None:
    d = _folder(tmp_path, {"a": False, "b": False})
    ok = np.ones((8, 8))
    ok[0, 0] = 2
    for m in ("a", "b"):
        for k in ("x__1", "x__2"):
            np.save(d / m / f"{k}.npy", ok)
    if setup == "missing":
        (d / "b" / "x__2.npy").unlink()
    elif setup == "aspect":
        np.save(d / "a" / "x__1.npy", np.ones((10, 20)))
    elif setup == "nan":
        bad = ok.copy()
        bad[1, 1] = np.nan
        np.save(d / "a" / "x__1.npy", bad)
    elif setup == "rgb":
        (d / "a" / "x__1.npy").unlink()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(d / "a" / "x__1.png")
    elif setup == "duplicate":
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(d / "a" / "x__1.png")
    elif setup == "3d":
        np.save(d / "a" / "x__1.npy", np.ones((2, 8, 8)))
    elif setup == "no_folder":
        for f in (d / "b").iterdir():
            f.unlink()
        (d / "b").rmdir()
    with pytest.raises(DataError, match=message):
        human_maps.load_map_folder(d, ["x/1", "x/2"], image_shape=(64, 64))


# ---------------------------------------------------------------------------------------- NSS / CC
def test_nss_hand_checked() -> None:
    s = np.array([[[0.0, 1.0], [2.0, 3.0]]])
    sd = np.sqrt(np.mean((np.array([0, 1, 2, 3]) - 1.5) ** 2))  # population std = sqrt(1.25)
    one = np.array([[[0.0, 0.0], [0.0, 1.0]]])
    assert correlate.nss_per_image(s, one)[0] == pytest.approx(1.5 / sd)
    # two fixations (one counted twice) -> weighted mean of the z-scores
    w = np.array([[[2.0, 0.0], [0.0, 1.0]]])
    assert correlate.nss_per_image(s, w)[0] == pytest.approx((2 * -1.5 / sd + 1.5 / sd) / 3)
    # undefined: no fixation, constant saliency
    assert np.isnan(correlate.nss_per_image(s, np.zeros_like(s))[0])
    assert np.isnan(correlate.nss_per_image(np.ones_like(s), one)[0])
    with pytest.raises(ValueError, match=">= 0"):
        correlate.nss_per_image(s, -one)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (3, 6, 6), elements=st.floats(-5, 5, allow_nan=False)),
    arrays(np.int64, (3, 6, 6), elements=st.integers(0, 3)),
)
def test_nss_matches_an_independent_computation(s: np.ndarray, fix: np.ndarray) -> None:
    from scipy.stats import zscore

    got = correlate.nss_per_image(s, fix)
    for i in range(3):
        if np.ptp(s[i]) == 0 or fix[i].sum() == 0:
            assert np.isnan(got[i])
            continue
        with np.errstate(all="ignore"):
            z = zscore(s[i], axis=None)  # ddof=0
        fixated = np.repeat(z.reshape(-1), fix[i].reshape(-1))  # each event once
        if not np.isfinite(z).all():  # std underflow on subnormal inputs: no z-score, no NSS
            assert np.isnan(got[i])
            continue
        assert got[i] == pytest.approx(fixated.mean(), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (2, 5, 5), elements=st.floats(-5, 5, allow_nan=False)),
    arrays(np.float64, (2, 5, 5), elements=st.floats(0, 5, allow_nan=False)),
)
@example(  # tiny but non-constant maps: the product of the two sums of squares underflowed to 0
    a=np.array([0.0] + [3.8565057e-131] * 49).reshape(2, 5, 5),
    b=np.array([3.8565057e-131] + [0.0] * 49).reshape(2, 5, 5),
)
def test_cc_is_pearson_r(a: np.ndarray, b: np.ndarray) -> None:
    cc = correlate.cc_per_image(a, b)
    for i in range(2):
        if np.ptp(a[i]) < 1e-6 or np.ptp(b[i]) < 1e-6:
            continue
        assert cc[i] == pytest.approx(np.corrcoef(a[i].ravel(), b[i].ravel())[0, 1], abs=1e-9)
    assert np.allclose(cc, correlate.pearson_per_image(a, b), equal_nan=True, atol=1e-9)


def test_byproduct_maps_keep_click_events_for_nss() -> None:
    recs = [
        {"imageID": "a/1", "selectedRecord": [{"x": 0.255, "y": 0.5}], "mouseTracking": [{"x": 0.9, "y": 0}]},
        {"imageID": "a/1", "selectedRecord": [{"x": 0.255, "y": 0.5}, {"x": 0.7, "y": 0.1}]},
    ]  # fmt: skip
    hm = human_maps.byproduct_density_maps(recs, ["a/1"])
    ev = hm.fixation_map("clicks")
    assert ev is not None and ev.shape == (1, 100, 100)
    assert ev[0, 50, 25] == 2 and ev[0, 10, 70] == 1 and ev.sum() == 3  # tracks are not events


# -------------------------------------------------------------------------------------- COCO-AB
def _coco_record(image_id: int, actions: list[dict], mouse: list[tuple[float, float]] = ()) -> dict:
    return {
        "worker_id": "W000000001",
        "hit_id": "0" * 32,
        "page_id": 0,
        "image_id": image_id,
        "imageWidth": 450,
        "imageHeight": 450,
        "originalImageWidth": 64,
        "originalImageHeight": 64,
        "actionHistories": actions,
        "categoryHistories": [],
        "mouseTracking": [{"x": x, "y": y, "timeAt": 10 * j} for j, (x, y) in enumerate(mouse)],
        "timeSpent": 1000,
    }


def _p(q: tuple[float, float] | None) -> dict | None:
    return None if q is None else {"x": q[0], "y": q[1]}


def _act(kind: str, icon: str, to: tuple[float, float] | None, t: int, frm: tuple | None = None) -> dict:
    return {"actionType": kind, "iconType": icon, "pointFrom": _p(frm), "pointTo": _p(to), "timeAt": t}


def test_coco_maps_use_the_final_icon_position_per_class() -> None:
    kernel = human_maps.DensityKernel(sigma_px=2.0, track_weight=0.0)
    recs = [
        _coco_record(
            7,
            [
                _act("add", "person", (0.1, 0.1), 1),
                _act("move", "person", (0.805, 0.205), 2, frm=(0.1, 0.1)),  # final position
                _act("add", "dog", (0.505, 0.505), 3),
                _act("add", "cat", (0.3, 0.3), 4),
                _act("remove", "cat", None, 5, frm=(0.3, 0.3)),  # removed: no map
            ],
        ),
        _coco_record(7, [_act("add", "person", (0.805, 0.205), 1)]),  # a second annotator
    ]
    hm = human_maps.coco_density_maps(recs, [(7, "person"), (7, "dog"), (7, "cat"), (8, "dog")], kernel)
    assert hm.ids == ["7/person", "7/dog"] and hm.dropped == {"clicks": 2}
    person, dog = hm.maps["clicks"]
    assert np.unravel_index(person.argmax(), person.shape) == (20, 80)  # row = y, col = x
    assert np.unravel_index(dog.argmax(), dog.shape) == (50, 50)
    assert person[20, 80] > 0 and person[10, 10] < 1e-6  # the pre-move drop point does not count
    ev = hm.fixation_map("clicks")
    assert ev is not None and ev[0, 20, 80] == 2 and ev[0].sum() == 2 and ev[1].sum() == 1


def test_coco_maps_add_the_records_mouse_track_to_every_class() -> None:
    kernel = human_maps.DensityKernel(sigma_px=0.0, click_weight=1.0, track_weight=1.0)
    recs = [_coco_record(3, [_act("add", "dog", (0.505, 0.505), 1)], mouse=[(0.015, 0.015), (0.995, 0.015)])]
    m = human_maps.coco_density_maps(recs, [(3, "dog")], kernel).maps["clicks"][0]
    # icon weight 1, track total weight 1 over 2 samples, normalised to sum 1
    assert (
        m[50, 50] == pytest.approx(0.5) and m[1, 1] == pytest.approx(0.25) and m[1, 99] == pytest.approx(0.25)
    )


def test_coco_maps_skip_malformed_records_and_their_tracks() -> None:
    kernel = human_maps.DensityKernel(sigma_px=0.0)
    good = _coco_record(3, [_act("add", "dog", (0.505, 0.505), 1)])
    bad = _coco_record(3, [_act("add", "no such class", (0.1, 0.1), 1)], mouse=[(0.905, 0.905)])
    hm = human_maps.coco_density_maps([good, bad], [(3, "dog")], kernel)
    m = hm.maps["clicks"][0]
    assert m[50, 50] == pytest.approx(1.0) and m[90, 90] == 0.0


def test_simulated_coco_records_mark_every_present_class(tmp_path: Path) -> None:
    from luab_bench.alignment.sets import load_alignment_set

    aset = load_alignment_set("synthetic-coco-tiny", tmp_path, limit=15, annotators=3)
    assert 10 <= len(aset.ids) <= 20 and all("/" in i for i in aset.ids)  # whole images: about 15 units
    assert aset.groups is not None and len(set(aset.groups.tolist())) < len(aset.ids)
    assert aset.images.shape == (len(aset.ids), 32, 32, 3) and aset.targets.max() < aset.num_classes
    assert set(aset.human.ids) <= set(aset.ids) and len(aset.human.ids) >= len(aset.ids) - 2
    # the class's map peaks on an object of that class most of the time (icons land on it 85%)
    from luab_bench.data.synthetic_coco import load_coco_split

    split = load_coco_split(aset_dir := next(tmp_path.glob("synthetic-coco-tiny-*")), "val")
    del aset_dir
    index = {int(i): k for k, i in enumerate(split["image_ids"])}
    hits = []
    for uid, m in zip(aset.human.ids, aset.human.maps["clicks"], strict=True):
        k = aset.ids.index(uid)
        img = index[int(uid.split("/")[0])]
        mask = np.asarray(split["masks"][img, aset.targets[k]])
        y, x = np.unravel_index(m.argmax(), m.shape)
        hits.append(mask[int(y * 32 / 100), int(x * 32 / 100)])
    assert np.mean(hits) > 0.6


# ------------------------------------------------------------------------- class specificity (COCO)
def test_same_group_partners_pick_another_unit_of_the_same_image() -> None:
    groups = np.array([0, 0, 1, 2, 2, 2])
    p = correlate.same_group_partners(groups, seed=3)
    assert p[2] == -1
    for i in (0, 1, 3, 4, 5):
        assert p[i] != i and groups[p[i]] == groups[i]
    assert np.array_equal(p, correlate.same_group_partners(groups, seed=3))


def test_class_gap_hand_built() -> None:
    rng = np.random.default_rng(0)
    human = rng.random((3, 10, 10))
    partners = np.array([1, 0, -1])
    # model map of each class = its own human map: gap = 1 - r(own human, partner's human)
    gap = correlate.class_gap_per_unit(human, human, partners)
    r01 = np.corrcoef(human[0].ravel(), human[1].ravel())[0, 1]
    assert gap == pytest.approx([1 - r01, 1 - r01])
    # model map = the *other* class's human map: the gap flips sign
    swapped = correlate.class_gap_per_unit(human[[1, 0, 2]], human, partners)
    assert swapped == pytest.approx([r01 - 1, r01 - 1])
    assert len(correlate.class_gap_per_unit(human, human, np.array([-1, -1, -1]))) == 0


# ------------------------------------------------------------- human-data bootstrap (issue 12 c)
def test_coco_bootstrap_redraws_the_annotators_of_each_unit() -> None:
    """Each (image, class) unit's records are drawn with replacement: with two annotators every
    resample is annotator 0 twice, 1 twice or both (= the map), each rebuilt independently here."""
    kernel = human_maps.DensityKernel(sigma_px=1.0)
    recs = [
        _coco_record(7, [_act("add", "dog", (0.105, 0.105), 1)], mouse=[(0.5, 0.9)]),
        _coco_record(7, [_act("add", "dog", (0.805, 0.805), 1)], mouse=[(0.9, 0.5)]),
        _coco_record(8, [_act("add", "cat", (0.5, 0.5), 1)]),
    ]
    pairs = [(7, "dog"), (8, "cat")]
    full = human_maps.coco_density_maps(recs, pairs, kernel).maps["clicks"]
    single = [human_maps.coco_density_maps([r], [(7, "dog")], kernel).maps["clicks"][0] for r in recs[:2]]
    sets = list(human_maps.bootstrap_coco_maps(recs, pairs, kernel, n_boot=40, seed=1))
    assert len(sets) == 40 and all(x.shape == full.shape for x in sets)
    assert all(np.allclose(x[1], full[1]) for x in sets)  # one annotator: always the same map
    kinds = set()
    for x in sets:
        for name, ref in (("a0", single[0]), ("a1", single[1]), ("both", full[0])):
            if np.allclose(x[0], ref, atol=1e-7):
                kinds.add(name)
                break
        else:
            raise AssertionError("a resample that is no draw of the unit's annotators")
    assert kinds == {"a0", "a1", "both"}
    # the resampler on the maps themselves is the same stream
    again = human_maps.coco_density_maps(recs, pairs, kernel).resample("clicks", 40, 1)
    assert again is not None and all(np.array_equal(a, b) for a, b in zip(again, sets, strict=True))


def _points_folder(tmp_path: Path, with_points: bool) -> tuple[Path, dict[str, list]]:
    d = _folder(tmp_path, {"a": False, "b": True})
    spec = json.loads((d / "measures.json").read_text())
    spec["measures"]["a"]["kernel_sigma_px"] = 2.0
    (d / "measures.json").write_text(json.dumps(spec))
    pts = {
        "x/1": [[[0.1, 0.1]], [[0.8, 0.7, 2.0]]],  # two annotators, the second's point weighs 2
        "x/2": [[[0.5, 0.5], [0.55, 0.5]]],
    }
    rng = np.random.default_rng(0)
    for i in pts:
        for m in ("a", "b"):
            np.save(d / m / f"{i.replace('/', '__')}.npy", rng.random((20, 20)))
            if with_points:
                (d / m / f"{i.replace('/', '__')}.points.json").write_text(json.dumps({"annotators": pts[i]}))
    return d, pts


def test_folder_points_resample_participants_and_the_pc_combines_them(tmp_path: Path) -> None:
    d, pts = _points_folder(tmp_path, with_points=True)
    hm = human_maps.load_map_folder(d, ["x/1", "x/2"])
    assert set(hm.resamplers) == {"a", "b"} and hm.no_resample_reason is None
    kernel = human_maps.DensityKernel(size=100, sigma_px=2.0)

    def kde(annotators: list) -> np.ndarray:  # written out: Gaussian kernels on points, summed, normalised
        xy = [p[:2] for a in annotators for p in a]
        w = [p[2] if len(p) == 3 else 1.0 for a in annotators for p in a]
        return human_maps.density_map(np.array(xy), np.array(w), kernel)

    one = {name: kde([pts["x/1"][k]]) for k, name in enumerate(("a0", "a1"))}
    both = kde(pts["x/1"])
    seen = set()
    for x in hm.resample("a", 30, 0):
        assert np.allclose(x[1], kde(pts["x/2"]), atol=1e-7)
        for name, ref in (*one.items(), ("both", both)):
            if np.allclose(x[0], ref, atol=1e-7):
                seen.add(name)
                break
        else:
            raise AssertionError("a resample that is no draw of the participants")
    assert seen == {"a0", "a1", "both"}
    # Human PC: resample k of each measure combined with the loadings fitted on the full data
    pc = hm.pc_fit()
    assert np.allclose(human_maps.pc_combine(np.stack([hm.maps["a"], hm.maps["b"]]), pc), pc.maps, atol=1e-5)
    streams = (hm.resamplers["a"](5, 3), hm.resamplers["b"](5, 3 + 7919))
    for got, a, b in zip(hm.resample("human_pc", 5, 3), *streams, strict=True):
        z = [(m - m.mean()) / m.std() for m in (a.astype(float), b.astype(float))]  # per measure, all images
        want = sum(pc.weights[k] * pc.loadings[k] * z[k] for k in range(2))
        want = want - want.mean(axis=(1, 2), keepdims=True)
        assert np.allclose(got, want, atol=1e-5)
    assert "annotators redrawn" in hm.resample_note("human_pc")


def test_folder_of_finished_maps_says_why_and_falls_back_to_images(tmp_path: Path) -> None:
    d, _ = _points_folder(tmp_path, with_points=False)
    hm = human_maps.load_map_folder(d, ["x/1", "x/2"])
    assert hm.resamplers == {} and hm.resample("a", 5, 0) is None and hm.resample("human_pc", 5, 0) is None
    note = hm.resample_note("human_pc")
    assert (
        "\n" not in note and "holds finished maps only for a, b" in note and note.endswith("image bootstrap")
    )


def test_folder_points_errors_name_the_file(tmp_path: Path) -> None:
    d, _ = _points_folder(tmp_path, with_points=True)
    (d / "a" / "x__2.points.json").unlink()
    with pytest.raises(DataError, match=r"a[/\\]x__2\.points\.json: missing; other images of 'a'"):
        human_maps.load_map_folder(d, ["x/1", "x/2"])
    (d / "a" / "x__2.points.json").write_text(json.dumps({"annotators": [[[1.5, 0.2]]]}))
    with pytest.raises(DataError, match=r"x__2\.points\.json: malformed per-annotator points .*outside"):
        human_maps.load_map_folder(d, ["x/1", "x/2"])
