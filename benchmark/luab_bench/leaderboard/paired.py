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
  independent, so it is an upper bound ("√2 upper bound"). Where the group's comparisons carry
  per-seed paired bootstraps (below), ``se_test`` is instead the mean over those comparisons and
  seeds of the paired-bootstrap SE (95% half-width / 1.96; "measured paired"), as the sensitivity
  study computes it (``studies/analysis.py``). Each metric's ``se_how`` says which one it used.
* *Per-seed paired bootstrap* (issue 13), per paired-Δ cell and shared seed where both results carry
  a ``per_image`` vector for the metric (``results/per_image.py``) on the same images (equal,
  non-null ``suite.data_fingerprint`` and equal n): ``bootstrap_diff_ci(va, vb, paired=True,
  n_boot=N_BOOT_PAIRED, seed=named_seed(seed, metric))`` over the per-image scores (``100 · correct``;
  a ``…bg_gap`` metric: ``100 · (correct(…mixed_same_top1) − correct(…mixed_rand_top1))``), the same
  definition and stream as the study report, so the numbers are equal. The index draw depends only
  on (seed, metric, n), so a build draws it once per such key for all results (``_Scores``) and each
  comparison is a difference of stored resample means (bit-identical; BENCHMARKS.md #13). It is
  listed per seed (the cell's ``per_seed``; hover text, suite page table), coloured by its own
  interval; the cell's colour stays the seed-level t interval's.

Pure Python except the per-seed paired bootstrap: a build whose results carry no ``per_image``
blocks imports neither numpy nor scipy; with them, numpy is imported (lazily) for the bootstrap.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from luab_bench.leaderboard.aggregate import verdict
from luab_bench.metrics.paired import minimum_detectable_effect, paired_difference, pooled_sd
from luab_bench.results.per_image import gap_sources

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
#: resamples of the per-seed paired bootstrap: the sensitivity study's n_boot (studies/sensitivity.yaml),
#: so the site's per-seed intervals equal the study report's (a test checks the two agree)
N_BOOT_PAIRED = 2000
SE_MEASURED = "measured paired"
SE_UPPER_BOUND = "√2 upper bound"
GroupKey = tuple[str, str, str]
#: result file name -> metric name -> its ``per_image`` block (anything with ``n`` and ``bits()``)
PerImageBlocks = Mapping[str, Mapping[str, Any]]


def label(protocol: str) -> str:
    return PROTOCOL_LABELS.get(protocol, protocol)


def _by_group(rows: list[dict[str, Any]]) -> dict[GroupKey, dict[str, dict[int, dict[str, Any]]]]:
    """(suite, variant, model) -> protocol -> seed -> row (the first file of a duplicated seed)."""
    out: dict[GroupKey, dict[str, dict[int, dict[str, Any]]]] = defaultdict(lambda: defaultdict(dict))
    for r in sorted(rows, key=lambda r: r["file"]):
        key = (r["suite"]["name"], r["suite"]["variant"], r["model"]["name"])
        out[key][r["protocol"]["name"]].setdefault(int(r["seed"]), r)
    return out


def image_scores(block: Mapping[str, Any] | None, metric: str) -> list[float] | None:
    """Per-image scores whose mean is ``metric`` (``100 · correct``), from one result's ``per_image``
    block; a ``…bg_gap`` metric from its two mixed splits (``results.per_image.gap_sources``). None
    when the block does not hold them."""
    if not block:
        return None
    if metric in block:
        return [100.0 * b for b in block[metric].bits()]
    parts = gap_sources(metric)
    if parts is not None:
        same, rand = block.get(parts[0]), block.get(parts[1])
        if same is not None and rand is not None and same.n == rand.n:
            return [100.0 * (float(x) - float(y)) for x, y in zip(same.bits(), rand.bits(), strict=True)]
    return None


class _Scores:
    """Decoded per-image scores per (file, metric), decoded once per build, and their resample means.

    The per-seed bootstrap's index draw depends only on (seed, metric, n) (``named_seed(seed,
    metric)``), so it is drawn once per such key for every row that needs it
    (``metrics.bootstrap.bootstrap_means_many``), not once per comparison: each comparison is then a
    difference of two stored arrays. The intervals are bit-identical to :func:`seed_bootstrap`.
    """

    def __init__(self, blocks: PerImageBlocks | None, rows: list[dict[str, Any]] | None = None) -> None:
        self.blocks = blocks or {}
        self.rows = [r for r in rows or [] if r["file"] in self.blocks]
        self.cache: dict[tuple[str, str], list[float] | None] = {}
        self.means: dict[tuple[str, str], Any] = {}
        self.drawn: set[tuple[int, str, int]] = set()

    def get(self, row: dict[str, Any], metric: str) -> list[float] | None:
        key = (row["file"], metric)
        if key not in self.cache:
            self.cache[key] = image_scores(self.blocks.get(row["file"]), metric)
        return self.cache[key]

    def resampled(self, row: dict[str, Any], metric: str) -> Any:
        """``row``'s resample means of ``metric`` at its seed (N_BOOT_PAIRED,), drawn in one batch."""
        from luab_bench.metrics.bootstrap import bootstrap_means_many
        from luab_bench.seeds import named_seed

        scores = self.get(row, metric)
        if scores is None:
            return None
        seed, n = int(row["seed"]), len(scores)
        if (seed, metric, n) not in self.drawn:
            self.drawn.add((seed, metric, n))
            batch = [r for r in self.rows if int(r["seed"]) == seed and len(self.get(r, metric) or ()) == n]
            if row not in batch:
                batch.append(row)
            means = bootstrap_means_many(
                [self.get(r, metric) for r in batch], n_boot=N_BOOT_PAIRED, seed=named_seed(seed, metric)
            )
            for r, m in zip(batch, means, strict=True):
                self.means[(r["file"], metric)] = m
        return self.means[(row["file"], metric)]


def _same_images(a: dict[str, Any], b: dict[str, Any]) -> bool:
    fa, fb = a["suite"].get("data_fingerprint"), b["suite"].get("data_fingerprint")
    return fa is not None and fa == fb


def seed_bootstrap(
    va: list[float], vb: list[float], seed: int, metric: str, higher_is_better: bool
) -> dict[str, Any]:
    """One seed's paired bootstrap of ``mean(va) − mean(vb)`` over the same images (module doc)."""
    from luab_bench.metrics.bootstrap import bootstrap_diff_ci
    from luab_bench.seeds import named_seed

    ci = bootstrap_diff_ci(va, vb, paired=True, n_boot=N_BOOT_PAIRED, seed=named_seed(seed, metric))
    return _seed_entry(ci, seed, len(va), higher_is_better)


def _seed_entry(ci: Any, seed: int, n: int, higher_is_better: bool) -> dict[str, Any]:
    significant = ci.low > 0 or ci.high < 0
    return {
        "seed": seed,
        "delta": ci.estimate,
        "low": ci.low,
        "high": ci.high,
        "se": (ci.high - ci.low) / 2 / Z_95,
        "n": n,
        "significant": significant,
        "verdict": verdict(ci.estimate, higher_is_better) if significant else "ns",
    }


def _batched_seed_bootstrap(
    scores: _Scores, ra: dict[str, Any], rb: dict[str, Any], seed: int, metric: str, hib: bool
) -> dict[str, Any]:
    """:func:`seed_bootstrap` from the two rows' stored resample means (same numbers, shared draws)."""
    import numpy as np

    from luab_bench.metrics.bootstrap import paired_ci_from_means

    va, vb = scores.get(ra, metric), scores.get(rb, metric)
    estimate = float(np.asarray(va, dtype=np.float64).mean() - np.asarray(vb, dtype=np.float64).mean())
    ci = paired_ci_from_means(scores.resampled(ra, metric), scores.resampled(rb, metric), estimate)
    return _seed_entry(ci, seed, len(va), hib)


def _cell(
    treated: dict[int, dict[str, Any]],
    control: dict[int, dict[str, Any]],
    name: str,
    scores: _Scores | None = None,
) -> Any:
    seeds = sorted(s for s in treated if s in control and name in treated[s]["metrics"])
    seeds = [s for s in seeds if name in control[s]["metrics"]]
    if not seeds:
        return None
    a = [treated[s]["metrics"][name]["value"] for s in seeds]
    b = [control[s]["metrics"][name]["value"] for s in seeds]
    pd = paired_difference(a, b)
    m = treated[seeds[0]]["metrics"][name]
    per_seed = []
    if scores is not None:
        for s in seeds:
            ra, rb = treated[s], control[s]
            va, vb = scores.get(ra, name), scores.get(rb, name)
            if va is not None and vb is not None and len(va) == len(vb) and _same_images(ra, rb):
                per_seed.append(_batched_seed_bootstrap(scores, ra, rb, s, name, m["higher_is_better"]))
    cell = {
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
    if per_seed:  # absent, not empty, without per-image data: results.json stays as it was
        cell["per_seed"] = per_seed
    return cell


def paired_deltas(
    rows: list[dict[str, Any]],
    comparisons: tuple[tuple[str, str], ...] = COMPARISONS,
    *,
    per_image: PerImageBlocks | None = None,
) -> list[dict[str, Any]]:
    """One entry per (suite, variant, model, comparison) with both protocols present; see module doc.

    ``per_image``: the results' ``per_image`` blocks by file name; with them, cells get the per-seed
    paired bootstrap (``per_seed``) where both results of a seed carry the metric's vector.
    """
    scores = _Scores(per_image, rows) if per_image else None
    out = []
    for (suite, variant, model), protos in sorted(_by_group(rows).items()):
        for treated, control in comparisons:
            if treated not in protos or control not in protos:
                continue
            names = sorted({n for r in protos[treated].values() for n in r["metrics"]})
            cells = {
                n: c for n in names if (c := _cell(protos[treated], protos[control], n, scores)) is not None
            }
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
            measured = [
                e["se"] for d in by_delta[key] for e in d["metrics"].get(name, {}).get("per_seed", ())
            ]
            se = math.fsum(measured) / len(measured) if measured else _test_se(runs, name)
            entry: dict[str, Any] = {
                "k": k,
                "n": first["n"],
                "unit": first["unit"],
                "se_test": se,
                "se_how": SE_MEASURED if measured else (None if se is None else SE_UPPER_BOUND),
                "se_count": len(measured),
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
        return {
            "delta": f(c["delta"]),
            "interval": "k=1, no interval",
            "title": f"seed {c['seeds'][0]} only" + _per_seed_title(c),
        }
    return {
        "delta": f(c["delta"]),
        "interval": f"[{f(c['low'])}, {f(c['high'])}]",
        "title": f"mean paired difference over seeds {', '.join(map(str, c['seeds']))} (k={c['k']}); "
        f"95% t interval; {'excludes 0' if c['significant'] else 'includes 0: not a finding'}"
        + _per_seed_title(c),
    }


def _per_seed_title(c: dict[str, Any]) -> str:
    """The hover text's per-seed paired bootstraps ('' when the cell has none)."""
    lines = [
        f"seed {e['seed']}: {t['delta']} {t['interval']}"
        for e in c.get("per_seed", ())
        for t in (format_seed_bootstrap(e, c["unit"]),)
    ]
    return (
        ("\nper seed, paired bootstrap over the same test images (95%):\n" + "\n".join(lines))
        if lines
        else ""
    )


def format_seed_bootstrap(e: dict[str, Any], unit: str) -> dict[str, str]:
    """Display strings of one seed's paired bootstrap: Δ, its 95% interval, hover text."""

    def f(x: float) -> str:
        return f"{x:+.2f}" if unit in ("%", "pp") else f"{x:+.3f}"

    return {
        "delta": f(e["delta"]),
        "interval": f"[{f(e['low'])}, {f(e['high'])}]",
        "title": f"seed {e['seed']}: paired percentile bootstrap over the same {e['n']} test images "
        f"({N_BOOT_PAIRED} resamples), SE {e['se']:.3g}; "
        f"{'excludes 0' if e['significant'] else 'includes 0: not a finding at this seed'}",
    }


__all__ = [
    "COMPARISONS",
    "N_BOOT_PAIRED",
    "detectable_effects",
    "format_delta",
    "format_seed_bootstrap",
    "image_scores",
    "label",
    "paired_deltas",
    "seed_bootstrap",
    "suite_page_name",
]
