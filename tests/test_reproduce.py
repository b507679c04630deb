"""`luab-bench reproduce`: drift table logic, and an end-to-end re-run of a recorded synthetic-tiny result."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert set(rows) == set(doc["metrics"])
    assert rows[tampered_name].endswith("FAIL") and "-2.0000" in rows[tampered_name]
    # every untouched metric reproduces exactly on CPU
    assert all(
        ("+0.0000" in r or "-0.0000" in r) and r.endswith("ok") for n, r in rows.items() if n != tampered_name
    )
