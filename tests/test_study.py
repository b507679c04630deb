"""`luab-bench study sensitivity`: jobs, resumption, paired analysis, report and site page.

Training and evaluation are replaced by fast stand-ins (the real ones are covered elsewhere); the
per-image scores come from the real (untrained) checkpoints on the tiny variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from luab_bench.cli import cli
from luab_bench.studies import sensitivity as sens

# per (protocol, seed): val_top1; the BG oracle lowers bg_gap by 3 pp at every seed (a clear effect)
VALUES = {("baseline", 0): 60.0, ("baseline", 1): 61.0, ("baseline", 2): 59.0}
VALUES |= {("oracle_background", s): v + 0.5 * s for (p, s), v in list(VALUES.items())}
VALUES |= {("luab", s): 60.0 + (1.0, -1.0, 0.5)[s] for s in range(3)}


def _config(tmp_path: Path) -> Path:
    text = sens.DEFAULT_CONFIG.read_text()
    text = text.replace("variants: [synthetic, synthetic-where]", "variants: [synthetic-tiny]")
    text = text.replace(
        "protocols: [baseline, rand, luab, oracle_background, oracle_point]",
        "protocols: [baseline, luab, oracle_background]",
    )
    text = text.replace("n_boot: 2000", "n_boot: 200")
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    from leaderboard_fixtures import metric, synthetic_doc
    from luab_bench.run import evaluation
    from luab_bench.train import loop
    from luab_bench.train.loop import TrainReport

    trained: list[tuple[str, int]] = []

    def train(model: Any, protocol: Any, recipe: Any, data: Any, *, seed: int, **_: Any) -> Any:
        trained.append((protocol.config.name, seed))
        return TrainReport(curves={}, epochs=0, steps=0, samples_seen=0, wall_time_s=1.5, seed=seed,
                           device="cpu", deterministic=True)  # fmt: skip

    def assess(ctx: Any, trained: Any, **_: Any) -> Any:  # the evaluation step of run_job
        from luab_bench.run.evaluation import Assessment

        meta = trained.meta
        p, s = meta["protocol"]["name"], meta["seed"]
        doc = synthetic_doc("resnet10t", p, s, VALUES[(p, s)])
        doc["suite"]["variant"] = meta["data"]["variant"]
        doc["metrics"]["bg_gap"] = metric(
            30.0 - (3.0 if p == "oracle_background" else 0.0) + s, None, higher=False
        )
        doc["training"] = {"wall_time_s": 1.5}
        return Assessment(doc=doc, outcome=None)

    monkeypatch.setattr(loop, "train", train)
    monkeypatch.setattr(evaluation, "assess", assess)
    return trained


def _invoke(tmp_path: Path, *extra: str) -> Any:
    args = ["study", "sensitivity", "--config", str(_config(tmp_path)), "--out", str(tmp_path / "study"),
            "--data-dir", str(tmp_path / "data"), "--no-progress", "--device", "cpu", *extra]  # fmt: skip
    return CliRunner().invoke(cli, args)


def test_study_runs_resumes_and_reports(tmp_path: Path, fakes: list[tuple[str, int]]) -> None:
    res = _invoke(tmp_path, "--seeds", "0,1")
    assert res.exit_code == 0, res.output
    assert fakes == [(p, s) for s in (0, 1) for p in ("baseline", "luab", "oracle_background")]
    res = _invoke(tmp_path)  # resumes: only seed 2 is missing
    assert res.exit_code == 0, res.output
    assert fakes[6:] == [("baseline", 2), ("luab", 2), ("oracle_background", 2)]
    report = (tmp_path / "study" / "report.md").read_text()
    d = np.array([-3.0, -3.0, -3.0])
    assert "BG oracle − baseline (expected: bg_gap better, mixed_rand_top1 better)" in report
    assert "**-3.0 [-3.0, -3.0]**" in report  # bg_gap: a constant paired difference
    v = np.array([VALUES[("luab", s)] - VALUES[("baseline", s)] for s in range(3)])
    lo, hi = stats.t.interval(0.95, 2, loc=v.mean(), scale=stats.sem(v))
    assert f"{v.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]" in report  # LUAB − baseline val_top1, not bold
    assert f"**{v.mean():+.1f} [{lo:+.1f}, {hi:+.1f}]**" not in report
    assert "## Not run" in report and "Nothing: every" in report and d.size == 3
    page = (tmp_path / "study" / "site" / "study-sensitivity.html").read_text()
    assert "<table>" in page and "Positive controls" in page
    assert (tmp_path / "study" / "site" / "s" / "synthetic.synthetic-tiny.html").is_file()
    log = sens.read_log(sens.Layout(tmp_path / "study"))
    assert len(log) == 9 and {"load1", "usable_cores"} <= set(log[0]["start"])


def test_study_per_seed_bootstrap_uses_the_same_test_images(tmp_path: Path, fakes: list[Any]) -> None:
    from luab_bench.metrics.bootstrap import bootstrap_diff_ci

    assert _invoke(tmp_path, "--seeds", "0,1").exit_code == 0
    cfg = sens.subset(sens.load_study(_config(tmp_path)), seeds=[0, 1])
    out = tmp_path / "study"
    analysis = sens.analyse(cfg, out, data_dir=tmp_path / "data")
    (variant,) = analysis["variants"]
    comp = next(c for c in variant["comparisons"] if c["treated"] == "luab")
    entry = comp["metrics"]["mixed_rand_top1"]["per_seed"][1]
    layout = sens.Layout(out)
    a = sens.per_image_scores(
        layout.checkpoint(cfg, "synthetic-tiny", "luab", 1), "synthetic-tiny", data_dir=tmp_path / "data"
    )
    b = sens.per_image_scores(
        layout.checkpoint(cfg, "synthetic-tiny", "baseline", 1), "synthetic-tiny", data_dir=tmp_path / "data"
    )
    import zlib

    want = bootstrap_diff_ci(
        sens.metric_scores(a, "mixed_rand_top1"), sens.metric_scores(b, "mixed_rand_top1"), paired=True,
        n_boot=200, seed=[1, zlib.crc32(b"mixed_rand_top1")],
    )  # fmt: skip
    assert (entry["low"], entry["high"]) == pytest.approx((want.low, want.high))
    gap = sens.metric_scores(a, "bg_gap")
    assert gap.mean() == pytest.approx(100 * (a[3].mean() - a[4].mean()))
    assert variant["mde"]["val_top1"]["mde"] is not None and analysis["missing"] == []


def test_study_analyse_only_lists_what_did_not_run(tmp_path: Path, fakes: list[Any]) -> None:
    res = _invoke(tmp_path, "--analyse-only")
    assert res.exit_code == 0, res.output and fakes == []
    report = (tmp_path / "study" / "report.md").read_text()
    assert "* synthetic-tiny / oracle_background / seed 2" in report
    res = _invoke(tmp_path, "--variants", "synthetic", "--analyse-only")
    assert res.exit_code == 1 and "not in the study's variants" in res.output


def test_study_analysis_needs_only_the_result_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fakes: list[Any]
) -> None:
    """With per-image blocks in the results, the checkpoints can go: the study neither retrains nor
    loses its per-seed paired bootstrap (the same numbers as an independent bootstrap of the vectors)."""
    import shutil
    import zlib

    from leaderboard_fixtures import metric
    from luab_bench.metrics.bootstrap import bootstrap_diff_ci
    from luab_bench.results.per_image import encode
    from luab_bench.run import evaluation

    fake_assess = evaluation.assess
    vectors: dict[tuple[str, int], dict[str, np.ndarray]] = {}

    def assess(ctx: Any, trained: Any, **kw: Any) -> Any:
        out = fake_assess(ctx, trained, **kw)
        doc, p, s = out.doc, trained.meta["protocol"]["name"], trained.meta["seed"]
        rng = np.random.default_rng([s, zlib.crc32(p.encode())])
        vec = {
            f"{split}_top1": rng.random(400) < 0.4 + 0.1 * i for i, split in enumerate(sens.PER_IMAGE_SPLITS)
        }
        vectors[(p, s)] = vec
        for name, c in vec.items():
            doc["metrics"][name] = metric(100.0 * c.sum() / c.size, None) | {"n": int(c.size)}
        gap = doc["metrics"]["mixed_same_top1"]["value"] - doc["metrics"]["mixed_rand_top1"]["value"]
        doc["metrics"]["bg_gap"] = metric(gap, None, higher=False)
        doc["schema_version"] = "1.2"
        doc["per_image"] = {name: encode(c) for name, c in vec.items()}
        return out

    monkeypatch.setattr(evaluation, "assess", assess)
    assert _invoke(tmp_path, "--seeds", "0,1").exit_code == 0
    shutil.rmtree(tmp_path / "study" / "runs")  # no checkpoint left
    res = _invoke(tmp_path, "--seeds", "0,1")
    assert res.exit_code == 0, res.output
    assert len(fakes) == 6  # nothing retrained
    cfg = sens.subset(sens.load_study(_config(tmp_path)), seeds=[0, 1])
    (variant,) = sens.analyse(cfg, tmp_path / "study", data_dir=tmp_path / "data")["variants"]
    assert variant["per_image_source"] == {"result": 6, "checkpoint": 0, "none": 0}
    comp = next(c for c in variant["comparisons"] if c["treated"] == "oracle_background")
    for m in ("mixed_rand_top1", "bg_gap"):
        entry = comp["metrics"][m]["per_seed"][1]
        a, b = vectors[("oracle_background", 1)], vectors[("baseline", 1)]
        if m == "bg_gap":
            va = 100.0 * (a["mixed_same_top1"].astype(float) - a["mixed_rand_top1"])
            vb = 100.0 * (b["mixed_same_top1"].astype(float) - b["mixed_rand_top1"])
        else:
            va, vb = 100.0 * a[m], 100.0 * b[m]
        want = bootstrap_diff_ci(va, vb, paired=True, n_boot=200, seed=[1, zlib.crc32(m.encode())])
        assert (entry["low"], entry["high"]) == pytest.approx((want.low, want.high))
    report = (tmp_path / "study" / "report.md").read_text()
    assert "6 from the result files' signed `per_image` blocks, 0 re-evaluated" in report
