"""Bad-input corpus: every command that reads a user file, fed generated broken files.

Each case asserts what issue 17 asks of a bad file: a one-line ``Error:`` (no traceback), exit ≠ 0,
no hang (a FIFO is run in a subprocess with a timeout, and every test has a pytest timeout), nothing
written outside the command's target directory, and no temporary file left behind. The site build
is the exception by design: a bad file is listed as invalid and the build completes (exit 0).
Targeted tests below pin each fix (safe loader, checkpoint and train-state checks, submission
rules, CSV neutralisation, temp-file clean-up).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from leaderboard_fixtures import synthetic_doc
from luab_bench.cli import cli
from luab_bench.errors import DataError
from luab_bench.results.signing import generate_keypair, load_private_key, sign_document

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[1]
DEEP = b"[" * 100_000 + b"]" * 100_000
PRIVATE_PEM_MARK = "-----BEGIN PRIVATE KEY-----"


# ----------------------------------------------------------------------------------- helpers
def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Relative path -> (size, mtime_ns) of everything under ``root`` (links not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[os.fsdecode(p.relative_to(root))] = (st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


def temp_leftovers(root: Path) -> list[str]:
    return [k for k in snapshot(root) if k.endswith(".tmp") or ".tmp-" in k or "/.r." in k]


def one_line_error(res: Any, *needles: str) -> str:
    """Assert a clean failure (exit ≠ 0, no traceback, exactly one Error: line); return that line."""
    assert res.exit_code != 0, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, res.output
    for needle in needles:
        assert needle in errors[0], res.output
    return errors[0]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    priv, _ = generate_keypair(tmp_path_factory.mktemp("key"), name="k")
    return priv


def signed_json(doc: dict[str, Any], key: Path) -> str:
    return json.dumps(sign_document(doc, load_private_key(key)))


def bad_result_files(key: Path) -> dict[str, bytes]:
    """name -> content of result files that must each be refused with a reason."""
    good = synthetic_doc("resnet10t", "luab", 0, 60.0)
    surrogate = signed_json(good, key).replace('"recipe": {', '"recipe": {"x": "a\\ud800", ', 1)
    huge = synthetic_doc("resnet10t", "baseline", 1, 50.0)
    huge["metrics"]["val_top1"] = {"value": 1e308, "n": 1, "unit": "%", "higher_is_better": True}
    dup = signed_json(good, key)[:-1] + ', "seed": 7}'
    nan = signed_json(good, key).replace('"seed": 0', '"seed": NaN')
    return {
        "deep.json": DEEP,
        "surrogate.json": surrogate.encode(),
        "not_utf8.json": b'{"schema_version": "1.0", "result_id": "\xff\xfe"}',
        "huge_metric.json": signed_json(huge, key).encode(),
        "duplicate_key.json": dup.encode(),
        "nan.json": nan.encode(),
        "truncated.json": signed_json(good, key).encode()[:200],
        "binary.json": bytes(range(256)) * 4,
        "empty.json": b"",
        "list.json": b"[1, 2, 3]",
    }


# ------------------------------------------------------------------------ the result-file corpus
def test_result_corpus_every_reader_fails_cleanly(tmp_path: Path, key: Path) -> None:
    runner = CliRunner()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, content in bad_result_files(key).items():
        (corpus / name).write_bytes(content)
    before = snapshot(tmp_path)
    for name in sorted(bad_result_files(key)):
        path = corpus / name
        for args in (["verify", str(path)], ["sign", str(path), "--key", str(key)]):
            one_line_error(runner.invoke(cli, args))
        res = runner.invoke(cli, ["reproduce", str(path), "--data-dir", str(tmp_path / "data")])
        one_line_error(res, str(path))
    assert snapshot(tmp_path) == before, "a refused file was changed or something was written"
    assert not temp_leftovers(tmp_path)


@pytest.mark.parametrize("verified_only", [False, True], ids=["all", "verified-only"])
def test_site_build_survives_every_bad_file(tmp_path: Path, key: Path, verified_only: bool) -> None:
    """Issue 17 item 4: one bad file never crashes the build; it is listed and the build completes."""
    results = tmp_path / "results"
    results.mkdir()
    good = synthetic_doc("resnet10t", "luab", 0, 60.0)
    (results / "good.json").write_text(signed_json(good, key))
    for name, content in bad_result_files(key).items():
        (results / name).write_bytes(content)
    (results / os.fsdecode(b"\xff-name.json")).write_text(signed_json(good | {"result_id": "rff"}, key))
    for protocol, value in (("baseline", 1.7e308), ("rand", -1.7e308)):  # a Δ of ±1.7e308 overflows
        doc = synthetic_doc("resnet10t", protocol, 0, 50.0)
        doc["metrics"]["val_top1"] = {"value": value, "n": 1, "unit": "%", "higher_is_better": True}
        (results / f"delta_{protocol}.json").write_text(signed_json(doc, key))
    args = ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "site")]
    args += ["--trusted-key", str(key.with_name("k.pub"))]  # so good.json counts as verified
    res = CliRunner().invoke(cli, args + (["--verified-only"] if verified_only else []))
    assert res.exit_code == 0, res.output
    assert res.exception is None
    payload = json.loads((tmp_path / "site" / "results.json").read_text(encoding="utf-8"))
    assert [r["file"] for r in payload["rows"]] == ["good.json"]
    invalid = {e["file"]: e["reason"] for e in payload["invalid"]}
    expected = set(bad_result_files(key)) | {"\\xff-name.json", "delta_baseline.json", "delta_rand.json"}
    assert set(invalid) == expected, invalid
    assert "not valid UTF-8" in invalid["\\xff-name.json"]
    assert "nested" in invalid["deep.json"] and "surrogate" in invalid["surrogate.json"]
    assert "less than or equal" in invalid["delta_baseline.json"]
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "deep.json" in index and "\\xff-name.json" in index  # the site lists rejected files
    assert not temp_leftovers(tmp_path / "site")


def test_extreme_but_finite_numbers_render(tmp_path: Path) -> None:
    """Training curves and config numbers have no magnitude bound: charts must stay finite."""
    from luab_bench.leaderboard.build import build_site

    doc = synthetic_doc("resnet10t", "luab", 0, 50.0)
    doc["training"] = {"curves": {"total": [1.7e308, -1.7e308, 1e308], "tiny": [5e-324, 0.0]}, "epochs": 3}
    doc["config"]["recipe"]["lr"] = 1e308
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "a.json").write_text(json.dumps(doc))
    report = build_site(tmp_path / "res", tmp_path / "site")
    assert report.n_results == 1 and not report.invalid
    page = (tmp_path / "site" / report.rows[0]["detail"]).read_text(encoding="utf-8")
    import math
    import re

    points = [p for attr in re.findall(r'points="([^"]*)"', page) for p in attr.replace(",", " ").split()]
    assert points and all(math.isfinite(float(p)) for p in points), points


def test_reproduce_refuses_a_seed_training_cannot_take(tmp_path: Path) -> None:
    doc = synthetic_doc("resnet10t", "luab", 2**40, 50.0)
    (tmp_path / "r.json").write_text(json.dumps(doc))
    res = CliRunner().invoke(cli, ["reproduce", str(tmp_path / "r.json"), "--data-dir", str(tmp_path / "d")])
    one_line_error(res, "seed 1099511627776 is outside 0..4294967295")
    assert not (tmp_path / "d").exists()


# --------------------------------------------------------------------------- byproduct records
def bad_record_files() -> dict[str, bytes]:
    record = {
        "imageID": "n01440764/n01440764_10026",
        "selected": True,
        "clicks": [{"x": 0.5, "y": 0.5, "time": 1.0}],
    }
    line = json.dumps(record).encode()
    return {
        "deep.json": DEEP,
        "not_utf8.jsonl": line + b"\n" + b'{"imageID": "\xff"}\n',
        "truncated.json": b"[" + line + b", " + line[:20],
        "truncated.jsonl": line[:25],
        "nan.jsonl": line.replace(b"0.5", b"NaN", 1) + b"\n",
        "binary.json": b"\x00\x01\x02\xff" * 64,
        "empty.json": b"",
    }


def test_record_corpus_data_commands_fail_cleanly(tmp_path: Path) -> None:
    runner = CliRunner()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, content in bad_record_files().items():
        (corpus / name).write_bytes(content)
    data_dir = tmp_path / "data"
    before = snapshot(tmp_path)
    for name in sorted(bad_record_files()):
        path = str(corpus / name)
        data_dir = tmp_path / "data" / name  # one table folder per file
        commands = [
            ["data", "parse", path],
            ["data", "stats", "imagenet-ab", path],
            ["data", "ingest", "imagenet-ab", path, "--data-dir", str(data_dir)],
        ]
        if name.endswith(".json"):  # COCO-AB is one JSON list
            commands += [
                ["data", "stats", "coco-ab", path],
                ["data", "ingest", "coco-ab", path, "--data-dir", str(data_dir)],
            ]
        for args in commands:
            res = runner.invoke(cli, args)
            if args[1] == "stats" or (args[1] == "ingest" and name.startswith("nan")):
                # stats count malformed records (that is their output), and ingest keeps a table of
                # a complete file whose bad records are counted in its report: no crash is the rule
                assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
                assert "Traceback" not in res.output
                continue
            one_line_error(res)
            if args[1] == "ingest":
                tables = list(data_dir.rglob("*.arrow")) if data_dir.exists() else []
                assert not tables, f"{args}: a table was written from a broken file"
    after = snapshot(tmp_path)
    written = {k for k in set(after) - set(before) if not k.startswith("data")}
    assert not written, written
    assert not temp_leftovers(tmp_path)


@pytest.mark.parametrize(
    "meta",
    [DEEP, b'{"version": "\xff"}', b"[]", b'{"version": 1}', b"{", bytes(range(256))],
    ids=["deep", "not-utf8", "list", "no-counts", "truncated", "binary"],
)
def test_data_info_on_a_bad_table_is_one_line(tmp_path: Path, meta: bytes) -> None:
    from luab_bench.data.point_table import META_FILE

    table = tmp_path / "table"
    table.mkdir()
    (table / META_FILE).write_bytes(meta)
    one_line_error(CliRunner().invoke(cli, ["data", "info", str(table)]), META_FILE)


# ------------------------------------------------------------------- FIFOs via `python -m` (hangs)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_never_hangs_python_m(tmp_path: Path, key: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    sub = tmp_path / "sub"
    sub.mkdir()
    os.mkfifo(sub / "submission.yaml")
    import luab_bench

    code_root = str(Path(luab_bench.__file__).resolve().parents[1])  # the code this test imports
    env = {**os.environ, "PYTHONPATH": code_root, "HF_HUB_OFFLINE": "1"}
    for args in (
        ["verify", str(fifo)],
        ["data", "parse", str(fifo)],
        ["data", "stats", "coco-ab", str(fifo)],
        ["sign", str(fifo), "--key", str(key)],
        ["submission", "check", str(sub)],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "luab_bench", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode != 0, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "not a regular file" in proc.stderr, (args, proc.stderr)


# ------------------------------------------------------------------------- checkpoint.json fields
def write_checkpoint_meta(directory: Path, **model: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": "luab-bench-checkpoint",
        "format_version": 1,
        "model": {"name": "resnet10t", "num_classes": 10, "num_point_heads": 1, **model},
        "protocol": {"name": "luab", "version": "1", "family": "point_regression"},
        "recipe": {"epochs": 1},
        "seed": 0,
        "suite": "synthetic",
        "data": {"source": "synthetic", "variant": "synthetic", "fingerprint": "ab"},
        "weights": {"file": "model.safetensors", "sha256": "0" * 64},
    }
    (directory / "checkpoint.json").write_text(json.dumps(meta))
    return directory


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"num_classes": "abc"}, "model.num_classes"),
        ({"num_classes": 1e13}, "model.num_classes"),
        ({"num_classes": 10**13}, "model.num_classes"),
        ({"num_point_heads": -1}, "model.num_point_heads"),
        ({"input_mean": [0.5, "x", 0.5]}, "model.input_mean"),
    ],
)
def test_checkpoint_model_block_is_checked(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    ckpt = write_checkpoint_meta(tmp_path / "ckpt", **change)
    res = CliRunner().invoke(cli, ["evaluate", "--checkpoint", str(ckpt), "--results-dir", str(tmp_path)])
    one_line_error(res, "checkpoint.json", needle.split(".", 1)[1])


def test_checkpoint_nan_and_missing_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    ckpt = write_checkpoint_meta(tmp_path / "nan")
    text = (ckpt / "checkpoint.json").read_text().replace('"num_classes": 10', '"num_classes": NaN')
    (ckpt / "checkpoint.json").write_text(text)
    one_line_error(runner.invoke(cli, ["evaluate", "--checkpoint", str(ckpt)]), "num_classes")
    for missing in ("suite", "seed", "data", "protocol", "recipe"):
        ckpt = write_checkpoint_meta(tmp_path / missing)
        meta = json.loads((ckpt / "checkpoint.json").read_text())
        del meta[missing]
        (ckpt / "checkpoint.json").write_text(json.dumps(meta))
        line = one_line_error(runner.invoke(cli, ["evaluate", "--checkpoint", str(ckpt)]), missing)
        assert "re-run `luab-bench train`" in line
    ckpt = write_checkpoint_meta(tmp_path / "bytes")
    (ckpt / "checkpoint.json").write_bytes(b'{"format": "\xff"}')
    one_line_error(runner.invoke(cli, ["evaluate", "--checkpoint", str(ckpt)]), "UTF-8")


# ------------------------------------------------------------------------------- train_state.json
def test_train_state_never_follows_a_path_out_of_the_run_dir(tmp_path: Path) -> None:
    from luab_bench.train.checkpoint import load_train_state

    outside = tmp_path / "secret.safetensors"
    outside.write_bytes(b"secret")
    run = tmp_path / "run"
    run.mkdir()
    doc = {
        "format": "luab-bench-train-state",
        "format_version": 1,
        "tensors": {"file": "../secret.safetensors", "sha256": "0" * 64},
        "optimizer": {"param_groups": [], "scalars": {}},
        "num_rng_states": 1,
        "progress": {},
    }
    for name in ("../secret.safetensors", "../../../../etc/hostname", str(outside), "sub/x.safetensors"):
        doc["tensors"]["file"] = name
        (run / "train_state.json").write_text(json.dumps(doc))
        with pytest.raises(
            DataError, match=r"not a train_state-<step>\.safetensors file in the run directory"
        ):
            load_train_state(run)
    (run / "train_state-000000001.safetensors").symlink_to(outside)
    doc["tensors"]["file"] = "train_state-000000001.safetensors"
    (run / "train_state.json").write_text(json.dumps(doc))
    with pytest.raises(DataError, match="run directory"):
        load_train_state(run)
    for bad in ({"num_rng_states": "x"}, {"tensors": {"file": 3}}, {"optimizer": None}):
        (run / "train_state.json").write_text(json.dumps(doc | bad))
        with pytest.raises(DataError, match=r"delete .* to start over"):
            load_train_state(run)
    (run / "train_state.json").write_bytes(b'{"format": "\xff"')
    with pytest.raises(DataError, match="UTF-8"):
        load_train_state(run)


# ------------------------------------------------------------------------- options and key names
@pytest.mark.parametrize("seed", ["1e23", "-1", str(2**32), "99999999999999999999999"])
def test_seed_out_of_range_is_refused_at_parse_time(tmp_path: Path, seed: str) -> None:
    res = CliRunner().invoke(
        cli,
        ["train", "--model", "resnet10t", "--protocol", "luab", "--seed", seed, "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2 and "--seed" in res.output and "Traceback" not in res.output, res.output
    assert not (tmp_path / "o").exists()
    if seed != "1e23":
        assert "4294967295" in res.output  # the valid range is named


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    res = CliRunner().invoke(cli, ["run", "--model", "resnet10t", "--data-dir", str(f)])
    assert res.exit_code == 2 and "is a file" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("name", ["", "../../x", "a/b", "..", ".", "k.pub", "/abs"])
def test_keygen_name_never_writes_outside_out(tmp_path: Path, name: str) -> None:
    out = tmp_path / "a" / "b"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    res = CliRunner().invoke(cli, ["keygen", "--out", str(out), "--name", name])
    one_line_error(res, "plain file name")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------------------ submission.yaml
@pytest.fixture
def submission(tmp_path: Path) -> Path:
    d = tmp_path / "submissions" / "team"
    d.mkdir(parents=True)
    generate_keypair(d, name="team")
    (d / "team").unlink()
    doc = {
        "team": "Team",
        "contact": "a@example.org",
        "model": "resnet10t",
        "weights": {"url": "https://example.org/model.safetensors", "sha256": "ab" * 32},
        "protocol": "luab",
        "recipe": "synthetic",
        "public_key": "team.pub",
    }
    (d / "submission.yaml").write_text(yaml.safe_dump(doc))
    return d


def check(d: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["submission", "check", str(d), *extra])


def test_submission_duplicate_key_is_an_error(submission: Path) -> None:
    assert check(submission).exit_code == 0
    other = tmp_key = submission.parent / "other"
    other.mkdir()
    generate_keypair(other, name="o")
    text = (submission / "submission.yaml").read_text()
    (submission / "submission.yaml").write_text(text + f"public_key: {(tmp_key / 'o.pub').read_text()}")
    res = check(submission)
    assert res.exit_code != 0 and "duplicate key 'public_key'" in res.output and "Traceback" not in res.output


def test_submission_private_key_is_detected_and_never_echoed(submission: Path, tmp_path: Path) -> None:
    priv, _ = generate_keypair(tmp_path, name="secret")
    pem = priv.read_text()
    body = pem.splitlines()[1]
    doc = yaml.safe_load((submission / "submission.yaml").read_text())
    variants = {
        "pem in public_key": yaml.safe_dump(doc | {"public_key": pem}),
        "bare base64": yaml.safe_dump(doc | {"public_key": body}),
        "pem in description": yaml.safe_dump(doc | {"description": pem}),
        "broken yaml": yaml.safe_dump(doc) + f"public_key: [{pem}\n",
    }
    for what, text in variants.items():
        (submission / "submission.yaml").write_text(text)
        for command in ("check", "keys"):
            res = CliRunner().invoke(cli, ["submission", command, str(submission)])
            assert res.exit_code != 0, (what, command, res.output)
            assert "looks like a private key; remove it" in res.output, (what, res.output)
            assert body not in res.output and body[:20] not in res.output, (what, command)
            assert PRIVATE_PEM_MARK not in res.output and "Traceback" not in res.output


def test_submission_symlinks_out_of_the_folder_are_refused(submission: Path, tmp_path: Path) -> None:
    _, outside_pub = generate_keypair(tmp_path, name="outside")
    (submission / "team.pub").unlink()
    (submission / "team.pub").symlink_to(outside_pub)
    res = check(submission)
    assert res.exit_code != 0 and "symlink leading outside the submission directory" in res.output
    protocol = tmp_path / "p.yaml"
    protocol.write_text((REPO / "benchmark/luab_bench/protocols/luab.yaml").read_text())
    (submission / "team.pub").unlink()
    generate_keypair(tmp_path / "k2", name="team")
    (submission / "team.pub").write_text((tmp_path / "k2" / "team.pub").read_text())
    (submission / "p.yaml").symlink_to(protocol)
    doc = yaml.safe_load((submission / "submission.yaml").read_text())
    (submission / "submission.yaml").write_text(yaml.safe_dump(doc | {"protocol": "p.yaml"}))
    res = check(submission)
    assert (
        res.exit_code != 0 and "protocol: protocol file 'p.yaml' is a symlink leading outside" in res.output
    )


def test_submission_yaml_symlinked_elsewhere_is_refused(submission: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    (submission / "submission.yaml").rename(elsewhere)
    (submission / "submission.yaml").symlink_to(elsewhere)
    res = check(submission)
    assert res.exit_code != 0 and "symlink leading outside the submission directory" in res.output


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("weights.url", "https://user:hunter2@example.org/model.safetensors", "holds credentials"),
        ("weights.url", "https://token@example.org/model.safetensors", "holds credentials"),
        ("contact", "https://user:hunter2@example.org/", "holds credentials"),
        ("model", "os:system", "allow-lists it"),
        ("model", "subprocess:check_call", "allow-lists it"),
        ("description", "x" * 10_000, "at most 5000 characters"),
        ("team", "t" * 500, "at most 200 characters"),
    ],
)
def test_submission_field_rules(submission: Path, field: str, value: str, needle: str) -> None:
    doc = yaml.safe_load((submission / "submission.yaml").read_text())
    if "." in field:
        outer, inner = field.split(".")
        doc[outer][inner] = value
    else:
        doc[field] = value
    (submission / "submission.yaml").write_text(yaml.safe_dump(doc))
    res = check(submission)
    assert res.exit_code != 0 and needle in res.output and "Traceback" not in res.output, res.output
    assert "hunter2" not in res.output  # a password in a URL is never echoed


def test_submission_factory_accepted_when_allow_listed(submission: Path) -> None:
    doc = yaml.safe_load((submission / "submission.yaml").read_text())
    (submission / "submission.yaml").write_text(yaml.safe_dump(doc | {"model": "mypkg.nets:build"}))
    assert check(submission).exit_code != 0
    res = check(submission, "--allow-factory", "mypkg.nets:build")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)), b"team: \xff\xfe\n", b"\x00\x00\x00", b"team: [" * 50_000, b"x: " + b"y" * (2 << 20)],
    ids=["binary", "latin1", "nul", "deep", "over-cap"],
)
def test_binary_or_oversized_submission_yaml_is_one_line(submission: Path, content: bytes) -> None:
    (submission / "submission.yaml").write_bytes(content)
    res = check(submission)
    assert res.exit_code != 0 and "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    fails = [ln for ln in res.output.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 1 and "submission.yaml" in fails[0], res.output


# --------------------------------------------------------------------------------- safe loader
def test_safe_loader_rules() -> None:
    from luab_bench import safe_json

    with pytest.raises(safe_json.InputProblem, match="nested"):
        safe_json.loads(DEEP)
    with pytest.raises(safe_json.InputProblem, match="nested more than 3"):
        safe_json.loads(b"[[[[1]]]]", max_depth=3)
    assert safe_json.loads(b"[[[1]]]", max_depth=3) == [[[1]]]
    with pytest.raises(safe_json.InputProblem, match="surrogate"):
        safe_json.loads('{"a": "\\ud800"}', reject_duplicates=True)
    with pytest.raises(safe_json.InputProblem, match="surrogate"):
        safe_json.loads('{"\\udcff": 1}')
    with pytest.raises(safe_json.InputProblem, match=r"byte 0xff at offset 6"):
        safe_json.loads(b'{"a": \xff}')
    with pytest.raises(safe_json.InputProblem, match="duplicate key 'a'"):
        safe_json.loads(b'{"a": 1, "a": 2}', reject_duplicates=True)
    assert safe_json.loads(b'{"a": 1, "a": 2}') == {"a": 2}  # record files: last wins, as before
    assert safe_json.loads("[NaN]")[0] != safe_json.loads("[NaN]")[0]  # NaN read, flagged by schemas


def test_read_regular_file_caps_and_kinds(tmp_path: Path) -> None:
    from luab_bench import safe_json

    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(safe_json.MAX_DOC_BYTES + 1)  # sparse: instant
    with pytest.raises(safe_json.InputProblem, match="more than"):
        safe_json.read_json_file(big)
    with pytest.raises(safe_json.InputProblem, match="a directory"):
        safe_json.read_regular_file(tmp_path, max_bytes=10)
    (tmp_path / "ok").write_bytes(b"12345")
    assert safe_json.read_regular_file(tmp_path / "ok", max_bytes=5) == b"12345"
    with pytest.raises(safe_json.InputProblem):
        safe_json.read_regular_file(tmp_path / "ok", max_bytes=4)
    assert safe_json.display_name(os.fsdecode(b"a\xffb")) == "a\\xffb"
    assert safe_json.display_name("a\ud800") == "a\\ud800"


def test_yaml_loader_refuses_duplicates_and_bad_bytes(tmp_path: Path) -> None:
    from luab_bench.config import load_yaml
    from luab_bench.errors import ConfigError

    p = tmp_path / "p.yaml"
    p.write_text("a: 1\nb:\n  c: 2\n  c: 3\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'c' \(first at line 3\)"):
        load_yaml(p)
    p.write_text("a: 1\nb: 2\n<<: {a: 3}\n")  # a merge key is not a duplicate
    assert load_yaml(p)["a"] == 1
    p.write_bytes(b"a: \xff\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_yaml(p)
    with pytest.raises(ConfigError, match="regular file"):
        load_yaml(tmp_path)


# ------------------------------------------------------------------------------- data commands
def test_data_parse_exits_nonzero_on_malformed_records(tmp_path: Path) -> None:
    good = {"imageID": "n01440764/n01440764_1", "selected": True, "clicks": []}
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(good) + "\n" + '{"imageID": "n01440764/n01440764_2", "sel')
    runner = CliRunner()
    res = runner.invoke(cli, ["data", "parse", str(path)])
    one_line_error(res, "malformed record(s)", "--allow-malformed")
    assert "unparsable_json 1" in res.output
    assert runner.invoke(cli, ["data", "parse", str(path), "--allow-malformed"]).exit_code == 0
    res = runner.invoke(cli, ["data", "ingest", "imagenet-ab", str(path), "--data-dir", str(tmp_path / "d")])
    one_line_error(res, "truncated or corrupt", "no table was written")
    assert not (tmp_path / "d" / "points").exists() or not any((tmp_path / "d" / "points").iterdir())


# --------------------------------------------------------------------------------------- CSV
@pytest.mark.parametrize(
    "value",
    [
        "=1+1",
        " =1+1",
        "\r=1+1",
        "\n=1+1",
        "\t=1+1",
        "\u200b=1+1",
        "\ufeff@SUM(A1)",
        "＝1+1",
        "＋1",
        "－1",
        "＠A1",
        "﹦1",
        "  \u3000＝1",
    ],
)
def test_csv_formulas_are_neutralised_and_quoted(tmp_path: Path, value: str) -> None:
    from luab_bench.leaderboard.csv_export import _csv_cell, results_csv
    from luab_bench.leaderboard.rows import BuildReport

    assert _csv_cell(value) == "'" + value
    row = {
        "file": "f.json",
        "result_id": "r",
        "model": {"name": value},
        "protocol": {"name": "luab"},
        "suite": {"name": "synthetic", "variant": ""},
        "seed": 0,
        "metrics": {},
        "signature": {"status": "unsigned"},
    }
    text = results_csv(BuildReport(rows=[row]))
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert len(parsed) == 2, text  # a CR/LF in a value never starts a new record
    assert parsed[1][2] == "'" + value


@pytest.mark.parametrize("value", ["resnet10t", "a=b", "x-1", "1.5", "", "日本"])
def test_csv_plain_values_are_unchanged(value: str) -> None:
    from luab_bench.leaderboard.csv_export import _csv_cell

    assert _csv_cell(value) == value


# ---------------------------------------------------------------------------------- temp files
def test_stale_temp_files_of_dead_writers_are_removed(tmp_path: Path) -> None:
    from luab_bench import io as lio

    dead = _dead_pid()
    host = lio.temp_suffix().split("-")[0][1:]
    stale = [
        f".train_state-000000003.safetensors.abcd1234.{host}-{dead}.tmp",
        f".result.json.zz99yy88.{host}-{dead}.tmp",
        f".index.html.tmp-{dead}",
    ]
    live = [f".result.json.qq11ww22{lio.temp_suffix()}", f".x.json.abcd1234.0000beef-{dead}.tmp", "keep.tmp"]
    for name in stale + live:
        (tmp_path / name).write_bytes(b"half")
    (tmp_path / f".r.{host}-{dead}.tmp").mkdir()
    (tmp_path / f".r.{host}-{dead}.tmp" / "page.html").write_text("x")
    old = tmp_path / ".legacy.json.a1b2c3d4.tmp"  # earlier versions' names: removed when a day old
    old.write_bytes(b"")
    os.utime(old, (1_000_000, 1_000_000))
    lio._cleaned.discard(os.fspath(tmp_path))
    lio.atomic_write_text(tmp_path / "result.json", "{}")  # the next write into the directory cleans
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*live, "result.json"])


def test_site_build_never_ships_temp_files(tmp_path: Path, key: Path) -> None:
    from luab_bench.leaderboard.build import build_site

    results = tmp_path / "results"
    results.mkdir()
    (results / "good.json").write_text(signed_json(synthetic_doc("resnet10t", "luab", 0, 60.0), key))
    site = tmp_path / "site"
    build_site(results, site)
    dead = _dead_pid()
    from luab_bench import io as lio

    host = lio.temp_suffix().split("-")[0][1:]
    (site / f".r.tmp-{dead}").mkdir()
    (site / f".r.tmp-{dead}" / "x.html").write_bytes(b"x" * 1000)
    (site / f".r.{host}-{dead}.tmp").mkdir()
    (site / f".index.html.abcd1234.{host}-{dead}.tmp").write_bytes(b"")
    (site / "r" / f".p.html.tmp-{dead}").write_bytes(b"")
    report = build_site(results, site)
    assert len(report.stale_removed) == 3
    assert not [p for p in site.rglob("*") if p.name.startswith(".")]


def _dead_pid() -> int:
    """A pid that is not running (a finished child's)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(proc.stdout)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    return pid


def test_luab_errors_with_undecodable_names_print(tmp_path: Path) -> None:
    name = os.fsdecode(b"\xff.json")
    (tmp_path / name).write_text("{")
    res = CliRunner().invoke(cli, ["verify", str(tmp_path)])
    one_line_error(res)
    assert "\\xff.json" in res.output


# ------------------------------------------------------------------------------ property tests

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_json_values)
def test_safe_loads_round_trips_valid_json(value: Any) -> None:
    from luab_bench import safe_json

    text = json.dumps(value, ensure_ascii=False)
    assert safe_json.loads(text.encode("utf-8"), reject_duplicates=True) == value  # stdlib: exact
    fast = safe_json.loads(text.encode("utf-8"))  # orjson: ints beyond 64 bits come back as floats
    assert fast == value or (_has_big_int(value) and json.dumps(fast) != text)


def _has_big_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, list):
        return any(_has_big_int(v) for v in value)
    if isinstance(value, dict):
        return any(_has_big_int(v) for v in value.values())
    return False


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_safe_loads_raises_only_input_problem(data: bytes) -> None:
    from luab_bench import safe_json

    try:
        safe_json.loads(data, reject_duplicates=True)
        safe_json.loads(data)
    except safe_json.InputProblem:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_csv_cell_round_trips_one_record(value: str) -> None:
    import unicodedata

    from luab_bench.leaderboard.csv_export import _csv_cell

    cell = _csv_cell(value)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow([cell, "end"])
    parsed = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert parsed == [[cell, "end"]]  # one record, the value intact
    assert cell in (value, "'" + value)
    if cell == value:  # not neutralised: no formula start after leading blanks / controls
        rest = [c for c in value if not (c.isspace() or unicodedata.category(c)[0] == "C")]
        assert not value[:1] or value[0] not in "\t\r\n"
        assert not rest or unicodedata.normalize("NFKC", rest[0])[:1] not in "=+-@"
