"""Terminal tables of seed means and paired Δ (``luab-bench run`` with several seeds or protocols).

Same definitions as the site (``leaderboard.paired``): seed mean ± 95% t half-width; Δ = mean paired
difference over shared seeds with its 95% t interval, **coloured only when the interval excludes 0**
(green better / red worse in the metric's direction), dim grey otherwise; the interval is printed.
When the results carry ``per_image`` blocks, a third table lists per seed the paired bootstrap over the
same test images (``leaderboard.paired.seed_bootstrap``: the study's definition), styled by the same
rule applied to its own interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

STYLES = {"better": "green", "worse": "red", "ns": "bright_black"}


def result_rows(results: Sequence[tuple[Path, Any]]) -> list[dict[str, Any]]:
    """(path, Result) pairs as the leaderboard's row dicts (what ``leaderboard.paired`` reads)."""
    return [
        {
            "file": Path(path).name,
            "suite": {
                "name": r.suite.name,
                "variant": r.suite.variant,
                "data_fingerprint": r.suite.data_fingerprint,
            },
            "model": {"name": r.model.name},
            "protocol": {"name": r.protocol.name},
            "seed": r.seed,
            "metrics": {k: m.model_dump(mode="json") for k, m in r.metrics.items()},
        }
        for path, r in results
    ]


def _fmt(x: float, unit: str) -> str:
    return f"{x:.1f}" if unit in ("%", "pp") else f"{x:.3f}"


def render_seed_means(aggregates: Sequence[Mapping[str, Any]], layout: Mapping[str, str], title: str) -> Any:
    """One row per metric, one column per protocol group: mean ± t half-width (k seeds)."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    for a in aggregates:
        table.add_column(f"{a['model']}\n{a['protocol']} (k={len(a['seeds'])})", justify="right")
    for key, header in layout.items():
        cells = []
        for a in aggregates:
            m = a["metrics"].get(key)
            if m is None:
                cells.append("–")
                continue
            half = "" if m["half_width"] is None else f" ±{_fmt(m['half_width'], m['unit'])}"
            cells.append(_fmt(m["mean"], m["unit"]) + half)
        table.add_row(header, *cells)
    return table


def render_paired(deltas: Sequence[Mapping[str, Any]], layout: Mapping[str, str], title: str) -> Any:
    """One row per metric, one column per comparison: Δ [t interval], styled by significance."""
    from rich.table import Table
    from rich.text import Text

    from luab_bench.leaderboard.paired import format_delta

    table = Table(title=title)
    table.add_column("metric")
    for d in deltas:
        table.add_column(f"{d['model']}\n{d['label']} (k={d['k']})", justify="right")
    for key, header in layout.items():
        cells: list[Any] = []
        for d in deltas:
            c = d["metrics"].get(key)
            if c is None:
                cells.append("–")
                continue
            s = format_delta(c)
            cells.append(Text(f"{s['delta']} {s['interval']}", style=STYLES[c["verdict"]]))
        table.add_row(header, *cells)
    return table


def render_seed_bootstrap(deltas: Sequence[Mapping[str, Any]], layout: Mapping[str, str], title: str) -> Any:
    """One row per metric, one column per comparison: a line per seed ``s<seed> Δ [95% paired
    bootstrap]``, each styled by its own interval; None when no cell has a per-seed bootstrap."""
    from rich.table import Table
    from rich.text import Text

    from luab_bench.leaderboard.paired import format_seed_bootstrap

    shown = [d for d in deltas if any(c.get("per_seed") for c in d["metrics"].values())]
    if not shown:
        return None
    table = Table(title=title)
    table.add_column("metric")
    for d in shown:
        table.add_column(f"{d['model']}\n{d['label']}", justify="right")
    for key, header in layout.items():
        cells: list[Any] = []
        for d in shown:
            c = d["metrics"].get(key)
            if c is None or not c.get("per_seed"):
                cells.append("–")
                continue
            text = Text()
            for i, e in enumerate(c["per_seed"]):
                s = format_seed_bootstrap(e, c["unit"])
                text.append(
                    ("\n" if i else "") + f"s{e['seed']} {s['delta']} {s['interval']}",
                    style=STYLES[e["verdict"]],
                )
            cells.append(text)
        if any(c != "–" for c in cells):
            table.add_row(header, *cells)
    return table


def print_paired_tables(console: Any, results: Sequence[tuple[Path, Any]]) -> None:
    """Seed-mean and paired-Δ tables per suite, when there is more than one seed or comparison."""
    from luab_bench.leaderboard.aggregate import aggregate
    from luab_bench.leaderboard.paired import N_BOOT_PAIRED, paired_deltas
    from luab_bench.suites.tables import layout

    rows = result_rows(results)
    blocks = {Path(path).name: r.per_image for path, r in results if getattr(r, "per_image", None)}
    for suite in sorted({r["suite"]["name"] for r in rows}):
        mine = [r for r in rows if r["suite"]["name"] == suite]
        cols = layout(suite) or {k: k for r in mine for k in r["metrics"]}
        aggs = aggregate(mine)
        if any(len(a["seeds"]) > 1 for a in aggs):
            console.print(render_seed_means(aggs, cols, f"luab-bench: {suite}, mean over seeds (±95% t)"))
        deltas = paired_deltas(mine, per_image=blocks)
        if deltas:
            console.print(
                render_paired(
                    deltas,
                    cols,
                    f"luab-bench: {suite}, paired Δ [95% t interval over seeds]; "
                    "coloured only when the interval excludes 0",
                )
            )
            boot = render_seed_bootstrap(
                deltas,
                cols,
                f"luab-bench: {suite}, per seed: paired Δ [95% bootstrap over the same test images, "
                f"{N_BOOT_PAIRED} resamples]; coloured only when the interval excludes 0",
            )
            if boot is not None:
                console.print(boot)
