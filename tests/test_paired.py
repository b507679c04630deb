"""Paired statistics (metrics.paired), the paired Δ view and MDE of the site (leaderboard.paired)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from luab_bench.leaderboard.build import build_site
from luab_bench.metrics.bootstrap import bootstrap_diff_ci
from luab_bench.metrics.paired import minimum_detectable_effect, paired_difference, pooled_sd
from luab_bench.results.signing import generate_keypair

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=12), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=60, deadline=None)
def test_paired_difference_matches_scipy_t_interval(pairs: list[tuple[float, float]], conf: float) -> None:
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    d = np.subtract(a, b)
    got = paired_difference(a, b, confidence=conf)
    assert got.mean == pytest.approx(d.mean(), abs=1e-9)
    assert got.k == len(pairs)
    if d.std(ddof=1) < 1e-9:
        assert got.high - got.low == pytest.approx(0.0, abs=1e-6)
        return
    lo, hi = stats.t.interval(conf, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert got.low == pytest.approx(lo, rel=1e-7, abs=1e-7)
    assert got.high == pytest.approx(hi, rel=1e-7, abs=1e-7)
    assert got.excludes_zero == (lo > 0 or hi < 0)


def test_paired_difference_single_seed_has_no_interval() -> None:
    got = paired_difference([70.0], [68.5])
    assert got.mean == pytest.approx(1.5) and got.low is None and got.half_width is None
    assert not got.excludes_zero
    with pytest.raises(ValueError, match="equal length"):
        paired_difference([1.0, 2.0], [1.0])


def test_paired_bootstrap_matches_a_numpy_loop() -> None:
    """The per-seed paired bootstrap over the same test images: one index draw for both models."""
    rng = np.random.default_rng(3)
    a = 100.0 * (rng.random(300) < 0.7)
    b = 100.0 * (rng.random(300) < 0.6)
    got = bootstrap_diff_ci(a, b, paired=True, n_boot=400, seed=11)
    draw = np.random.default_rng(11)
    reps = []
    for _ in range(400):
        idx = np.minimum((draw.random(a.size) * a.size).astype(np.intp), a.size - 1)
        reps.append(a[idx].mean() - b[idx].mean())
    lo, hi = np.percentile(reps, [2.5, 97.5])
    assert got.estimate == pytest.approx(a.mean() - b.mean())
    assert (got.low, got.high) == pytest.approx((lo, hi))


@pytest.mark.parametrize("k", [2, 3, 5, 10])
@pytest.mark.parametrize("se_test", [0.0, 0.7])
def test_mde_formula_against_scipy(k: int, se_test: float) -> None:
    sd = 2.3
    want = (stats.t.ppf(0.975, k - 1) + stats.t.ppf(0.8, k - 1)) * math.sqrt(sd**2 / k + se_test**2)
    assert minimum_detectable_effect(sd, k, se_test=se_test) == pytest.approx(want, rel=1e-9)


def test_mde_power_is_about_the_target_under_normal_theory() -> None:
    """Independent check of the formula's meaning with the seed term only and many seeds: a true
    effect equal to the MDE is detected by the paired t-test in ≈ 80% of simulated experiments."""
    k, sd = 30, 1.0
    effect = minimum_detectable_effect(sd, k)
    rng = np.random.default_rng(0)
    d = rng.normal(effect, sd, size=(4000, k))
    p = stats.ttest_1samp(d, 0.0, axis=1).pvalue
    assert np.mean(p < 0.05) == pytest.approx(0.8, abs=0.03)


@given(st.floats(0.01, 50), st.integers(2, 20))
@settings(max_examples=40, deadline=None)
def test_mde_shrinks_with_seeds_and_grows_with_spread(sd: float, k: int) -> None:
    assert minimum_detectable_effect(sd, k + 1) < minimum_detectable_effect(sd, k)
    assert minimum_detectable_effect(2 * sd, k) == pytest.approx(2 * minimum_detectable_effect(sd, k))
    with pytest.raises(ValueError, match="k >= 2"):
        minimum_detectable_effect(sd, 1)


def test_pooled_sd_against_numpy() -> None:
    groups = [[1.0, 2.0, 4.0], [3.0, 3.5], [9.0]]
    ss = sum(((np.asarray(g) - np.mean(g)) ** 2).sum() for g in groups if len(g) > 1)
    sd, dof = pooled_sd(groups)
    assert dof == 3 and sd == pytest.approx(math.sqrt(ss / 3))
    assert pooled_sd([[1.0]]) is None


# ------------------------------------------------------------------ site
def _site(tmp_path: Path, values: dict[str, list[float]]) -> dict:
    from leaderboard_fixtures import synthetic_doc, write_results

    priv, _ = generate_keypair(tmp_path / "keys")
    docs = [synthetic_doc("resnet10t", p, s, v) for p, vals in values.items() for s, v in enumerate(vals)]
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    return json.loads((tmp_path / "site" / "results.json").read_text())


def test_site_colours_only_intervals_that_exclude_zero(tmp_path: Path) -> None:
    # LUAB - baseline: +4.0, +4.1, +4.3 at seeds 0-2 (excludes 0); Rand has one seed (no interval);
    # the oracle's Δ flips sign between seeds (includes 0)
    data = _site(
        tmp_path,
        {
            "baseline": [60.0, 61.0, 62.0],
            "luab": [64.0, 65.1, 66.3],
            "rand": [61.0],
            "oracle_background": [63.0, 58.0, 66.0],
        },
    )
    by = {d["label"]: d for d in data["paired_deltas"]}
    lb = by["LUAB − baseline"]["metrics"]["val_top1"]
    d = np.array([4.0, 4.1, 4.3])
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert (lb["delta"], lb["low"], lb["high"]) == pytest.approx((d.mean(), lo, hi))
    assert lb["significant"] and lb["verdict"] == "better"
    assert by["LUAB − baseline"]["metrics"]["bg_gap"]["verdict"] == "worse"  # lower is better
    assert by["LUAB − Rand"]["metrics"]["val_top1"]["verdict"] == "ns"  # k = 1
    oracle = by["BG oracle − baseline"]["metrics"]["val_top1"]
    assert not oracle["significant"] and oracle["verdict"] == "ns"
    page = (tmp_path / "site" / "index.html").read_text()
    assert "k=1, no interval" in page and f"[{lo:+.2f}, {hi:+.2f}]" in page
    assert 'href="s/synthetic.html"' in page


def test_suite_page_shows_mde_and_seed_means(tmp_path: Path) -> None:
    data = _site(tmp_path, {"baseline": [60.0, 61.0, 62.0], "luab": [64.0, 65.1, 66.3]})
    (eff,) = data["detectable_effects"]
    m = eff["metrics"]["val_top1"]
    d = np.array([4.0, 4.1, 4.3])
    se = math.sqrt(2) * 1.5 / stats.norm.ppf(0.975)  # fixture: every run's interval is ±1.5
    want = (stats.t.ppf(0.975, 2) + stats.t.ppf(0.8, 2)) * math.sqrt(d.var(ddof=1) / 3 + se**2)
    assert m["how"] == "paired" and m["k"] == 3 and m["mde"] == pytest.approx(want)
    page = (tmp_path / "site" / "s" / "synthetic.html").read_text()
    assert 'id="mde-table"' in page and f"{want:.2f} %" in page and 'id="aggregates"' in page


def test_mde_without_pairs_uses_the_unpaired_bound(tmp_path: Path) -> None:
    data = _site(tmp_path, {"baseline": [60.0, 62.0, 61.0], "luab": [64.0]})
    m = data["detectable_effects"][0]["metrics"]["val_top1"]
    sd = math.sqrt(2) * np.std([60.0, 62.0, 61.0], ddof=1)
    assert m["how"] == "unpaired" and m["sd_seed"] == pytest.approx(sd) and m["k"] == 3


def test_cli_tables_show_seed_means_and_style_only_significant_deltas(tmp_path: Path) -> None:
    from rich.console import Console

    from leaderboard_fixtures import synthetic_doc
    from luab_bench.results.schema import Result
    from luab_bench.suites.paired_tables import print_paired_tables

    values = {"baseline": [60.0, 61.0, 62.0], "luab": [64.0, 65.1, 66.3], "rand": [59.0, 63.0, 60.5]}
    results = [
        (tmp_path / f"{p}{s}.json", Result.model_validate(synthetic_doc("resnet10t", p, s, v)))
        for p, vals in values.items()
        for s, v in enumerate(vals)
    ]
    import io

    console = Console(
        record=True, width=400, color_system="standard", file=io.StringIO(), force_terminal=True
    )
    print_paired_tables(console, results)
    text = console.export_text(clear=False)
    assert "mean over seeds" in text and "baseline (k=3)" in text and "61.0 ±2.5" in text
    d = np.array([4.0, 4.1, 4.3])
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    cell = f"{d.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]"
    assert cell in text
    ansi = console.export_text(styles=True)
    # LUAB − baseline val is significant (green); LUAB − Rand val is not (grey)
    assert "\x1b[32m " + cell in ansi
    r = np.array([64.0 - 59.0, 65.1 - 63.0, 66.3 - 60.5])
    lo_r, hi_r = stats.t.interval(0.95, 2, loc=r.mean(), scale=stats.sem(r))
    assert lo_r < 0 < hi_r
    assert f"\x1b[90m{r.mean():+.2f} [{lo_r:+.2f}, {hi_r:+.2f}]" in ansi
