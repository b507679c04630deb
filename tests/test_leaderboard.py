"""Static leaderboard build: rows, invalid files, signature marks, escaping, results.json."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

from luab_bench.errors import LuabError
from luab_bench.leaderboard.build import build_site, format_metric
from luab_bench.results.schema import Metric, Result
from luab_bench.results.signing import generate_keypair, sign_result_file
from luab_bench.results.store import write_result_to_dir

EVIL = "<script>alert(1)</script>"


def make_result(model: str, seed: int, top1: float, **extra_metrics: dict[str, Any]) -> Result:
    metrics: dict[str, Any] = {
        "top1_val": {
            "value": top1,
            "n": 500,
            "ci_low": top1 - 1.5,
            "ci_high": top1 + 1.5,
            "unit": "%",
            "higher_is_better": True,
            "task": "top-1 on val",
        },
        **extra_metrics,
    }
    return Result.model_validate(
        {
            "schema_version": "1.0",
            "result_id": f"id-{seed}",
            "created_at": "2026-01-31T12:00:00Z",
            "model": {"name": model, "source": "timm", "pretrained": False, "num_params": 10},
            "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
            "suite": {"name": "synthetic", "variant": "synthetic", "data_fingerprint": "ab"},
            "seed": seed,
            "metrics": metrics,
            "config": {},
            "provenance": {"luab_bench_version": "0.1.0"},
        }
    )


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    d = tmp_path / "results"
    priv, _ = generate_keypair(tmp_path / "keys")
    good = write_result_to_dir(d, make_result("resnet10t", 0, 81.25))
    sign_result_file(good, priv)
    evil = write_result_to_dir(
        d,
        make_result(
            EVIL,
            1,
            70.0,
            bg_gap={"value": 12.5, "n": 500, "unit": "%", "higher_is_better": False, "task": EVIL},
        ),
    )
    sign_result_file(evil, priv)
    evil.write_text(evil.read_text().replace('"value": 70.0', '"value": 71.0'))  # tampered
    write_result_to_dir(d, make_result("vit_tiny", 2, 64.0))  # unsigned
    (d / "zz_broken.json").write_text('{"schema_version": "1.0", "seed": "x"')
    (d / "notes.txt").write_text("not a result")
    return d


def test_build_site_rows_invalid_marks_and_escaping(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    report = build_site(results_dir, out)
    assert report.n_results == 3 and len(report.invalid) == 1
    assert report.invalid[0]["file"] == "zz_broken.json" and "not valid JSON" in report.invalid[0]["reason"]
    assert report.counts == {"verified": 1, "failed": 1, "unsigned": 1}

    page = (out / "index.html").read_text(encoding="utf-8")
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    assert len(re.findall(r"<tr\b", body)) == 3
    assert "zz_broken.json" in page.split('id="invalid"')[1]
    # the malicious name appears only escaped; the only <script> tag is our own sorting script
    assert EVIL not in page
    assert html.escape(EVIL) in page
    assert page.count("<script") == 1
    # signature marks
    assert "✓ verified" in page and "✗ content does not match its signature" in page
    assert 'class="sig-unsigned"' in page
    # metric columns: union of all metrics, value ± interval, n on hover
    assert "bg_gap" in page and "top1_val" in page
    assert "81.25" in page and "±1.50" in page and "n=500" in page
    assert 'src="http' not in page and "cdn" not in page.lower()

    data = json.loads((out / "results.json").read_text())
    assert len(data["rows"]) == 3 and len(data["invalid"]) == 1
    names = {r["model"]["name"] for r in data["rows"]}
    assert names == {"resnet10t", EVIL, "vit_tiny"}
    by_model = {r["model"]["name"]: r for r in data["rows"]}
    assert by_model["resnet10t"]["signature"]["status"] == "verified"
    assert by_model[EVIL]["signature"]["status"] == "failed"
    assert by_model["vit_tiny"]["signature"]["status"] == "unsigned"
    assert by_model[EVIL]["metrics"]["top1_val"]["value"] == 71.0
    assert [m["name"] for m in data["metrics"]] == ["bg_gap", "top1_val"]
    assert (
        json.loads((out / "result.schema.json").read_text())["properties"]["schema_version"]["const"] == "1.0"
    )


def test_build_is_deterministic(results_dir: Path, tmp_path: Path) -> None:
    build_site(results_dir, tmp_path / "a")
    build_site(results_dir, tmp_path / "b")
    for name in ("index.html", "results.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_trusted_keys_mark_foreign_signatures(results_dir: Path, tmp_path: Path) -> None:
    _, other_pub = generate_keypair(tmp_path / "other")
    report = build_site(results_dir, tmp_path / "site", trusted_keys=[other_pub])
    assert report.counts == {"verified": 0, "failed": 2, "unsigned": 1}
    reasons = {r["model"]["name"]: r["signature"]["reason"] for r in report.rows}
    assert "not in the trusted set" in reasons["resnet10t"]


def test_csp_pins_the_inline_script(results_dir: Path, tmp_path: Path) -> None:
    import base64
    import hashlib

    build_site(results_dir, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    script = page.split("<script>")[1].split("</script>")[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page
    assert "&#34;" not in script and "&quot;" not in script  # not mangled by autoescaping


def test_missing_and_empty_results_dir(tmp_path: Path) -> None:
    with pytest.raises(LuabError, match=r"nope: results directory not found"):
        build_site(tmp_path / "nope", tmp_path / "site")
    (tmp_path / "empty").mkdir()
    report = build_site(tmp_path / "empty", tmp_path / "site")
    assert report.n_results == 0 and (tmp_path / "site" / "index.html").is_file()


def test_format_metric_intervals() -> None:
    sym = Metric(value=50.0, n=9, ci_low=48.0, ci_high=52.0, unit="%", higher_is_better=True)
    assert format_metric(sym)["interval"] == "±2.00"
    asym = Metric(value=50.0, n=9, ci_low=47.0, ci_high=51.0, unit="%", higher_is_better=True)
    assert format_metric(asym)["interval"] == "+1.00/−3.00"
    bare = Metric(value=0.123456, n=0, unit="", higher_is_better=False)
    f = format_metric(bare)
    assert f["value"] == "0.1235" and f["interval"] == "" and f["title"] == "n=0"
    assert float(f["sort"]) == 0.123456


NODE_HARNESS = r"""
const fs = require("fs");
function el(attrs, text) {
  return { attrs: Object.assign({}, attrs), textContent: text || "", listeners: {},
    getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; },
    setAttribute(k, v) { this.attrs[k] = String(v); }, removeAttribute(k) { delete this.attrs[k]; },
    addEventListener(t, f) { this.listeners[t] = f; } };
}
const values = JSON.parse(process.argv[3]);
const headers = [el({}, "model"), el({}, "top1")];
const rows = values.map((v, i) => ({ id: i, cells: [el({}, "m" + i), el({"data-sort": v}, v)] }));
const body = { rows: rows.slice(),
  appendChild(r) { this.rows.splice(this.rows.indexOf(r), 1); this.rows.push(r); } };
const table = { tBodies: [body], querySelectorAll() { return headers; } };
global.document = { querySelectorAll() { return [table]; } };
eval(fs.readFileSync(process.argv[2], "utf8"));
const order = () => body.rows.map(r => r.cells[1].getAttribute("data-sort"));
headers[1].listeners.click(); const asc = order();
headers[1].listeners.click(); const desc = order();
console.log(JSON.stringify({ asc, desc, aria: headers[1].getAttribute("aria-sort") }));
"""


def test_sort_script_sorts_numbers_and_keeps_missing_last(tmp_path: Path) -> None:
    import shutil
    import subprocess
    from importlib.resources import files

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not installed")
    script = files("luab_bench.leaderboard") / "templates" / "sort.js"
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS)
    values = ["9.5", "", "10.25", "-1", "100"]
    proc = subprocess.run(
        [node, str(harness), str(script), json.dumps(values)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["asc"] == ["-1", "9.5", "10.25", "100", ""]  # numeric, not lexicographic
    assert got["desc"] == ["100", "10.25", "9.5", "-1", ""]
    assert got["aria"] == "descending"
