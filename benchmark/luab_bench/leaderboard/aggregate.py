"""Seed aggregates, LUAB − baseline / LUAB − Rand deltas, and deltas to the paper's numbers.

Definitions (used on the site and in ``results.json``):

- *Mean over seeds*: results with the same (suite, variant, model, protocol) are one group; each
  metric's mean is the arithmetic mean over the group's seeds. With k ≥ 2 seeds the interval is the
  two-sided 95% Student-t interval of that mean, ``t(0.975, k−1) · s / √k`` with ``s`` the sample
  standard deviation (ddof = 1); it describes seed-to-seed variation only (each run's own bootstrap
  interval over test images is shown on its row). With one seed there is no interval.
- *Δ*: difference of group means, LUAB − baseline and LUAB − Rand, per (suite, variant, model).
  It is "better" when it moves in the metric's direction (``higher_is_better``), "worse" otherwise.
- *Δ to reported*: reproduced group mean − the paper's printed number, for the same suite, model
  and protocol.
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache
from typing import Any

GroupKey = tuple[str, str, str, str]


def t_two_sided_mass(t: float, dof: int) -> float:
    """P(|T| < t) for Student's t with integer ``dof`` >= 1, in closed form.

    Abramowitz & Stegun 26.7.3 with theta = atan(t / sqrt(dof)): for odd dof,
    (2/pi) * (theta + sin(theta) * (cos(theta) + 2/3 cos^3 + (2*4)/(3*5) cos^5 + ... up to cos^(dof-2)));
    for even dof, sin(theta) * (1 + 1/2 cos^2 + (1*3)/(2*4) cos^4 + ... up to cos^(dof-2)).
    """
    if dof < 1:
        raise ValueError(f"dof must be >= 1, got {dof}")
    theta = math.atan2(abs(t), math.sqrt(dof))
    c, sn = math.cos(theta), math.sin(theta)
    if dof % 2:
        term, total = c, (c if dof > 1 else 0.0)
        for k in range(3, dof - 1, 2):  # term_k = term_{k-2} * (k-1)/k * cos^2
            term *= (k - 1) / k * c * c
            total += term
        return 2.0 / math.pi * (theta + sn * total)
    term = total = 1.0
    for k in range(2, dof - 1, 2):  # term_k = term_{k-2} * (k-1)/k * cos^2
        term *= (k - 1) / k * c * c
        total += term
    return sn * total


@lru_cache(maxsize=256)
def t_quantile(dof: int, q: float = 0.975) -> float:
    """Student-t quantile for integer ``dof`` (q > 0.5), cached: few distinct seed counts occur.

    Solves ``P(|T| < t) = 2q - 1`` (:func:`t_two_sided_mass`, exact for integer dof) by bisection on
    theta = atan(t / sqrt(dof)) in (0, pi/2) down to float resolution. Pure Python on purpose: the
    site build then needs no scipy/numpy import (a quarter of a second of every `leaderboard build`).
    Tested against ``scipy.stats.t.ppf``.
    """
    if not 0.5 < q < 1.0:
        raise ValueError(f"q must be in (0.5, 1), got {q}")
    target = 2.0 * q - 1.0
    lo, hi = 0.0, math.pi / 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        if t_two_sided_mass(math.tan(mid) * math.sqrt(dof), dof) < target:
            lo = mid
        else:
            hi = mid
    return math.tan((lo + hi) / 2) * math.sqrt(dof)


def mean_interval(values: list[float]) -> tuple[float, float | None]:
    """Mean and the 95% t-interval half-width over seeds (``None`` for a single value)."""
    k = len(values)
    mean = math.fsum(values) / k
    if k < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in values) / (k - 1)
    return mean, t_quantile(k - 1) * math.sqrt(var / k)


def group_key(row: dict[str, Any]) -> GroupKey:
    return (row["suite"]["name"], row["suite"]["variant"], row["model"]["name"], row["protocol"]["name"])


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (suite, variant, model, protocol) over the given rows, sorted by that key.

    A seed counts once: rows repeating a (group, seed) are a replay (a copied file counted twice
    would show k = 2 with a zero interval), so they raise ``ValueError``; the site build removes them
    first and lists them (:func:`luab_bench.results.replays.find_replays`).
    """
    groups: dict[GroupKey, list[dict[str, Any]]] = defaultdict(list)
    seen: dict[tuple[GroupKey, int], str] = {}
    for row in rows:
        key = group_key(row)
        first = seen.setdefault((key, row["seed"]), row["file"])
        if first != row["file"]:
            raise ValueError(
                f"{row['file']}: seed {row['seed']} of {'/'.join(key)} already counted from {first}; "
                "a seed enters a mean once (drop replays first)"
            )
        groups[key].append(row)
    out = []
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda r: (r["seed"], r["file"]))
        per_metric: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for r in members:
            for name, m in r["metrics"].items():
                per_metric[name].append((r["seed"], m))
        metrics = {}
        for name, entries in per_metric.items():
            values = [m["value"] for _, m in entries]
            mean, half = mean_interval(values)
            first = entries[0][1]
            metrics[name] = {
                "mean": mean,
                "half_width": half,
                "k": len(values),
                "seeds": [s for s, _ in entries],
                "unit": first["unit"],
                "higher_is_better": first["higher_is_better"],
            }
        suite, variant, model, protocol = key
        out.append(
            {
                "suite": suite,
                "variant": variant,
                "model": model,
                "protocol": protocol,
                "seeds": sorted({r["seed"] for r in members}),
                "files": [r["file"] for r in members],
                "metrics": metrics,
            }
        )
    return out


def verdict(delta: float, higher_is_better: bool) -> str:
    """``better`` / ``worse`` / ``same`` for a difference, in the metric's direction."""
    if delta == 0:
        return "same"
    return "better" if (delta > 0) == higher_is_better else "worse"


def _diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    d = a["mean"] - b["mean"]
    return {"delta": d, "verdict": verdict(d, a["higher_is_better"]), "k": [a["k"], b["k"]]}


def deltas(
    aggregates: list[dict[str, Any]], treated: str = "luab", controls: tuple[str, ...] = ("baseline", "rand")
) -> list[dict[str, Any]]:
    """Per (suite, variant, model) with a ``treated`` group: its Δ to each control that exists."""
    by_key = {(a["suite"], a["variant"], a["model"], a["protocol"]): a for a in aggregates}
    out = []
    for (suite, variant, model, protocol), agg in sorted(by_key.items()):
        if protocol != treated:
            continue
        entry: dict[str, Any] = {"suite": suite, "variant": variant, "model": model, "vs": {}}
        for control in controls:
            other = by_key.get((suite, variant, model, control))
            if other is None:
                continue
            entry["vs"][control] = {
                name: _diff(m, other["metrics"][name])
                for name, m in agg["metrics"].items()
                if name in other["metrics"]
            }
        out.append(entry)
    return out
