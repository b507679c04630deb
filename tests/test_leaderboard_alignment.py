"""The site's alignment page: grouping, ranking by peak r, reference rows, significance cells."""

from __future__ import annotations

from pathlib import Path

from leaderboard_fixtures import aligned_doc, aligned_doc_v12, synthetic_doc, write_results
from luab_bench.leaderboard.alignment_page import alignment_groups
from luab_bench.leaderboard.build import build_site
from luab_bench.results.schema import Result


def test_v12_fixture_is_a_valid_result_and_1_1_still_loads() -> None:
    Result.model_validate(aligned_doc_v12("resnet10t", "luab", 0, 60.0, 0.5))
    old = Result.model_validate(aligned_doc("vit_tiny_patch16_224", "luab", 0, 90.0))
    assert old.schema_version == "1.1" and "kind" not in old.to_json_dict()["alignment"]["curves"][0]


def test_groups_rank_by_peak_r_with_baselines_once_and_matrices(tmp_path: Path) -> None:
    docs = [
        aligned_doc_v12("resnet10t", "luab", 0, 60.0, 0.45),
        aligned_doc_v12("resnet10t", "baseline", 0, 58.0, 0.55),
        aligned_doc("vit_tiny_patch16_224", "luab", 0, 90.0),  # other human maps: its own group
        synthetic_doc("resnet10t", "rand", 0, 59.0),  # no alignment block: not on the page
    ]
    write_results(tmp_path / "res", docs, None)
    report = build_site(tmp_path / "res", tmp_path / "out")
    groups = alignment_groups(report.rows)
    assert len(groups) == 2
    g = next(x for x in groups if x["measure"] == "clicks" and "simulated" in x["data"])
    assert [(e["label"].split(" · ")[1], e["method"]) for e in g["entries"]] == [
        ("baseline", "gbp"),
        ("luab", "gbp"),
        ("baseline", "gradcam"),
        ("luab", "gradcam"),
    ]
    assert [e["rank"] for e in g["entries"]] == [1, 2, 3, 4]
    assert [b["method"] for b in g["baselines"]] == ["centre", "spectral_residual"]  # once, not twice
    assert len(g["curves"]) == 4 + 2 and len(g["matrices"]) == 2
    luab = next(m for m in g["matrices"] if " luab " in m["label"])
    cells = luab["cells"]
    assert cells[0][1]["cls"] == "sig-above" and cells[1][0]["cls"] == "sig-below"  # gbp vs gradcam
    # gradcam (0.45 - 0.2) vs centre (0.25): p = 0.5 in the fixture, not a finding
    assert cells[1][2]["cls"] == "sig-none" and cells[1][2]["text"] == "+0.000"
    html = (tmp_path / "out" / "alignment.html").read_text(encoding="utf-8")
    assert html.count('class="align-reference"') == 2 and "human data" in html
    assert 'href="alignment.html"' in (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
