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
    assert m["se_how"] == "√2 upper bound" and m["se_count"] == 0  # no per-image data
    assert all("per_seed" not in c for d in data["paired_deltas"] for c in d["metrics"].values())
    page = (tmp_path / "site" / "s" / "synthetic.html").read_text()
    assert 'id="mde-table"' in page and f"{want:.2f} %" in page and 'id="aggregates"' in page
    assert 'id="per-seed-table"' not in page and '<sup class="seedboot">' not in page


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


# ------------------------------------------------- per-seed paired bootstrap (per-image blocks)
GAINS = {0: (40, 0), 1: (2, 2), 2: (25, 5)}  # seed -> (images LUAB fixes, images it breaks)


def _numpy_paired_bootstrap(
    a: np.ndarray, b: np.ndarray, seed: list[int], n_boot: int
) -> tuple[float, float]:
    """Hand-written paired percentile bootstrap: one index draw per resample, applied to both."""
    draw = np.random.default_rng(seed)
    reps = np.empty(n_boot)
    for i in range(n_boot):
        idx = np.minimum((draw.random(a.size) * a.size).astype(np.intp), a.size - 1)
        reps[i] = a[idx].mean() - b[idx].mean()
    lo, hi = np.percentile(reps, [2.5, 97.5])
    return float(lo), float(hi)


def _scores(correct: dict, name: str) -> np.ndarray:
    """Per-image score of metric ``name``: 100 · correct; BG-gap: 100 · (mixed_same − mixed_rand)."""
    if name == "bg_gap":
        return 100.0 * (correct["mixed_same_top1"].astype(float) - correct["mixed_rand_top1"].astype(float))
    return 100.0 * correct[name].astype(float)


def _per_image_site(tmp_path: Path) -> tuple[dict, dict]:
    """LUAB and baseline with per-image blocks at seeds 0-2 (seed 2's baseline on other data), Rand
    without (schema 1.0); returns (results.json, {(protocol, seed): correct vectors})."""
    from leaderboard_fixtures import paired_correct, per_image_doc, synthetic_doc, write_results

    priv, _ = generate_keypair(tmp_path / "keys")
    docs, vectors = [], {}
    for s, (gain, loss) in GAINS.items():
        base, luab = paired_correct(s, gain, loss)
        vectors[("baseline", s)], vectors[("luab", s)] = base, luab
        docs.append(per_image_doc("resnet10t", "luab", s, luab))
        docs.append(per_image_doc("resnet10t", "baseline", s, base))
        docs.append(synthetic_doc("resnet10t", "rand", s, 55.0 + s))
    # the same per-image data at seed 3 but unknown data (no fingerprint): never paired image by image
    base, luab = paired_correct(3, 10, 0)
    docs += [
        per_image_doc("resnet10t", p, 3, v, fingerprint=None) for p, v in (("luab", luab), ("baseline", base))
    ]
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    return json.loads((tmp_path / "site" / "results.json").read_text()), vectors


def test_site_per_seed_paired_bootstrap_against_numpy(tmp_path: Path) -> None:
    from luab_bench.leaderboard.paired import N_BOOT_PAIRED
    from luab_bench.seeds import named_seed

    data, vectors = _per_image_site(tmp_path)
    by = {d["label"]: d for d in data["paired_deltas"]}
    lb = by["LUAB − baseline"]
    assert lb["k"] == 4  # seed 3 enters the t interval over seeds, not the per-image bootstrap
    for name in ("val_top1", "bg_gap"):
        cell = lb["metrics"][name]
        assert [e["seed"] for e in cell["per_seed"]] == [0, 1, 2]  # seed 3: no data fingerprint
        for e in cell["per_seed"]:
            s = e["seed"]
            a, b = (_scores(vectors[(p, s)], name) for p in ("luab", "baseline"))
            lo, hi = _numpy_paired_bootstrap(a, b, named_seed(s, name), N_BOOT_PAIRED)
            assert e["delta"] == pytest.approx(a.mean() - b.mean(), abs=1e-9)
            assert (e["low"], e["high"]) == pytest.approx((lo, hi), abs=1e-9)
            assert e["se"] == pytest.approx((hi - lo) / 2 / stats.norm.ppf(0.975))
            assert e["n"] == a.size and e["significant"] == (lo > 0 or hi < 0)
    val = lb["metrics"]["val_top1"]["per_seed"]
    assert val[0]["verdict"] == "better" and val[1]["verdict"] == "ns"  # +10 pp vs 0 pp on 400 images
    assert not lb["metrics"]["val_top1"]["significant"]  # the cell's colour is the seed-level t interval's
    # Rand carries no per-image data: its cells are as before (no per_seed key at all)
    assert all("per_seed" not in c for c in by["LUAB − Rand"]["metrics"].values())
    page = (tmp_path / "site" / "index.html").read_text()
    assert "seedboot" not in page.split("LUAB − Rand")[1].split("</tr>")[0]  # its row: no mark
    assert "seedboot" in page.split("LUAB − baseline")[1].split("</tr>")[0]
    s0 = val[0]
    assert f"seed 0: {s0['delta']:+.2f} [{s0['low']:+.2f}, {s0['high']:+.2f}]" in page  # hover text
    suite = (tmp_path / "site" / "s" / "synthetic.html").read_text()
    assert 'id="per-seed-table"' in suite and f"[{s0['low']:+.2f}, {s0['high']:+.2f}]" in suite


def test_site_per_seed_bootstrap_equals_the_study_definition(tmp_path: Path) -> None:
    """The site's per-seed numbers are the study's (studies/analysis.py: result_scores, metric_scores,
    bootstrap_diff_ci(paired=True, seed=named_seed(seed, metric), n_boot from sensitivity.yaml))."""
    import yaml

    from luab_bench.leaderboard.paired import N_BOOT_PAIRED
    from luab_bench.results.schema import validate_result
    from luab_bench.seeds import named_seed
    from luab_bench.studies.analysis import metric_scores, result_scores

    cfg = yaml.safe_load(
        (Path(__file__).parents[1] / "benchmark/luab_bench/studies/sensitivity.yaml").read_text()
    )
    assert cfg["n_boot"] == N_BOOT_PAIRED
    data, _ = _per_image_site(tmp_path)
    files = {json.loads(p.read_text())["seed"]: p for p in (tmp_path / "results").glob("*luab*.json")}
    bases = {json.loads(p.read_text())["seed"]: p for p in (tmp_path / "results").glob("*baseline*.json")}
    lb = next(d for d in data["paired_deltas"] if d["label"] == "LUAB − baseline")
    for m in ("val_top1", "only_fg_top1", "mixed_rand_top1", "bg_gap"):
        for e in lb["metrics"][m]["per_seed"]:
            s = e["seed"]
            ta = result_scores(validate_result(json.loads(files[s].read_text()), "t"))
            tb = result_scores(validate_result(json.loads(bases[s].read_text()), "c"))
            ci = bootstrap_diff_ci(metric_scores(ta, m), metric_scores(tb, m), paired=True,
                                   n_boot=cfg["n_boot"], seed=named_seed(s, m))  # fmt: skip
            assert (e["delta"], e["low"], e["high"]) == (ci.estimate, ci.low, ci.high)


def test_site_mde_uses_the_measured_paired_se(tmp_path: Path) -> None:
    data, _ = _per_image_site(tmp_path)
    (eff,) = data["detectable_effects"]
    for name, m in eff["metrics"].items():
        ses = [e["se"] for d in data["paired_deltas"] for e in d["metrics"].get(name, {}).get("per_seed", ())]
        assert len(ses) == 3  # LUAB − baseline at seeds 0-2; Rand and the fingerprint-less seed 3 have none
        assert m["se_how"] == "measured paired" and m["se_count"] == 3
        assert m["se_test"] == pytest.approx(np.mean(ses))
        d = np.array(
            next(d for d in data["paired_deltas"] if d["label"] == "LUAB − baseline")["metrics"][name][
                "diffs"
            ]
        )
        assert m["k"] == 4 and m["how"] == "paired"
        r = np.array(
            next(d for d in data["paired_deltas"] if d["label"] == "LUAB − Rand")["metrics"][name]["diffs"]
        )
        q = np.array(
            next(d for d in data["paired_deltas"] if d["label"] == "Rand − baseline")["metrics"][name][
                "diffs"
            ]
        )
        pooled = math.sqrt(
            ((d.size - 1) * d.var(ddof=1) + 2 * r.var(ddof=1) + 2 * q.var(ddof=1)) / (d.size + 3)
        )
        want = (stats.t.ppf(0.975, 3) + stats.t.ppf(0.8, 3)) * math.sqrt(pooled**2 / 4 + np.mean(ses) ** 2)
        assert m["mde"] == pytest.approx(want)
    page = (tmp_path / "site" / "s" / "synthetic.html").read_text()
    assert (
        "measured paired (3 seed-comparisons)" in page and "√2 upper bound" in page
    )  # the legend names both


def test_cli_table_shows_the_per_seed_paired_bootstrap(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    from leaderboard_fixtures import paired_correct, per_image_doc, synthetic_doc
    from luab_bench.leaderboard.paired import N_BOOT_PAIRED
    from luab_bench.results.schema import Result
    from luab_bench.seeds import named_seed
    from luab_bench.suites.paired_tables import print_paired_tables

    results, vectors = [], {}
    for s, (gain, loss) in GAINS.items():
        base, luab = paired_correct(s, gain, loss)
        vectors[s] = (luab, base)
        for p, v in (("luab", luab), ("baseline", base)):
            results.append(
                (tmp_path / f"{p}{s}.json", Result.model_validate(per_image_doc("resnet10t", p, s, v)))
            )
        results.append(
            (tmp_path / f"rand{s}.json", Result.model_validate(synthetic_doc("resnet10t", "rand", s, 55.0)))
        )

    def table(rs: list) -> tuple[str, str]:
        console = Console(
            record=True, width=400, color_system="standard", file=io.StringIO(), force_terminal=True
        )
        print_paired_tables(console, rs)
        return console.export_text(clear=False), console.export_text(styles=True)

    text, ansi = table(results)
    title = f"per seed: paired Δ [95% bootstrap over the same test images, {N_BOOT_PAIRED} resamples]"
    assert title in " ".join(text.split())  # the title wraps to the table's width
    for s, (luab, base) in vectors.items():
        a, b = 100.0 * luab["val_top1"], 100.0 * base["val_top1"]
        lo, hi = _numpy_paired_bootstrap(a, b, named_seed(s, "val_top1"), N_BOOT_PAIRED)
        line = f"s{s} {a.mean() - b.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]"
        assert line in text
        colour = "\x1b[32m" if lo > 0 else "\x1b[90m"  # green: excludes 0 (better); grey: includes 0
        assert colour + line in ansi, (s, lo, hi)
    assert "\x1b[32ms0" in ansi and "\x1b[90ms1" in ansi  # both styles occur (seeds 0 and 1)
    # without per-image blocks there is no per-seed table, and the other two tables are unchanged
    plain = [(p, r) for p, r in results if r.per_image is None]
    plain += [(p, Result.model_validate(synthetic_doc("resnet10t", "luab", r.seed, 60.0))) for p, r in plain]
    text_plain, _ = table(plain)
    assert "paired Δ [95% t interval over seeds]" in " ".join(text_plain.split())
    assert "per seed:" not in text_plain


@given(
    st.integers(1, 60),
    st.integers(0, 2**32 - 1),
    st.lists(st.floats(0.0, 1.0), min_size=2, max_size=4),
)
@settings(max_examples=30, deadline=None)
def test_one_index_draw_for_many_models_equals_each_paired_bootstrap(
    n: int, seed: int, ps: list[float]
) -> None:
    """bootstrap_means_many + paired_ci_from_means (what the site uses to share one draw across all
    comparisons at a seed) give exactly bootstrap_diff_ci(paired=True), for any pair of models."""
    from luab_bench.metrics.bootstrap import (
        bootstrap_diff_ci,
        bootstrap_means,
        bootstrap_means_many,
        paired_ci_from_means,
    )

    rng = np.random.default_rng(seed)
    arrays = [100.0 * (rng.random(n) < p) for p in ps]
    means = bootstrap_means_many(arrays, n_boot=300, seed=[seed, 7], max_chunk_elements=50)
    for a, m in zip(arrays, means, strict=True):
        assert np.array_equal(m, bootstrap_means(a, n_boot=300, seed=[seed, 7], max_chunk_elements=50))
    for i in range(len(arrays)):
        for j in range(len(arrays)):
            want = bootstrap_diff_ci(
                arrays[i], arrays[j], paired=True, n_boot=300, seed=[seed, 7], max_chunk_elements=50
            )
            got = paired_ci_from_means(means[i], means[j], float(arrays[i].mean() - arrays[j].mean()))
            assert (got.estimate, got.low, got.high) == (want.estimate, want.low, want.high)
