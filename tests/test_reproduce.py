"""`luab-bench reproduce`: drift table logic, and end-to-end re-runs of recorded results: synthetic-tiny,
synthetic-coco-tiny, and a real (imagenet-ab) source on a tiny ImageFolder fixture, with the
fingerprint checks that refuse other data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from luab_bench.commands.reproduce import reproduce
from luab_bench.train.reproduce import MetricDrift, ReproduceReport


def test_report_tolerance_and_missing_metric() -> None:
    drifts = [
        MetricDrift("a", 50.0, 50.4, "%"),
        MetricDrift("b", 10.0, 9.0, "%"),
        MetricDrift("c", 1.0, None, ""),
    ]
    rep = ReproduceReport(Path("r.json"), Path("n.json"), 0.5, drifts)
    assert [d.ok(0.5) for d in drifts] == [True, False, False] and not rep.ok
    assert drifts[1].drift == pytest.approx(-1.0)
    text = "\n".join(rep.lines())
    assert "+0.4000" in text and "-1.0000" in text and "missing" in text and "1/3 metrics" in text
    assert ReproduceReport(Path("r"), Path("n"), 0.5, drifts[:1]).ok


@pytest.mark.slow
def test_reproduce_recorded_result(tmp_path: Path) -> None:
    from luab_bench import pipeline

    torch.set_num_threads(1)
    data_dir = tmp_path / "data"
    ckpt = pipeline.train_one(
        model="resnet10t", protocol="luab", variant="synthetic-tiny", epochs=1,
        data_dir=data_dir, out=tmp_path / "ckpt", device="cpu", progress=False,
    )  # fmt: skip
    result = pipeline.evaluate_checkpoint(
        checkpoint=ckpt, data_dir=data_dir, out=tmp_path / "result.json", results_dir=tmp_path,
        device="cpu", progress=False,
    )  # fmt: skip
    doc = json.loads(result.read_text())
    tampered_name = sorted(doc["metrics"])[0]
    doc["metrics"][tampered_name]["value"] += 2.0
    for bound in ("ci_low", "ci_high"):
        if doc["metrics"][tampered_name].get(bound) is not None:
            doc["metrics"][tampered_name][bound] += 2.0
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc))

    res = CliRunner().invoke(
        reproduce,
        [str(tampered), "--data-dir", str(data_dir), "--no-progress", "--work-dir", str(tmp_path / "w")],
    )
    assert res.exit_code != 0
    assert f"drift beyond ±0.5: {tampered_name}" in str(res.exception)
    rows = {
        line.split()[0]: line
        for line in res.output.splitlines()
        if line.split() and line.split()[-1] in ("ok", "FAIL")
    }
    assert {n for n in rows if not n.startswith("train/")} == set(doc["metrics"])
    assert {"train/total", "train/val_top1"} <= set(rows)  # the training curves' last values too
    assert rows[tampered_name].endswith("FAIL") and "-2.0000" in rows[tampered_name]
    # every untouched metric reproduces exactly on CPU
    assert all(
        ("+0.0000" in r or "-0.0000" in r) and r.endswith("ok") for n, r in rows.items() if n != tampered_name
    )


def test_curve_drifts_skip_wall_time_and_flag_missing() -> None:
    from luab_bench.train.reproduce import _curve_drifts

    old = {"curves": {"ce": [2.0, 1.5], "seconds": [3.0, 4.0], "val_map": [10.0, 20.0], "empty": []}}
    new = {"curves": {"ce": [2.0, 1.25], "seconds": [9.0, 9.0], "val_map": [20.0]}}
    rows = {d.name: d for d in _curve_drifts(old, new)}
    assert set(rows) == {"train/ce", "train/val_map"}
    assert rows["train/ce"].drift == pytest.approx(-0.25)
    assert rows["train/val_map"].reproduced is None  # a curve of another length: not the same run
    assert _curve_drifts(None, new) == []


@pytest.mark.slow
def test_reproduce_synthetic_coco(tmp_path: Path) -> None:
    from luab_bench import pipeline

    torch.set_num_threads(1)
    data_dir = tmp_path / "data"
    ckpt = pipeline.train_one(
        model="resnet10t", protocol="coco_luab", suite="synthetic-coco", variant="synthetic-coco-tiny",
        epochs=1, data_dir=data_dir, out=tmp_path / "ckpt", device="cpu", progress=False,
    )  # fmt: skip
    result = pipeline.evaluate_checkpoint(
        checkpoint=ckpt, data_dir=data_dir, out=tmp_path / "result.json", results_dir=tmp_path,
        device="cpu", progress=False,
    )  # fmt: skip
    args = [
        str(result),
        "--data-dir",
        str(tmp_path / "fresh"),
        "--no-progress",
        "--work-dir",
        str(tmp_path / "w"),
    ]
    res = CliRunner().invoke(reproduce, args)  # regenerated in a fresh data dir
    assert res.exit_code == 0, res.output
    rows = [line.split() for line in res.output.splitlines() if line.split() and line.split()[-1] == "ok"]
    names = {r[0] for r in rows}
    assert "synthetic_coco_map" in names and "train/val_map" in names and "train/val_point_in_box" in names
    assert all(r[3] in ("+0.0000", "-0.0000") for r in rows)
    # a recorded fingerprint the generator does not produce is refused before training
    doc = json.loads(result.read_text())
    doc["config"]["data"]["fingerprint"] = "f" * 64
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = CliRunner().invoke(reproduce, [str(bad), "--data-dir", str(tmp_path / "fresh"), "--no-progress"])
    assert res.exit_code != 0 and "recorded training data fingerprint ffffffffffff" in str(res.exception)
    assert "regenerated synthetic-coco-tiny data is" in str(res.exception)


class _FolderTop1:
    """A test-only evaluation suite: top-1 on ``<dataset_dir>/imagenet/val`` (the fixture's classes)."""

    name = "tiny-folder"
    description = "top-1 on a tiny ImageFolder"
    default_batch_size = 8

    def evaluate(self, model, *, dataset_dir, device, progress, seed, normalize):  # type: ignore[no-untyped-def]
        from luab_bench.data.imagenet import imagefolder_files
        from luab_bench.suites.base import EvalOutcome, make_metric
        from luab_bench.train.heldout import eval_resize
        from luab_bench.train.sources.images import decode_rgb

        paths, labels, _ = imagefolder_files(Path(dataset_dir) / "imagenet" / "val")
        x = torch.from_numpy(np.stack([eval_resize(decode_rgb(p, str(p)), 32, 0.875) for p in paths]))
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in normalize)
        with torch.no_grad():
            logits = model((x.permute(0, 3, 1, 2).float() / 255 - mean) / std).logits
        top1 = 100.0 * float((logits.argmax(1).numpy() == np.asarray(labels)).mean())
        metric = make_metric(top1, n=len(paths), ci=None, unit="%", higher_is_better=True, task="tiny")
        return EvalOutcome(metrics={"tiny_top1": metric})


def test_reproduce_real_source_checks_the_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from luab_bench import pipeline
    from luab_bench.errors import LuabError
    from luab_bench.suites.base import SUITES
    from luab_bench.train.reproduce import reproduce_result
    from test_train_sources import TINY_RECIPE, _make_imagefolder

    torch.set_num_threads(1)
    SUITES.names()  # load the built-in suites, then add the test one
    monkeypatch.setitem(SUITES._items, "tiny-folder", lambda: _FolderTop1())
    released = tmp_path / "released"  # the data root: its listing is the evaluation fingerprint
    root, ab, _ = _make_imagefolder(released)
    shutil.rmtree(root.parent / "val" / "n09999999")  # keep the trained classes only
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_RECIPE)
    common = {"data_dir": tmp_path / "cache", "device": "cpu", "progress": False}
    ckpt = pipeline.train_one(
        model="resnet10t", protocol="luab", suite="imagenet", recipe=str(recipe), out=tmp_path / "ckpt",
        train_data=root, byproducts=ab, source_options={"held_out": 4}, **common,
    )  # fmt: skip
    result = pipeline.evaluate_checkpoint(
        checkpoint=ckpt, suite="tiny-folder", out=tmp_path / "result.json", results_dir=tmp_path,
        data_root=released, **common,
    )  # fmt: skip
    doc = json.loads(result.read_text())
    assert doc["config"]["data"]["options"] == {"held_out": 4} and "tiny_top1" in doc["metrics"]
    assert len(doc["training"]["curves"]["val_top1"]) == 1  # imagenet/val beside imagenet/train

    with pytest.raises(LuabError, match="pass --data-root DIR"):
        reproduce_result(result, data_dir=tmp_path / "cache", work_dir=tmp_path / "w0")
    again = {"data_dir": tmp_path / "fresh", "data_root": released, "train_data": root, "byproducts": ab}
    report = reproduce_result(result, work_dir=tmp_path / "w1", **again)
    names = {d.name for d in report.drifts}
    assert report.ok and {"tiny_top1", "train/total", "train/val_top1"} <= names
    assert all(d.drift == 0.0 for d in report.drifts)
    # one more training image: another listing, refused before training with both fingerprints named
    extra = next(root.glob("*/*.JPEG"))
    (extra.parent / "n01440764_999.JPEG").write_bytes(extra.read_bytes())
    with pytest.raises(LuabError) as err:
        reproduce_result(result, work_dir=tmp_path / "w2", **again)
    recorded = doc["config"]["data"]["fingerprint"][:12]
    assert f"recorded training data fingerprint {recorded} but the imagenet-ab" in str(err.value)
    assert not (tmp_path / "w2" / "checkpoint").exists()
