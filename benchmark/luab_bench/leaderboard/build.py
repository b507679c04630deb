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

import json
import os
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from luab_bench.io import atomic_write_bytes, remove_stale_temp_files, temp_suffix
from luab_bench.leaderboard.csv_export import results_csv
from luab_bench.leaderboard.paired import N_BOOT_PAIRED, SE_MEASURED, SE_UPPER_BOUND
from luab_bench.leaderboard.reference import load_references
from luab_bench.leaderboard.render import (
    TITLE,
    Renderer,
    get_renderer,
    render_detail,
    render_index,
    site_data,
    suite_links,
)
from luab_bench.leaderboard.rescores import attach_rescores
from luab_bench.leaderboard.rows import (
    DETAIL_DIR,
    BuildReport,
    collect_rows,
    counted,
    detail_name,
    format_metric,
    metric_columns,
    row_cells,
)
from luab_bench.leaderboard.site_files import remove_path, write_if_changed
from luab_bench.results.schema import result_json_schema
from luab_bench.results.trust import TrustSet

__all__ = [
    "TITLE",
    "BuildReport",
    "Renderer",
    "build_site",
    "collect_rows",
    "counted",
    "detail_name",
    "format_metric",
    "get_renderer",
    "metric_columns",
    "render_detail",
    "render_index",
    "results_csv",
    "site_data",
    "write_if_changed",
    "write_result_schema",
    "write_suite_pages",
]


def _write_detail_pages(out_dir: Path, report: BuildReport, renderer: Renderer, title: str) -> int:
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
    remove_path(tmp)  # left by an interrupted build with this process id
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
        remove_path(final / name)
    return written


def write_suite_pages(
    out_dir: Path, report: BuildReport, data: dict[str, Any], renderer: Renderer, title: str = TITLE
) -> list[Path]:
    """One page per (suite, variant) with verified results: seed means, paired Δ (with the per-seed
    paired bootstrap table where results carry per-image data) and the MDE table.

    Pages of suites that no longer have results are removed; unchanged pages are not rewritten.
    """
    columns = metric_columns(report.rows)
    labels = {c["name"]: c["label"] for c in columns}
    written = []
    for (suite, variant), page in sorted(suite_links(data).items(), key=lambda kv: kv[1]):

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
            n_boot_paired=N_BOOT_PAIRED,
            se_measured=SE_MEASURED,
            se_upper=SE_UPPER_BOUND,
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
                remove_path(stale)
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
