"""The lazy public API at ``luab_bench`` and ``luab-bench list models [PATTERN]`` (issue 15)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from click.testing import CliRunner

import luab_bench
from luab_bench.cli import cli
from luab_bench.errors import LuabError

API = ("create_model", "load_protocol", "load_recipe", "get_suite", "train", "evaluate", "align",
       "load_result", "verify", "build_site", "list_models")  # fmt: skip


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_import_luab_bench_imports_no_heavy_module() -> None:
    out = _fresh(
        "import sys, luab_bench\n"
        "print(sorted(m for m in ('torch', 'timm', 'numpy', 'pydantic', 'luab_bench.pipeline') "
        "if m in sys.modules))\n"
        "luab_bench.load_protocol('luab')\n"  # protocols need pydantic/yaml, not torch
        "print('torch' in sys.modules)\n"
    )
    assert out.split("\n")[:2] == ["[]", "False"], out


def test_every_api_name_is_the_implementation_itself() -> None:
    assert set(API) <= set(dir(luab_bench)) and set(API) <= set(luab_bench.__all__)
    for name in API:
        module, _, attr = luab_bench._API[name].partition(":")
        expected = importlib.import_module(module)
        if attr:
            expected = getattr(expected, attr)
        assert getattr(luab_bench, name) is expected, name
        assert callable(getattr(luab_bench, name)), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        luab_bench.nope  # noqa: B018


def test_train_is_the_package_and_calls_train_one(tmp_path) -> None:
    import luab_bench.train.loop  # rebinds luab_bench.train to the package: still callable

    assert luab_bench.train is sys.modules["luab_bench.train"]
    with pytest.raises(LuabError, match="unknown suite 'nosuch'"):
        luab_bench.train(model="resnet10t", protocol="luab", suite="nosuch", data_dir=tmp_path, out=tmp_path)
    with pytest.raises(TypeError, match="unexpected keyword"):
        luab_bench.train(model="resnet10t", protocol="luab", data_dir=tmp_path, out=tmp_path, bogus=1)


def test_list_models_pattern_covers_timm_and_the_registry() -> None:
    from luab_bench.models import MODELS

    def factory(num_classes: int, pretrained: bool = False) -> None: ...

    MODELS.register("house_test_resnet_like")(factory)
    res = CliRunner().invoke(cli, ["list", "models", "resnet1*"])
    assert res.exit_code == 0, res.output
    names = res.output.split()
    assert "resnet10t" in names and "resnet18" in names and all(n.startswith("resnet1") for n in names)
    assert names.index("resnet10t") < names.index("resnet18") < names.index("resnet101")  # natural order
    res = CliRunner().invoke(cli, ["list", "models", "house_test_*"])
    assert res.output.split() == ["house_test_resnet_like"]
    full = CliRunner().invoke(cli, ["list", "models"]).output.split()
    assert "house_test_resnet_like" in full and "vit_small_patch16_224" in full


def test_list_pattern_for_other_kinds_and_no_match() -> None:
    res = CliRunner().invoke(cli, ["list", "protocols", "coco_*"])
    assert res.exit_code == 0 and res.output.split() == ["coco_baseline", "coco_luab", "coco_rand"]
    res = CliRunner().invoke(cli, ["list", "models", "zzz_no_such*"])
    assert res.exit_code != 0 and "no models match 'zzz_no_such*'" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow
def test_the_architecture_doc_example_runs(tmp_path, capsys) -> None:
    """The one-screen example in docs/ARCHITECTURE.md, executed as written."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = re.search(r"## Public API.*?```python\n(.*?)```", doc, re.S)
    assert block is not None, "docs/ARCHITECTURE.md lost its public-API example"
    exec(compile(block[1], "docs/ARCHITECTURE.md", "exec"), {"work": tmp_path})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "['resnet10t', 'resnet14t', 'resnet18']"
    name, value, n = lines[-2].split()
    assert name == "luab" and 0.0 <= float(value) <= 100.0 and int(n) > 0
    assert lines[-1] == "unsigned"
    assert (tmp_path / "site" / "index.html").is_file()
