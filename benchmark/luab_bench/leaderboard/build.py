"""Build the static leaderboard site from a directory of result JSON files.

Every ``*.json`` file in the results directory is either a row (with its signature verdict:
verified / failing with the reason / unsigned) or an entry in the "invalid files" list; nothing is
skipped silently and one broken file never stops the build. Pages are rendered with autoescaping
Jinja2 templates (every string from a submission is escaped), work from ``file://`` (no CDN; inline
script and style allowed only by hash in a Content-Security-Policy), and the same data is written as
``results.json`` and ``results.csv`` for machines.

Site layout (``out_dir``)::

    index.html           results table (sort, filter), mean over seeds, paired Δ view, paper's numbers
    s/<suite>.html       one page per (suite, variant): seed means, paired Δ, minimum detectable effect
    r/<result>.html      one detail page per result: metrics, signature, provenance, config, curves,
                         human-alignment plot (schema-1.1 results with an ``alignment`` block)
    alignment.html       alignment leaderboard: methods ranked by peak r, intervals, baselines,
                         overlaid r-vs-sigma curves, t-test matrices (:mod:`.alignment_page`)
    results.json         rows, aggregates, deltas, the paper's reference tables with Δ, invalid files
    results.csv          one line per result and metric value/interval
    result.schema.json   the JSON Schema of a result file

Means over seeds, Δ views and Δ to the paper use **verified** results only (see
:mod:`luab_bench.leaderboard.aggregate` for the definitions; "self-signed" ones in a build without
trust anchors, :func:`counted`), each run once (replays are marked and listed,
:mod:`luab_bench.results.replays`); unsigned and failing results appear in the results table,
marked, unless ``include_unverified=False`` leaves them out.
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
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.io import atomic_write_bytes, remove_stale_temp_files, temp_suffix
from luab_bench.leaderboard.aggregate import aggregate, deltas
from luab_bench.leaderboard.columns import order_columns
from luab_bench.leaderboard.paired import detectable_effects, format_delta, paired_deltas, suite_page_name
from luab_bench.leaderboard.reference import REPORTED_MARK, ReferenceTable, load_references, site_reference
from luab_bench.leaderboard.rescores import attach_rescores, badge_title
from luab_bench.results.replays import find_replays
from luab_bench.results.schema import Metric, Result, read_json_document, result_json_schema, validate_result
from luab_bench.results.signing import verify_document
from luab_bench.results.trust import TrustSet, as_trust_set
from luab_bench.safe_json import display_name, has_surrogate

TITLE = "luab-bench leaderboard"
DETAIL_DIR = "r"
CONTROL_LABELS = {"rand": "Rand"}  # the paper's spelling of the control protocols in the Δ view
ALIGN_PREFIX = "align_"  # metrics of the human-alignment test, tabulated next to its chart
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class BuildReport:
    """What :func:`build_site` did: rows shown, invalid files, signature verdict counts, outputs."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"verified": 0, "self-signed": 0, "failed": 0, "unsigned": 0}
    )
    excluded: int = 0
    #: replays (:mod:`luab_bench.results.replays`): shown, marked, never counted in a statistic
    duplicates: list[dict[str, str]] = field(default_factory=list)
    #: what a "verified" row was checked against, for the page and results.json
    trust: str = ""
    results: dict[str, Result] = field(default_factory=dict, repr=False)
    cells: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    pages_written: int = 0  # detail pages created or replaced (unchanged ones are left alone)
    stale_removed: list[str] = field(default_factory=list)  # temp files of killed builds, removed
    index_path: Path | None = None
    json_path: Path | None = None

    @property
    def n_results(self) -> int:
        return len(self.rows)

    def summary(self) -> str:
        """One line for the CLI."""
        c = self.counts
        excluded = f", {self.excluded} unverified left out" if self.excluded else ""
        dups = f", {len(self.duplicates)} duplicates not counted" if self.duplicates else ""
        return (
            f"{self.n_results} results ({c['verified']} verified, {c['self-signed']} self-signed, "
            f"{c['failed']} failing, {c['unsigned']} unsigned{excluded}{dups}), "
            f"{len(self.invalid)} invalid files -> {self.index_path}"
        )


def counted(row: dict[str, Any]) -> bool:
    """Whether a row enters means, Δ and Δ to the paper: a valid signature and not a replay.

    With trust anchors a valid signature is "verified" or failing; "self-signed" rows exist only in a
    build without anchors (a personal site), whose page says so.
    """
    return row["signature"]["status"] in ("verified", "self-signed") and row.get("duplicate_of") is None


def _trust_text(trust: TrustSet | None) -> str:
    if trust is None:
        return (
            "no trusted submissions or keys given: signatures are checked for consistency only "
            "(self-signed; the signer is not checked)"
        )
    n_sub, n_keys = trust.n_submissions, len(trust.entries) - trust.n_submissions
    parts = [f"{n_sub} submission{'' if n_sub == 1 else 's'}"] if n_sub else []
    parts += [f"{n_keys} bare trusted key{'' if n_keys == 1 else 's'}"] if n_keys else []
    return "verified against " + (" and ".join(parts) or "no anchors (nothing can verify)")


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
    row = {
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
        # the submission a verified result is bound to, with its team (from submission.yaml)
        "submission": (
            {"id": verdict.submission_id, "team": verdict.team} if verdict.submission_id is not None else None
        ),
        "submission_id": result.submission_id,  # what the result itself names (schema 1.2), checked or not
        "duplicate_of": None,
    }
    if result.alignment is not None:  # r-vs-sigma curves, for results.json (absent in 1.0 files)
        row["alignment"] = result.alignment.model_dump(mode="json")
    return row


def collect_rows(
    results_dir: str | Path,
    *,
    trusted_keys: TrustSet | Collection[str | Path] | None = None,
    include_unverified: bool = True,
) -> BuildReport:
    """Load and verify every ``*.json`` in ``results_dir`` (sorted by name) into a report.

    Replays (same ``result_id``, or same model/protocol/suite/seed) are marked ``duplicate_of`` the
    kept row and listed in ``report.duplicates``.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LuabError(
            f"{results_dir}: results directory not found; create it and put result JSON files "
            "(from `luab-bench run` / `luab-bench evaluate`) in it, or pass the right directory"
        )
    trusted = as_trust_set(trusted_keys)
    report = BuildReport(trust=_trust_text(trusted))
    for path in sorted(results_dir.glob("*.json")):
        if has_surrogate(path.name):  # not UTF-8: it could not be written into a page or results.json
            reason = "file name is not valid UTF-8; rename the file"
            report.invalid.append({"file": display_name(path.name), "reason": reason})
            continue
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
    replays = find_replays(report.rows)
    by_file = {r["file"]: r for r in report.rows}
    for d in replays:
        by_file[d.file]["duplicate_of"] = d.duplicate_of
        report.duplicates.append(d.as_dict())
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
    """Jinja environment, compiled templates and inlined assets (one per process: :func:`get_renderer`)."""

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
        self.env.filters["delta_text"] = format_delta
        self.env.filters["badge_title"] = badge_title
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
        self.index_template = self.env.get_template("index.html.j2")

    def render(self, name: str, **kwargs: Any) -> str:
        return self.env.get_template(name).render(**self.common, **kwargs)


@lru_cache(maxsize=1)
def get_renderer() -> _Renderer:
    """The process-wide renderer: templates are compiled once, not on every build.

    Safe to share: the environment is not modified after creation and templates hold no state
    between renders.
    """
    return _Renderer()


def row_cells(report: BuildReport, row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """:func:`format_metric` of every metric of ``row``, computed once per build (index + detail)."""
    cells = report.cells.get(row["file"])
    if cells is None:
        cells = report.cells[row["file"]] = {k: format_metric(m) for k, m in row["metrics"].items()}
    return cells


def site_data(report: BuildReport, references: list[ReferenceTable]) -> dict[str, Any]:
    """Aggregates (counted rows only, see :func:`counted`), Δ views and reference comparisons."""
    rows = [r for r in report.rows if counted(r)]
    aggs = aggregate(rows)
    paired = paired_deltas(rows)
    return {
        "aggregates": aggs,
        "deltas": deltas(aggs),
        "paired_deltas": paired,
        "detectable_effects": detectable_effects(rows, paired),
        "reference": site_reference(references, aggs),  # the paper's tables + Δ (leaderboard.reference)
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
    renderer = renderer or get_renderer()
    references = references or []
    data = data or site_data(report, references)
    columns = metric_columns(report.rows)
    rows = []
    for row in report.rows:
        cells = row_cells(report, row)
        rows.append({**row, "cells": {c["name"]: cells.get(c["name"]) for c in columns}})
    return renderer.index_template.render(
        **renderer.common,
        title=title,
        rows=rows,
        invalid=report.invalid,
        counts=report.counts,
        excluded=report.excluded,
        duplicates=report.duplicates,
        trust=report.trust,
        # what the means and Δ rows are made of, for the "verified only" filter
        counted_status="self-signed" if report.counts["self-signed"] else "verified",
        metric_columns=columns,
        models=sorted({r["model"]["name"] for r in report.rows}),
        protocols=sorted({r["protocol"]["name"] for r in report.rows}),
        suites=sorted({r["suite"]["name"] for r in report.rows}),
        control_labels=CONTROL_LABELS,
        aggregates=data["aggregates"],
        deltas=data["deltas"],
        paired_deltas=data["paired_deltas"],
        suite_links=_suite_links(data),
        link_prefix="",
        reference=data["reference"],
    )


def render_detail(
    row: dict[str, Any],
    result: Result,
    renderer: _Renderer,
    title: str = TITLE,
    *,
    cells: dict[str, dict[str, Any]] | None = None,
) -> str:
    """Render one result's detail page (``cells``: :func:`row_cells` of the row, if already made)."""
    from luab_bench.leaderboard.plots import alignment_chart, find_curves, interval_chart, line_chart

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
    if cells is None:
        cells = {k: format_metric(m) for k, m in row["metrics"].items()}
    alignment = None
    if result.alignment is not None:
        block = result.alignment
        alignment = {
            "measure": block.measure,
            "data": block.data,
            "chart": renderer.Markup(alignment_chart(block.curves, measure=block.measure, data=block.data)),
            "columns": [c for c in columns if c["name"].startswith(ALIGN_PREFIX)],
        }
    return renderer.detail_template.render(
        **renderer.common,
        title=title,
        row=row,
        columns=columns,
        cells=cells,
        provenance=result.provenance.model_dump(mode="json"),
        config_json=json.dumps(result.config, indent=2, sort_keys=True, ensure_ascii=False),
        model_provenance_json=_block_json(getattr(result, "model_provenance", None)),
        rescore_json=_block_json(getattr(result, "rescore", None)),
        training_facts={
            k: v for k, v in sorted((result.training or {}).items()) if not isinstance(v, (dict, list))
        },
        curves=curves,
        metrics_chart=metrics_chart,
        alignment=alignment,
    )


def _block_json(block: Any) -> str:
    """An optional schema-1.2 block as indented JSON for a detail page ('' when absent)."""
    if block is None:
        return ""
    return json.dumps(block.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False)


#: What a spreadsheet reads as the start of a formula (after NFKC, so fullwidth ＝ ＋ － ＠ and
#: their small/superscript variants count too; OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@")


def _csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas in submitted strings (CSV injection) with a leading ``'``.

    A string is neutralised when it starts with a tab, CR or LF, or when its first character after
    any leading whitespace and control/format characters (spaces, ``\\r``, zero-width space, BOM)
    is, after NFKC normalisation, one of ``= + - @`` (``" =1+1"``, ``"\\r=1+1"``, ``"＝1+1"``).
    Line breaks inside a value are kept; :func:`results_csv` quotes such fields (CRLF records).
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] in "\t\r\n":
        return "'" + value
    import unicodedata

    for ch in value:
        if ch.isspace() or unicodedata.category(ch)[0] == "C":
            continue
        if unicodedata.normalize("NFKC", ch)[:1] in _FORMULA_STARTS:
            return "'" + value
        break
    return value


def results_csv(report: BuildReport) -> str:
    """One line per result: identity, signature status, and value / ci_low / ci_high / n per metric."""
    columns = [c["name"] for c in metric_columns(report.rows)]
    buf = io.StringIO()
    # RFC 4180 records end in CRLF; Python's writer quotes a field holding a character of the line
    # terminator, so with "\r\n" every field with a CR or LF is quoted (with "\n" a lone CR was not)
    w = csv.writer(buf, lineterminator="\r\n")
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


def _same_content(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data`` (size checked before reading)."""
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def write_if_changed(path: Path, text: str, *, sync: bool = True) -> bool:
    """Write ``text`` (UTF-8) to ``path`` unless it already holds exactly that; True if written.

    A rebuild of an unchanged site writes nothing (and keeps file times, so sync tools copy nothing).
    Changed files are replaced atomically (temp file + rename); ``sync=False`` skips the fsync, for
    the many small detail pages that can always be rebuilt.
    """
    data = text.encode("utf-8")
    if _same_content(path, data):
        return False
    if sync:
        atomic_write_bytes(path, data)
        return True
    tmp = path.with_name(f".{path.name}{temp_suffix()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _write_detail_pages(out_dir: Path, report: BuildReport, renderer: _Renderer, title: str) -> int:
    """Write one page per row into ``out_dir/r``; returns how many files were (re)written.

    First build: pages go unsynced into a hidden temporary directory published by one rename, so a
    reader never sees a half-built set. Rebuild (``r/`` exists): a page whose bytes are unchanged is
    not touched; a changed or new page replaces its old version atomically (each page is always
    whole; for a moment, some pages may be new and others old); anything in ``r/`` that is no page
    of this build (removed results, strays) is deleted. Creating, replacing and deleting files
    costs far more than reading them (creating 1,000 small files and deleting the old ones took
    ~0.6 s CPU and ~4 s wall on the ext4-with-discard disk where this was measured), and most
    rebuilds (``luab-bench run`` adding one result) change few pages.
    """
    final = out_dir / DETAIL_DIR
    tmp = out_dir / f".{DETAIL_DIR}{temp_suffix()}"
    _remove(tmp)  # left by an interrupted build with this process id
    pages = (
        (
            Path(row["detail"]).name,
            render_detail(row, report.results[row["file"]], renderer, title, cells=row_cells(report, row)),
        )
        for row in report.rows
    )
    if final.is_symlink() or (final.exists() and not final.is_dir()):
        final.unlink()
    if not final.exists():
        tmp.mkdir(parents=True)
        try:
            n = 0
            for name, page in pages:
                (tmp / name).write_bytes(page.encode("utf-8"))
                n += 1
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return n
    existing = {e.name for e in os.scandir(final)}
    keep: set[str] = set()
    written = 0
    for name, page in pages:
        keep.add(name)
        written += write_if_changed(final / name, page, sync=False)
    for name in sorted(existing - keep):
        _remove(final / name)
    return written


def _suite_links(data: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    """(suite, variant) -> its suite page (one per group with verified results)."""
    effects = data["detectable_effects"]
    return {(e["suite"], e["variant"]): suite_page_name(e["suite"], e["variant"]) for e in effects}


def write_suite_pages(
    out_dir: Path, report: BuildReport, data: dict[str, Any], renderer: _Renderer, title: str = TITLE
) -> list[Path]:
    """One page per (suite, variant) with verified results: seed means, paired Δ and the MDE table.

    Pages of suites that no longer have results are removed; unchanged pages are not rewritten.
    """
    columns = metric_columns(report.rows)
    labels = {c["name"]: c["label"] for c in columns}
    written = []
    for (suite, variant), page in sorted(_suite_links(data).items(), key=lambda kv: kv[1]):

        def mine(e: dict[str, Any], suite: str = suite, variant: str | None = variant) -> bool:
            return (e["suite"], e["variant"]) == (suite, variant)

        html = renderer.render(
            "suite.html.j2",
            title=title,
            suite=suite,
            variant=variant,
            intro=None,
            metric_columns=columns,
            metric_labels=labels,
            aggregates=[a for a in data["aggregates"] if mine(a)],
            paired_deltas=[d for d in data["paired_deltas"] if mine(d)],
            effects=[e for e in data["detectable_effects"] if mine(e)],
            suite_links={},
            link_prefix="../",
            counted_status="self-signed" if report.counts.get("self-signed") else "verified",
        )
        path = out_dir / page
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(path, html)
        written.append(path)
    suite_dir = out_dir / "s"
    if suite_dir.is_dir():
        keep = {p.name for p in written}
        for stale in suite_dir.iterdir():
            if stale.name not in keep:
                _remove(stale)
    return written


def build_site(
    results_dir: str | Path,
    out_dir: str | Path,
    *,
    trusted_keys: TrustSet | Collection[str | Path] | None = None,
    title: str = TITLE,
    reference_dir: str | Path | None = None,
    include_unverified: bool = True,
    rescore_keys: Collection[str | Path] | None = None,
) -> BuildReport:
    """Build the static site (see the module docstring for the files) into ``out_dir``.

    ``trusted_keys``: a :class:`~luab_bench.results.trust.TrustSet` (submissions) or bare keys
    (``.pub`` paths, base64 keys or ``sha256:`` fingerprints): when given, a result not bound to one
    of them is marked as failing; without, valid signatures are "self-signed". ``reference_dir``:
    the paper's reported numbers (``leaderboard/reference``). ``include_unverified=False`` leaves
    all but verified results out of the table (they are still counted). Invalid files are listed,
    never skipped silently.
    Re-scored results become badges of the results they re-score (:mod:`.rescores`; ``rescore_keys``:
    whose re-scores count, default any valid signature but the submitter's own).
    """
    from luab_bench import __version__

    out_dir = Path(out_dir)
    references = load_references(reference_dir)
    report = collect_rows(results_dir, trusted_keys=trusted_keys, include_unverified=include_unverified)
    attach_rescores(report, results_dir, rescore_keys=rescore_keys)
    data = site_data(report, references)
    renderer = get_renderer()
    out_dir.mkdir(parents=True, exist_ok=True)
    # temp files / folders of killed builds (`.r.<host>-<pid>.tmp`, `.index.html.….tmp`) must never
    # be published with the site; r/ itself is swept by _write_detail_pages (anything not a page)
    report.stale_removed = remove_stale_temp_files(out_dir)
    report.pages_written = _write_detail_pages(out_dir, report, renderer, title)
    report.index_path = out_dir / "index.html"
    report.json_path = out_dir / "results.json"
    payload = {
        "generator": f"luab-bench {__version__}",
        "counts": report.counts,
        "excluded_unverified": report.excluded,
        "trust": report.trust,
        "duplicates": report.duplicates,
        "metrics": metric_columns(report.rows),
        "rows": report.rows,
        "invalid": report.invalid,
        **data,
    }
    # compact JSON: the C encoder is used only without indentation (the file is for machines)
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    write_if_changed(report.json_path, text + "\n")
    write_if_changed(out_dir / "results.csv", results_csv(report))
    write_if_changed(out_dir / "result.schema.json", _schema_text())
    index = render_index(report, title, references=references, data=data, renderer=renderer)
    write_suite_pages(out_dir, report, data, renderer, title)
    write_if_changed(report.index_path, index)
    from luab_bench.leaderboard.alignment_page import render_alignment_page

    write_if_changed(out_dir / "alignment.html", render_alignment_page(report.rows, renderer, title))
    return report


def _schema_text() -> str:
    """The result JSON Schema as written to disk (what ``atomic_write_json`` writes)."""
    return (
        json.dumps(result_json_schema(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    )


def write_result_schema(path: str | Path) -> Path:
    """Write the published result JSON Schema (``leaderboard/schema/result.schema.json``)."""
    path = Path(path)
    atomic_write_bytes(path, _schema_text().encode("utf-8"))
    return path
