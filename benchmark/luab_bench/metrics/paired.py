"""Paired comparisons of two protocols over seeds, and the minimum detectable effect (MDE).

Pairing: under one training seed two protocols start from the same initial weights and see the same
batches (``luab_bench.seeds``), and they are scored on the same test images. So the unit of
replication is the seed, and the statistic is the per-seed difference ``d_s = a_s - b_s``.

* :func:`paired_difference` — the mean paired difference over the k seeds both protocols share,
  ``d̄ = mean(d_s)``, with (k >= 2) the two-sided Student-t interval
  ``d̄ ± t_{(1+c)/2, k-1} · s_d / √k`` (``s_d``: sample SD of the d_s, ddof = 1). It describes
  seed-to-seed variation (the test set is fixed). With k = 1 there is no interval.
* Per seed, the paired bootstrap over the same test images is
  ``metrics.bootstrap.bootstrap_diff_ci(a, b, paired=True)`` on the two models' per-image scores
  (one index resample applied to both; test-set variation only).
* :func:`minimum_detectable_effect` — the smallest true paired difference that a two-sided paired
  t-test at level α detects with probability ``power`` with k seeds, by the usual normal-theory
  sample-size relation with t quantiles (Chow, Shao & Wang, *Sample Size Calculations in Clinical
  Research*, 2nd ed. 2008, Sec. 3.1, one-sample / paired mean; Cohen 1988, Ch. 2):

      MDE = (t_{1-α/2, k-1} + t_{power, k-1}) · sqrt(s_d² / k + se_test²)

  at α = 0.05, power = 0.8 by default. ``s_d`` is the seed SD of the paired differences;
  ``se_test`` (default 0) adds the test-set standard error of a paired difference (the suite's
  finite n: the same test images serve every seed, so this term does not shrink with k). The
  relation is the standard approximation (it ignores the non-centrality of the t distribution, so
  it is slightly optimistic at very small k); this is the definition used everywhere in luab-bench.

Pure Python (the site build must not import numpy/scipy); the t quantile is
``leaderboard.aggregate.t_quantile`` (exact for integer dof, tested against scipy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from luab_bench.leaderboard.aggregate import t_quantile

DEFAULT_ALPHA = 0.05
DEFAULT_POWER = 0.8


@dataclass(frozen=True)
class PairedDifference:
    """Mean paired difference over seeds; ``low``/``high`` None when k < 2."""

    mean: float
    k: int
    sd: float | None
    low: float | None
    high: float | None

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    @property
    def excludes_zero(self) -> bool:
        """True only with an interval that lies entirely above or below 0 (a finding)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def _sample_sd(values: Sequence[float]) -> float:
    k = len(values)
    mean = math.fsum(values) / k
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (k - 1))


def paired_difference(
    a: Sequence[float], b: Sequence[float], *, confidence: float = 0.95
) -> PairedDifference:
    """``mean(a_s - b_s)`` over paired seeds (same order in ``a`` and ``b``) with its t interval."""
    if len(a) != len(b):
        raise ValueError(f"paired values must have equal length, got {len(a)} and {len(b)}")
    if not a:
        raise ValueError("paired_difference needs at least one pair")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = [float(x) - float(y) for x, y in zip(a, b, strict=True)]
    if not all(math.isfinite(v) for v in d):
        raise ValueError("paired values must be finite")
    k = len(d)
    mean = math.fsum(d) / k
    if k < 2:
        return PairedDifference(mean, k, None, None, None)
    sd = _sample_sd(d)
    half = t_quantile(k - 1, (1.0 + confidence) / 2) * sd / math.sqrt(k)
    return PairedDifference(mean, k, sd, mean - half, mean + half)


def minimum_detectable_effect(
    sd_diff: float,
    k: int,
    *,
    se_test: float = 0.0,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> float:
    """MDE = (t_{1-α/2,k-1} + t_{power,k-1}) · sqrt(sd_diff²/k + se_test²); k >= 2 (see module doc)."""
    if k < 2:
        raise ValueError(f"the minimum detectable effect needs k >= 2 seeds, got {k}")
    if not 0.0 < alpha < 1.0 or not 0.5 < power < 1.0:
        raise ValueError(f"need 0 < alpha < 1 and 0.5 < power < 1, got {alpha}, {power}")
    if sd_diff < 0 or se_test < 0 or not math.isfinite(sd_diff) or not math.isfinite(se_test):
        raise ValueError("sd_diff and se_test must be finite and >= 0")
    factor = t_quantile(k - 1, 1.0 - alpha / 2) + t_quantile(k - 1, power)
    return factor * math.sqrt(sd_diff**2 / k + se_test**2)


def pooled_sd(groups: Sequence[Sequence[float]]) -> tuple[float, int] | None:
    """Pooled sample SD of several groups of paired differences (each with >= 2 values) and its dof.

    ``sqrt(Σ_g Σ_i (d_gi - d̄_g)² / Σ_g (k_g - 1))``; None when no group has two values.
    """
    ss = 0.0
    dof = 0
    for g in groups:
        if len(g) < 2:
            continue
        mean = math.fsum(g) / len(g)
        ss += math.fsum((v - mean) ** 2 for v in g)
        dof += len(g) - 1
    if dof == 0:
        return None
    return math.sqrt(ss / dof), dof


__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_POWER",
    "PairedDifference",
    "minimum_detectable_effect",
    "paired_difference",
    "pooled_sd",
]
