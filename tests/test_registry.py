"""Registry: lookups with did-you-mean, plugins loaded on first use, duplicate names are errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from luab_bench.errors import LuabError
from luab_bench.registry import Registry


def test_duplicate_registration_names_both_places() -> None:
    reg: Registry[object] = Registry("gadget")

    @reg.register("g")
    def first() -> None: ...

    def second() -> None: ...

    with pytest.raises(LuabError) as err:
        reg.register("g")(second)
    msg = str(err.value)
    assert "\n" not in msg and "gadget 'g' is registered twice" in msg
    sites = re.search(r"at (.+):(\d+) and at (.+):(\d+); rename one", msg)
    assert sites is not None, msg
    assert sites[1] == sites[3] == __file__  # both registration sites, file:line
    lines = Path(__file__).read_text().splitlines()
    assert "first" in lines[int(sites[2])] or "first" in lines[int(sites[2]) - 1]
    assert 'reg.register("g")(second)' in lines[int(sites[4]) - 1]
    assert reg.get("g") is first  # the first one is kept


def test_registering_the_same_object_again_is_a_no_op() -> None:
    reg: Registry[object] = Registry("gadget")

    def thing() -> None: ...

    reg.register()(thing)
    reg.register("thing")(thing)
    assert reg.names() == ["thing"] and reg.get("thing") is thing


def test_unknown_name_suggests() -> None:
    reg: Registry[object] = Registry("gadget")
    reg.register("alpha")(object())
    with pytest.raises(LuabError, match=r"unknown gadget 'alpah'; did you mean 'alpha'\?"):
        reg.get("alpah")


def test_multilabel_family_is_a_plugin_loaded_on_first_lookup() -> None:
    """protocols.base does not import multilabel; the registry does, when a family is looked up."""
    code = (
        "import sys; from luab_bench.protocols.base import PROTOCOL_FAMILIES, load_protocol\n"
        "assert 'luab_bench.protocols.multilabel' not in sys.modules\n"
        "assert 'multilabel_point_regression' in PROTOCOL_FAMILIES.names()\n"
        "assert 'luab_bench.protocols.multilabel' in sys.modules\n"
        "print(type(load_protocol('coco_luab')).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("MultiLabel"), out.stdout
