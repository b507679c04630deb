"""Build the static leaderboard site from a directory of result JSON files.

Every ``*.json`` file in the results directory is either a row (with its signature verdict:
verified / failing with the reason / unsigned) or an entry in the "invalid files" list; nothing is
skipped silently and one broken file never stops the build. The page is rendered with an autoescaping
Jinja2 template, works from ``file://`` (no CDN; a small inline sorting script allowed by a
hash-pinned Content-Security-Policy), and ``results.json`` carries the same rows for machines.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.io import atomic_write_json, atomic_write_text
from luab_bench.results.schema import Metric, Result, load_result, result_json_schema
from luab_bench.results.signing import normalise_trusted_keys, verify_result_file

TITLE = "luab-bench leaderboard"


@dataclass
class BuildReport:
    """What :func:`build_site` did: rows shown, invalid files, signature verdict counts, outputs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"verified": 0, "failed": 0, "unsigned": 0})
    index_path: Path | None = None
    json_path: Path | None = None

    @property
    def n_results(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        """One line for the CLI."""
        c = self.counts
        return (
            f"{self.n_results} results ({c['verified']} verified, {c['failed']} failing, "
            f"{c['unsigned']} unsigned), {len(self.invalid)} invalid files -> {self.index_path}"
        )


def _fmt(x: float, unit: str) -> str:
    return f"{x:.2f}" if unit == "%" else f"{x:.4g}"


def format_metric(m: Metric) -> dict[str, Any]:
    """Display strings for one metric cell: value, ±interval, hover text with n and the interval."""
    value = _fmt(m.value, m.unit)
    interval = ""
    title = f"n={m.n}"
    if m.ci_low is not None and m.ci_high is not None:
        up, down = _fmt(m.ci_high - m.value, m.unit), _fmt(m.value - m.ci_low, m.unit)
        interval = f"±{up}" if up == down else f"+{up}/−{down}"
        title += f", 95% CI [{_fmt(m.ci_low, m.unit)}, {_fmt(m.ci_high, m.unit)}]"
    if m.task:
        title += f"; {m.task}"
    return {"value": value, "interval": interval, "title": title, "sort": repr(m.value)}


def _row(path: Path, result: Result, verdict: Any) -> dict[str, Any]:
    return {
        "file": path.name,
        "result_id": result.result_id,
        "created_at": result.created_at,
        "model": result.model.model_dump(mode="json"),
        "protocol": result.protocol.model_dump(mode="json"),
        "suite": result.suite.model_dump(mode="json"),
        "seed": result.seed,
        "metrics": {k: v.model_dump(mode="json") for k, v in result.metrics.items()},
        "signature": {"status": verdict.status, "reason": verdict.reason, "fingerprint": verdict.fingerprint},
    }


def collect_rows(
    results_dir: str | Path, *, trusted_keys: Collection[str | Path] | None = None
) -> BuildReport:
    """Load and verify every ``*.json`` in ``results_dir`` (sorted by name) into a report."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LuabError(
            f"{results_dir}: results directory not found; create it and put result JSON files "
            "(from `luab-bench run` / `luab-bench evaluate`) in it, or pass the right directory"
        )
    trusted = normalise_trusted_keys(trusted_keys) if trusted_keys is not None else None
    report = BuildReport()
    for path in sorted(results_dir.glob("*.json")):
        if not path.is_file():
            report.invalid.append({"file": path.name, "reason": "not a regular file"})
            continue
        try:
            result = load_result(path)
        except LuabError as err:
            reason = str(err).replace(f"{path}: ", "")  # the file is named in its own column
            report.invalid.append({"file": path.name, "reason": reason})
            continue
        verdict = verify_result_file(path, trusted)
        report.counts[verdict.status] += 1
        report.rows.append(_row(path, result, verdict))
    report.rows.sort(
        key=lambda r: (
            r["suite"]["name"],
            r["suite"]["variant"],
            r["model"]["name"],
            r["protocol"]["name"],
            r["seed"],
            r["file"],
        )
    )
    return report


def metric_columns(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every metric name present in any row (sorted), with unit/direction/task of its first occurrence."""
    cols: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name, m in row["metrics"].items():
            cols.setdefault(
                name,
                {
                    "name": name,
                    "unit": m["unit"],
                    "higher_is_better": m["higher_is_better"],
                    "task": m["task"],
                },
            )
    return [cols[k] for k in sorted(cols)]


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render_index(report: BuildReport, title: str = TITLE) -> str:
    """Render ``index.html`` for ``report`` (autoescaped: every value from a result is escaped)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined
    from markupsafe import Markup

    from luab_bench import __version__

    env = Environment(
        loader=PackageLoader("luab_bench.leaderboard", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    # Our own static assets are inlined verbatim (they are package files, not result data); the CSP
    # pins their hashes so that no other script could run even if some markup escaped.
    script = env.loader.get_source(env, "sort.js")[0]
    style = env.loader.get_source(env, "style.css")[0]
    columns = metric_columns(report.rows)
    rows = []
    for row in report.rows:
        cells = {}
        for col in columns:
            m = row["metrics"].get(col["name"])
            cells[col["name"]] = format_metric(Metric.model_validate(m)) if m is not None else None
        rows.append({**row, "cells": cells})
    return env.get_template("index.html.j2").render(
        title=title,
        version=__version__,
        rows=rows,
        invalid=report.invalid,
        counts=report.counts,
        metric_columns=columns,
        script=Markup(script),
        style=Markup(style),
        script_hash=_csp_hash(script),
        style_hash=_csp_hash(style),
    )


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    trusted_keys: Collection[str | Path] | None = None,
    title: str = TITLE,
) -> BuildReport:
    """Build ``out_dir/index.html``, ``out_dir/results.json`` and ``out_dir/result.schema.json``.

    ``trusted_keys`` (``.pub`` paths, base64 keys or ``sha256:`` fingerprints): when given, results
    signed by other keys are marked as failing. Invalid files are listed, never skipped silently.
    """
    from luab_bench import __version__

    out_dir = Path(out_dir)
    report = collect_rows(results_dir, trusted_keys=trusted_keys)
    report.index_path = out_dir / "index.html"
    report.json_path = out_dir / "results.json"
    payload = {
        "generator": f"luab-bench {__version__}",
        "counts": report.counts,
        "metrics": metric_columns(report.rows),
        "rows": report.rows,
        "invalid": report.invalid,
    }
    atomic_write_json(report.json_path, payload)
    atomic_write_json(out_dir / "result.schema.json", result_json_schema())
    atomic_write_text(report.index_path, render_index(report, title))
    return report
