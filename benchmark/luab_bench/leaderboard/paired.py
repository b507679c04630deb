"""Paired Δ and minimum detectable effects of the site (Δ view, suite pages) from verified rows.

Definitions (``luab_bench.metrics.paired``):

* *Paired Δ* of a comparison (treated − control, e.g. LUAB − baseline) per (suite, variant, model)
  and metric: the per-seed differences over the seeds both protocols have, their mean, and with
  k >= 2 the 95% Student-t interval over seeds. A cell is **coloured only when that interval
  excludes 0** (green: better in the metric's direction, red: worse); otherwise it is grey (``ns``),
  and with k = 1 there is no interval (grey, "k = 1"). The interval is printed.
* *MDE* per (suite, variant, model) and metric, at α = 0.05 and power 0.8 with k = the largest
  number of seeds a comparison of that group shares:
  ``(t_{0.975,k-1} + t_{0.8,k-1}) · sqrt(s_d²/k + se_test²)``. ``s_d``: the SD of the paired per-seed
  differences pooled over every comparison with >= 2 shared seeds ("paired"); where no comparison
  has two, √2 × the seed SD pooled over the protocols with >= 2 seeds ("unpaired": assumes the
  protocols' seed noise independent, an upper bound under pairing). ``se_test``: the test-set
  standard error of one paired difference, estimated as √2 × the mean over the group's runs of
  (95% bootstrap half-width / 1.96); √2 treats the two models' errors on the same images as
  independent, so it too is an upper bound (the study command measures the paired value directly).

Pure Python: the site build imports neither numpy nor scipy.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from luab_bench.leaderboard.aggregate import verdict
from luab_bench.metrics.paired import minimum_detectable_effect, paired_difference, pooled_sd

# (treated, control): the comparisons the Δ view shows when both protocols have verified results.
COMPARISONS: tuple[tuple[str, str], ...] = (
    ("luab", "baseline"),
    ("luab", "rand"),
    ("rand", "baseline"),
    ("oracle_background", "baseline"),
    ("oracle_point", "baseline"),
    ("oracle_point", "luab"),
    ("coco_luab", "coco_baseline"),
    ("coco_luab", "coco_rand"),
)
PROTOCOL_LABELS = {
    "luab": "LUAB",
    "rand": "Rand",
    "baseline": "baseline",
    "oracle_background": "BG oracle",
    "oracle_point": "point oracle",
    "coco_luab": "LUAB",
    "coco_rand": "Rand",
    "coco_baseline": "baseline",
}
Z_95 = 1.959963984540054  # normal 0.975 quantile: a 95% percentile-bootstrap half-width ≈ Z_95 · SE
GroupKey = tuple[str, str, str]


def label(protocol: str) -> str:
    return PROTOCOL_LABELS.get(protocol, protocol)


def _by_group(rows: list[dict[str, Any]]) -> dict[GroupKey, dict[str, dict[int, dict[str, Any]]]]:
    """(suite, variant, model) -> protocol -> seed -> row (the first file of a duplicated seed)."""
    out: dict[GroupKey, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for r in sorted(rows, key=lambda r: r["file"]):
        key = (r["suite"]["name"], r["suite"]["variant"], r["model"]["name"])
        out[key][r["protocol"]["name"]].setdefault(int(r["seed"]), r)
    return out


def _cell(treated: dict[int, dict[str, Any]], control: dict[int, dict[str, Any]], name: str) -> Any:
    seeds = sorted(s for s in treated if s in control and name in treated[s]["metrics"])
    seeds = [s for s in seeds if name in control[s]["metrics"]]
    if not seeds:
        return None
    a = [treated[s]["metrics"][name]["value"] for s in seeds]
    b = [control[s]["metrics"][name]["value"] for s in seeds]
    pd = paired_difference(a, b)
    m = treated[seeds[0]]["metrics"][name]
    return {
        "delta": pd.mean,
        "low": pd.low,
        "high": pd.high,
        "sd": pd.sd,
        "k": pd.k,
        "seeds": seeds,
        "significant": pd.excludes_zero,
        "verdict": verdict(pd.mean, m["higher_is_better"]) if pd.excludes_zero else "ns",
        "unit": m["unit"],
        "diffs": [x - y for x, y in zip(a, b, strict=True)],
    }


def paired_deltas(
    rows: list[dict[str, Any]], comparisons: tuple[tuple[str, str], ...] = COMPARISONS
) -> list[dict[str, Any]]:
    """One entry per (suite, variant, model, comparison) with both protocols present; see module doc."""
    out = []
    for (suite, variant, model), protos in sorted(_by_group(rows).items()):
        for treated, control in comparisons:
            if treated not in protos or control not in protos:
                continue
            names = sorted({n for r in protos[treated].values() for n in r["metrics"]})
            cells = {n: c for n in names if (c := _cell(protos[treated], protos[control], n)) is not None}
            if not cells:
                continue
            out.append(
                {
                    "suite": suite,
                    "variant": variant,
                    "model": model,
                    "treated": treated,
                    "control": control,
                    "label": f"{label(treated)} − {label(control)}",
                    "k": max(c["k"] for c in cells.values()),
                    "metrics": cells,
                }
            )
    return out


def _test_se(runs: list[dict[str, Any]], name: str) -> float | None:
    """√2 × mean per-run test-set SE (95% bootstrap half-width / Z_95) of metric ``name``."""
    ses = []
    for r in runs:
        m = r["metrics"].get(name)
        if m and m.get("ci_low") is not None and m.get("ci_high") is not None:
            ses.append((m["ci_high"] - m["ci_low"]) / 2 / Z_95)
    return math.sqrt(2) * math.fsum(ses) / len(ses) if ses else None


def detectable_effects(rows: list[dict[str, Any]], deltas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """MDE per (suite, variant, model) and metric (see the module docstring for the definition)."""
    by_delta: dict[GroupKey, list[dict[str, Any]]] = defaultdict(list)
    for d in deltas:
        by_delta[(d["suite"], d["variant"], d["model"])].append(d)
    out = []
    for key, protos in sorted(_by_group(rows).items()):
        runs = [r for per_seed in protos.values() for r in per_seed.values()]
        names = sorted({n for r in runs for n in r["metrics"]})
        metrics = {}
        for name in names:
            diffs = [d["metrics"][name]["diffs"] for d in by_delta[key] if name in d["metrics"]]
            k = max((len(g) for g in diffs), default=0)
            pooled = pooled_sd(diffs)
            how = "paired"
            if pooled is None:
                per_proto = [
                    [r["metrics"][name]["value"] for r in per_seed.values() if name in r["metrics"]]
                    for per_seed in protos.values()
                ]
                k = max((len(v) for v in per_proto), default=0)
                single = pooled_sd(per_proto)
                pooled = None if single is None else (math.sqrt(2) * single[0], single[1])
                how = "unpaired"
            first = next(r["metrics"][name] for r in runs if name in r["metrics"])
            se = _test_se(runs, name)
            entry: dict[str, Any] = {
                "k": k,
                "n": first["n"],
                "unit": first["unit"],
                "se_test": se,
                "sd_seed": None if pooled is None else pooled[0],
                "how": how,
                "mde": None,
                "mde_seed_only": None,
            }
            if pooled is not None and k >= 2:
                entry["mde"] = minimum_detectable_effect(pooled[0], k, se_test=se or 0.0)
                entry["mde_seed_only"] = minimum_detectable_effect(pooled[0], k)
            metrics[name] = entry
        suite, variant, model = key
        out.append({"suite": suite, "variant": variant, "model": model, "metrics": metrics})
    return out


def suite_page_name(suite: str, variant: str | None) -> str:
    """``s/<suite>[.<variant>].html`` (safe characters only)."""
    import re

    name = suite if not variant or variant == suite else f"{suite}.{variant}"
    return "s/" + (re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "suite") + ".html"


def format_delta(c: dict[str, Any]) -> dict[str, str]:
    """Display strings of one paired-Δ cell: the Δ, its interval (or why there is none), hover text."""
    unit = c["unit"]

    def f(x: float) -> str:
        return f"{x:+.2f}" if unit in ("%", "pp") else f"{x:+.3f}"

    if c["low"] is None:
        return {"delta": f(c["delta"]), "interval": "k=1, no interval", "title": f"seed {c['seeds'][0]} only"}
    return {
        "delta": f(c["delta"]),
        "interval": f"[{f(c['low'])}, {f(c['high'])}]",
        "title": f"mean paired difference over seeds {', '.join(map(str, c['seeds']))} (k={c['k']}); "
        f"95% t interval; {'excludes 0' if c['significant'] else 'includes 0: not a finding'}",
    }


__all__ = ["COMPARISONS", "detectable_effects", "format_delta", "label", "paired_deltas", "suite_page_name"]
