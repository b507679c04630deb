"""Specs as data (issue 15): the CLI builds one RunSpec / TrainSpec (training data: one SourceRequest)
and passes it down whole; per job the net is built once and the result written and signed once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from luab_bench.cli import cli


def _fake_train(model: Any, protocol: Any, recipe: Any, data: Any, *, seed: int, **_: Any) -> Any:
    from luab_bench.train.loop import TrainReport

    return TrainReport(curves={}, epochs=0, steps=0, samples_seen=0, wall_time_s=0.0, seed=seed,
                       device="cpu", deterministic=True)  # fmt: skip


def _fake_assess(ctx: Any, trained: Any, **_: Any) -> Any:
    from leaderboard_fixtures import synthetic_doc
    from luab_bench.run.evaluation import Assessment

    meta = trained.meta
    return Assessment(synthetic_doc("resnet10t", meta["protocol"]["name"], meta["seed"], 50.0), None)


def _two_jobs(tmp_path: Path, align: str) -> list[str]:
    """`run` arguments: resnet10t, baseline and luab on synthetic-tiny, every folder under tmp_path."""
    return ["run", "--model", "resnet10t", "--protocol", "baseline,luab", "--variant", "synthetic-tiny",
            align, "--no-progress", "--device", "cpu", "--data-dir", str(tmp_path / "data"),
            "--runs-dir", str(tmp_path / "runs"), "--results-dir", str(tmp_path / "results"),
            "--site-dir", str(tmp_path / "site")]  # fmt: skip


def test_run_builds_once_writes_once_signs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import luab_bench.models
    import luab_bench.results.signing
    import luab_bench.results.store
    from luab_bench.results.signing import verify_result_file
    from luab_bench.run import evaluation
    from luab_bench.train import loop

    counts = {"build": 0, "write": 0, "sign": 0}

    def counting(name: str, fn: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return fn(*args, **kwargs)

        return wrapped

    monkeypatch.setattr(loop, "train", _fake_train)
    monkeypatch.setattr(evaluation, "assess", _fake_assess)
    monkeypatch.setattr(luab_bench.models, "create_model", counting("build", luab_bench.models.create_model))
    store = luab_bench.results.store
    monkeypatch.setattr(store, "write_result", counting("write", store.write_result))
    signing = luab_bench.results.signing
    monkeypatch.setattr(signing, "sign_result", counting("sign", signing.sign_result))
    res = CliRunner().invoke(cli, _two_jobs(tmp_path, "--no-align"))
    assert res.exit_code == 0, res.output
    assert counts == {"build": 2, "write": 2, "sign": 2}
    files = sorted((tmp_path / "results").glob("*.json"))
    assert len(files) == 2 and all(verify_result_file(f).ok for f in files)


def test_alignment_uses_the_trained_net(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With --align the alignment step scores the net training built (no rebuild from the checkpoint)."""
    import luab_bench.alignment.report as report
    import luab_bench.models
    from luab_bench.alignment.report_types import AlignmentReport
    from luab_bench.run import evaluation
    from luab_bench.train import loop

    built: list[Any] = []
    aligned: list[Any] = []

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        built.append(real_build(*args, **kwargs))
        return built[-1]

    def fake_align_set(net: Any, aset: Any, config: Any, **_: Any) -> Any:
        aligned.append(net)
        return AlignmentReport(config=config, n_images=0, skipped={"gbp": "not measured here"})

    real_build = luab_bench.models.create_model
    monkeypatch.setattr(loop, "train", _fake_train)
    monkeypatch.setattr(evaluation, "assess", _fake_assess)
    monkeypatch.setattr(luab_bench.models, "create_model", counting_build)
    monkeypatch.setattr(report, "align_set", fake_align_set)
    res = CliRunner().invoke(cli, _two_jobs(tmp_path, "--align"))
    assert res.exit_code == 0, res.output
    assert len(built) == 2 and len(aligned) == 2
    assert all(a is b for a, b in zip(aligned, built, strict=True)) and not any(n.training for n in aligned)


def test_cli_passes_one_source_request_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from luab_bench.run import orchestrate

    seen: list[Any] = []

    def run_job(spec: Any, protocol: str, protocol_name: str, seed: int) -> Any:
        seen.append((spec, protocol, seed))
        raise SystemExit(0)

    monkeypatch.setattr(orchestrate, "run_job", run_job)
    CliRunner().invoke(
        cli,
        ["run", "--model", "resnet10t", "--protocol", "luab", "--seeds", "3,4", "--source", "synthetic",
         "--source-option", "cache=true", "--source-option", "n=7", "--workers", "2", "--epochs", "2",
         "--data-dir", str(tmp_path / "data"), "--runs-dir", str(tmp_path / "runs"), "--device", "cpu"],
    )  # fmt: skip
    ((spec, protocol, seed),) = seen
    assert (protocol, seed, spec.seeds, spec.epochs, spec.protocols) == ("luab", 3, (3, 4), 2, ("luab",))
    data = spec.data
    assert (data.source, data.num_workers, data.options) == ("synthetic", 2, {"cache": True, "n": 7})
    assert data.data_dir == tmp_path / "data" and spec.key is not None  # the throw-away key, made once
    train = spec.train_spec(protocol, "luab", seed)
    assert train.data is data and train.out == tmp_path / "runs" / "synthetic__resnet10t__luab__s3"


def test_suite_training_defaults_live_on_the_suite() -> None:
    from luab_bench import pipeline
    from luab_bench.errors import LuabError
    from luab_bench.suites.base import SUITES

    defaults = pipeline.TRAINING_DEFAULTS
    assert set(defaults) == {"synthetic", "synthetic-coco", "imagenet", "coco"}
    assert defaults["coco"] is SUITES.get("coco").training and defaults["coco"].source == "coco-ab"
    with pytest.raises(LuabError, match="evaluation-only"):
        pipeline.suite_training("wsol")
