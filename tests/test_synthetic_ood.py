"""Analogue splits (SI sweeps, corruptions, novel-class OOD, Backgrounds Challenge) and their metrics.

Generator tests run on the ``synthetic-tiny`` variant; metric tests use hand-built splits whose pixel
(0, 0) codes the prediction, so every expected number is known by construction, and compare against
independent computations (sklearn AP, scipy softmax, a brute-force Gaussian blur, the full
foreground x background challenge matrix, a plain per-unit bootstrap).
"""

from __future__ import annotations

import colorsys
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score
from torch import nn

from luab_bench.data import synthetic as syn
from luab_bench.data import synthetic_ood as ood
from luab_bench.errors import ConfigError, DataError, LuabError
from luab_bench.metrics.bootstrap import bootstrap_ci
from luab_bench.metrics.spurious import challenge_survivors
from luab_bench.suites import synthetic_analogues as sa

TINY = syn.SYNTHETIC_VARIANTS["synthetic-tiny"]


# ------------------------------------------------------------------------------------ corruptions
def _images(n: int = 6, size: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


@pytest.mark.parametrize("name", ood.DEFAULT_CORRUPTIONS)
def test_every_corruption_is_seeded_and_grows_with_severity(name: str) -> None:
    x = _images(8, 32)
    dev = []
    for s in ood.SEVERITIES:
        a = ood.corrupt(x, name, s, np.random.default_rng(s))
        b = ood.corrupt(x, name, s, np.random.default_rng(s))
        assert a.dtype == np.uint8 and a.shape == x.shape
        np.testing.assert_array_equal(a, b)
        dev.append(np.abs(a.astype(float) - x).mean())
    assert dev[0] > 0 and all(d2 > d1 for d1, d2 in itertools.pairwise(dev)), dev


def test_contrast_keeps_channel_means_and_scales_deviations() -> None:
    x = _images().astype(np.float32) / 255
    for s, c in zip(ood.SEVERITIES, (0.4, 0.3, 0.2, 0.1, 0.05), strict=True):
        y = ood.contrast(x, s, 16, np.random.default_rng(0))
        m = x.mean(axis=(1, 2), keepdims=True)
        np.testing.assert_allclose(y.mean(axis=(1, 2)), m[:, 0, 0], atol=1e-6)
        np.testing.assert_allclose(y - m, (x - m) * c, atol=1e-6)


def test_brightness_matches_colorsys_hsv() -> None:
    x = _images(2, 8).astype(np.float32) / 255
    x[0, 0, 0] = 0.0  # a black pixel becomes grey
    y = ood.brightness(x, 3, 8, np.random.default_rng(0))
    for idx in np.ndindex(x.shape[:3]):
        h, s, v = colorsys.rgb_to_hsv(*x[idx])
        expect = colorsys.hsv_to_rgb(h, s, min(v + 0.3, 1.0))
        np.testing.assert_allclose(y[idx], expect, atol=1e-5)


def test_gaussian_blur_matches_brute_force_convolution() -> None:
    x = _images(1, 12).astype(np.float64) / 255
    size = 128  # sigmas scale up above 64 px: severity 3 -> 1.0 * 128 / 64
    sigma = 2.0
    y = ood.gaussian_blur(x, 3, size, np.random.default_rng(0))
    r = int(4.0 * sigma + 0.5)
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(x[0], ((r, r), (r, r), (0, 0)), mode="edge")
    expect = np.zeros_like(x[0])
    for i in range(12):
        for j in range(12):
            win = pad[i : i + 2 * r + 1, j : j + 2 * r + 1]
            expect[i, j] = np.einsum("a,b,abc->c", k, k, win)
    np.testing.assert_allclose(y[0], expect, atol=1e-6)


def test_pixelate_severity5_is_2x2_block_means() -> None:
    x = _images(2, 16)
    y = ood.corrupt(x, "pixelate", 5, np.random.default_rng(0)).astype(float)
    blocks = x.reshape(2, 8, 2, 8, 2, 3).astype(float).mean(axis=(2, 4))
    np.testing.assert_allclose(y[:, ::2, ::2], blocks, atol=1.0)
    np.testing.assert_array_equal(y[:, ::2, ::2], y[:, 1::2, 1::2])


def test_noise_statistics() -> None:
    grey = np.full((20, 32, 32, 3), 0.5, np.float32)
    rng = np.random.default_rng(0)
    assert ood.gaussian_noise(grey, 5, 32, rng).std() == pytest.approx(0.18, rel=0.03)
    assert (ood.impulse_noise(grey, 5, 32, rng) != 0.5).mean() == pytest.approx(0.14, rel=0.05)
    assert ood.shot_noise(grey, 1, 32, rng).mean() == pytest.approx(0.5, abs=0.005)


def test_corruption_errors_are_clear() -> None:
    with pytest.raises(LuabError, match="did you mean 'contrast'"):
        ood.corrupt(_images(), "contrst", 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="severity"):
        ood.corrupt(_images(), "contrast", 6, np.random.default_rng(0))
    with pytest.raises(ValueError, match="unknown corruption"):
        ood.AnalogueConfig(corruptions=("fog",))
    with pytest.raises(ValueError, match=r"(?i)extra"):
        ood.AnalogueConfig(si_size=(0.5,))


# ------------------------------------------------------------------------------------ generator
@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return syn.generate(TINY, tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_analogues(tiny_dataset: Path) -> dict[str, ood.AnalogueSplit]:
    return ood.load_analogues(ood.generate_analogues(tiny_dataset))


def _object_pixels(images: np.ndarray) -> np.ndarray:
    """Pixels far from the neutral grey (fg colours have value >= .55 and saturation >= .5)."""
    return np.abs(images.astype(int) - 128).max(axis=-1) > 40


def test_analogue_layouts(tiny_analogues: dict[str, ood.AnalogueSplit]) -> None:
    a, k, acfg = tiny_analogues, TINY.num_classes, ood.AnalogueConfig()
    m = acfg.si_fg_per_class
    for name, nb in (("si_size", 6), ("si_loc", acfg.si_loc_grid**2), ("si_rot", 8)):
        sp = a[name]
        assert len(sp) == k * m * nb and len(sp.group_names) == nb
        np.testing.assert_array_equal(sp.units, np.repeat(np.arange(k * m), nb))
        np.testing.assert_array_equal(sp.groups, np.tile(np.arange(nb), k * m))
        np.testing.assert_array_equal(sp.labels, np.repeat(np.arange(k), m * nb))
    c = a["corrupt"]
    assert len(c) == len(acfg.corruptions) * 5 * k * acfg.corrupt_per_class
    assert c.group_names[:2] == ["gaussian_noise/1", "gaussian_noise/2"]
    assert np.all(a["ood"].labels == -1) and set(np.unique(a["ood"].groups)) <= set(range(4))
    b = a["bgc"]
    assert len(b) == k * acfg.bgc_fg_per_class * k * acfg.bgc_bg_per_class
    assert b.group_names[0] == "bg=disc#0"


def test_corrupt_sources_are_val_images(tiny_dataset: Path, tiny_analogues) -> None:
    val = syn.load_split(tiny_dataset, "val")
    c = tiny_analogues["corrupt"]
    per = ood.AnalogueConfig().corrupt_per_class
    src = np.concatenate([np.flatnonzero(val.labels == y)[:per] for y in range(TINY.num_classes)])
    n = len(src)
    np.testing.assert_array_equal(c.labels[:n], val.labels[src])
    # brightness severity 1 on a clean image: never darker
    cell = c.group_names.index("brightness/1")
    assert np.all(c.images[cell * n : (cell + 1) * n].astype(int) >= val.images[src].astype(int) - 1)


def test_si_sweeps_move_the_same_objects(tiny_analogues) -> None:
    sp = tiny_analogues["si_size"]
    area = _object_pixels(np.asarray(sp.images)).sum(axis=(1, 2)).reshape(-1, 6)
    assert np.all(np.diff(area, axis=1) > 0)  # every foreground grows with the size bin
    loc = tiny_analogues["si_loc"]
    g = ood.AnalogueConfig().si_loc_grid
    obj = _object_pixels(np.asarray(loc.images))
    s = obj.shape[1]
    xs = (np.arange(s) + 0.5) / s
    cx = (obj * xs[None, None, :]).sum(axis=(1, 2)) / obj.sum(axis=(1, 2))
    want = np.array([float(n.split(",")[0][2:]) for n in loc.group_names])[loc.groups]
    assert np.abs(cx - want).max() < 0.15 and len(loc.group_names) == g * g
    rot = tiny_analogues["si_rot"]
    ell = np.flatnonzero(rot.labels == 9).reshape(-1, 8)[0]  # the L is not rotation-symmetric
    masks = _object_pixels(np.asarray(rot.images[ell]))
    assert (masks[0] != masks[2]).mean() > 0.05


def test_novel_shapes_are_not_class_shapes() -> None:
    u, v = np.meshgrid(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101))
    for j in range(len(ood.NOVEL_SHAPES)):
        novel = ood.novel_shape_mask(j, u, v)
        assert novel.mean() > 0.05
        for k in range(len(syn.SHAPE_NAMES)):
            cls = syn._shape_mask(k, u, v)
            assert (novel & cls).sum() / (novel | cls).sum() < 0.8, (ood.NOVEL_SHAPES[j], k)


def test_generation_is_deterministic_reused_and_repaired(tmp_path: Path, tiny_dataset: Path) -> None:
    d1 = ood.generate_analogues(tiny_dataset)
    copy = tmp_path / tiny_dataset.name
    import shutil

    shutil.copytree(tiny_dataset, copy, ignore=shutil.ignore_patterns("analogues-*"))
    d2 = ood.generate_analogues(copy)
    assert d1.name == d2.name
    m1, m2 = ood.load_analogue_manifest(d1), ood.load_analogue_manifest(d2)
    assert (
        m1["fingerprint"] == m2["fingerprint"]
        and m1["parent_fingerprint"] == syn.load_manifest(copy)["fingerprint"]
    )
    img = d2 / "bgc" / "images.npy"
    before = img.stat().st_mtime_ns
    assert ood.generate_analogues(copy) == d2 and img.stat().st_mtime_ns == before  # reused
    with img.open("r+b") as fh:
        fh.seek(-1, os.SEEK_END)
        fh.write(b"\x01" if fh.read(1) != b"\x01" else b"\x02")
    assert "sha256 mismatch" in ood.verify_analogues(d2)
    assert ood.generate_analogues(copy) == d2 and ood.verify_analogues(d2) is None
    other = ood.AnalogueConfig(ood_n=20)
    d3 = ood.generate_analogues(copy, other)
    assert d3 != d2 and len(ood.load_analogues(d3)["ood"]) == 20
    assert "config differs" in ood.verify_analogues(d3, ood.AnalogueConfig())
    assert "parent" in ood.verify_analogues(d3, other, "0" * 64)


def test_generation_errors(tmp_path: Path, tiny_dataset: Path) -> None:
    with pytest.raises(ConfigError, match="needs 20 images"):
        ood.generate_analogues(tiny_dataset, ood.AnalogueConfig(bgc_fg_per_class=20))
    with pytest.raises(ConfigError, match="below"):
        ood.generate_analogues(tiny_dataset, ood.AnalogueConfig(si_sizes=(0.1, 0.5)))
    with pytest.raises(DataError, match="missing"):
        ood.generate_analogues(tmp_path)
    with pytest.raises(DataError, match="missing"):
        ood.load_analogues(tmp_path)


# ------------------------------------------------------------------------------------ metrics
class CodeModel(nn.Module):
    """Class coded in pixel (0, 0, ch 0); confidence scale in pixel (0, 0, ch 1)."""

    def __init__(self, k: int = 4) -> None:
        super().__init__()
        self.k = k
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        code = torch.round(x[:, 0, 0, 0] * 255)
        scale = 0.5 + x[:, 1, 0, 0] * 10
        return -(torch.arange(self.k)[None, :] - code[:, None]).abs() * scale[:, None]


def coded_split(codes, labels, groups, units, names, conf=None) -> ood.AnalogueSplit:
    n = len(labels)
    images = np.random.default_rng(n).integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.asarray(codes, np.uint8)
    images[:, 0, 0, 1] = np.zeros(n, np.uint8) if conf is None else np.asarray(conf, np.uint8)
    return ood.AnalogueSplit(
        images, np.asarray(labels, np.int64), np.asarray(groups, np.int64), np.asarray(units, np.int64), names
    )


def _sweep(rng: np.random.Generator, n_units: int = 8, n_bins: int = 3) -> ood.AnalogueSplit:
    units, groups = np.repeat(np.arange(n_units), n_bins), np.tile(np.arange(n_bins), n_units)
    labels = units % 4
    codes = np.where(rng.random(units.size) < 0.6, labels, (labels + 1) % 4)
    return coded_split(codes, labels, groups, units, [f"b{i}" for i in range(n_bins)])


def analogue_fixture(seed: int = 0) -> dict[str, ood.AnalogueSplit]:
    rng = np.random.default_rng(seed)
    out = {name: _sweep(rng) for name in sa.SI_SPLITS}
    # corrupt: 2 corruptions x 5 severities x 6 images
    cells, n = 10, 6
    labels = np.tile(np.arange(n) % 4, cells)
    codes = np.where(rng.random(cells * n) < 0.7, labels, (labels + 2) % 4)
    names = [f"{c}/{s}" for c in ("noise", "blur") for s in range(1, 6)]
    out["corrupt"] = coded_split(
        codes, labels, np.repeat(np.arange(cells), n), np.tile(np.arange(n), cells), names
    )
    out["ood"] = coded_split(rng.integers(0, 4, 15), np.full(15, -1), np.zeros(15), np.arange(15), ["x"],
                             conf=rng.integers(0, 30, 15))  # fmt: skip
    # bgc: 6 foregrounds x 4 backgrounds; fg 0 and 3 survive, the others miss at background 0, 1, 2, 3
    n_fg, n_bg = 6, 4
    fg_labels = np.arange(n_fg) % 4
    ok = np.ones((n_fg, n_bg), bool)
    for f, miss in ((1, 0), (2, 1), (4, 2), (5, 3)):
        ok[f, miss] = False
    ok[2, 3] = False  # a second miss after the first: never evaluated
    lab = np.repeat(fg_labels, n_bg)
    codes = np.where(ok.ravel(), lab, (lab + 1) % 4)
    out["bgc"] = coded_split(codes, lab, np.tile(np.arange(n_bg), n_fg), np.repeat(np.arange(n_fg), n_bg),
                             [f"bg{i}" for i in range(n_bg)])  # fmt: skip
    out["_bgc_matrix"] = ok  # type: ignore[assignment]
    return out


def _evaluate(analogues, model=None, val_logits=None, seed=0):
    model = model or CodeModel()
    if val_logits is None:
        val_logits = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32) * 5
    a = {k: v for k, v in analogues.items() if not k.startswith("_")}
    return sa.evaluate_analogues(model.eval(), a, val_logits=val_logits, seed=seed, batch_size=5, n_boot=200)


def test_si_metrics_equal_hand_counts_and_cluster_bootstrap() -> None:
    a = analogue_fixture()
    m = _evaluate(a)
    for name in sa.SI_SPLITS:
        sp = a[name]
        correct = sp.images[:, 0, 0, 0] == sp.labels
        per_bin = [100 * correct[sp.groups == b].mean() for b in range(3)]
        assert m[f"{name}_top1"]["value"] == pytest.approx(np.mean(per_bin))
        assert m[f"{name}_top1"]["value"] == pytest.approx(100 * correct.mean())
        assert f"b1 {per_bin[1]:.1f}%" in m[f"{name}_top1"]["task"]
        per_unit = np.array([100 * correct[sp.units == u].mean() for u in range(8)])
        ci = bootstrap_ci(per_unit, n_boot=200, seed=sa._seed(0, f"{name}_top1"))
        assert m[f"{name}_top1"]["ci_low"] == pytest.approx(min(ci.low, m[f"{name}_top1"]["value"]))
        assert m[f"{name}_top1"]["ci_high"] == pytest.approx(max(ci.high, m[f"{name}_top1"]["value"]))
        assert m[f"{name}_top1"]["n"] == 24


def test_corruption_metrics() -> None:
    a = analogue_fixture()
    m = _evaluate(a)
    c = a["corrupt"]
    correct = c.images[:, 0, 0, 0] == c.labels
    cell = np.array([100 * correct[c.groups == g].mean() for g in range(10)])
    assert m["c_top1"]["value"] == pytest.approx(cell.mean())
    err = {"noise": 100 - cell[:5].mean(), "blur": 100 - cell[5:].mean()}
    assert m["c_mce"]["value"] == pytest.approx(np.mean(list(err.values())))
    assert m["c_mce"]["value"] == pytest.approx(100 - m["c_top1"]["value"])
    assert m["c_mce"]["higher_is_better"] is False and "UNNORMALISED" in m["c_mce"]["task"]
    assert sa.normalized_mce(err, err) == pytest.approx(100.0)
    assert sa.normalized_mce({"a": 20.0, "b": 30.0}, {"a": 40.0, "b": 30.0}) == pytest.approx(75.0)
    with pytest.raises(ValueError, match="lacks"):
        sa.normalized_mce({"a": 1.0}, {"b": 1.0})


def test_o_aupr_matches_sklearn() -> None:
    from scipy.special import softmax

    a = analogue_fixture()
    val_logits = np.random.default_rng(3).normal(size=(40, 4)).astype(np.float32) * 3
    m = _evaluate(a, val_logits=val_logits)
    model = CodeModel().eval()
    with torch.inference_mode():
        x = torch.from_numpy(np.asarray(a["ood"].images)).permute(0, 3, 1, 2).float() / 255
        ood_logits = model(x).numpy()
    scores = -np.r_[
        softmax(ood_logits.astype(np.float64), 1).max(1), softmax(val_logits.astype(np.float64), 1).max(1)
    ]
    y = np.r_[np.ones(15), np.zeros(40)]
    assert m["o_aupr"]["value"] == pytest.approx(100 * average_precision_score(y, scores))
    assert m["o_aupr"]["n"] == 55 and m["o_aupr"]["ci_low"] <= m["o_aupr"]["value"] <= m["o_aupr"]["ci_high"]


def test_bgc_early_stop_equals_full_challenge() -> None:
    a = analogue_fixture()
    model = CodeModel()
    m = _evaluate(a, model=model)
    expect = challenge_survivors(a["_bgc_matrix"])
    assert m["bgc_acc"]["value"] == pytest.approx(100 * expect.mean()) == pytest.approx(100 * 2 / 6)
    assert m["bgc_acc"]["n"] == 6
    # rounds: 6 fg on bg0, 5 on bg1, 4 on bg2, 3 on bg3 -> 18 of 24 composites
    assert "18 composites evaluated" in m["bgc_acc"]["task"]
    alive, evaluated = sa.bgc_survivors(a["bgc"], lambda name, images, prog=None: _pred(images))
    np.testing.assert_array_equal(alive, expect)
    assert evaluated == 18


def _pred(images: np.ndarray):
    from types import SimpleNamespace

    return SimpleNamespace(pred=images[:, 0, 0, 0].astype(np.int64))


def test_bgc_rejects_a_scrambled_layout_and_empty_splits() -> None:
    a = analogue_fixture()
    b = a["bgc"]
    perm = np.random.default_rng(0).permutation(len(b))
    bad = ood.AnalogueSplit(b.images[perm], b.labels[perm], b.groups[perm], b.units[perm], b.group_names)
    with pytest.raises(DataError, match="foreground-major"):
        sa.bgc_survivors(bad, lambda *x, **k: None)
    a["si_size"] = coded_split([], [], [], [], ["b0"])
    with pytest.raises(DataError, match="si_size"):
        _evaluate(a)


def test_seed_changes_intervals_only_and_metrics_validate() -> None:
    schema = pytest.importorskip("luab_bench.results.schema")
    a = analogue_fixture()
    m0, m1 = _evaluate(a, seed=0), _evaluate(a, seed=1)
    assert set(m0) == {"si_size_top1", "si_loc_top1", "si_rot_top1", "c_top1", "c_mce", "o_aupr", "bgc_acc"}
    assert all(m0[k]["value"] == m1[k]["value"] for k in m0)
    assert any(m0[k]["ci_low"] != m1[k]["ci_low"] for k in m0)
    for v in m0.values():
        schema.Metric.model_validate(v)


# ------------------------------------------------------------------------------------ suite
class TinyNet(nn.Module):
    """A small real CNN: the integration test needs a model, not accuracy."""

    def __init__(self, k: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()
        )
        self.head = nn.Linear(8, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_suite_evaluates_analogues_from_a_generated_dataset(tiny_dataset: Path, tiny_analogues) -> None:
    from luab_bench.suites.base import get_suite
    from luab_bench.suites.synthetic import SyntheticSuite

    suite = get_suite("synthetic")
    out = suite.evaluate(TinyNet(TINY.num_classes), dataset_dir=tiny_dataset, n_boot=50)
    m = out.metrics
    assert set(out.data) == {"analogues_fingerprint"} and out.missing == ()
    assert {"val_top1", "bg_gap", "si_size_top1", "si_loc_top1", "si_rot_top1", "c_top1", "c_mce", "o_aupr",
            "bgc_acc"} <= set(m)  # fmt: skip
    plain = (
        SyntheticSuite(analogues=False)
        .evaluate(TinyNet(TINY.num_classes), dataset_dir=tiny_dataset, n_boot=50)
        .metrics
    )
    assert set(plain) == {
        "val_top1",
        "only_fg_top1",
        "no_fg_top1",
        "mixed_same_top1",
        "mixed_rand_top1",
        "bg_gap",
    }
    assert all(m[k] == plain[k] for k in plain)
