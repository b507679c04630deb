"""Rendering the site's pages: the autoescaping Jinja renderer, the index page and detail pages.

:class:`Renderer` (one per process, :func:`get_renderer`) holds the environment, the compiled
templates and the inlined assets whose hashes the Content-Security-Policy pins; :func:`site_data`
computes what the index and suite pages show besides the rows (seed means, Δ, paired Δ, minimum
detectable effects, the paper's numbers); :func:`render_index` and :func:`render_detail` render
``index.html`` and ``r/<result>.html``. Every string from a result is escaped by the templates.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from luab_bench.leaderboard.aggregate import aggregate, deltas
from luab_bench.leaderboard.columns import order_columns
from luab_bench.leaderboard.paired import (
    detectable_effects,
    format_delta,
    format_seed_bootstrap,
    paired_deltas,
    suite_page_name,
)
from luab_bench.leaderboard.reference import REPORTED_MARK, ReferenceTable, site_reference
from luab_bench.leaderboard.rescores import badge_title
from luab_bench.leaderboard.rows import (
    BuildReport,
    counted,
    fmt,
    format_metric,
    metric_columns,
    row_cells,
    signed,
)
from luab_bench.results.schema import Result

TITLE = "luab-bench leaderboard"
CONTROL_LABELS = {"rand": "Rand"}  # the paper's spelling of the control protocols in the Δ view
ALIGN_PREFIX = "align_"  # metrics of the human-alignment test, tabulated next to its chart


def _csp_hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


class Renderer:
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
        self.env.filters["fmt"] = fmt
        self.env.filters["signed"] = signed
        self.env.filters["delta_text"] = format_delta
        self.env.filters["seed_boot_text"] = format_seed_bootstrap
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
def get_renderer() -> Renderer:
    """The process-wide renderer: templates are compiled once, not on every build.

    Safe to share: the environment is not modified after creation and templates hold no state
    between renders.
    """
    return Renderer()


def site_data(report: BuildReport, references: list[ReferenceTable]) -> dict[str, Any]:
    """Aggregates (counted rows only, see :func:`counted`), Δ views and reference comparisons."""
    rows = [r for r in report.rows if counted(r)]
    aggs = aggregate(rows)
    # per-image blocks (results/per_image.py) by file, for the per-seed paired bootstrap; kept out of
    # the rows so results.json does not carry the bit vectors
    per_image = {r["file"]: report.results[r["file"]].per_image for r in rows if r["file"] in report.results}
    paired = paired_deltas(rows, per_image={f: b for f, b in per_image.items() if b})
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
    renderer: Renderer | None = None,
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
        suite_links=suite_links(data),
        link_prefix="",
        reference=data["reference"],
    )


def render_detail(
    row: dict[str, Any],
    result: Result,
    renderer: Renderer,
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


def suite_links(data: dict[str, Any]) -> dict[tuple[str, str | None], str]:
    """(suite, variant) -> its suite page (one per group with verified results)."""
    effects = data["detectable_effects"]
    return {(e["suite"], e["variant"]): suite_page_name(e["suite"], e["variant"]) for e in effects}
