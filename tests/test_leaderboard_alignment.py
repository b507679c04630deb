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


def test_cross_model_matrix_is_scipy_paired_t_with_bonferroni_and_measure_table(tmp_path: Path) -> None:
    """Issue 12 (e): per-image r stored per curve -> one significance matrix across models; checked
    against scipy.stats.ttest_rel on the fixture's own per-image r, Bonferroni over all pairs."""
    import numpy as np
    from scipy import stats

    from leaderboard_fixtures import fixture_per_image_r

    docs = [
        aligned_doc_v12("resnet10t", "luab", 0, 60.0, 0.45, per_image=True),
        aligned_doc_v12("resnet10t", "baseline", 0, 58.0, 0.47, per_image=True),
        aligned_doc_v12("resnet10t", "rand", 0, 57.0, 0.40),  # no per-image r: not in the matrix
    ]
    note = "human-data bootstrap not possible (D: finished maps only); error bars are the image bootstrap"
    docs[2]["alignment"]["human_boot_note"] = note
    write_results(tmp_path / "res", docs, None)
    report = build_site(tmp_path / "res", tmp_path / "out")
    (g,) = alignment_groups(report.rows)
    cross = g["cross"]
    per = {
        "resnet10t/luab/s0:gbp": fixture_per_image_r("resnet10t/luab/0/gbp", 0.45),
        "resnet10t/luab/s0:gradcam": fixture_per_image_r("resnet10t/luab/0/gradcam", 0.25),
        "resnet10t/baseline/s0:gbp": fixture_per_image_r("resnet10t/baseline/0/gbp", 0.47),
        "resnet10t/baseline/s0:gradcam": fixture_per_image_r("resnet10t/baseline/0/gradcam", 0.27),
        "[centre]": fixture_per_image_r("centre", 0.25),
        "[spectral_residual]": fixture_per_image_r("spectral_residual", 0.1),
    }
    assert sorted(cross["names"]) == sorted(per) and cross["n"] == 40 and cross["pairs"] == 15
    names = cross["names"]
    assert names[0] == "resnet10t/baseline/s0:gbp"  # ordered by peak r
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            cell = cross["cells"][i][j]
            if i == j:
                assert cell["text"] == "–"
                continue
            ref = stats.ttest_rel(per[a], per[b])
            p_bonf = min(1.0, ref.pvalue * 15)
            assert cell["text"] == f"{np.mean(np.subtract(per[a], per[b])):+.3f}"
            assert cell["title"] == f"p (Bonferroni) = {p_bonf:.2g}"
            want = (
                ("sig-above" if np.mean(np.subtract(per[a], per[b])) > 0 else "sig-below")
                if p_bonf < 0.05
                else "sig-none"
            )
            assert cell["cls"] == want
    # methods x measures (Fig. 3A): rows sorted by the mean peak r over clicks and tracks, baselines once
    mt = g["measure_table"]
    assert mt["measures"] == ["clicks", "tracks"]
    means = [r["mean"] for r in mt["rows"]]
    assert (
        means == sorted(means, reverse=True) and len(mt["rows"]) == 2 * 2 + 2
    )  # rand has no per_measure block
    top = mt["rows"][0]
    assert (top["label"], top["method"]) == ("resnet10t/baseline/s0", "gbp")
    assert [c["text"] for c in top["cells"]] == ["0.470", "0.370"] and top["mean"] == (0.47 + 0.37) / 2
    html = (tmp_path / "out" / "alignment.html").read_text(encoding="utf-8")
    assert 'id="align-cross-1"' in html and 'id="align-measures-1"' in html
    assert g["notes"] == [note] and f'id="align-note-1-1">Error bars: {note}</p>' in html


def test_old_results_without_per_image_r_have_no_cross_matrix(tmp_path: Path) -> None:
    docs = [
        aligned_doc_v12("resnet10t", "luab", 0, 60.0, 0.45),
        aligned_doc("vit_tiny_patch16_224", "luab", 0, 90.0),
    ]
    write_results(tmp_path / "res", docs, None)
    report = build_site(tmp_path / "res", tmp_path / "out")
    assert all(g["cross"] is None and g["measure_table"] is None for g in alignment_groups(report.rows))
    html = (tmp_path / "out" / "alignment.html").read_text(encoding="utf-8")
    assert "align-cross-" not in html and "align-measures-" not in html
