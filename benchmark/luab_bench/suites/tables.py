"""The paper's Table 1 (ImageNet) / Table 6 (COCO) layouts for the terminal.

``layout(suite)`` reads the project's one column map (``leaderboard/static/columns.yaml``, shared with
the site); ``render_table(rows, layout)`` builds a rich Table with one row per (model, protocol) and
one column per metric in the layout; metrics a row lacks show as "-". V^avg / V^min are not
implemented (see docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def layout(suite: str) -> dict[str, str]:
    """``{metric key: column header}`` of ``suite``'s paper table (Table 1 / Table 6), in order.

    The one column map of the project is ``luab_bench/leaderboard/static/columns.yaml`` (the site reads
    it too); an unknown suite gets an empty layout and callers fall back to every metric key.
    """
    from luab_bench.leaderboard.columns import suite_layout

    return suite_layout(suite)


def format_cell(m: Mapping[str, Any] | None) -> str:
    """``value [ci_low, ci_high]``: percentages (and numbers >= 10) with 1 decimal, other unitless
    numbers (correlations, inverse ranks) with 3, so that r = 0.134 is not shown as 0.1."""
    if m is None:
        return "-"
    spec = ".1f" if m.get("unit") == "%" or abs(float(m["value"])) >= 10 else ".3f"
    if m.get("ci_low") is not None:
        return f"{m['value']:{spec}} [{m['ci_low']:{spec}}, {m['ci_high']:{spec}}]"
    return f"{m['value']:{spec}}"


def render_table(
    rows: Sequence[tuple[str, Mapping[str, Mapping[str, Any]]]], layout: Mapping[str, str], title: str = ""
) -> Any:
    """A rich Table: ``rows`` = [(row label, {metric key: metric dict})]; values with 95% CI."""
    from rich.table import Table

    table = Table(title=title or None)
    table.add_column("model / protocol")
    for header in layout.values():
        table.add_column(header, justify="right")
    for label, metrics in rows:
        cells = []
        for key in layout:
            cells.append(format_cell(metrics.get(key)))
        table.add_row(label, *cells)
    return table


def render_by_metric(
    rows: Sequence[tuple[str, Mapping[str, Mapping[str, Any]]]], layout: Mapping[str, str], title: str = ""
) -> Any:
    """The same table transposed: one row per metric, one column per result (fits a terminal)."""
    from rich.table import Table

    table = Table(title=title or None)
    table.add_column("metric")
    for label, _ in rows:
        table.add_column(label, justify="right")
    for key, header in layout.items():
        cells = []
        for _, metrics in rows:
            cells.append(format_cell(metrics.get(key)))
        table.add_row(header, *cells)
    return table
