"""The site's human-alignment page (``alignment.html``): Langlois et al.'s Fig. 3A / SI Fig. 2B as a
live table.

For every group of results compared on the same human maps (same ``alignment.measure`` and
``alignment.data``), one table row per (result, saliency method), ranked by peak r (the best mean
Pearson r over the sigma grid) with its intervals: the bootstrap over images (sigma re-picked) and,
where the result has one, the human-data bootstrap (annotators redrawn, maps rebuilt; SI §D.2,
whose error bars are the sd shown). The non-model baselines (centre bias, bottom-up saliency) are
reference rows, listed once per group (they do not depend on the model). The r-vs-sigma curves of
the group are overlaid in one chart, and each result's paired t-test matrix (SI §D.3, Bonferroni) is
shown: tests across *models* need per-image r, which results do not store, so significance is
tested between the maps of one result (methods and baselines of one model on the same images).
Only results carrying an ``alignment`` block appear; every number comes from a result file (its row
links to the detail page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class _PlotCurve:
    method: str
    sigmas: list[float]
    mean_r: list[float | None]
    best_sigma: float
    best_r: float


def _label(row: dict[str, Any]) -> str:
    return f"{row['model']['name']} · {row['protocol']['name']} · seed {row['seed']}"


def alignment_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with an ``alignment`` block, grouped by (measure, data), ranked by peak r (see module doc)."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        block = row.get("alignment")
        if not block:
            continue
        key = (block["measure"], block["data"])
        g = groups.setdefault(
            key,
            {
                "measure": key[0],
                "data": key[1],
                "entries": [],
                "baselines": {},
                "matrices": [],
                "curves": [],
                "reference_curves": [],
            },
        )
        label = _label(row)
        for c in block["curves"]:
            entry = {
                "label": label,
                "detail": row.get("detail"),
                "method": c["method"],
                "best_r": c["best_r"],
                "best_sigma": c["best_sigma"],
                "n": c.get("n"),
                "image_ci": (c.get("image_ci_low"), c.get("image_ci_high")),
                "human_ci": (c.get("human_boot_ci_low"), c.get("human_boot_ci_high")),
                "human_sd": c.get("human_boot_sd"),
                "human_n": c.get("human_boot_n"),
                "cv_test_r": c.get("cv_test_r"),
                "signature": row["signature"]["status"],
            }
            if c.get("kind") == "baseline":
                if c["method"] not in g["baselines"]:
                    g["baselines"][c["method"]] = {**entry, "label": "reference (no model)"}
                    g["reference_curves"].append(
                        _PlotCurve(
                            f"[{c['method']}]",
                            list(c["sigmas"]),
                            list(c["mean_r"]),
                            c["best_sigma"],
                            c["best_r"],
                        )
                    )
                continue
            g["entries"].append(entry)
            g["curves"].append(
                _PlotCurve(
                    f"{row['model']['name']}/{row['protocol']['name']}/s{row['seed']}:{c['method']}",
                    list(c["sigmas"]),
                    list(c["mean_r"]),
                    c["best_sigma"],
                    c["best_r"],
                )
            )
        pw = block.get("pairwise")
        if pw and len(pw["names"]) >= 2:
            g["matrices"].append({"label": label, "detail": row.get("detail"), **_matrix(pw)})
    out = []
    for g in groups.values():
        g["entries"].sort(key=lambda e: -e["best_r"])
        for rank, e in enumerate(g["entries"], 1):
            e["rank"] = rank
        g["baselines"] = sorted(g["baselines"].values(), key=lambda e: -e["best_r"])
        g["curves"] = g["curves"] + g.pop("reference_curves")
        out.append(g)
    out.sort(key=lambda g: (g["measure"], g["data"]))
    return out


def _matrix(pw: dict[str, Any]) -> dict[str, Any]:
    """Cells of a significance matrix: the row map's mean r minus the column's, marked when the
    Bonferroni-corrected two-sided p is below :data:`SIGNIFICANCE`."""
    names = pw["names"]
    cells = []
    for i in range(len(names)):
        row = []
        for j in range(len(names)):
            d, p = pw["mean_diff"][i][j], pw["p_bonferroni"][i][j]
            if i == j or d is None or p is None:
                row.append({"text": "–", "cls": "sig-none", "title": ""})
                continue
            sig = p < SIGNIFICANCE
            cls = ("sig-above" if d > 0 else "sig-below") if sig else "sig-none"
            row.append({"text": f"{d:+.3f}", "cls": cls, "title": f"p (Bonferroni) = {p:.2g}"})
        cells.append(row)
    return {"names": names, "n": pw["n"], "cells": cells, "pairs": len(names) * (len(names) - 1) // 2}


def render_alignment_page(rows: list[dict[str, Any]], renderer: Any, title: str) -> str:
    """HTML of ``alignment.html`` for the site's rows."""
    from luab_bench.leaderboard.plots import alignment_chart

    groups = alignment_groups(rows)
    for g in groups:
        g["chart"] = renderer.Markup(alignment_chart(g["curves"], measure=g["measure"], data=g["data"]))
    return renderer.render("alignment.html.j2", title=title, groups=groups, significance=SIGNIFICANCE)
