"""The site's human-alignment page (``alignment.html``): Langlois et al.'s Fig. 3A / SI Fig. 2B as a
live table.

For every group of results compared on the same human maps (same ``alignment.measure`` and
``alignment.data``):

* one ranking row per (result, saliency method), ranked by peak r (the best mean Pearson r over the
  sigma grid) with its intervals: the bootstrap over images (sigma re-picked) and, where the result
  has one, the human-data bootstrap (annotators redrawn, maps rebuilt; SI §D.2, whose error bars are
  the sd shown); where the human data could not be resampled the block's one-line note says so and
  the image interval is the error bar. The non-model baselines (centre bias, bottom-up saliency) are
  reference rows, listed once per group (they do not depend on the model);
* the methods x human-measures table (main Fig. 3A): every map's peak r, each at its own sigma,
  against every human measure of the results that carry ``per_measure`` (``--all-measures``),
  sorted by the average over the measures as in the paper;
* the r-vs-sigma curves of the group overlaid in one chart;
* the significance matrix across models (SI §D.3, SI Fig. 2): a paired t-test across images of the
  per-image r (each map at its own peak sigma) for every pair of maps of *all* results in the group
  that store ``per_image_r``, on the images they share, two-sided, Bonferroni-corrected over all
  pairs (at most :data:`MAX_MATRIX_MAPS` maps, the best by peak r);
* each result's own matrix (methods and baselines of one model), as the result file stores it.

Only results carrying an ``alignment`` block appear; every number comes from a result file (its row
links to the detail page).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIGNIFICANCE = 0.05
MAX_MATRIX_MAPS = 30  # the cross-model matrix: M (M - 1) / 2 tests, the best M maps by peak r


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
                "per_image": [],  # (name, ids, per-image r, peak r) of maps that store per-image r
                "measures": {},  # (label, method) -> {measure: (peak r, sigma)}
                "notes": set(),
            },
        )
        label = _label(row)
        if block.get("human_boot_note"):
            g["notes"].add(block["human_boot_note"])
        ids = block.get("image_ids")
        short = f"{row['model']['name']}/{row['protocol']['name']}/s{row['seed']}"
        for measure, peaks in (block.get("per_measure") or {}).items():
            for peak in peaks:
                is_ref = peak["method"] in {
                    c["method"] for c in block["curves"] if c.get("kind") == "baseline"
                }
                key = ("reference (no model)", f"[{peak['method']}]") if is_ref else (short, peak["method"])
                g["measures"].setdefault(key, {}).setdefault(measure, (peak["best_r"], peak["best_sigma"]))
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
            if ids and c.get("per_image_r") is not None:
                is_ref = c.get("kind") == "baseline"
                name = f"[{c['method']}]" if is_ref else f"{short}:{c['method']}"
                if not (is_ref and any(x[0] == name for x in g["per_image"])):
                    g["per_image"].append((name, list(ids), list(c["per_image_r"]), c["best_r"]))
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
        g["cross"] = cross_model_matrix(g.pop("per_image"))
        g["measure_table"] = _measure_table(g.pop("measures"))
        g["notes"] = sorted(g["notes"])
        out.append(g)
    out.sort(key=lambda g: (g["measure"], g["data"]))
    return out


def cross_model_matrix(maps: list[tuple[str, list[str], list[float | None], float]]) -> dict[str, Any] | None:
    """SI §D.3 across models: paired t-tests of per-image r between every pair of maps (name, image
    ids, per-image r, peak r), on the images every map has a defined r for, Bonferroni over all
    pairs; the best :data:`MAX_MATRIX_MAPS` maps by peak r. None with fewer than two maps or images."""
    import numpy as np

    from luab_bench.alignment.correlate import pairwise_t_tests

    if len(maps) < 2:
        return None
    chosen = sorted(maps, key=lambda m: -m[3])[:MAX_MATRIX_MAPS]
    common = set(chosen[0][1]).intersection(*(set(m[1]) for m in chosen[1:]))
    order = [i for i in chosen[0][1] if i in common]
    if len(order) < 2:
        return None
    per: dict[str, np.ndarray] = {}
    for name, ids, r, _ in chosen:
        pos = {i: k for k, i in enumerate(ids)}
        per[name] = np.array([np.nan if r[pos[i]] is None else r[pos[i]] for i in order], dtype=np.float64)
    res = pairwise_t_tests(per)
    if res.n < 2:
        return None

    def _m(a: Any) -> list[list[float | None]]:
        return [[float(v) if np.isfinite(v) else None for v in row] for row in a]

    out = _matrix(
        {"names": res.names, "n": res.n, "mean_diff": _m(res.mean_diff), "p_bonferroni": _m(res.p_bonferroni)}
    )
    out["left_out"] = max(0, len(maps) - MAX_MATRIX_MAPS)
    return out


def _measure_table(cells: dict[tuple[str, str], dict[str, tuple[float, float]]]) -> dict[str, Any] | None:
    """Main Fig. 3A: rows = maps, columns = human measures (Human PC last), peak r (sigma) per cell,
    rows sorted by the mean peak r over the measures they have."""
    if not cells:
        return None
    measures = sorted({m for row in cells.values() for m in row}, key=lambda m: (m == "human_pc", m))
    rows = []
    for (label, method), row in cells.items():
        vals = [row[m][0] for m in measures if m in row]
        rows.append(
            {
                "label": label,
                "method": method,
                "reference": label == "reference (no model)",
                "mean": sum(vals) / len(vals),
                "cells": [
                    {"text": f"{row[m][0]:.3f}", "title": f"sigma {row[m][1]:g} px"} if m in row else None
                    for m in measures
                ],
            }
        )
    rows.sort(key=lambda r: -r["mean"])
    return {"measures": measures, "rows": rows}


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
