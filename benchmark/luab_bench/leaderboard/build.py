"""Build the static leaderboard site from a directory of result JSON files.

Every ``*.json`` file in the results directory is either a row (with its signature verdict:
verified / failing with the reason / unsigned) or an entry in the "invalid files" list; nothing is
skipped silently and one broken file never stops the build. Pages are rendered with autoescaping
Jinja2 templates (every string from a submission is escaped), work from ``file://`` (no CDN; inline
script and style allowed only by hash in a Content-Security-Policy), and the same data is written as
``results.json`` and ``results.csv`` for machines.

Site layout (``out_dir``)::

    index.html           results table (sort, filter), mean over seeds, Δ view, paper's numbers
    r/<result>.html      one detail page per result: metrics, signature, provenance, config, curves
    results.json         rows, aggregates, deltas, reference rows, invalid files
    results.csv          one line per result and metric value/interval
    result.schema.json   the JSON Schema of a result file

Means over seeds, Δ views and Δ to the paper use **verified** results only (see
:mod:`luab_bench.leaderboard.aggregate` for the definitions); unsigned and failing results appear in
the results table, marked, unless ``include_unverified=False`` leaves them out.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.io import atomic_write_json, atomic_write_text
from luab_bench.leaderboard.aggregate import aggregate, deltas, reference_deltas
from luab_bench.leaderboard.columns import order_columns
from luab_bench.leaderboard.reference import ReferenceTable, load_references
from luab_bench.results.schema import Metric, Result, read_json_document, result_json_schema, validate_result
from luab_bench.results.signing import normalise_trusted_keys, verify_document

TITLE = "luab-bench leaderboard"
DETAIL_DIR = "r"
REPORTED_MARK = "reported, not reproduced"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BuildReport:
    """What :func:`build_site` did: rows shown, invalid files, signature verdict counts, outputs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"verified": 0, "failed": 0, "unsigned": 0})
    excluded: int = 0
    results: dict[str, Result] = field(default_factory=dict, repr=False)
    index_path: Path | None = None
    json_path: Path | None = None

    @property
    def n_results(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        """One line for the CLI."""
        c = self.counts
        excluded = f", {self.excluded} unverified left out" if self.excluded else ""
        return (
            f"{self.n_results} results ({c['verified']} verified, {c['failed']} failing, "
            f"{c['unsigned']} unsigned{excluded}), {len(self.invalid)} invalid files -> {self.index_path}"
        )


def _fmt(x: float, unit: str) -> str:
    return f"{x:.2f}" if unit == "%" else f"{x:.4g}"


def _signed(x: float, unit: str) -> str:
    text = _fmt(x, unit)
    return text if text.startswith("-") else "+" + text


def format_metric(m: Metric | dict[str, Any]) -> dict[str, Any]:
    """Display strings for one metric cell: value, ±interval, hover text with n and the interval.

    Accepts a :class:`Metric` or its JSON dict (rows hold dicts already validated on load).
    """
    d = m.model_dump() if isinstance(m, Metric) else m
    value, unit, lo, hi = d["value"], d["unit"], d.get("ci_low"), d.get("ci_high")
    interval = ""
    title = f"n={d['n']}"
    if lo is not None and hi is not None:
        up, down = _fmt(hi - value, unit), _fmt(value - lo, unit)
        interval = f"±{up}" if up == down else f"+{up}/−{down}"
        title += f", 95% CI [{_fmt(lo, unit)}, {_fmt(hi, unit)}]"
    if d.get("task"):
        title += f"; {d['task']}"
    return {"value": _fmt(value, unit), "interval": interval, "title": title, "sort": repr(value)}


def detail_name(file_name: str) -> str:
    """Stable, filesystem- and URL-safe detail page name for a result file name."""
    stem = _UNSAFE.sub("-", file_name.removesuffix(".json")).strip("-.")[:80] or "result"
    return f"{stem}-{hashlib.sha256(file_name.encode('utf-8')).hexdigest()[:8]}.html"


def _row(path: Path, result: Result, verdict: Any) -> dict[str, Any]:
    return {
        "file": path.name,
        "detail": f"{DETAIL_DIR}/{detail_name(path.name)}",
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
    results_dir: str | Path,
    *,
    trusted_keys: Collection[str | Path] | None = None,
    include_unverified: bool = True,
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
            doc = read_json_document(path)  # read once: the same bytes are validated and verified
            result = validate_result(doc, str(path))
        except LuabError as err:
            reason = str(err).replace(f"{path}: ", "")  # the file is named in its own column
            report.invalid.append({"file": path.name, "reason": reason})
            continue
        verdict = verify_document(doc, trusted, source=str(path))
        report.counts[verdict.status] += 1
        if verdict.status != "verified" and not include_unverified:
            report.excluded += 1
            continue
        report.rows.append(_row(path, result, verdict))
        report.results[path.name] = result
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
    """Metric columns present in any row: the column map's order first, then unmapped by name.

    Each has ``name``, ``label``, ``group`` and the unit/direction/task of its first occurrence.
    """
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name, m in row["metrics"].items():
            found.setdefault(
                name, {"unit": m["unit"], "higher_is_better": m["higher_is_better"], "task": m["task"]}
            )
    return order_columns(found)


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


class _Renderer:
    """Jinja environment and inlined assets, created once per build."""

    def __init__(self) -> None:
        from jinja2 import Environment, PackageLoader, StrictUndefined
        from markupsafe import Markup

        from luab_bench import __version__

        self.env = Environment(
            loader=PackageLoader("luab_bench.leaderboard", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.env.filters["fmt"] = _fmt
        self.env.filters["signed"] = _signed
        self.Markup = Markup
        # Our own static assets are inlined verbatim (package files, not result data); the CSP pins
        # their hashes so that no other script could run even if some markup escaped.
        source = self.env.loader.get_source  # type: ignore[union-attr]
        script = source(self.env, "sort.js")[0] + source(self.env, "filter.js")[0]
        style = source(self.env, "style.css")[0]
        self.common = {
            "version": __version__,
            "script": Markup(script),
            "style": Markup(style),
            "script_hash": _csp_hash(script),
            "style_hash": _csp_hash(style),
            "reported_mark": REPORTED_MARK,
        }
        self.detail_template = self.env.get_template("detail.html.j2")

    def render(self, name: str, **kwargs: Any) -> str:
        return self.env.get_template(name).render(**self.common, **kwargs)


def _cells(metrics: dict[str, Any], columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {c["name"]: format_metric(metrics[c["name"]]) if c["name"] in metrics else None for c in columns}


def site_data(report: BuildReport, references: list[ReferenceTable]) -> dict[str, Any]:
    """Aggregates (verified only), Δ views and reference comparisons for ``report``."""
    verified = [r for r in report.rows if r["signature"]["status"] == "verified"]
    aggs = aggregate(verified)
    return {
        "aggregates": aggs,
        "deltas": deltas(aggs),
        "references": reference_deltas(aggs, references),
        "reference_tables": [
            {"table": t.table, "source": t.source, "status": t.status, "note": t.note, "n_rows": len(t.rows)}
            for t in references
        ],
    }


def render_index(
    report: BuildReport,
    title: str = TITLE,
    *,
    references: list[ReferenceTable] | None = None,
    data: dict[str, Any] | None = None,
    renderer: _Renderer | None = None,
) -> str:
    """Render ``index.html`` for ``report`` (autoescaped: every value from a result is escaped)."""
    renderer = renderer or _Renderer()
    references = references or []
    data = data or site_data(report, references)
    columns = metric_columns(report.rows)
    rows = [{**row, "cells": _cells(row["metrics"], columns)} for row in report.rows]
    return renderer.render(
        "index.html.j2",
        title=title,
        rows=rows,
        invalid=report.invalid,
        counts=report.counts,
        excluded=report.excluded,
        metric_columns=columns,
        models=sorted({r["model"]["name"] for r in report.rows}),
        protocols=sorted({r["protocol"]["name"] for r in report.rows}),
        aggregates=data["aggregates"],
        deltas=data["deltas"],
        references=data["references"],
        reference_tables=data["reference_tables"],
    )


def render_detail(row: dict[str, Any], result: Result, renderer: _Renderer, title: str = TITLE) -> str:
    """Render one result's detail page."""
    from luab_bench.leaderboard.plots import find_curves, interval_chart, line_chart

    curves = [
        renderer.Markup(line_chart(name, values)) for name, values in find_curves(result.training).items()
    ]
    pct = [
        (name, m.value, m.ci_low, m.ci_high) for name, m in sorted(result.metrics.items()) if m.unit == "%"
    ]
    metrics_chart = renderer.Markup(interval_chart("metrics (%) with 95% intervals", pct)) if pct else None
    columns = order_columns(
        {
            k: {"unit": m.unit, "higher_is_better": m.higher_is_better, "task": m.task}
            for k, m in result.metrics.items()
        }
    )
    return renderer.detail_template.render(
        **renderer.common,
        title=title,
        row=row,
        columns=columns,
        cells=_cells(row["metrics"], columns),
        provenance=result.provenance.model_dump(mode="json"),
        config_json=json.dumps(result.config, indent=2, sort_keys=True, ensure_ascii=False),
        training_facts={
            k: v for k, v in sorted((result.training or {}).items()) if not isinstance(v, (dict, list))
        },
        curves=curves,
        metrics_chart=metrics_chart,
    )


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in submitted strings (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def results_csv(report: BuildReport) -> str:
    """One line per result: identity, signature status, and value / ci_low / ci_high / n per metric."""
    columns = [c["name"] for c in metric_columns(report.rows)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["file", "result_id", "model", "protocol", "suite", "variant", "seed", "signature"]
    w.writerow(head + [f"{c}{s}" for c in columns for s in ("", "_ci_low", "_ci_high", "_n")])
    for r in report.rows:
        line = [
            r["file"],
            r["result_id"],
            r["model"]["name"],
            r["protocol"]["name"],
            r["suite"]["name"],
            r["suite"]["variant"],
            r["seed"],
            r["signature"]["status"],
        ]
        for c in columns:
            m = r["metrics"].get(c)
            line += [m["value"], m["ci_low"], m["ci_high"], m["n"]] if m else ["", "", "", ""]
        w.writerow([_csv_cell(v) for v in line])
    return buf.getvalue()


def _write_detail_pages(out_dir: Path, report: BuildReport, renderer: _Renderer, title: str) -> None:
    """Render all detail pages into a fresh directory, then swap it in for ``out_dir/r``.

    Pages are written unsynced into a hidden temporary directory and published by one rename, so a
    reader never sees a half-built set (and stale pages of removed results disappear).
    """
    final = out_dir / DETAIL_DIR
    tmp = out_dir / f".{DETAIL_DIR}.tmp-{os.getpid()}"
    old = out_dir / f".{DETAIL_DIR}.old-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for row in report.rows:
            page = render_detail(row, report.results[row["file"]], renderer, title)
            (tmp / Path(row["detail"]).name).write_text(page, encoding="utf-8")
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    trusted_keys: Collection[str | Path] | None = None,
    title: str = TITLE,
    reference_dir: str | Path | None = None,
    include_unverified: bool = True,
) -> BuildReport:
    """Build the static site (see the module docstring for the files) into ``out_dir``.

    ``trusted_keys`` (``.pub`` paths, base64 keys or ``sha256:`` fingerprints): when given, results
    signed by other keys are marked as failing. ``reference_dir``: the paper's reported numbers
    (``leaderboard/reference``). ``include_unverified=False`` leaves unsigned and failing results
    out of the table (they are still counted). Invalid files are listed, never skipped silently.
    """
    from luab_bench import __version__

    out_dir = Path(out_dir)
    references = load_references(reference_dir)
    report = collect_rows(results_dir, trusted_keys=trusted_keys, include_unverified=include_unverified)
    data = site_data(report, references)
    renderer = _Renderer()
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_detail_pages(out_dir, report, renderer, title)
    report.index_path = out_dir / "index.html"
    report.json_path = out_dir / "results.json"
    payload = {
        "generator": f"luab-bench {__version__}",
        "counts": report.counts,
        "excluded_unverified": report.excluded,
        "metrics": metric_columns(report.rows),
        "rows": report.rows,
        "invalid": report.invalid,
        **data,
    }
    # compact JSON: the C encoder is used only without indentation (the file is for machines)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    atomic_write_text(report.json_path, text + "\n")
    atomic_write_text(out_dir / "results.csv", results_csv(report))
    atomic_write_json(out_dir / "result.schema.json", result_json_schema())
    index = render_index(report, title, references=references, data=data, renderer=renderer)
    atomic_write_text(report.index_path, index)
    return report


def write_result_schema(path: str | Path) -> Path:
    """Write the published result JSON Schema (``leaderboard/schema/result.schema.json``)."""
    path = Path(path)
    atomic_write_json(path, result_json_schema())
    return path
