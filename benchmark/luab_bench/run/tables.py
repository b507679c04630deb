"""The CLI's result tables: each suite's paper layout (Table 1 / Table 6), then the paired tables."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def print_results_table(results: Sequence[tuple[Path, Any]]) -> None:
    """Print the results in their suite's paper layout (Table 1 / Table 6), one row per result.

    Values are shown with their 95% interval; metrics outside the layout stay in the JSON files.
    """
    from rich.console import Console

    from luab_bench.suites.tables import layout, render_by_metric

    by_suite: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for _, res in results:
        label = f"{res.model.name}\n{res.protocol.name} s{res.seed}"
        metrics = {k: m.model_dump() for k, m in res.metrics.items()}
        by_suite.setdefault(res.suite.name, []).append((label, metrics))
    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough that value [CI] cells never wrap
        console = Console(width=max(console.width, 110))
    for suite, rows in by_suite.items():
        columns = layout(suite) or {k: k for _, m in rows for k in m}
        console.print(render_by_metric(rows, columns, title=f"luab-bench: {suite} (value [95% CI])"))
    from luab_bench.suites.paired_tables import print_paired_tables

    print_paired_tables(console, results)
