"""The sensitivity study's site in a real browser: the study page (the generated report) and the suite
page it links to show seed means, the paired Δ with its interval, bold / coloured only where the
interval excludes 0 (issue 13). Training and evaluation are the fast stand-ins of test_study.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_site_browser import browser  # noqa: F401  (the module-scoped Chromium fixture)
from test_study import VALUES, _invoke, fakes  # noqa: F401  (the stand-in training fixture)

pytestmark = pytest.mark.browser


def test_study_page_and_its_suite_page(browser, tmp_path: Path, fakes: list[Any]) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    res = _invoke(tmp_path)
    assert res.exit_code == 0, res.output
    site = tmp_path / "study" / "site"
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # e.g. CSP refusals
    page.goto((site / "study-sensitivity.html").as_uri())
    assert page.locator("h1").inner_text() == "Sensitivity study"
    controls = page.locator("li", has_text="BG oracle − baseline (expected")
    # the stand-ins move bg_gap (−3 pp at every seed) but not mixed_rand_top1: both are expected, so
    # the control is reported as not detected, with both intervals
    assert (
        "NOT detected at k = 3" in controls.inner_text()
        and "bg_gap -3.0 [-3.0, -3.0]" in controls.inner_text()
    )
    # the paired-Δ table: BG oracle's constant −3 pp bg_gap is bold (a finding), LUAB − baseline is not
    paired = page.locator("table").nth(1)
    header = paired.locator("thead th").all_inner_texts()
    gap_col = header.index("bg_gap")
    oracle_row = paired.locator("tbody tr", has_text="BG oracle − baseline")
    assert oracle_row.locator("td").nth(gap_col).locator("strong").inner_text() == "-3.0 [-3.0, -3.0]"
    luab_row = paired.locator("tbody tr", has_text="LUAB − baseline")
    assert luab_row.locator("td").nth(header.index("val_top1")).locator("strong").count() == 0
    weight = (
        oracle_row.locator("td")
        .nth(gap_col)
        .locator("strong")
        .evaluate("e => getComputedStyle(e).fontWeight")
    )
    assert int(weight) >= 600
    # the seed means of every protocol, k = 3
    means = page.locator("table").first
    assert means.locator("tbody tr").count() == 3
    assert all(t == "3" for t in means.locator("tbody tr td:nth-child(2)").all_inner_texts())
    # the link to the study's leaderboard, and from there the suite page with the greyed Δ cells
    page.locator("a", has_text="leaderboard of the study's results").click()
    page.wait_for_load_state()
    page.goto((site / "s" / "synthetic.synthetic-tiny.html").as_uri())
    assert (
        page.locator("#aggregates tbody tr").count() == 3 and page.locator("#mde-table tbody tr").count() > 0
    )
    heads = page.locator("#deltas thead th").evaluate_all("els => els.map(e => e.dataset.metric || '')")
    col = heads.index("bg_gap")  # td index = th index: one td per header column

    def cls(label: str, index: int) -> str:
        row = page.locator("#deltas tbody tr", has_text=label)
        return row.locator("td").nth(index).get_attribute("class") or ""

    assert "d-better" in cls("BG oracle − baseline", col)  # −3.0 at every seed: lower BG-gap is better
    assert "d-ns" in cls("LUAB − baseline", heads.index("val_top1"))  # its interval includes 0
    assert errors == [], errors
    page.close()
