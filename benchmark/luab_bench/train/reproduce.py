"""Re-run the configuration recorded in a result JSON and measure each metric's drift.

A result records everything a run depends on: ``model.name``, ``seed``, ``config.protocol`` and
``config.recipe`` (the full resolved configs, not just names), ``config.data`` (source, variant and
data fingerprint) and ``config.evaluation`` (suite, device). :func:`reproduce_result` writes the two
configs back to YAML files, trains with ``pipeline.train_one`` and evaluates with
``pipeline.evaluate_checkpoint``, then compares metric by metric.

Drift = reproduced value − recorded value, in the metric's own unit (percentage points for "%").
A metric *passes* when ``|drift| <= tolerance``. On the same platform, CPU and luab-bench version a
run is deterministic, so the expected drift is exactly 0; the default tolerance (0.5) only absorbs
floating-point differences between platforms / library versions. A missing metric fails.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError

DEFAULT_TOLERANCE = 0.5


@dataclasses.dataclass(frozen=True)
class MetricDrift:
    """One metric: recorded and reproduced value, their difference and whether it is within tolerance."""

    name: str
    recorded: float
    reproduced: float | None
    unit: str

    @property
    def drift(self) -> float | None:
        return None if self.reproduced is None else self.reproduced - self.recorded

    def ok(self, tolerance: float) -> bool:
        d = self.drift
        return d is not None and abs(d) <= tolerance


@dataclasses.dataclass(frozen=True)
class ReproduceReport:
    """Per-metric drifts of one reproduction and where its result was written."""

    source: Path
    reproduced_path: Path
    tolerance: float
    drifts: list[MetricDrift]

    @property
    def ok(self) -> bool:
        return all(d.ok(self.tolerance) for d in self.drifts)

    def lines(self) -> list[str]:
        """A plain-text table: metric, recorded, reproduced, drift, ok/FAIL."""
        out = [f"{'metric':<24} {'recorded':>10} {'reproduced':>10} {'drift':>9}  status"]
        for d in self.drifts:
            rep = "missing" if d.reproduced is None else f"{d.reproduced:.4f}"
            drift = "n/a" if d.drift is None else f"{d.drift:+.4f}"
            status = "ok" if d.ok(self.tolerance) else "FAIL"
            out.append(f"{d.name:<24} {d.recorded:>10.4f} {rep:>10} {drift:>9}  {status}")
        bad = sum(not d.ok(self.tolerance) for d in self.drifts)
        out.append(
            f"{len(self.drifts) - bad}/{len(self.drifts)} metrics within tolerance ±{self.tolerance:g}"
        )
        return out


def reproduce_result(
    result_path: str | Path,
    *,
    data_dir: Path,
    work_dir: Path,
    device: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool = False,
    echo: Callable[[str], None] | None = None,
) -> ReproduceReport:
    """Train and evaluate the run recorded in ``result_path`` again; return the per-metric drifts.

    ``device`` defaults to the recorded evaluation device. Files go under ``work_dir``
    (``protocol.yaml``, ``recipe.yaml``, ``checkpoint/``, ``result.json``).
    """
    from luab_bench import pipeline
    from luab_bench.results.schema import load_result

    if tolerance < 0:
        raise LuabError(f"--tolerance must be >= 0, got {tolerance}")
    result_path = Path(result_path)
    recorded = load_result(result_path)
    cfg: dict[str, Any] = recorded.config
    for key in ("protocol", "recipe", "data"):
        if not isinstance(cfg.get(key), dict):
            raise LuabError(
                f"{result_path}: config.{key} is missing; this result does not record enough to be "
                "reproduced (it was not written by `luab-bench evaluate`)"
            )
    data = cfg["data"]
    if data.get("source") != "synthetic":
        raise LuabError(
            f"{result_path}: config.data.source is {data.get('source')!r}; reproduce supports the "
            "synthetic source only so far"
        )
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the recorded configs are loaded back through the same validators.
    protocol_file = work_dir / "protocol.yaml"
    recipe_file = work_dir / "recipe.yaml"
    protocol_file.write_text(json.dumps(cfg["protocol"], indent=2), encoding="utf-8")
    recipe_file.write_text(json.dumps(cfg["recipe"], indent=2), encoding="utf-8")
    evaluation = cfg.get("evaluation") or {}
    suite = evaluation.get("suite", recorded.suite.name)
    dev = device or evaluation.get("device", "auto")
    say = echo or (lambda _s: None)
    ckpt = pipeline.train_one(
        model=recorded.model.name,
        protocol=str(protocol_file),
        suite=suite,
        variant=data.get("variant"),
        seed=recorded.seed,
        recipe=str(recipe_file),
        data_dir=Path(data_dir),
        out=work_dir / "checkpoint",
        device=dev,
        progress=progress,
        echo=say,
    )
    new_path = pipeline.evaluate_checkpoint(
        checkpoint=ckpt,
        suite=suite,
        data_dir=Path(data_dir),
        out=work_dir / "result.json",
        results_dir=work_dir,
        key=None,
        device=dev,
        progress=progress,
        echo=say,
    )
    new = load_result(new_path)
    if new.suite.data_fingerprint != recorded.suite.data_fingerprint:
        raise LuabError(
            f"{result_path}: recorded data fingerprint {recorded.suite.data_fingerprint[:12]} but the "
            f"regenerated {new.suite.variant} data is {new.suite.data_fingerprint[:12]}; the generator "
            "changed, so the run cannot be reproduced with this luab-bench version"
        )
    drifts = [
        MetricDrift(
            name=name,
            recorded=float(m.value),
            reproduced=float(new.metrics[name].value) if name in new.metrics else None,
            unit=m.unit,
        )
        for name, m in sorted(recorded.metrics.items())
    ]
    return ReproduceReport(result_path, Path(new_path), float(tolerance), drifts)
