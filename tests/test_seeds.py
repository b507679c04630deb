"""`luab-bench run --seeds`: every protocol at every seed, paired per seed (same init and batch order)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from luab_bench.cli import cli
from luab_bench.errors import LuabError
from luab_bench.seeds import parse_seeds


def test_parse_seeds_count_and_list() -> None:
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds(" 5, 2 ") == [5, 2]
    assert parse_seeds("7,") == [7]
    for bad, why in [
        ("", "empty"),
        ("0", "1..100"),
        ("a,b", "non-negative"),
        ("1,1", "twice"),
        ("-1", "non"),
    ]:
        with pytest.raises(LuabError, match=why):
            parse_seeds(bad)


def _fake_train(calls: list[dict[str, Any]]) -> Any:
    """A stand-in for train.loop.train that records the initial weights and the epoch-0 batch order."""

    def train(model: Any, protocol: Any, recipe: Any, data: Any, *, seed: int, **_: Any) -> Any:
        from luab_bench.train.data import iter_batches
        from luab_bench.train.loop import TrainReport

        state = model.backbone.state_dict()
        init = hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest()
        labels, first_pixels = [], []
        for batch in iter_batches(
            data,
            batch_size=recipe.batch_size,
            seed=seed,
            epoch=0,
            out_size=recipe.image_size,
            augmentation=recipe.augmentation,
            mean=model.input_mean,
            std=model.input_std,
        ):
            labels.append(batch.labels.numpy().copy())
            first_pixels.append(float(batch.images[0].sum()))
        calls.append(
            {
                "protocol": protocol.config.name,
                "seed": seed,
                "init": init,
                "labels": np.concatenate(labels),
                "pixels": first_pixels,
            }
        )
        return TrainReport(
            curves={}, epochs=0, steps=0, samples_seen=0, wall_time_s=0.0, seed=seed, device="cpu",
            deterministic=True,
        )  # fmt: skip

    return train


def _fake_assess(ctx: Any, trained: Any, **_: Any) -> Any:
    """A stand-in for the evaluation step (``run.evaluation.assess``) on the net ``run`` hands over."""
    from leaderboard_fixtures import synthetic_doc
    from luab_bench.run.evaluation import Assessment

    meta = trained.meta
    doc = synthetic_doc("resnet10t", meta["protocol"]["name"], meta["seed"], 50.0 + meta["seed"])
    return Assessment(doc=doc, outcome=None)


def test_run_seeds_trains_every_protocol_at_every_seed_paired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from luab_bench.run import evaluation
    from luab_bench.train import loop

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "train", _fake_train(calls))
    monkeypatch.setattr(evaluation, "assess", _fake_assess)
    protocols = "baseline,luab,oracle_background,oracle_point"
    res = CliRunner().invoke(
        cli,
        [
            "run", "--model", "resnet10t", "--protocol", protocols, "--variant", "synthetic-tiny",
            "--seeds", "0,1", "--no-align", "--no-progress", "--device", "cpu",
            "--data-dir", str(tmp_path / "data"), "--runs-dir", str(tmp_path / "runs"),
            "--results-dir", str(tmp_path / "results"), "--site-dir", str(tmp_path / "site"),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    names = protocols.split(",")
    assert [(c["protocol"], c["seed"]) for c in calls] == [(p, s) for s in (0, 1) for p in names]
    for s in (0, 1):
        mine = [c for c in calls if c["seed"] == s]
        assert len({c["init"] for c in mine}) == 1  # same initial backbone weights for every protocol
        for c in mine[1:]:
            np.testing.assert_array_equal(c["labels"], mine[0]["labels"])  # same batch order
        # the background oracle changes the pixels, the others do not
        assert mine[1]["pixels"] == mine[0]["pixels"] and mine[3]["pixels"] == mine[0]["pixels"]
        assert mine[2]["pixels"] != mine[0]["pixels"]
    assert calls[0]["init"] != calls[len(names)]["init"]
    assert not np.array_equal(calls[0]["labels"], calls[len(names)]["labels"])
    files = sorted(p.name for p in (tmp_path / "results").glob("*.json"))
    assert len(files) == 2 * len(names) and {f.split("__")[3] for f in files} == {"s0", "s1"}


def test_run_seeds_rejects_bad_spec(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli, ["run", "--model", "resnet10t", "--seeds", "1,1", "--data-dir", str(tmp_path)]
    )
    assert res.exit_code == 1 and "listed twice" in res.output
