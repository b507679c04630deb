"""Re-run the configuration recorded in a result JSON and measure each metric's drift.

A result records everything a run depends on: ``model.name``, ``seed``, ``config.protocol`` and
``config.recipe`` (the full resolved configs, not just names), ``config.data`` (training source,
variant, data fingerprint, source options) and ``config.evaluation`` (suite, device).
:func:`reproduce_result` checks the training data first — generated sources (``synthetic``,
``synthetic-coco``) are regenerated under ``data_dir``; real ones (``imagenet-ab``, ``coco-ab``) are
read from ``data_root`` / ``train_data`` with ``byproducts`` (or the table ingested under ``data_dir``)
— and refuses when its fingerprint differs from the recorded one (naming both), before any training.
It then writes the two configs back to YAML files, trains with ``pipeline.train_one`` and evaluates
with ``pipeline.evaluate_checkpoint``, and compares metric by metric, plus the last value of every
recorded training curve (rows ``train/<curve>``; ``seconds`` excluded: wall time is not reproducible).

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
from luab_bench.limits import MAX_SEED

DEFAULT_TOLERANCE = 0.5

#: Training sources whose COCO-AB Z_c rule (``mode``) became an option with a new default.
_COCO_Z_SOURCES = ("coco-ab", "synthetic-coco")


def legacy_source_options(source: str, data: dict[str, Any]) -> dict[str, Any]:
    """The recorded source options, plus what an older result used without recording it.

    COCO-AB Z_c: results made before the default became the paper's final add action (LUAB §4.1,
    ``last_add``) do not record ``mode``; they were trained with the icon replay, so it is passed
    again explicitly (``config.data.config.mode`` when recorded, else ``replay``).
    """
    from luab_bench.data.coco_ab import LEGACY_MODE

    options = dict(data.get("options") or {})
    if source in _COCO_Z_SOURCES and "mode" not in options:
        recorded = (data.get("config") or {}).get("mode")
        options["mode"] = recorded if isinstance(recorded, str) else LEGACY_MODE
    return options


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
    data_root: Path | None = None,
    train_data: Path | None = None,
    byproducts: Path | None = None,
    workers: int = 0,
) -> ReproduceReport:
    """Train and evaluate the run recorded in ``result_path`` again; return the per-metric drifts.

    ``device`` defaults to the recorded evaluation device. Files go under ``work_dir``
    (``protocol.yaml``, ``recipe.yaml``, ``checkpoint/``, ``result.json``). ``data_root`` /
    ``train_data`` / ``byproducts`` / ``workers``: where a real source's data is (as for ``train``).
    """
    from luab_bench import pipeline
    from luab_bench.results.schema import load_result

    if tolerance < 0:
        raise LuabError(f"--tolerance must be >= 0, got {tolerance}")
    result_path = Path(result_path)
    recorded = load_result(result_path)
    if recorded.seed > MAX_SEED:  # a result file allows any int; training takes 32-bit seeds
        raise LuabError(f"{result_path}: seed {recorded.seed} is outside 0..{MAX_SEED}; it cannot be re-run")
    cfg: dict[str, Any] = recorded.config
    mp = getattr(recorded, "model_provenance", None)
    if mp is not None and mp.kind != "checkpoint":
        raise LuabError(
            f"{result_path}: evaluates a model trained elsewhere ({mp.spec!r}, weights "
            f"{(mp.weights.sha256 or '')[:12] if mp.weights else 'random'}); nothing here can retrain it: "
            "evaluate it again with `luab-bench evaluate --model ...` (or `submission evaluate`)"
        )
    for key in ("protocol", "recipe", "data"):
        if not isinstance(cfg.get(key), dict):
            raise LuabError(
                f"{result_path}: config.{key} is missing; this result does not record enough to be "
                "reproduced (it was not written by `luab-bench evaluate`)"
            )
    data = cfg["data"]
    source = data.get("source")
    if not isinstance(source, str) or not isinstance(data.get("fingerprint"), str):
        raise LuabError(f"{result_path}: config.data does not record the training source and fingerprint")
    evaluation = cfg.get("evaluation") or {}
    suite = evaluation.get("suite", recorded.suite.name)
    dev = device or evaluation.get("device", "auto")
    say = echo or (lambda _s: None)
    options = legacy_source_options(source, data)
    # the suite train_one is given only picks defaults (recipe, protocols; both recorded here): the
    # evaluation suite when it can train, else the training suite whose default source this is
    train_suite = suite
    if suite not in pipeline.TRAINING_DEFAULTS:
        train_suite = next((s for s, d in pipeline.TRAINING_DEFAULTS.items() if d.source == source), suite)
    _check_training_data(
        result_path, data, data_dir=Path(data_dir), data_root=data_root, train_data=train_data,
        byproducts=byproducts, options=options, suite=train_suite, seed=recorded.seed, echo=say,
    )  # fmt: skip
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the recorded configs are loaded back through the same validators.
    protocol_file = work_dir / "protocol.yaml"
    recipe_file = work_dir / "recipe.yaml"
    protocol_file.write_text(json.dumps(cfg["protocol"], indent=2), encoding="utf-8")
    recipe_file.write_text(json.dumps(cfg["recipe"], indent=2), encoding="utf-8")
    ckpt = pipeline.train_one(
        model=recorded.model.name,
        protocol=str(protocol_file),
        suite=train_suite,
        variant=data.get("variant") if source in pipeline.GENERATED_SOURCES else None,
        seed=recorded.seed,
        recipe=str(recipe_file),
        data_dir=Path(data_dir),
        out=work_dir / "checkpoint",
        device=dev,
        progress=progress,
        echo=say,
        source=source,
        data_root=data_root,
        train_data=train_data,
        byproducts=byproducts,
        workers=workers,
        source_options=options,
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
        data_root=data_root,
    )
    new = load_result(new_path)
    if new.suite.data_fingerprint != recorded.suite.data_fingerprint:
        raise LuabError(
            f"{result_path}: recorded evaluation data fingerprint {recorded.suite.data_fingerprint[:12]} "
            f"but the {new.suite.variant} data evaluated now is {new.suite.data_fingerprint[:12]}; the "
            "evaluation data (or its generator) changed, so the metrics are not comparable"
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
    drifts += _curve_drifts(recorded.training, new.training)
    return ReproduceReport(result_path, Path(new_path), float(tolerance), drifts)


def _curve_drifts(recorded: dict[str, Any] | None, new: dict[str, Any] | None) -> list[MetricDrift]:
    """``train/<curve>`` rows: the last value of each recorded training curve, except wall time."""
    old_curves = (recorded or {}).get("curves") or {}
    new_curves = (new or {}).get("curves") or {}
    out = []
    for name, values in sorted(old_curves.items()):
        if name == "seconds" or not values:
            continue
        again = new_curves.get(name) or []
        out.append(
            MetricDrift(
                name=f"train/{name}",
                recorded=float(values[-1]),
                reproduced=float(again[-1]) if len(again) == len(values) else None,
                unit="",
            )
        )
    return out


def _check_training_data(
    result_path: Path,
    data: dict[str, Any],
    *,
    data_dir: Path,
    data_root: Path | None,
    train_data: Path | None,
    byproducts: Path | None,
    options: dict[str, Any],
    suite: str,
    seed: int,
    echo: Callable[[str], None],
) -> None:
    """The recorded training data is here, with the recorded fingerprint (else a LuabError naming both)."""
    from luab_bench import pipeline

    source, recorded = str(data["source"]), str(data["fingerprint"])
    if source in pipeline.GENERATED_SOURCES:
        dataset = pipeline.generated_dataset(source, str(data.get("variant")), data_dir, progress=False)
        now, what = dataset.fingerprint, f"the regenerated {dataset.variant} data"
        fix = "the generator changed, so the run cannot be reproduced with this luab-bench version"
    else:
        if data_root is None and train_data is None:
            raise LuabError(
                f"{result_path}: trained on the real source {source!r}; pass --data-root DIR (or "
                "--train-data PATH) holding its images, and --byproducts PATH unless the records are "
                "ingested under --data-dir"
            )
        prepared = pipeline.prepare_source_for(
            suite, source=source, data_dir=data_dir, data_root=data_root, train_data=train_data,
            byproducts=byproducts, options=options, seed=seed, progress=False, echo=echo,
        )  # fmt: skip
        now, what = prepared.fingerprint, f"the {source} training data found now"
        fix = "the images differ (added, removed, renamed or resized files): point at the recorded data"
    if now != recorded:
        raise LuabError(
            f"{result_path}: recorded training data fingerprint {recorded[:12]} but {what} is "
            f"{now[:12]}; {fix}"
        )
