"""Resumable training: crash-safe state, exact resume (in-process and after SIGKILL), run-key check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from luab_bench.errors import DataError, LuabError
from luab_bench.models import create_model
from luab_bench.protocols.base import MixingConfig, load_protocol, load_recipe
from luab_bench.train.checkpoint import STATE_META_FILE, load_train_state
from luab_bench.train.data import TrainData
from luab_bench.train.loop import train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def toy(n: int = 40, size: int = 24) -> TrainData:
    rng = np.random.default_rng(1)
    labels = (np.arange(n) % 2).astype(np.int64)
    images = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
    images[labels == 1] += 150
    points = rng.random((n, 1, 2)).astype(np.float32)
    return TrainData(images, labels, points, (np.arange(n) % 3 != 0)[:, None])


def recipe(**update: object):
    base = load_recipe("synthetic")
    sgd = {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 5e-4}  # independent of the recipe file
    return base.model_copy(
        update={"epochs": 3, "batch_size": 8, "image_size": 24, "lr": 0.05, **sgd, **update}
    )


class Crash(RuntimeError):
    pass


def _crash_at(step_to_crash: int):
    def hook(step: int) -> None:
        if step == step_to_crash:
            raise Crash(step)

    return hook


def _curves_without_time(curves: dict) -> dict:
    return {k: v for k, v in curves.items() if k != "seconds"}


@pytest.mark.parametrize(
    "rec",
    [
        recipe(),
        recipe(optimizer="adamw", lr=1e-3, mixing=MixingConfig(mixup_alpha=0.8, cutmix_alpha=1.0)),
    ],
    ids=["sgd", "adamw-mixing"],
)
def test_resume_mid_epoch_equals_uninterrupted(tmp_path: Path, rec) -> None:
    proto = load_protocol("luab")
    ref = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    ref_report = train(ref, proto, rec, toy(), seed=0, checkpoint_dir=tmp_path / "ref")

    run = tmp_path / "run"
    net = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    with pytest.raises(Crash):  # 5 steps/epoch: states at 3, 5 (epoch end), 6; crash after step 7
        train(
            net,
            proto,
            rec,
            toy(),
            seed=0,
            checkpoint_dir=run,
            checkpoint_every_steps=3,
            on_step_end=_crash_at(7),
        )
    progress = load_train_state(run)["progress"]
    assert (progress["step"], progress["epoch"], progress["batch"]) == (6, 1, 1)  # mid-epoch

    fresh = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    report = train(
        fresh, proto, rec, toy(), seed=0, checkpoint_dir=run, resume=True, checkpoint_every_steps=3
    )
    assert report.resumed_at_step == 6 and report.steps == ref_report.steps == 15
    assert report.samples_seen == ref_report.samples_seen == 120
    for k, v in ref.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k
    assert _curves_without_time(report.curves) == _curves_without_time(ref_report.curves)
    assert len(list(run.glob("train_state-*.safetensors"))) == 1  # older states are removed


def test_resume_without_state_starts_fresh_and_finished_run_is_a_no_op(tmp_path: Path) -> None:
    proto = load_protocol("baseline")
    rec = recipe(epochs=1)
    a = create_model("resnet10t", 2, num_point_heads=0, init_seed=0)
    rep_a = train(a, proto, rec, toy(), seed=0, checkpoint_dir=tmp_path, resume=True)
    assert rep_a.resumed_at_step is None
    b = create_model("resnet10t", 2, num_point_heads=0, init_seed=0)
    rep_b = train(b, proto, rec, toy(), seed=0, checkpoint_dir=tmp_path, resume=True)
    assert rep_b.resumed_at_step == rep_a.steps
    assert _curves_without_time(rep_b.curves) == _curves_without_time(rep_a.curves)
    assert all(torch.equal(b.state_dict()[k], v) for k, v in a.state_dict().items())


def test_resume_refuses_another_run_and_corrupt_state(tmp_path: Path) -> None:
    rec = recipe(epochs=1)
    net = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    train(net, load_protocol("luab"), rec, toy(), seed=0, checkpoint_dir=tmp_path)
    other = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    with pytest.raises(LuabError, match="different run"):
        train(other, load_protocol("rand"), rec, toy(), seed=0, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(LuabError, match="different run"):
        train(other, load_protocol("luab"), rec, toy(), seed=1, checkpoint_dir=tmp_path, resume=True)
    assert torch.are_deterministic_algorithms_enabled() is False  # restored on the error path too
    with pytest.raises(LuabError, match="checkpoint_dir"):
        train(other, load_protocol("luab"), rec, toy(), seed=0, resume=True)
    blob = next(tmp_path.glob("train_state-*.safetensors"))
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="SHA-256"):
        load_train_state(tmp_path)
    (tmp_path / STATE_META_FILE).write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        load_train_state(tmp_path)


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    from pathlib import Path
    import luab_bench.train.loop as loop
    from luab_bench import pipeline

    out, data_dir, recipe = sys.argv[1], sys.argv[2], sys.argv[3]
    kill_at, resume = int(sys.argv[4]), sys.argv[5] == "1"
    real_train = loop.train

    def on_step(step):
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def patched(*args, **kwargs):  # only adds the kill hook; resume is wired by train_one
        return real_train(*args, **kwargs, on_step_end=on_step)

    loop.train = patched
    pipeline.train_one(model="resnet10t", protocol="luab", variant="synthetic-tiny", recipe=recipe,
                       data_dir=Path(data_dir), out=Path(out), device="cpu", progress=False,
                       resume=resume, checkpoint_every_steps=5)
    """
)


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_same_result(tmp_path: Path) -> None:
    """A run SIGKILLed mid-epoch and resumed writes the same result metrics as an uninterrupted run."""
    from luab_bench import pipeline
    from luab_bench.results.schema import load_result

    rec = load_recipe("synthetic").model_copy(update={"epochs": 2, "batch_size": 16, "image_size": 32})
    rec_file = tmp_path / "recipe.yaml"
    rec_file.write_text(json.dumps(rec.model_dump(mode="json")))
    script = tmp_path / "kill_run.py"
    script.write_text(KILL_SCRIPT)
    data_dir = tmp_path / "data"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def launch(out: Path, kill_at: int, resume: bool) -> int:
        args = [
            sys.executable,
            str(script),
            str(out),
            str(data_dir),
            str(rec_file),
            str(kill_at),
            str(int(resume)),
        ]
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600).returncode

    assert launch(tmp_path / "ref", 0, False) == 0
    # synthetic-tiny: 200 train images / 16 = 12 steps per epoch; states at 5, 10, 12, 15; killed at 18
    assert launch(tmp_path / "run", 18, False) == -9
    assert not (tmp_path / "run" / "checkpoint.json").exists()
    assert load_train_state(tmp_path / "run")["progress"]["step"] == 15
    assert launch(tmp_path / "run", 0, True) == 0

    results = []
    for name in ("ref", "run"):
        path = pipeline.evaluate_checkpoint(
            checkpoint=tmp_path / name,
            data_dir=data_dir,
            out=tmp_path / f"{name}.json",
            results_dir=tmp_path,
            device="cpu",
            progress=False,
        )
        results.append(load_result(path))
    ref, run = results
    assert run.training["resumed_at_step"] == 15 and ref.training["resumed_at_step"] is None
    assert {k: m.model_dump() for k, m in run.metrics.items()} == {
        k: m.model_dump() for k, m in ref.metrics.items()
    }
    assert _curves_without_time(run.training["curves"]) == _curves_without_time(ref.training["curves"])
    assert run.result_id == ref.result_id
