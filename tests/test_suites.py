"""The suite registry and the synthetic suite on hand-built fixture splits with a fake model.

The fake model reads its answer from the image: pixel (0, 0) channel 0 holds the predicted class,
channels 1 and 2 the predicted point (x, y) in units of 1/255. So every expected number below is
known by construction and computed by hand.
"""

from __future__ import annotations

import json
import sys
import types
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

from luab_bench.errors import DataError, LuabError
from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_diff_ci
from luab_bench.suites.base import SUITES, EvalOutcome, Suite, get_suite, make_metric
from luab_bench.suites.synthetic import EVAL_SPLITS, SyntheticSuite, evaluate_splits

K = 4
METRIC_KEYS = {"value", "n", "ci_low", "ci_high", "unit", "higher_is_better", "task"}
BOX = (50, 60, 150, 160)  # xyxy in 1/255 units, for every val image


class FakeOutput(NamedTuple):
    logits: torch.Tensor
    points: torch.Tensor | None
    features: torch.Tensor


class CodeModel(nn.Module):
    """Predicts the class coded in pixel (0, 0, ch 0); point = pixel (0, 0, ch 1..2)."""

    def __init__(self, num_classes: int = K, *, with_points: bool = True, undo=None, plain=False):
        super().__init__()
        self.num_classes = num_classes
        self.with_points = with_points
        self.undo = undo  # (mean, std) to invert the suite's normalisation
        self.plain = plain
        self.weight = nn.Parameter(torch.ones(()))
        self.calls: list[tuple[int, bool, bool]] = []  # (batch, training, inference_mode)

    def forward(self, x: torch.Tensor):
        self.calls.append((x.shape[0], self.training, torch.is_inference_mode_enabled()))
        if self.undo is not None:
            mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in self.undo)
            x = x * std + mean
        code = torch.round(x[:, 0, 0, 0] * 255).long()
        # highest logit at the coded class (nearest class when the code is out of range)
        classes = torch.arange(self.num_classes)
        logits = -(classes[None, :] - code[:, None]).abs().float() * self.weight
        if self.plain:
            return logits
        points = x[:, 1:3, 0, 0].unsqueeze(1) if self.with_points else None
        return FakeOutput(logits, points, x.mean(dim=(2, 3)))


def make_split(pred_codes, labels, *, boxes=None, points=None, bg_labels=None, hw: int = 6):
    """Images whose pixel (0, 0) encodes the prediction (and point); the rest is noise."""
    n = len(labels)
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, size=(n, hw, hw, 3), dtype=np.uint8)
    images[:, 0, 0, 0] = np.asarray(pred_codes, np.uint8)
    pts = np.zeros((n, 2), np.uint8) if points is None else np.asarray(points, np.uint8)
    images[:, 0, 0, 1:] = pts
    box_units = np.tile(np.array(BOX, np.float32), (n, 1)) if boxes is None else np.asarray(boxes, np.float32)
    return SimpleNamespace(
        images=images,
        labels=np.asarray(labels, np.int64),
        boxes=(box_units / np.float32(255)).astype(np.float32),
        masks=np.zeros((n, hw, hw), bool),
        bg_labels=np.asarray(bg_labels if bg_labels is not None else np.full(n, -1), np.int64),
        ids=[f"n9900000{labels[i]}/img_{i}" for i in range(n)],
    )


# val points: 8 strictly inside, 4 exactly on the border (inclusive), 8 outside -> 12/20 = 60 %
VAL_POINTS = (
    [(100, 100)] * 8
    + [(50, 100), (150, 160), (100, 60), (50, 60)]
    + [(49, 100), (100, 161), (151, 100), (100, 59), (0, 0), (255, 255), (200, 200), (10, 120)]
)


def bg_predictor_splits(aligned: bool = True) -> dict[str, SimpleNamespace]:
    """A model that predicts the *background* class (class 0 when there is no background)."""
    val_labels = np.arange(20) % K
    val_bg = np.where(np.arange(20) < 15, val_labels, (val_labels + 1) % K)  # 15/20 own bg
    fg_labels = np.arange(12) % K
    nofg_bg = np.where(np.arange(12) < 9, fg_labels, (fg_labels + 2) % K)  # 9/12 own bg
    mix_labels = np.arange(16) % K
    rand_bg = (mix_labels + 1 + np.arange(16) % 3) % K  # never the own class
    assert not np.any(rand_bg == mix_labels)
    rand_boxes = None if aligned else np.tile(np.array([40, 60, 150, 160], np.float32), (16, 1))
    return {
        "val": make_split(val_bg, val_labels, bg_labels=val_bg, points=VAL_POINTS),
        "only_fg": make_split(np.zeros(12), fg_labels),  # no bg -> predicts 0 -> 3/12 correct
        "no_fg": make_split(nofg_bg, fg_labels, bg_labels=nofg_bg),
        "mixed_same": make_split(mix_labels, mix_labels, bg_labels=mix_labels),
        "mixed_rand": make_split(rand_bg, mix_labels, bg_labels=rand_bg, boxes=rand_boxes),
    }


def test_bg_predictor_gives_hand_computed_metrics():
    model = CodeModel()
    splits = bg_predictor_splits()
    m = evaluate_splits(model, splits, seed=0, batch_size=7)
    val_boxes = np.asarray(splits["val"].boxes)
    centre_in = sum(1 for x0, y0, x1, y1 in val_boxes if x0 <= 0.5 <= x1 and y0 <= 0.5 <= y1)
    expected = {
        "val_top1": (75.0, 20),
        "only_fg_top1": (25.0, 12),
        "no_fg_top1": (75.0, 12),
        "mixed_same_top1": (100.0, 16),
        "mixed_rand_top1": (0.0, 16),
        "bg_gap": (100.0, 16),
        "point_loc_acc": (60.0, 20),
        "point_loc_centre_acc": (100.0 * centre_in / len(val_boxes), 20),
    }
    assert set(m) == set(expected)
    for name, (value, n) in expected.items():
        assert set(m[name]) == METRIC_KEYS, name
        assert m[name]["value"] == value, name
        assert m[name]["n"] == n, name
        assert m[name]["ci_low"] <= value <= m[name]["ci_high"], name
    # every image of mixed_same right, every one of mixed_rand wrong: the paired gap has no spread
    assert (m["bg_gap"]["ci_low"], m["bg_gap"]["ci_high"]) == (100.0, 100.0)
    assert "paired" in m["bg_gap"]["task"]
    assert m["bg_gap"]["unit"] == "pp" and m["bg_gap"]["higher_is_better"] is False
    assert m["val_top1"]["unit"] == "%" and m["val_top1"]["higher_is_better"] is True
    # the val interval is the seeded bootstrap of the per-image scores
    val_correct = np.arange(20) < 15
    ci = bootstrap_ci(100.0 * val_correct, seed=[0, zlib.crc32(b"val_top1")])
    assert (m["val_top1"]["ci_low"], m["val_top1"]["ci_high"]) == (ci.low, ci.high)
    assert m["val_top1"]["ci_low"] < 75.0 < m["val_top1"]["ci_high"]
    inside = np.arange(20) < 12
    ci = bootstrap_ci(100.0 * inside, seed=[0, zlib.crc32(b"point_loc_acc")])
    assert (m["point_loc_acc"]["ci_low"], m["point_loc_acc"]["ci_high"]) == (ci.low, ci.high)
    # plain JSON types, finite numbers
    json.dumps(m, allow_nan=False)
    assert all(type(v["value"]) is float and type(v["n"]) is int for v in m.values())


def test_arbitrary_predictions_and_paired_gap_interval():
    rng = np.random.default_rng(7)
    labels = rng.integers(0, K, 40)
    pred_same = np.where(rng.random(40) < 0.8, labels, (labels + 1) % K)
    pred_rand = np.where(rng.random(40) < 0.5, labels, (labels + 3) % K)
    splits = bg_predictor_splits()
    splits["mixed_same"] = make_split(pred_same, labels)
    splits["mixed_rand"] = make_split(pred_rand, labels)
    m = evaluate_splits(CodeModel(), splits, seed=3, batch_size=16)
    c_same, c_rand = pred_same == labels, pred_rand == labels
    acc_same = 100.0 * c_same.sum() / 40
    acc_rand = 100.0 * c_rand.sum() / 40
    assert m["mixed_same_top1"]["value"] == pytest.approx(acc_same)
    assert m["mixed_rand_top1"]["value"] == pytest.approx(acc_rand)
    assert m["bg_gap"]["value"] == pytest.approx(acc_same - acc_rand)
    ci = bootstrap_diff_ci(100.0 * c_same, 100.0 * c_rand, paired=True, seed=[3, zlib.crc32(b"bg_gap")])
    assert (m["bg_gap"]["ci_low"], m["bg_gap"]["ci_high"]) == (ci.low, ci.high)
    assert m["bg_gap"]["n"] == 40
    assert m["bg_gap"]["ci_low"] <= m["bg_gap"]["value"] <= m["bg_gap"]["ci_high"]


def test_unaligned_mixed_splits_use_independent_bootstrap():
    m = evaluate_splits(CodeModel(), bg_predictor_splits(aligned=False), seed=0)
    assert m["bg_gap"]["value"] == 100.0
    assert m["bg_gap"]["n"] == 32
    assert "independent" in m["bg_gap"]["task"]


def test_model_without_points_has_no_point_metric_and_plain_tensor_models_work():
    for model in (CodeModel(with_points=False), CodeModel(plain=True)):
        m = evaluate_splits(model, bg_predictor_splits())
        assert "point_loc_acc" not in m
        assert m["val_top1"]["value"] == 75.0


def test_inference_is_batched_in_eval_and_inference_mode_and_restores_mode():
    model = CodeModel()
    model.train()
    splits = bg_predictor_splits()
    evaluate_splits(model, splits, batch_size=7)
    assert model.training  # restored
    sizes = [b for b, _, _ in model.calls]
    assert all(b <= 7 for b in sizes)
    assert sum(sizes) == sum(s.labels.size for s in splits.values())
    assert len(sizes) == sum(-(-s.labels.size // 7) for s in splits.values())
    assert all(not training and inference for _, training, inference in model.calls)


def test_normalisation_as_mean_std_or_callable():
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    splits = bg_predictor_splits()
    by_tuple = evaluate_splits(CodeModel(undo=(mean, std)), splits, normalize=(mean, std))
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    by_callable = evaluate_splits(CodeModel(undo=(mean, std)), splits, normalize=lambda x: (x - m) / s)
    for res in (by_tuple, by_callable):
        for name in EVAL_SPLITS:
            assert (
                res[f"{name}_top1"]["value"]
                == {
                    "val": 75.0,
                    "only_fg": 25.0,
                    "no_fg": 75.0,
                    "mixed_same": 100.0,
                    "mixed_rand": 0.0,
                }[name]
            )
    # without undoing, normalised inputs decode to other classes: the normalisation really is applied
    wrong = evaluate_splits(CodeModel(), splits, normalize=(mean, std))
    assert wrong["mixed_same_top1"]["value"] != 100.0
    with pytest.raises(ValueError):
        evaluate_splits(CodeModel(), splits, normalize=((0.5,), (0.5,)))


class RecordingProgress:
    def __init__(self):
        self.tasks: dict[int, list] = {}

    def add_task(self, description, total=None, **_):
        self.tasks[len(self.tasks)] = [description, total, 0]
        return len(self.tasks) - 1

    def advance(self, task_id, advance=1):
        self.tasks[task_id][2] += advance


def test_progress_bar_per_split():
    prog = RecordingProgress()
    splits = bg_predictor_splits()
    evaluate_splits(CodeModel(), splits, progress=prog, batch_size=5)
    got = {d: (t, a) for d, t, a in prog.tasks.values()}
    assert got == {f"synthetic/{s}": (splits[s].labels.size,) * 2 for s in EVAL_SPLITS}


def test_seed_changes_intervals_not_values():
    splits = bg_predictor_splits()
    a = evaluate_splits(CodeModel(), splits, seed=0)
    b = evaluate_splits(CodeModel(), splits, seed=0)
    c = evaluate_splits(CodeModel(), splits, seed=1)
    assert a == b
    assert all(a[k]["value"] == c[k]["value"] for k in a)
    assert (
        a["val_top1"]["ci_low"] != c["val_top1"]["ci_low"]
        or a["val_top1"]["ci_high"] != c["val_top1"]["ci_high"]
    )


def test_errors_are_clear():
    splits = bg_predictor_splits()
    with pytest.raises(LuabError, match="num_classes=4"):
        evaluate_splits(CodeModel(num_classes=3), splits)
    partial = {k: v for k, v in splits.items() if k != "no_fg"}
    with pytest.raises(DataError, match="no_fg"):
        evaluate_splits(CodeModel(), partial)
    bad = dict(splits)
    bad["val"] = SimpleNamespace(**{**vars(splits["val"]), "boxes": splits["val"].boxes[:3]})
    with pytest.raises(DataError, match="'val'"):
        evaluate_splits(CodeModel(), bad)


def write_fixture_dataset(root: Path, splits: dict[str, SimpleNamespace]) -> Path:
    """The on-disk layout of docs/ARCHITECTURE.md (no manifest: the loader is faked below)."""
    for name, sp in splits.items():
        d = root / name
        d.mkdir(parents=True)
        for field in ("images", "labels", "boxes", "masks", "bg_labels"):
            np.save(d / f"{field}.npy", getattr(sp, field))
        (d / "ids.json").write_text(json.dumps(sp.ids))
    return root


def fake_loader_module() -> types.ModuleType:
    mod = types.ModuleType("luab_bench.data.synthetic")

    def load_split(dataset_dir, split):
        d = Path(dataset_dir) / split
        arrays = {
            f: np.load(d / f"{f}.npy", mmap_mode="r")
            for f in ("images", "labels", "boxes", "masks", "bg_labels")
        }
        return SimpleNamespace(**arrays, ids=json.loads((d / "ids.json").read_text()))

    mod.load_split = load_split
    return mod


def test_suite_evaluate_loads_dataset_dir(tmp_path, monkeypatch):
    splits = bg_predictor_splits()
    ds = write_fixture_dataset(tmp_path / "synthetic-s0-abcdef12", splits)
    monkeypatch.setitem(sys.modules, "luab_bench.data.synthetic", fake_loader_module())
    suite = SyntheticSuite(analogues=False)
    model = CodeModel().train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "non-writable array" warning on memmaps
        from_disk = suite.evaluate(model, dataset_dir=ds, device="cpu", seed=2, batch_size=8)
    assert isinstance(from_disk, EvalOutcome) and from_disk.missing == () and from_disk.data == {}
    assert from_disk.metrics == evaluate_splits(CodeModel(), splits, seed=2)
    assert model.training  # the template restores the caller's train/eval mode
    with pytest.raises(DataError, match="not found"):
        suite.evaluate(CodeModel(), dataset_dir=tmp_path / "missing")


def test_registry():
    assert "synthetic" in SUITES.names()
    suite = get_suite("synthetic")
    assert isinstance(suite, SyntheticSuite) and isinstance(suite, Suite)
    assert suite.name == "synthetic" and suite.description
    with pytest.raises(LuabError, match="did you mean 'synthetic'"):
        get_suite("synthtic")


def test_make_metric_contract():
    m = make_metric(
        np.float32(50.0), n=np.int64(4), ci=(25.0, 75.0), unit="%", higher_is_better=True, task="t"
    )
    assert m == {
        "value": 50.0,
        "n": 4,
        "ci_low": 25.0,
        "ci_high": 75.0,
        "unit": "%",
        "higher_is_better": True,
        "task": "t",
    }
    assert type(m["value"]) is float and type(m["n"]) is int
    assert make_metric(1.0, n=1, ci=None, unit="", higher_is_better=False, task="t")["ci_low"] is None
    with pytest.raises(ValueError):
        make_metric(float("nan"), n=1, ci=None, unit="", higher_is_better=True, task="t")
    with pytest.raises(ValueError, match="does not contain"):
        make_metric(80.0, n=1, ci=(10.0, 20.0), unit="%", higher_is_better=True, task="t")


def test_metrics_validate_against_results_schema_when_present():
    schema = pytest.importorskip("luab_bench.results.schema")
    m = evaluate_splits(CodeModel(), bg_predictor_splits())
    for v in m.values():
        schema.Metric.model_validate(v)


def test_table1_layout_has_every_column_and_dashes_for_missing():
    from rich.console import Console

    from luab_bench.suites.tables import layout, render_table

    TABLE1_SYNTHETIC = layout("synthetic")
    assert list(TABLE1_SYNTHETIC)[:2] == ["val_top1", "c_top1"]
    metrics = evaluate_splits(CodeModel(), bg_predictor_splits())
    table = render_table([("resnet10t / luab", metrics), ("empty", {})], TABLE1_SYNTHETIC)
    assert [c.header for c in table.columns] == ["model / protocol", *TABLE1_SYNTHETIC.values()]
    console = Console(width=400, record=True)
    console.print(table)
    text = console.export_text()
    assert f"{metrics['val_top1']['value']:.1f}" in text and "-" in text
    # every metric the suite reports has a column, except the extra no_fg / mixed_same splits
    assert set(metrics) - set(TABLE1_SYNTHETIC) <= {"no_fg_top1", "mixed_same_top1"}


# --------------------------------------------------------------------------- the batched predict helper


class _LinearNet(nn.Module):
    """logits = W (channel means), features = the channel means, two point heads (sigmoid of them)."""

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = nn.Parameter(torch.randn(k, 3, generator=g))

    def forward(self, x: torch.Tensor) -> FakeOutput:
        f = x.mean(dim=(2, 3))
        pts = torch.stack([torch.sigmoid(f[:, :2]), torch.sigmoid(f[:, 1:])], dim=1)
        return FakeOutput(f @ self.w.T, pts, f)


def _reference(model: nn.Module, images: np.ndarray, mean, std):
    """Independent computation: the whole array at once, float64 normalisation, one forward."""
    x = torch.from_numpy(images.astype(np.float64) / 255.0).permute(0, 3, 1, 2)
    x = ((x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)).float()
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize("batch_size", [1, 4, 7, 100])
def test_predict_matches_a_single_forward_pass(batch_size):
    from luab_bench.suites.base import predict

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(13, 6, 5, 3), dtype=np.uint8)
    mean, std = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    model = _LinearNet().eval()
    ref = _reference(model, images, mean, std)
    rows: list[tuple[int, int]] = []

    def hook(x, sl):
        rows.append((sl.start, sl.stop))
        return x.mean(dim=(1, 2, 3))  # one value per image, of the *normalised* input

    out = predict(
        model, images, normalize=(mean, std), batch_size=batch_size,
        outputs=("pred", "logits", "points", "features"), hooks={"xmean": hook},
    )  # fmt: skip
    assert out.n == 13
    np.testing.assert_allclose(out.logits, ref.logits.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out.pred, out.logits.argmax(1))
    np.testing.assert_allclose(out.points, ref.points.numpy(), rtol=1e-5, atol=1e-6)
    assert out.points.shape == (13, 2, 2)  # every head, not only head 0
    np.testing.assert_allclose(out.features, ref.features.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.extra["xmean"], ref.features.numpy().mean(1), rtol=1e-5, atol=1e-6)
    starts = list(range(0, 13, batch_size))
    assert rows == [(s, min(s + batch_size, 13)) for s in starts]


def test_predict_accepts_uint8_and_float_batch_iterables_with_identical_results():
    from luab_bench.suites.base import predict

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(9, 4, 4, 3), dtype=np.uint8)
    model = _LinearNet().eval()
    norm = ((0.5,) * 3, (0.25,) * 3)
    from_array = predict(model, images, normalize=norm, batch_size=4, outputs=("logits",))
    uint8_batches = [torch.from_numpy(images[i : i + 4]) for i in range(0, 9, 4)]
    from_uint8 = predict(model, uint8_batches, normalize=norm, outputs=("logits",))
    float_batches = [b.permute(0, 3, 1, 2).float() / 255.0 for b in uint8_batches]
    from_float = predict(model, float_batches, normalize=norm, outputs=("logits",))
    np.testing.assert_array_equal(from_array.logits, from_uint8.logits)
    np.testing.assert_array_equal(from_array.logits, from_float.logits)
    # reduce replaces the argmax for pred (e.g. a class-subset argmax)
    sub = predict(model, images, normalize=norm, reduce=lambda z: z[:, [1, 3]].argmax(1))
    np.testing.assert_array_equal(sub.pred, from_array.logits[:, [1, 3]].argmax(1))


def test_predict_errors_name_the_problem():
    from luab_bench.suites.base import predict

    images = np.zeros((3, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="unknown outputs"):
        predict(_LinearNet(), images, outputs=("cams",))
    with pytest.raises(DataError, match="uint8"):
        predict(_LinearNet(), images.astype(np.float32))
    with pytest.raises(LuabError, match="num_classes=9"):
        predict(_LinearNet(k=5), images, num_labels=9)
    with pytest.raises(LuabError, match="no features"):
        predict(CodeModel(plain=True), images, outputs=("features",))
    empty = predict(_LinearNet(), np.zeros((0, 4, 4, 3), np.uint8), outputs=("pred", "logits"))
    assert empty.n == 0 and empty.pred.shape == (0,) and empty.logits is None


def test_table_cells_keep_small_unitless_numbers_readable() -> None:
    from luab_bench.suites.tables import format_cell

    assert format_cell(None) == "-"
    pct = {"value": 36.04, "ci_low": 32.44, "ci_high": 39.8, "unit": "%"}
    assert format_cell(pct) == "36.0 [32.4, 39.8]"
    r = {"value": 0.0871, "ci_low": 0.0523, "ci_high": 0.1304, "unit": ""}
    assert format_cell(r) == "0.087 [0.052, 0.130]"  # not "0.1 [0.1, 0.1]"
    assert format_cell({"value": -0.0341, "unit": ""}) == "-0.034"
    assert format_cell({"value": 12.25, "unit": ""}) == "12.2"  # large unitless numbers: 1 decimal
