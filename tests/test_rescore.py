"""A submission end to end (issue 14): weights file -> `submission evaluate` -> re-scored signed result
-> site badges (self-reported / re-scored ✓ / re-score drifted), also checked in a real browser."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from luab_bench.cli import cli


def _ok(res) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 0, res.output + repr(res.exception)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A trained tiny LUAB model, its signed result, a submission for it, and a maintainer key."""
    mp = pytest.MonkeyPatch()
    mp.setenv("LUAB_BENCH_ALLOW_FILE_URLS", "1")  # the weights URL is file:// (offline test)
    root = tmp_path_factory.mktemp("rescore")
    data, results = root / "data", root / "results"
    r = CliRunner()
    common = ["--no-progress", "--device", "cpu", "--data-dir", str(data)]
    _ok(r.invoke(cli, ["train", "--model", "resnet10t", "--protocol", "luab", "--variant", "synthetic-tiny",
                       "--epochs", "1", "--out", str(root / "ckpt"), *common]))  # fmt: skip
    _ok(r.invoke(cli, ["keygen", "--out", str(root / "keys"), "--name", "team"]))
    _ok(r.invoke(cli, ["keygen", "--out", str(root / "keys"), "--name", "maintainer"]))
    _ok(r.invoke(cli, ["evaluate", "--checkpoint", str(root / "ckpt"), "--key", str(root / "keys" / "team"),
                       "--out", str(results / "submitted.json"), *common]))  # fmt: skip
    weights = root / "published" / "model.safetensors"
    weights.parent.mkdir()
    shutil.copy(root / "ckpt" / "model.safetensors", weights)
    sub = root / "submissions" / "team-luab"
    sub.mkdir(parents=True)
    shutil.copy(root / "keys" / "team.pub", sub / "team.pub")
    (sub / "submission.yaml").write_text(
        "team: Team\ncontact: team@example.org\nmodel: resnet10t\n"
        f"weights:\n  url: {weights.as_uri()}\n  sha256: {hashlib.sha256(weights.read_bytes()).hexdigest()}\n"
        "protocol: luab\nrecipe: synthetic\nsuite: synthetic\npublic_key: team.pub\n"
    )
    yield {"root": root, "data": data, "results": results, "sub": sub, "keys": root / "keys"}
    mp.undo()


def test_rescore_agrees_exactly(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUAB_BENCH_WEIGHTS_CACHE", str(world["root"] / "cache"))
    monkeypatch.setenv("LUAB_BENCH_ALLOW_FILE_URLS", "1")
    res = CliRunner().invoke(
        cli,
        ["submission", "evaluate", str(world["sub"]), "--results-dir", str(world["results"]),
         "--key", str(world["keys"] / "maintainer"), "--data-dir", str(world["data"]), "--no-progress",
         "--device", "cpu"],
    )  # fmt: skip
    _ok(res)
    out = sorted(world["results"].glob("submitted.rescore-*.json"))
    assert len(out) == 1
    doc = json.loads(out[0].read_text())
    submitted = json.loads((world["results"] / "submitted.json").read_text())
    block = doc["rescore"]
    assert block["status"] == "ok" and block["of_result_id"] == submitted["result_id"]
    assert block["submitted_key"] == submitted["signature"]["public_key"]
    assert doc["signature"]["public_key"] != submitted["signature"]["public_key"]
    # the same weights on the same data and seed: every metric is reproduced exactly (drift 0)
    compared = {d["metric"] for d in block["drifts"]}
    assert compared == set(submitted["metrics"]) and all(d["drift"] == 0.0 for d in block["drifts"])
    assert "point_loc_acc" in compared  # the point head came with the weights
    assert all(d["tolerance"] == 0.5 for d in block["drifts"])  # every synthetic metric is in %
    assert doc["model_provenance"]["weights"]["sha256"] == submitted["model_provenance"]["weights"]["sha256"]
    res = CliRunner().invoke(cli, ["verify", str(out[0])])
    _ok(res)


def test_drifted_and_self_reported_badges(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.schema import load_result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import write_result

    monkeypatch.setenv("LUAB_BENCH_WEIGHTS_CACHE", str(world["root"] / "cache"))
    monkeypatch.setenv("LUAB_BENCH_ALLOW_FILE_URLS", "1")
    results = world["results"]
    base = load_result(results / "submitted.json").to_json_dict()
    # a submitted result whose val_top1 was inflated by 5 points (then signed by the submitter)
    inflated = json.loads(json.dumps(base))
    inflated["result_id"] = base["result_id"] + "-inflated"
    m = inflated["metrics"]["val_top1"]
    m.update(value=m["value"] + 5, ci_low=m["ci_low"] + 5, ci_high=m["ci_high"] + 5)
    inflated["signature"] = None
    # the per-image block would contradict the inflated value (refused on load), so the inflater drops it
    inflated.pop("per_image", None)
    # and one nobody re-scores
    other = json.loads(json.dumps(inflated))
    other["result_id"] = base["result_id"] + "-other"
    from luab_bench.results.schema import Result

    for name, doc in (("inflated.json", inflated), ("other.json", other)):
        write_result(results / name, Result.model_validate(doc))
        sign_result_file(results / name, world["keys"] / "team")
    res = CliRunner().invoke(
        cli,
        ["submission", "evaluate", str(world["sub"]), "--result", str(results / "inflated.json"),
         "--results-dir", str(results), "--key", str(world["keys"] / "maintainer"), "--data-dir",
         str(world["data"]), "--no-progress", "--device", "cpu"],
    )  # fmt: skip
    assert res.exit_code == 1 and "drifted beyond the tolerance" in res.output
    assert "val_top1" in res.output and "FAIL" in res.output
    block = json.loads(next(results.glob("inflated.rescore-*.json")).read_text())["rescore"]
    assert block["status"] == "drifted"
    bad = [d for d in block["drifts"] if not d["ok"]]
    assert [d["metric"] for d in bad] == ["val_top1"] and bad[0]["drift"] == pytest.approx(-5.0)

    site = world["root"] / "site"
    build_site(results, site)
    rows = {r["file"]: r for r in json.loads((site / "results.json").read_text())["rows"]}
    assert set(rows) == {"submitted.json", "inflated.json", "other.json"}  # re-scores are badges, not rows
    assert rows["submitted.json"]["rescore"]["status"] == "rescored"
    assert rows["inflated.json"]["rescore"]["status"] == "drifted"
    assert rows["inflated.json"]["rescore"]["drifts"][0]["metric"] == "val_top1"
    assert rows["other.json"]["rescore"] == {"status": "self-reported"}
    # only re-scores by the given keys count
    build_site(results, world["root"] / "site2", rescore_keys=[str(world["keys"] / "team.pub")])
    rows2 = json.loads((world["root"] / "site2" / "results.json").read_text())["rows"]
    assert {r["rescore"]["status"] for r in rows2} == {"self-reported"}
    world["site"] = site


@pytest.mark.browser
def test_badges_in_browser(world: dict[str, Path]) -> None:
    from test_site_browser import ARGS, CHROMIUM, _missing

    if "site" not in world:
        pytest.skip("needs test_drifted_and_self_reported_badges first")
    try:
        from playwright import sync_api
    except ImportError:
        _missing("playwright not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((world["site"] / "index.html").as_uri())
        cells = {
            page.locator(f"#leaderboard tbody tr[data-file='{f}'] td.rescore").inner_text(): f
            for f in ("submitted.json", "inflated.json", "other.json")
        }
        by_file = {f: text for text, f in cells.items()}
        assert by_file["submitted.json"].startswith("re-scored ✓ sha256:")
        assert by_file["inflated.json"].startswith("re-score drifted: val_top1 -5.00")
        assert by_file["other.json"] == "self-reported"
        title = page.locator("#leaderboard tbody tr[data-file='inflated.json'] td.rescore").get_attribute(
            "title"
        )
        assert "re-scored by key sha256:" in (title or "") and "val_top1" in (title or "")
        assert page.locator("td.rescore-rescored").count() == 1
        assert page.locator("td.rescore-drifted").count() == 1
        assert not errors, errors
        browser.close()


def test_each_metric_is_judged_by_its_own_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Points (% / pp) get the suite's 0.5, a unitless r the suite's 0.005 (a drift of 0.3 in r is a
    different model, not float noise), and a tolerance in the column map overrides both."""
    from luab_bench.leaderboard import columns
    from luab_bench.rescore import Drift, RescoreOutcome, metric_tolerance
    from luab_bench.suites.base import get_suite

    suite = get_suite("synthetic")
    assert metric_tolerance(suite, "val_top1", "%") == 0.5 == metric_tolerance(suite, "bg_gap", "pp")
    assert metric_tolerance(suite, "align_gradcam_r", "") == 0.005
    base = columns.load_column_map()
    cmap = base.model_copy(
        update={
            "columns": [
                c.model_copy(update={"tolerance": 0.02}) if c.key == "align_gradcam_r" else c
                for c in base.columns
            ]
        }
    )
    monkeypatch.setattr(columns, "load_column_map", lambda: cmap)
    assert metric_tolerance(suite, "align_gradcam_r", "") == 0.02
    assert metric_tolerance(suite, "never_mapped", "") == 0.005  # not in the map: by unit

    r = Drift("align_gbp_r", 0.40, 0.70, "", metric_tolerance(suite, "align_gbp_r", ""))
    top1 = Drift("val_top1", 80.0, 80.3, "%", metric_tolerance(suite, "val_top1", "%"))
    assert top1.ok() and not r.ok(0.5)  # the old single 0.5 would have passed this r
    out = RescoreOutcome(Path("a.json"), Path("b.json"), 0.5, [top1, r], [])
    assert not out.ok
    text = "\n".join(out.lines())
    assert "FAIL" in text and "tolerance ±0.005 for: align_gbp_r" in text


def test_column_map_rejects_a_bad_tolerance() -> None:
    from luab_bench.config import validate
    from luab_bench.errors import LuabError
    from luab_bench.leaderboard.columns import ColumnMap

    with pytest.raises(LuabError, match="tolerance"):
        validate(ColumnMap, {"columns": [{"key": "x", "label": "X", "tolerance": -1}]}, "columns.yaml")
