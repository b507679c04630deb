"""The built site in a real browser (Playwright driving the system Chromium, headless, offline).

Install (CI does this before pytest):
    apt-get update && apt-get install -y chromium      # /usr/bin/chromium (Debian package)
    pip install playwright      # never `playwright install`: the system browser is used
The test is skipped, with the reason, only when Chromium or Playwright is absent.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from leaderboard_fixtures import EVIL, aligned_doc, suite_doc, synthetic_doc, write_results

CHROMIUM = os.environ.get("LUAB_BENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.browser


def _missing(reason: str) -> None:
    """Skip with the reason, or fail where CI promised a browser (LUAB_BENCH_REQUIRE_BROWSER=1)."""
    if os.environ.get("LUAB_BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser test required but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    try:
        from playwright import sync_api
    except ImportError:
        _missing("playwright not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.signing import generate_keypair

    tmp = tmp_path_factory.mktemp("site")
    priv, pub = generate_keypair(tmp / "keys")
    docs = [
        synthetic_doc("resnet10t", proto, seed, base)
        for proto, base in (("baseline", 60.0), ("rand", 61.0), ("luab", 64.0))
        for seed in (0, 1)
    ]
    # the ViT result carries a schema-1.1 alignment block whose second method is named EVIL
    docs += [aligned_doc("vit_tiny_patch16_224", "luab", 0, 90.0), synthetic_doc(EVIL, "baseline", 3, 70.0)]
    other_suite = synthetic_doc("resnet10t", "luab", 0, 66.0)
    other_suite["suite"] = {"name": "other-suite", "variant": "other-suite", "data_fingerprint": None}
    docs.append(other_suite)
    results = tmp / "results"
    write_results(results, docs, priv)
    write_results(results, [synthetic_doc("convnext_atto", "rand", 0, 50.0)], None)  # unsigned
    out = tmp / "out"
    build_site(results, out, trusted_keys=[pub])
    return out


def _col_values(page, table: str, col: int) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(
        f"#{table} tbody tr:not([hidden])", f"rows => rows.map(r => r.cells[{col}].textContent.trim())"
    )


def test_sort_filter_detail_and_escaping(browser, site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto((site / "index.html").as_uri())

    # the malicious model name is text, not markup; no alert fired, no CSP violation
    cell = page.locator("#leaderboard tbody td a", has_text="alert(1)")
    assert cell.count() == 1 and cell.inner_text() == EVIL
    assert page.locator("#leaderboard script").count() == 0

    # sort by a metric column (Val top-1, column 4): ascending then descending, numerically
    header = page.locator("#leaderboard thead th[data-metric='val_top1']")
    header.click()
    asc = [float(v.split()[0]) for v in _col_values(page, "leaderboard", 4)]
    assert asc == sorted(asc) and len(asc) == 10
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    desc = [float(v.split()[0]) for v in _col_values(page, "leaderboard", 4)]
    assert desc == sorted(asc, reverse=True)

    # filter a backbone: only its rows remain in every filterable table
    page.select_option("#f-model", "resnet10t")
    assert set(_col_values(page, "leaderboard", 0)) == {"resnet10t"}
    assert len(_col_values(page, "leaderboard", 0)) == 7
    assert set(_col_values(page, "aggregates", 0)) == {"resnet10t"}
    assert page.locator("#f-count").inner_text() == "7 of 10 results shown"
    deltas = _col_values(page, "deltas", 2)
    assert sorted(deltas) == ["LUAB − Rand", "LUAB − baseline", "Rand − baseline"]

    # paired Δ (issue 13): Rand − baseline has 2 paired seeds with a constant difference (interval
    # excludes 0: coloured); the synthetic LUAB seed-0 file is a replay of the other-suite one, so LUAB's
    # comparisons have k = 1 (no interval: grey)
    def first_cell(label: str) -> str:
        row = page.locator("#deltas tbody tr:not([hidden])", has_text=label)
        return row.locator("td.num[data-significant]").first.get_attribute("class") or ""

    assert "d-better" in first_cell("Rand − baseline") and "d-ns" in first_cell("LUAB − baseline")
    # and a suite on top: only that suite's rows, in every table
    page.select_option("#f-suite", "other-suite")
    assert _col_values(page, "leaderboard", 2) == ["other-suite"]
    assert _col_values(page, "aggregates", 2) == ["other-suite"] and _col_values(page, "deltas", 0) == []
    page.select_option("#f-suite", "")
    page.select_option("#f-model", "")
    page.check("#f-verified")
    sig_col = page.locator("#leaderboard thead th").count() - 2  # signature, then "submitted by"
    assert "unsigned" not in _col_values(page, "leaderboard", sig_col)
    assert page.locator("#f-count").inner_text() == "9 of 10 results shown"
    page.screenshot(path=str(tmp_path / "index.png"), full_page=True)

    # open the malicious row's detail page: title text is escaped, curves are drawn
    page.locator("#leaderboard tbody td a", has_text="alert(1)").click()
    page.wait_for_load_state()
    assert "/r/" in page.url
    assert EVIL in page.locator("#detail-title").inner_text()
    assert "✓ verified" in page.locator("#signature").inner_text()
    assert page.locator("svg.chart").count() >= 3  # metrics chart + 2 training curves
    assert '"lr": 0.1' in page.locator("#config").inner_text()
    page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)
    assert page.locator("#alignment").count() == 0  # a result without an alignment block shows none

    # the ViT result's detail page: alignment plot drawn, method names (one is <script>) are text
    page.go_back()
    page.locator("#leaderboard tbody td a", has_text="vit_tiny_patch16_224").click()
    page.wait_for_load_state()
    chart = page.locator("#alignment ~ .charts svg.alignment-chart")
    assert chart.count() == 1 and chart.bounding_box()["width"] > 200  # type: ignore[index]
    assert chart.locator("g.series").count() == 2 and chart.locator("circle.best").count() == 2
    # the null r at sigma 2 breaks each line: sigma 0 alone (a dot), then a line over sigma 4..16
    assert chart.locator("g.series polyline").count() == 2
    assert chart.locator("g.series circle:not(.best)").count() == 2
    legend = chart.locator("g.legend text").all_text_contents()
    assert legend[0].startswith("gradcam: best r 0.4") and legend[1].startswith(EVIL)
    assert page.locator("script").count() == 0
    assert page.locator("#alignment-data").inner_text() == "synthetic human maps <b>clicks</b>"
    align_rows = page.locator("#alignment-metrics tbody tr")
    assert align_rows.count() == 3 and "[0.35, 0.47]" in align_rows.nth(0).inner_text()
    page.screenshot(path=str(tmp_path / "alignment.png"), full_page=True)
    shot_dir = os.environ.get("LUAB_BENCH_SCREENSHOTS")
    if shot_dir:  # keep the screenshots to look at them
        for name in ("index.png", "detail.png", "alignment.png"):
            shutil.copy(tmp_path / name, Path(shot_dir) / name)
    assert dialogs == [] and errors == [], (dialogs, errors)
    page.close()


# ------------------------------------------------------------------ the paper's tables (LUAB Tables 1-7)
@pytest.fixture(scope="module")
def reference_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed reference files beside verified results that match some of their rows."""
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.signing import generate_keypair

    tmp = tmp_path_factory.mktemp("refsite")
    priv, _ = generate_keypair(tmp / "keys")
    lower = ("in9_bg_gap",)
    docs = [
        suite_doc("resnet50", "luab", 0, "imagenet", {"in1k_val_top1": 78.0, "in9_bg_gap": 5.0}, lower),
        suite_doc("resnet50", "baseline", 0, "imagenet", {"in1k_val_top1": 77.0, "in9_bg_gap": 6.0}, lower),
        suite_doc("resnet18", "coco_luab", 0, "coco", {"coco_map": 69.0}),
    ]
    write_results(tmp / "results", docs, priv)
    build_site(
        tmp / "results", tmp / "out", reference_dir=Path(__file__).parents[1] / "leaderboard" / "reference"
    )
    return tmp / "out"


def _cell(page, selector: str, column: str):  # type: ignore[no-untyped-def]
    return page.locator(f"{selector} td[data-column='{column}']")


def test_reference_rows_and_delta_to_reproduced(browser, reference_site: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((reference_site / "index.html").as_uri())

    # Tables 1, 2, 6, 7 (and 3-5) as printed, every row marked and cited
    for n, rows in ((1, 14), (2, 9), (6, 9), (7, 9)):
        table = page.locator(f"#ref-table-{n}")
        assert table.is_visible()
        assert table.locator("tbody tr.reported").count() == rows
        assert "reported, not reproduced" in table.locator("tbody tr.reported").first.inner_text()
    t1_r50 = "#ref-table-1 tr.reported[data-cite='LUAB Table 1, row 4 (R50 +LUAB)']"
    assert _cell(page, t1_r50, "IN-1K").inner_text() == "77.5"
    assert _cell(page, t1_r50, "Coccr").inner_text() == "55.1"
    assert "reported only" in page.locator("#ref-table-1 th[data-column='Coccr']").inner_text()
    assert (
        _cell(page, "#ref-table-1 tr.reported[data-cite^='LUAB Table 1, row 1 ']", "Params").inner_text()
        == "11.7M"
    )

    # the reproduced resnet50/luab mean sits under the reported rows it matches, with its Δ, in Table 1
    # and in Table 2 separately (each to its own printed number); Table 7 has no match
    for n in (1, 2):
        reproduced = page.locator(f"#ref-table-{n} tr.reproduced[data-protocol='luab']")
        assert reproduced.count() == 1 and _cell(
            page, f"#ref-table-{n} tr.reproduced[data-protocol='luab']", "IN-1K"
        ).inner_text().startswith("78.00")
        delta = _cell(page, f"#ref-table-{n} tr.ref-delta[data-protocol='luab']", "IN-1K")
        assert delta.inner_text() == "+0.50" and "d-better" in (delta.get_attribute("class") or "")
        gap = _cell(page, f"#ref-table-{n} tr.ref-delta[data-protocol='luab']", "BGC-gap")
        assert gap.inner_text() == "-0.60" and "d-better" in (gap.get_attribute("class") or "")  # lower gap
    t6 = _cell(page, "#ref-table-6 tr.ref-delta[data-model='resnet18']", "mAP")
    assert (
        t6.inner_text() == "+1.00"
        and "LUAB Table 6, column 3 (R18 LUAB)"
        in page.locator("#ref-table-6 tr.ref-delta[data-model='resnet18']").inner_text()
    )
    assert page.locator("#ref-table-7 tr.reproduced").count() == 0

    # the paper's own LUAB − baseline beside the reproduced Δ, in the Δ view
    line = "#paper-deltas-1 tr[data-cite='LUAB Table 1, row 4 (R50 +LUAB) − row 3 (R50)']"
    assert page.locator(line).locator("td").nth(2).inner_text() == "LUAB − baseline"
    assert _cell(page, line, "IN-1K").locator(".paper-delta").inner_text() == "+0.1"
    assert (
        _cell(page, line, "IN-1K").locator(".repro-delta").inner_text() == "reproduced +1.00 (+0.90 vs paper)"
    )
    assert _cell(page, line, "Coccr").inner_text() == "+1.4"  # reported only: the paper's Δ, nothing of ours
    rand = "#paper-deltas-7 tr[data-cite='LUAB Table 7, column 9 (ViT-B LUAB) − column 8 (ViT-B Rand)']"
    assert (
        _cell(page, rand, "mAP").inner_text() == "+3.0" and page.locator(f"{rand} .repro-delta").count() == 0
    )
    assert page.locator("#paper-deltas-2 tbody tr").count() == 6  # 3 backbones x (baseline, Rand)

    # the backbone filter applies to the paper's rows too; the index links reach each table
    page.select_option("#f-model", "resnet50")
    assert page.locator("#ref-table-6 tbody tr.reported:not([hidden])").count() == 3
    assert page.locator("#ref-table-7 tbody tr:not([hidden])").count() == 0
    page.select_option("#f-model", "")
    page.locator("nav.ref-index a", has_text="LUAB Table 6").click()
    assert page.url.endswith("#ref-table-6")
    page.screenshot(path=str(tmp_path / "reference.png"), full_page=True)
    shot_dir = os.environ.get("LUAB_BENCH_SCREENSHOTS")
    if shot_dir:
        shutil.copy(tmp_path / "reference.png", Path(shot_dir) / "reference.png")
    assert errors == [], errors


def test_verified_only_filter_hides_self_signed_rows(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Without trust anchors every row is self-signed: "verified only" leaves no row, and no mean."""
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.signing import generate_keypair

    priv, _ = generate_keypair(tmp_path / "keys")
    docs = [synthetic_doc("resnet10t", p, s, 60.0 + s) for p in ("baseline", "luab") for s in (0, 1)]
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((tmp_path / "site" / "index.html").as_uri())
    assert "signature valid (self-signed)" in page.locator("#leaderboard tbody").inner_text()
    assert page.locator("#f-count").inner_text() == "4 of 4 results shown"
    page.check("#f-verified")
    assert page.locator("#f-count").inner_text() == "0 of 4 results shown"
    assert _col_values(page, "aggregates", 0) == [] and _col_values(page, "deltas", 0) == []
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def align_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from leaderboard_fixtures import aligned_doc_v12
    from luab_bench.leaderboard.build import build_site

    tmp = tmp_path_factory.mktemp("align_site")
    docs = [
        aligned_doc_v12("resnet10t", "luab", 0, 60.0, 0.45, per_image=True),
        # a hostile model name: text, not markup
        aligned_doc_v12(EVIL, "baseline", 0, 58.0, 0.55, per_image=True),
    ]
    write_results(tmp / "results", docs, None)
    build_site(tmp / "results", tmp / "out")
    return tmp / "out"


def test_alignment_page_ranks_shows_references_curves_and_matrix(  # type: ignore[no-untyped-def]
    browser, align_site: Path, tmp_path: Path
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((align_site / "index.html").as_uri())
    page.locator("#alignment-link").click()
    page.wait_for_load_state()
    assert page.url.endswith("alignment.html")
    table = "align-table-1"
    methods = _col_values(page, table, 2)
    peaks = [float(v) for v in _col_values(page, table, 3)]
    # 4 model rows ranked by peak r, then the two reference rows (shown once, not per result)
    assert methods == ["gbp", "gbp", "gradcam", "gradcam", "[centre]", "[spectral_residual]"]
    assert peaks[:4] == sorted(peaks[:4], reverse=True) and peaks[0] == 0.55
    assert page.locator(f"#{table} tr.align-reference").count() == 2
    assert "[0.530, 0.570] (100)" in _col_values(page, table, 5)[0]  # human-data interval
    assert EVIL in _col_values(page, table, 1)[0] and page.locator(f"#{table} script").count() == 0
    # sorting by a column works on this page too
    page.locator(f"#{table} thead th").nth(3).click()
    asc = [float(v) for v in _col_values(page, table, 3)]
    assert asc == sorted(asc)
    chart = page.locator("#align-curves-1 svg.alignment-chart")
    assert chart.count() == 1 and chart.locator("g.series").count() == 6  # 4 model curves + 2 references
    matrix = page.locator("#align-sig-1-1")
    assert matrix.locator("td.sig-above").count() >= 1 and matrix.locator("td.sig-below").count() >= 1
    assert matrix.locator("td.sig-none").count() >= 4  # the diagonal at least
    # issue 12 (b): the methods x measures table (Fig. 3A), sorted by the mean over the measures
    measures = page.locator("#align-measures-1")
    assert measures.locator("thead th").all_inner_texts()[3:] == ["clicks", "tracks"]
    means = [float(v) for v in _col_values(page, "align-measures-1", 2)]
    assert means == sorted(means, reverse=True) and len(means) == 2 * 2 + 2
    assert measures.locator("tr.align-reference").count() == 2
    assert _col_values(page, "align-measures-1", 1)[0] == "gbp"
    assert measures.locator("tbody tr").first.locator("td").nth(3).get_attribute("title") == "sigma 4 px"
    # issue 12 (e): one t-test matrix across models from the stored per-image r (4 model maps + 2 refs)
    cross = page.locator("#align-cross-1")
    assert cross.locator("thead th").count() == 1 + 6 and cross.locator("tbody tr").count() == 6
    heads = cross.locator("thead th").all_inner_texts()[1:]
    assert sum(EVIL in h for h in heads) == 2 and cross.locator("script").count() == 0
    assert cross.locator("td.sig-above").count() >= 1 and cross.locator("td.sig-below").count() >= 1
    assert cross.locator("td.sig-none").count() >= 6  # the diagonal at least
    assert "Bonferroni-corrected over 15 pairs" in page.locator("#align-cross-note-1").inner_text()
    page.screenshot(path=str(tmp_path / "alignment_page.png"), full_page=True)
    shot_dir = os.environ.get("LUAB_BENCH_SCREENSHOTS")
    if shot_dir:
        shutil.copy(tmp_path / "alignment_page.png", Path(shot_dir) / "alignment_page.png")
    assert errors == [], errors
    page.close()


def test_paired_delta_view_greys_intervals_that_include_zero(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: Δ cells are coloured only when the t interval over seeds excludes 0; the interval is
    printed; the suite page shows seed means, the same Δ view and the minimum detectable effect."""
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.signing import generate_keypair

    priv, _ = generate_keypair(tmp_path / "keys")
    values = {"baseline": [60.0, 61.0, 62.0], "luab": [64.0, 65.1, 66.3], "rand": [59.0, 63.0, 60.5]}
    docs = [synthetic_doc("resnet10t", p, s, v) for p, vals in values.items() for s, v in enumerate(vals)]
    docs.append(synthetic_doc("resnet10t", "oracle_background", 0, 70.0))  # one seed: no interval
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((tmp_path / "site" / "index.html").as_uri())

    def cell(label: str):  # type: ignore[no-untyped-def]
        row = page.locator("#deltas tbody tr", has_text=label)
        return row.locator("td[data-sort]").nth(1)  # first metric column (after k)

    better, ns, single = cell("LUAB − baseline"), cell("LUAB − Rand"), cell("BG oracle − baseline")
    assert "d-better" in (better.get_attribute("class") or "")
    assert "d-ns" in (ns.get_attribute("class") or "") and ns.get_attribute("data-significant") == "no"
    assert "d-ns" in (single.get_attribute("class") or "") and "k=1, no interval" in single.inner_text()
    assert "[+3.75, +4.51]" in better.inner_text() and "[-0.54, +9.14]" in ns.inner_text()

    def colours(loc):  # type: ignore[no-untyped-def]
        return loc.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")

    grey = colours(ns)
    assert grey == colours(single) and grey != colours(better)
    assert grey[1] == "rgb(240, 241, 243)"  # .d-ns background: neither green nor red
    page.screenshot(path=str(tmp_path / "paired.png"), full_page=True)
    page.locator("#deltas tbody tr", has_text="LUAB − baseline").locator("a").click()
    page.wait_for_load_state()
    assert "/s/synthetic.html" in page.url
    assert (
        page.locator("#mde-table tbody tr").count() >= 6 and page.locator("#aggregates tbody tr").count() == 4
    )
    mde = page.locator("#mde-table tbody tr[data-metric='val_top1'] td.mde").inner_text()
    assert mde.endswith("%") and float(mde.split()[0]) > 0
    assert "d-ns" in (
        page.locator("#deltas tbody tr", has_text="LUAB − Rand")
        .locator("td.num")
        .nth(1)
        .get_attribute("class")
        or ""
    )
    page.screenshot(path=str(tmp_path / "suite.png"), full_page=True)
    shot_dir = os.environ.get("LUAB_BENCH_SCREENSHOTS")
    if shot_dir:
        for name in ("paired.png", "suite.png"):
            shutil.copy(tmp_path / name, Path(shot_dir) / name)
    assert errors == [], errors
    page.close()


def test_per_seed_paired_bootstrap_is_visible(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 13: with per-image blocks, the Δ cell marks and lists (hover) the per-seed paired bootstrap,
    the suite page shows it per seed (coloured by its own interval) and the MDE says "measured paired";
    a comparison without per-image data renders as before."""
    import numpy as np

    from leaderboard_fixtures import paired_correct, per_image_doc
    from luab_bench.leaderboard.build import build_site
    from luab_bench.leaderboard.paired import N_BOOT_PAIRED
    from luab_bench.results.signing import generate_keypair
    from luab_bench.seeds import named_seed

    priv, _ = generate_keypair(tmp_path / "keys")
    docs, want = [], {}
    for s, (gain, loss) in {0: (40, 0), 1: (2, 2)}.items():
        base, luab = paired_correct(s, gain, loss)
        docs += [per_image_doc("resnet10t", "luab", s, luab), per_image_doc("resnet10t", "baseline", s, base)]
        docs.append(synthetic_doc("resnet10t", "rand", s, 55.0 + s))  # no per-image block
        a, b = 100.0 * luab["val_top1"], 100.0 * base["val_top1"]
        draw = np.random.default_rng(named_seed(s, "val_top1"))  # the paired bootstrap, by hand
        reps = []
        for _ in range(N_BOOT_PAIRED):
            idx = np.minimum((draw.random(a.size) * a.size).astype(np.intp), a.size - 1)
            reps.append(a[idx].mean() - b[idx].mean())
        lo, hi = np.percentile(reps, [2.5, 97.5])
        want[s] = (f"{a.mean() - b.mean():+.2f} [{lo:+.2f}, {hi:+.2f}]", lo > 0 or hi < 0)
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((tmp_path / "site" / "index.html").as_uri())

    def cell(label: str):  # type: ignore[no-untyped-def]
        return page.locator("#deltas tbody tr", has_text=label).locator("td[data-sort]").nth(1)

    lb, lr = cell("LUAB − baseline"), cell("LUAB − Rand")
    assert lb.locator("sup.seedboot").is_visible() and lb.get_attribute("data-per-seed") == "2"
    title = lb.get_attribute("title") or ""
    assert "per seed, paired bootstrap over the same test images" in title
    assert f"seed 0: {want[0][0]}" in title and f"seed 1: {want[1][0]}" in title
    assert lr.locator("sup.seedboot").count() == 0 and "per seed" not in (lr.get_attribute("title") or "")
    assert "d-ns" in (lb.get_attribute("class") or "")  # k = 2, +10 and 0: the t interval includes 0
    page.locator("#deltas tbody tr", has_text="LUAB − baseline").locator("a").click()
    page.wait_for_load_state()
    rows = page.locator("#per-seed-table tbody tr[data-metric='val_top1']")
    assert rows.count() == 2 and page.locator("#per-seed").is_visible()
    for s, (text, significant) in want.items():
        c = rows.nth(s).locator("td[data-sort]")
        assert c.is_visible() and c.inner_text() == text
        assert ("d-better" if significant else "d-ns") in (c.get_attribute("class") or "")
    assert want[0][1] and not want[1][1]  # one coloured, one grey
    green = rows.nth(0).locator("td[data-sort]").evaluate("e => getComputedStyle(e).backgroundColor")
    grey = rows.nth(1).locator("td[data-sort]").evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey == "rgb(240, 241, 243)" and green != grey
    se_how = page.locator("#mde-table tbody tr[data-metric='val_top1'] td.se-how").inner_text()
    assert se_how.startswith("measured paired")
    page.screenshot(path=str(tmp_path / "per_seed.png"), full_page=True)
    shot_dir = os.environ.get("LUAB_BENCH_SCREENSHOTS")
    if shot_dir:
        shutil.copy(tmp_path / "per_seed.png", Path(shot_dir) / "per_seed.png")
    assert errors == [], errors
    page.close()
