"""Typed result schema, deterministic store, provenance."""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luab_bench.errors import LuabError
from luab_bench.results.provenance import collect_provenance, git_state
from luab_bench.results.schema import (
    Metric,
    Provenance,
    Result,
    load_result,
    new_result_id,
    result_json_schema,
    utc_now_iso,
)
from luab_bench.results.store import result_filename, write_result, write_result_to_dir


def make_doc(**over: Any) -> dict[str, Any]:
    """A valid result document (plain JSON types)."""
    doc: dict[str, Any] = {
        "schema_version": "1.0",
        "result_id": "0123456789abcdef0123456789abcdef",
        "created_at": "2026-01-31T12:00:00Z",
        "model": {"name": "resnet10t", "source": "timm", "pretrained": False, "num_params": 4900000},
        "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
        "suite": {"name": "synthetic", "variant": "synthetic", "data_fingerprint": "ab" * 32},
        "seed": 0,
        "metrics": {
            "top1_val": {
                "value": 81.25,
                "n": 2000,
                "ci_low": 79.5,
                "ci_high": 82.95,
                "unit": "%",
                "higher_is_better": True,
                "task": "top-1 on synthetic val",
            },
            "bg_gap": {"value": 0.1, "n": 2000, "unit": "%", "higher_is_better": False, "task": "gap"},
        },
        "config": {"recipe": {"epochs": 2, "lr": 0.1}, "lambda": 1.0},
        "provenance": collect_provenance("ab" * 32, {"records_sha256": "cd" * 32}),
        "training": {"loss": [2.3, 1.9], "top1": [10.0, 35.5]},
        "signature": None,
    }
    doc.update(over)
    return doc


def test_round_trip_through_disk_is_exact(tmp_path: Path) -> None:
    r = Result.model_validate(make_doc())
    p = write_result(tmp_path / "r.json", r)
    back = load_result(p)
    assert back == r
    first = p.read_bytes()
    write_result(p, back)
    assert p.read_bytes() == first  # deterministic bytes
    assert json.loads(first) == r.to_json_dict()
    assert first.endswith(b"\n") and b"\n  " in first  # pretty-printed


def test_ints_become_floats_but_strings_never_numbers() -> None:
    m = Metric.model_validate({"value": 80, "n": 3, "unit": "%", "higher_is_better": True})
    assert isinstance(m.value, float) and m.value == 80.0
    for field, bad in [("value", "80.1"), ("n", "3"), ("n", 3.0), ("n", True), ("value", None)]:
        d = {"value": 1.0, "n": 3, "unit": "%", "higher_is_better": True, field: bad}
        with pytest.raises(ValueError):
            Metric.model_validate(d)
    with pytest.raises(ValueError):
        Metric.model_validate({"value": 1.0, "n": -1, "unit": "", "higher_is_better": True})


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected_in_metric_and_free_dicts(bad: float) -> None:
    doc = make_doc()
    doc["metrics"]["top1_val"]["value"] = bad
    with pytest.raises(ValueError, match=r"metrics\.top1_val\.value"):
        Result.model_validate(doc)
    doc = make_doc()
    doc["training"]["loss"][1] = bad
    with pytest.raises(ValueError, match=r"(?s)training.*non-finite.*loss\[1\]"):
        Result.model_validate(doc)


def test_interval_must_contain_value_and_come_in_pairs() -> None:
    base = {"n": 10, "unit": "%", "higher_is_better": True}
    Metric.model_validate({**base, "value": 5.0, "ci_low": 5.0, "ci_high": 5.0})
    with pytest.raises(ValueError, match="does not contain"):
        Metric.model_validate({**base, "value": 5.0, "ci_low": 6.0, "ci_high": 7.0})
    with pytest.raises(ValueError, match="together"):
        Metric.model_validate({**base, "value": 5.0, "ci_low": 4.0})


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.update(extra_key=1), "extra_key"),
        (lambda d: d["model"].update(nam="x"), "model.nam"),
        (lambda d: d["metrics"]["top1_val"].update(stderr=0.1), "metrics.top1_val.stderr"),
        (lambda d: d["provenance"].update(hostname="box"), "provenance.hostname"),
        (lambda d: d.update(seed="0"), "seed"),
        (lambda d: d.update(created_at="2026-01-31T12:00:00+02:00"), "created_at"),
        (lambda d: d.update(created_at="yesterday"), "created_at"),
        (lambda d: d.update(result_id="../etc/passwd"), "result_id"),
        (lambda d: d.update(signature={"algorithm": "rsa", "public_key": "x", "value": "y"}), "signature"),
    ],
)
def test_load_result_names_file_and_field(tmp_path: Path, mutate: Any, field: str) -> None:
    doc = make_doc()
    mutate(doc)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(LuabError) as ei:
        load_result(p)
    msg = str(ei.value)
    assert msg.startswith(f"{p}: ")
    assert field in msg


def test_unknown_schema_version_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "future.json"
    p.write_text(json.dumps(make_doc(schema_version="2.0")))
    with pytest.raises(LuabError, match=r"schema_version '2\.0' is not supported.*upgrade"):
        load_result(p)
    with pytest.raises(ValueError):
        Result.model_validate(make_doc(schema_version="1.3"))


ALIGNMENT = {
    "measure": "clicks",
    "data": "synthetic/val (8 images)",
    "curves": [
        {"method": "gradcam", "sigmas": [0.0, 5.0], "mean_r": [0.1, None], "best_sigma": 0.0, "best_r": 0.1}
    ],
}


def test_schema_1_0_gains_no_alignment_key_and_1_1_carries_alignment() -> None:
    old = make_doc(schema_version="1.0")
    r = Result.model_validate(old)
    assert "alignment" not in r.to_json_dict()  # an absent block is never written back as null
    assert Result.model_validate(r.to_json_dict()) == r
    new = Result.model_validate(make_doc(schema_version="1.1", alignment=ALIGNMENT))
    assert new.alignment is not None and new.alignment.curves[0].mean_r == [0.1, None]
    assert new.to_json_dict()["alignment"]["curves"][0]["method"] == "gradcam"


def test_alignment_block_is_checked() -> None:
    with pytest.raises(ValueError, match="needs schema_version"):
        Result.model_validate(make_doc(schema_version="1.0", alignment=ALIGNMENT))
    bad = {**ALIGNMENT, "curves": [{**ALIGNMENT["curves"][0], "sigmas": [0.0]}]}
    with pytest.raises(ValueError, match="equal length"):
        Result.model_validate(make_doc(schema_version="1.1", alignment=bad))
    with pytest.raises(ValueError):
        Result.model_validate(make_doc(schema_version="1.1", alignment={**ALIGNMENT, "extra": 1}))


def test_bad_json_missing_file_duplicate_keys(tmp_path: Path) -> None:
    with pytest.raises(LuabError, match="not found"):
        load_result(tmp_path / "nope.json")
    p = tmp_path / "trunc.json"
    p.write_text(json.dumps(make_doc())[:-10])
    with pytest.raises(LuabError, match=rf"{re.escape(str(p))}: not valid JSON"):
        load_result(p)
    p.write_text('{"seed": 1, "seed": 2}')
    with pytest.raises(LuabError, match="duplicate key 'seed'"):
        load_result(p)
    p.write_text("[1, 2]")
    with pytest.raises(LuabError, match="JSON object"):
        load_result(p)


def test_json_schema_is_strict_and_versioned() -> None:
    s = result_json_schema()
    assert s["properties"]["schema_version"]["enum"] == ["1.0", "1.1", "1.2"]
    assert s["additionalProperties"] is False
    assert s["$defs"]["Metric"]["additionalProperties"] is False
    assert set(s["required"]) >= {"schema_version", "metrics", "provenance", "seed"}
    json.dumps(s)  # serialisable


def test_result_filename_is_stable_and_safe(tmp_path: Path) -> None:
    doc = make_doc()
    doc["model"]["name"] = "hf-hub:timm/resnet50.a1_in1k <x>/../"
    r = Result.model_validate(doc)
    name = result_filename(r)
    assert name == result_filename(Result.model_validate(copy.deepcopy(doc)))
    assert re.fullmatch(r"[A-Za-z0-9._-]+\.json", name)
    assert name.startswith("synthetic__hf-hub-timm-resnet50.a1_in1k-x__luab__s0__")
    assert not name.startswith(".")
    other = Result.model_validate(make_doc(result_id=new_result_id()))
    assert result_filename(other) != result_filename(Result.model_validate(make_doc()))
    p = write_result_to_dir(tmp_path / "sub", r)
    assert p.parent == tmp_path / "sub" and load_result(p) == r


def test_utc_now_iso_is_accepted() -> None:
    ts = utc_now_iso()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ts)
    Result.model_validate(make_doc(created_at=ts))


def test_provenance_fields_and_privacy() -> None:
    import socket

    prov = collect_provenance("f" * 64, {"k": 1})
    Provenance.model_validate(prov)
    assert prov["data_fingerprint"] == "f" * 64 and prov["extra_data"] == {"k": 1}
    assert prov["packages"]["numpy"]  # installed in the test env
    assert set(prov["packages"]) >= {"torch", "torchvision", "timm", "numpy"}
    host = socket.gethostname()
    if len(host) > 3:
        assert host not in json.dumps(prov)
    if "torch" not in sys.modules:
        assert prov["gpu"] is None


def test_git_state_outside_a_checkout_and_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "__init__.py").write_text("")
    assert git_state(tmp_path) == (None, None)  # not a git checkout
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # git not found
    assert git_state() == (None, None)


def test_git_state_in_a_checkout(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git not installed")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("x = 1\n")

    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a],
            cwd=tmp_path,
            check=True,
            capture_output=True,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin"},
        ).stdout.strip()

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "init")
    head = git("rev-parse", "HEAD")
    assert git_state(pkg) == (head, False)
    (pkg / "__init__.py").write_text("x = 2\n")
    assert git_state(pkg) == (head, True)


@given(
    value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    width=st.floats(min_value=0, max_value=10),
    n=st.integers(min_value=0, max_value=10**9),
)
def test_metric_round_trips_any_finite_value(value: float, width: float, n: int) -> None:
    m = Metric(value=value, n=n, ci_low=value - width, ci_high=value + width, unit="", higher_is_better=True)
    back = Metric.model_validate(json.loads(json.dumps(m.model_dump(mode="json"))))
    assert back == m


def test_tasks_block_needs_1_2_and_old_files_still_load() -> None:
    tasks = {"in1k_val": {"status": "ok", "reason": ""}, "c": {"status": "failed", "reason": "c: lacks 3"}}
    r = Result.model_validate(make_doc(schema_version="1.2", tasks=tasks))
    assert r.tasks["c"].status == "failed" and r.to_json_dict()["tasks"]["c"]["reason"] == "c: lacks 3"
    with pytest.raises(ValueError, match=r'"tasks" block needs schema_version "1\.2"'):
        Result.model_validate(make_doc(schema_version="1.1", tasks=tasks))
    with pytest.raises(ValueError):
        Result.model_validate(make_doc(schema_version="1.2", tasks={"c": {"status": "skipped"}}))
    old = Result.model_validate(make_doc(schema_version="1.0"))
    assert "tasks" not in old.to_json_dict() and "alignment" not in old.to_json_dict()
