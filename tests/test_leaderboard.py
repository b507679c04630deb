"""Static leaderboard build: rows, invalid files, signature marks, escaping, results.json."""

from __future__ import annotations

import html
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    report = build_site(results_dir, out, trusted_keys=[tmp_path / "keys" / "luab_ed25519.pub"])
    assert report.n_results == 3 and len(report.invalid) == 1
    assert report.invalid[0]["file"] == "zz_broken.json" and "not valid JSON" in report.invalid[0]["reason"]
    assert report.counts == {"verified": 1, "self-signed": 0, "failed": 1, "unsigned": 1}

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
    assert json.loads((out / "result.schema.json").read_text())["properties"]["schema_version"]["enum"] == [
        "1.0",
        "1.1",
        "1.2",
    ]


def test_build_is_deterministic(results_dir: Path, tmp_path: Path) -> None:
    build_site(results_dir, tmp_path / "a")
    build_site(results_dir, tmp_path / "b")
    for name in ("index.html", "results.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_trusted_keys_mark_foreign_signatures(results_dir: Path, tmp_path: Path) -> None:
    _, other_pub = generate_keypair(tmp_path / "other")
    report = build_site(results_dir, tmp_path / "site", trusted_keys=[other_pub])
    assert report.counts == {"verified": 0, "self-signed": 0, "failed": 2, "unsigned": 1}
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


# ------------------------------------------------------------------ site: columns, aggregates, Δ, refs
REPO = Path(__file__).resolve().parents[1]


def _site_results(tmp_path: Path, seeds_values: dict[str, list[float]]) -> tuple[Path, Path]:
    from leaderboard_fixtures import synthetic_doc, write_results

    priv, _ = generate_keypair(tmp_path / "keys")
    docs = [
        synthetic_doc("resnet10t", proto, seed, v)
        for proto, values in seeds_values.items()
        for seed, v in enumerate(values)
    ]
    d = tmp_path / "results"
    write_results(d, docs, priv)
    return d, priv


def test_column_map_orders_known_metrics_then_unknown() -> None:
    from luab_bench.leaderboard.columns import load_column_map, order_columns

    info = {"unit": "%", "higher_is_better": True, "task": ""}
    cols = order_columns({k: info for k in ("zeta", "bg_gap", "val_top1", "alpha")})
    assert [c["name"] for c in cols] == ["val_top1", "bg_gap", "alpha", "zeta"]
    assert cols[0]["label"] == "Val (ID)" and cols[2]["label"] == "alpha"
    keys = [c.key for c in load_column_map().columns]
    assert len(keys) == len(set(keys))
    # the same map gives each suite's terminal table layout
    from luab_bench.leaderboard.columns import suite_layout

    assert list(suite_layout("imagenet"))[:4] == ["in1k_val_top1", "v2_top1", "real_top1", "a_top1"]
    assert suite_layout("synthetic")["bg_gap"] == "BG-gap↓" and suite_layout("no-such-suite") == {}
    # a layout may relabel a shared key in its paper's wording
    assert suite_layout("imagenet")["c_top1"] == "IN-C"
    assert suite_layout("synthetic")["c_top1"].startswith("Corruptions")


def test_mean_interval_matches_scipy() -> None:
    import numpy as np
    from scipy import stats

    from luab_bench.leaderboard.aggregate import mean_interval

    values = [61.2, 63.9, 60.4, 62.0]
    mean, half = mean_interval(values)
    lo, hi = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx(np.mean(values)) and half == pytest.approx((hi - lo) / 2)
    assert mean_interval([5.0]) == (5.0, None)


def test_aggregates_deltas_and_verdicts(tmp_path: Path) -> None:
    results, _ = _site_results(
        tmp_path, {"baseline": [60.0, 62.0], "rand": [61.0], "luab": [64.0, 65.0, 66.0]}
    )
    data = json.loads(
        (build_site(results, tmp_path / "site") and (tmp_path / "site" / "results.json")).read_text()
    )
    aggs = {a["protocol"]: a for a in data["aggregates"]}
    assert aggs["luab"]["seeds"] == [0, 1, 2] and aggs["luab"]["metrics"]["val_top1"]["mean"] == 65.0
    assert aggs["rand"]["metrics"]["val_top1"]["half_width"] is None
    (delta,) = data["deltas"]
    vb, vr = delta["vs"]["baseline"], delta["vs"]["rand"]
    assert vb["val_top1"]["delta"] == pytest.approx(65.0 - 61.0) and vb["val_top1"]["verdict"] == "better"
    assert vr["val_top1"]["delta"] == pytest.approx(65.0 - 61.0)
    # bg_gap = base/10 is lower-is-better: LUAB's larger gap is "worse"
    assert vb["bg_gap"]["delta"] == pytest.approx(6.5 - 6.1) and vb["bg_gap"]["verdict"] == "worse"
    page = (tmp_path / "site" / "index.html").read_text()
    # the Δ view is paired (tests/test_paired.py): seeds 0-1 give a t interval that includes 0 -> grey
    assert 'class="num d-ns"' in page and 'class="num d-better"' not in page


def test_unverified_results_do_not_enter_aggregates_and_can_be_excluded(tmp_path: Path) -> None:
    from leaderboard_fixtures import synthetic_doc, write_results

    results, priv = _site_results(tmp_path, {"luab": [64.0]})
    pub = priv.with_name(priv.name + ".pub")
    write_results(results, [synthetic_doc("resnet10t", "luab", 7, 10.0)], None)  # unsigned
    report = build_site(results, tmp_path / "a")
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    assert report.n_results == 2 and data["aggregates"][0]["seeds"] == [0]
    report = build_site(results, tmp_path / "b", include_unverified=False, trusted_keys=[pub])
    assert report.n_results == 1 and report.excluded == 1 and report.counts["unsigned"] == 1
    assert "1 unverified left out" in report.summary()
    assert "unsigned" not in (tmp_path / "b" / "results.csv").read_text()


def test_detail_pages_escape_and_stale_pages_go(results_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    report = build_site(results_dir, out)
    pages = sorted((out / "r").glob("*.html"))
    assert len(pages) == 3 and {f"r/{p.name}" for p in pages} == {r["detail"] for r in report.rows}
    evil_row = next(r for r in report.rows if r["model"]["name"] == EVIL)
    page = (out / evil_row["detail"]).read_text()
    assert EVIL not in page and html.escape(EVIL) in page and "<script" not in page
    assert "✗ failing" in page and "content does not match its signature" in page
    index = (out / "index.html").read_text()
    assert f'href="{evil_row["detail"]}"' in index
    (out / "r" / "stale.html").write_text("old")
    next(results_dir.glob("*vit_tiny*.json")).unlink()
    build_site(results_dir, out)
    assert len(list((out / "r").glob("*.html"))) == 2 and not list(out.glob(".r.*"))


def test_results_csv_parses_and_neutralises_formulas(tmp_path: Path) -> None:
    import csv

    from leaderboard_fixtures import synthetic_doc, write_results

    write_results(tmp_path / "res", [synthetic_doc("=HYPERLINK(1)", "luab", 0, 50.0)], None)
    build_site(tmp_path / "res", tmp_path / "site")
    rows = list(csv.DictReader((tmp_path / "site" / "results.csv").open()))
    assert len(rows) == 1 and rows[0]["model"] == "'=HYPERLINK(1)"
    assert float(rows[0]["val_top1"]) == 50.0 and float(rows[0]["val_top1_ci_low"]) == 48.5
    assert rows[0]["bg_gap_ci_low"] == "" and rows[0]["signature"] == "unsigned"


def test_published_schema_is_up_to_date() -> None:
    from luab_bench.results.schema import result_json_schema

    committed = json.loads((REPO / "leaderboard" / "schema" / "result.schema.json").read_text())
    assert committed == result_json_schema(), (
        "leaderboard/schema/result.schema.json is stale: run `luab-bench leaderboard schema`"
    )


def test_leaderboard_commands(results_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from luab_bench.commands.leaderboard import leaderboard

    runner = CliRunner()
    res = runner.invoke(leaderboard, ["schema", "--out", str(tmp_path / "s.json")])
    assert res.exit_code == 0 and json.loads((tmp_path / "s.json").read_text())["title"]
    res = runner.invoke(
        leaderboard,
        [
            "build",
            "--results",
            str(results_dir),
            "--out",
            str(tmp_path / "site"),
            "--verified-only",
            "--trusted-key",
            str(tmp_path / "keys" / "luab_ed25519.pub"),
            "--reference",
            str(REPO / "leaderboard" / "reference"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "1 results (1 verified, 0 self-signed, 1 failing, 1 unsigned, 2 unverified left out)" in res.output
    assert (
        'id="ref-table-1"' in (tmp_path / "site" / "index.html").read_text()
    )  # tests/test_reference_tables.py


# ------------------------------------------------------------------ alignment plots (schema 1.1)
def _curve(method: str, sigmas: list[float], mean_r: list[float | None], best: int) -> Any:
    from luab_bench.results.schema import AlignmentCurve

    return AlignmentCurve(
        method=method, sigmas=sigmas, mean_r=mean_r, best_sigma=sigmas[best], best_r=mean_r[best]
    )


def test_nice_ticks_hand_built_cases() -> None:
    from luab_bench.leaderboard.plots import nice_ticks

    assert nice_ticks(0.0, 30.0, 7) == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0]
    assert nice_ticks(-0.07, 0.53, 5) == [0.0, 0.2, 0.4]
    assert nice_ticks(-0.25, 0.25, 5) == [-0.2, 0.0, 0.2]  # step 0.2: the smallest nice step >= span/4
    assert nice_ticks(-0.25, 0.25, 6) == [-0.2, -0.1, 0.0, 0.1, 0.2]
    assert nice_ticks(0.3, 0.3) == [0.3]


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(-1e3, 1e3, allow_nan=False),
    span=st.floats(1e-6, 1e3, allow_nan=False),
    target=st.integers(2, 9),
)
def test_nice_ticks_are_inside_evenly_spaced_and_round(lo: float, span: float, target: int) -> None:
    from luab_bench.leaderboard.plots import nice_ticks

    hi = lo + span
    ticks = nice_ticks(lo, hi, target)
    tol = span * 1e-6
    assert len(ticks) >= 2 and all(lo - tol <= t <= hi + tol for t in ticks)
    if len(ticks) >= 2:
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6
        assert all(abs((b - a) - step) <= 1e-6 * step + 1e-9 for a, b in itertools.pairwise(ticks))
    # the first step >= span / (target - 1) gives <= target ticks; a smaller one is taken only when
    # that leaves fewer than 2 inside (span < 2 steps), and is >= step / 2.5: at most 6 ticks
    assert len(ticks) <= max(target, 6)


@given(st.lists(st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)), max_size=30))
def test_segments_split_at_nulls(ys: list[float | None]) -> None:
    from luab_bench.leaderboard.plots import segments

    xs = [float(i) for i in range(len(ys))]
    runs = segments(xs, ys)
    # the defined points, in order, and nothing else
    assert [p for run in runs for p in run] == [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    # each run is consecutive indices, and two runs are separated by at least one null
    for run in runs:
        idx = [int(x) for x, _ in run]
        assert idx == list(range(idx[0], idx[0] + len(idx)))
    for a, b in itertools.pairwise(runs):
        gap = range(int(a[-1][0]) + 1, int(b[0][0]))
        assert len(gap) >= 1 and all(ys[i] is None for i in gap)


def test_alignment_chart_lines_breaks_best_points_and_escaping() -> None:
    from luab_bench.leaderboard.plots import alignment_chart

    sig = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    curves = [
        _curve("gradcam", sig, [0.1, 0.2, None, 0.3, 0.5, 0.4], best=4),  # runs: 2 points, 3 points
        _curve(EVIL, sig, [None, -0.1, None, 0.0, 0.05, 0.02], best=4),  # runs: 1 point (dot), 3 points
    ]
    svg = alignment_chart(curves, measure="clicks & <i>", data='a "quoted" <b>set</b>')
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<script" not in svg and "<i>" not in svg and "<b>" not in svg
    assert html.escape(EVIL) in svg and "clicks &amp; &lt;i&gt;" in svg and "&quot;quoted&quot;" in svg
    assert svg.count("<polyline") == 3  # a null breaks each line
    series = re.findall(r'<g class="series".*?</g>', svg)
    assert len(series) == 2
    assert series[1].count('r="2"') == 1  # the isolated defined point is a dot
    assert svg.count('class="best"') == 2
    assert "Gaussian σ" in svg and "mean Pearson r" in svg  # axis labels
    legend = re.findall(r'<g class="legend">.*?</g>', svg)
    assert "gradcam: best r 0.5 at σ 4" in legend[0] and "best r 0.05 at σ 4" in legend[1]

    # geometry, independently: x spans [0, 5] over the plot width; the y range is the data range
    # (-0.1 .. 0.5) padded by 6% each side, over 170 px from y = 30 to y = 200
    left, right_edge, top, bottom = 52, 480 - 16, 30, 200
    y_lo, y_hi = -0.1 - 0.036, 0.5 + 0.036

    def xy(s: float, r: float) -> tuple[float, float]:
        return (
            left + (right_edge - left) * s / 5.0,
            bottom - (bottom - top) * (r - y_lo) / (y_hi - y_lo),
        )

    cx, cy = re.search(r'class="best" cx="([\d.]+)" cy="([\d.]+)"', series[0]).groups()  # type: ignore[union-attr]
    ex, ey = xy(4.0, 0.5)
    assert abs(float(cx) - ex) < 0.06 and abs(float(cy) - ey) < 0.06
    first_line = re.search(r'<polyline points="([^"]+)"', series[0]).group(1)  # type: ignore[union-attr]
    got = [tuple(map(float, p.split(","))) for p in first_line.split()]
    want = [xy(0.0, 0.1), xy(1.0, 0.2)]
    assert all(
        abs(g - w) < 0.06 for gp, wp in zip(got, want, strict=True) for g, w in zip(gp, wp, strict=True)
    )


def test_alignment_chart_constant_and_long_names() -> None:
    from luab_bench.leaderboard.plots import alignment_chart

    long_name = "m" * 60
    svg = alignment_chart([_curve(long_name, [3.0], [0.25], best=0)], measure="clicks", data="d")
    assert long_name in svg  # full name on hover (<title>)
    assert "m" * 27 + "…" in svg  # shortened in the legend text
    assert "nan" not in svg.lower() and "inf" not in svg.lower()  # a single point / zero span is drawn


def test_detail_page_alignment_section(tmp_path: Path) -> None:
    from leaderboard_fixtures import EVIL as FIX_EVIL
    from leaderboard_fixtures import aligned_doc, synthetic_doc, write_results

    priv, _ = generate_keypair(tmp_path / "keys")
    write_results(
        tmp_path / "res",
        [aligned_doc("vit_tiny", "luab", 0, 80.0), synthetic_doc("resnet10t", "luab", 0, 60.0)],
        priv,
    )
    report = build_site(tmp_path / "res", tmp_path / "site")
    assert report.counts["self-signed"] == 2
    pages = {r["model"]["name"]: (tmp_path / "site" / r["detail"]).read_text() for r in report.rows}
    page = pages["vit_tiny"]
    section = page.split('<h2 id="alignment">')[1].split("<h2")[0]
    assert section.count('<svg class="chart alignment-chart"') == 1
    assert FIX_EVIL not in page and "<script" not in page and html.escape(FIX_EVIL) in section
    assert "synthetic human maps &lt;b&gt;clicks&lt;/b&gt;" in section  # data string escaped
    table = section.split('id="alignment-metrics"')[1]
    rows = re.findall(r"<tr><td>(.*?)</td>", table)
    assert rows == ["Align r (Grad-CAM)", "align_evil_r", "align_gradcam_sigma"]  # labelled columns first
    assert "[0.35, 0.47]" in table and "[0.25, 0.37]" in table  # value ± interval as recorded
    # the curves are in results.json too (for download); a 1.0 row has no such key
    data = json.loads((tmp_path / "site" / "results.json").read_text())
    by_model = {r["model"]["name"]: r for r in data["rows"]}
    assert by_model["vit_tiny"]["alignment"]["curves"][0]["mean_r"][1] is None
    assert "alignment" not in by_model["resnet10t"]
    # a schema-1.0 result shows no alignment section at all
    assert 'id="alignment"' not in pages["resnet10t"] and "alignment-chart" not in pages["resnet10t"]


def test_shared_cells_and_cached_renderer_give_the_same_pages(tmp_path: Path) -> None:
    """The build's shortcuts (cells formatted once per row, one renderer per process) change nothing."""
    from leaderboard_fixtures import aligned_doc, synthetic_doc, write_results
    from luab_bench.leaderboard.render import Renderer, render_detail, render_index, site_data

    docs = [synthetic_doc("resnet10t", "luab", 0, 60.0), aligned_doc("vit_tiny", "rand", 1, 70.0)]
    write_results(tmp_path / "res", docs, None)
    report = build_site(tmp_path / "res", tmp_path / "site")
    fresh = Renderer()  # a new environment, templates compiled again, nothing shared
    for row in report.rows:
        on_disk = (tmp_path / "site" / row["detail"]).read_text(encoding="utf-8")
        assert on_disk == render_detail(row, report.results[row["file"]], fresh)  # cells made here
    report.cells.clear()
    index = render_index(report, references=[], data=site_data(report, []), renderer=fresh)
    assert (tmp_path / "site" / "index.html").read_text(encoding="utf-8") == index


def test_rebuild_writes_only_changed_pages(tmp_path: Path) -> None:
    import os

    from leaderboard_fixtures import synthetic_doc, write_results

    docs = [synthetic_doc("resnet10t", p, 0, 60.0) for p in ("baseline", "rand", "luab")]
    paths = write_results(tmp_path / "res", docs, None)
    out = tmp_path / "site"
    first = build_site(tmp_path / "res", out)
    assert first.pages_written == 3
    snapshot = {p.name: (p.read_bytes(), p.stat().st_ino) for p in out.rglob("*") if p.is_file()}

    again = build_site(tmp_path / "res", out)  # nothing changed: nothing written, same files
    assert again.pages_written == 0
    assert {p.name: (p.read_bytes(), p.stat().st_ino) for p in out.rglob("*") if p.is_file()} == snapshot

    # one result changes, one disappears, a stray file and a stale temp file sit in r/
    changed = Result.model_validate(json.loads(paths[0].read_text()) | {"seed": 5})
    paths[0].write_text(json.dumps(changed.to_json_dict()))
    paths[1].unlink()
    (out / "r" / "stray.html").write_text("old")
    (out / "r" / f".x.html.tmp-{os.getpid()}").write_text("half")
    third = build_site(tmp_path / "res", out)
    assert third.pages_written == 1
    assert sorted(p.name for p in (out / "r").iterdir()) == sorted(r["detail"][2:] for r in third.rows)
    fresh = tmp_path / "fresh"
    build_site(tmp_path / "res", fresh)  # the incremental result equals a build from scratch
    for p in fresh.rglob("*"):
        if p.is_file():
            assert (out / p.relative_to(fresh)).read_bytes() == p.read_bytes(), p.name
    assert not list(out.glob(".r.*")) and not list((out / "r").glob(".*"))


def test_detail_dir_that_is_a_file_is_replaced(tmp_path: Path) -> None:
    from leaderboard_fixtures import synthetic_doc, write_results

    write_results(tmp_path / "res", [synthetic_doc("resnet10t", "luab", 0, 60.0)], None)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "r").write_text("not a directory")
    report = build_site(tmp_path / "res", tmp_path / "site")
    assert (tmp_path / "site" / report.rows[0]["detail"]).is_file()


def test_index_suite_filter_control_labels_and_arrows(tmp_path: Path) -> None:
    results, _ = _site_results(tmp_path, {"baseline": [60.0], "rand": [61.0], "luab": [64.0]})
    build_site(results, tmp_path / "site")
    page = (tmp_path / "site" / "index.html").read_text()
    options = page.split('<select id="f-suite">')[1].split("</select>")[0]
    assert options == '<option value="">all</option><option value="synthetic">synthetic</option>'
    # every row of every filterable table carries its suite, so the suite filter applies to all
    for table in ("leaderboard", "aggregates", "deltas"):
        body = page.split(f'id="{table}"')[1].split("</tbody>")[0]
        rows = re.findall(r"<tr [^>]*>", body.split("<tbody>")[1])
        assert rows and all('data-suite="synthetic"' in r for r in rows)
    assert "LUAB − Rand" in page and "LUAB − rand" not in page  # the paper's spelling
    head = page.split('id="leaderboard"')[1].split("</thead>")[0]
    assert "BG-gap↓ (%)<" in head and "↓ (%) ↓" not in head  # no second arrow after an arrowed label
    assert "Val (ID) (%) ↑<" in head


def test_t_quantile_closed_forms_and_scipy() -> None:
    from scipy import stats

    from luab_bench.leaderboard.aggregate import t_quantile, t_two_sided_mass

    for q in (0.6, 0.9, 0.975, 0.995):
        # dof 1 (Cauchy): tan(pi (q - 1/2)); dof 2: (2q - 1) / sqrt(2 q (1 - q))
        assert t_quantile(1, q) == pytest.approx(math.tan(math.pi * (q - 0.5)), rel=1e-13)
        assert t_quantile(2, q) == pytest.approx((2 * q - 1) / math.sqrt(2 * q * (1 - q)), rel=1e-13)
        for dof in [*range(1, 41), 99, 100, 1000]:
            assert t_quantile(dof, q) == pytest.approx(stats.t.ppf(q, dof), rel=1e-12)
    for dof in (1, 2, 3, 4, 7, 30, 31):
        for t in (0.0, 0.3, 2.0, 25.0):
            want = stats.t.cdf(t, dof) - stats.t.cdf(-t, dof)
            assert t_two_sided_mass(t, dof) == pytest.approx(want, abs=1e-14)
    with pytest.raises(ValueError):
        t_quantile(3, 0.4)
    with pytest.raises(ValueError):
        t_two_sided_mass(1.0, 0)


# ------------------------------------------- per-seed paired bootstrap plumbing (per_image blocks)
def _bits(n: int, ones: set[int]) -> list[bool]:
    return [i in ones for i in range(n)]


def _vectors(n: int, shift: int) -> dict[str, list[bool]]:
    from leaderboard_fixtures import SYNTHETIC_METRICS

    return {
        m: _bits(n, {(7 * i + shift + j) % n for i in range(n // 2)}) for j, m in enumerate(SYNTHETIC_METRICS)
    }


def test_site_build_imports_numpy_only_for_per_image_blocks(tmp_path: Path) -> None:
    """The site build stays pure Python for results without per-image data; the per-seed paired
    bootstrap (leaderboard.paired.seed_bootstrap) imports numpy lazily when blocks are present."""
    import subprocess
    import sys

    from leaderboard_fixtures import per_image_doc, synthetic_doc, write_results

    priv, _ = generate_keypair(tmp_path / "keys")
    write_results(tmp_path / "plain", [synthetic_doc("m", p, 0, 60.0) for p in ("baseline", "luab")], priv)
    docs = [per_image_doc("m", p, 0, _vectors(64, k)) for k, p in enumerate(("baseline", "luab"))]
    write_results(tmp_path / "per_image", docs, priv)
    code = (
        "import sys\n"
        "from luab_bench.leaderboard.build import build_site\n"
        "build_site(sys.argv[1], sys.argv[2])\n"
        "print('numpy' in sys.modules)\n"
    )
    for name, want in (("plain", "False"), ("per_image", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / name), str(tmp_path / f"site-{name}")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == want, (name, out.stdout, out.stderr)
    data = json.loads((tmp_path / "site-per_image" / "results.json").read_text())
    assert [e["seed"] for e in data["paired_deltas"][0]["metrics"]["val_top1"]["per_seed"]] == [0]
    assert all("per_image" not in r for r in data["rows"])  # the bit vectors stay out of results.json


def test_per_seed_bootstrap_pairs_only_the_same_images(tmp_path: Path) -> None:
    """Per seed, a paired bootstrap needs both vectors, the same non-null data fingerprint and the same n."""
    from leaderboard_fixtures import per_image_doc, synthetic_doc, write_results
    from luab_bench.leaderboard.paired import image_scores
    from luab_bench.results.per_image import PerImage, encode

    priv, _ = generate_keypair(tmp_path / "keys")
    docs = [
        per_image_doc("m", "luab", 0, _vectors(64, 1)),
        per_image_doc("m", "baseline", 0, _vectors(64, 0)),  # paired
        per_image_doc("m", "luab", 1, _vectors(64, 1)),
        per_image_doc("m", "baseline", 1, _vectors(64, 0), fingerprint="sha256:other"),  # other data
        per_image_doc("m", "luab", 2, _vectors(64, 1)),
        per_image_doc("m", "baseline", 2, _vectors(72, 0)),  # same fingerprint, other n
        per_image_doc("m", "luab", 3, _vectors(64, 1)),
        synthetic_doc("m", "baseline", 3, 50.0),  # no per-image block
    ]
    write_results(tmp_path / "results", docs, priv)
    build_site(tmp_path / "results", tmp_path / "site")
    data = json.loads((tmp_path / "site" / "results.json").read_text())
    (d,) = data["paired_deltas"]
    assert d["k"] == 4
    for name, c in d["metrics"].items():
        assert [e["seed"] for e in c["per_seed"]] == [0], name
    # the per-image score of a metric, and BG-gap's from its two mixed splits
    block = {
        "mixed_same_top1": PerImage(**encode([True, True, False, False])),
        "mixed_rand_top1": PerImage(**encode([True, False, True, False])),
    }
    assert image_scores(block, "mixed_same_top1") == [100.0, 100.0, 0.0, 0.0]
    assert image_scores(block, "bg_gap") == [0.0, 100.0, -100.0, 0.0]
    assert image_scores(block, "val_top1") is None and image_scores(None, "bg_gap") is None
