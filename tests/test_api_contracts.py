"""The contracts in ``luab_bench/api/`` (issue 15): apart from the implementations, light, and kept.

Every registered suite, protocol family, training source and saliency method satisfies its contract;
the contract modules import no implementation (statically, with the import graph of
test_architecture) and no torch.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

from test_architecture import PACKAGE, import_graph, module_files

API = f"{PACKAGE}.api"
#: What a contract may import: the package's own foundations, nothing that implements a contract.
FOUNDATIONS = {f"{PACKAGE}.{m}" for m in ("registry", "errors", "config", "seeds")} | {API}


def test_contracts_import_no_implementation() -> None:
    top, late = import_graph(module_files())
    for mod in top:
        if mod == API or mod.startswith(API + "."):
            deps = (top[mod] | late[mod]) - {m for m in top if m.startswith(API + ".")}
            assert deps <= FOUNDATIONS, f"{mod} imports {sorted(deps - FOUNDATIONS)}"


def test_contracts_import_nothing_heavy() -> None:
    contracts = ", ".join(f"luab_bench.api.{m}" for m in ("protocol", "suite", "source", "saliency"))
    avoided = ("torch", "timm", "numpy", "luab_bench.suites", "luab_bench.protocols.base", "luab_bench.train")
    code = f"import sys\nimport {contracts}\nprint(sorted(m for m in {avoided!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_suite_and_protocol_family_implements_its_contract() -> None:
    from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig, TrainingProtocol
    from luab_bench.api.suite import SUITES, Suite

    assert set(SUITES.names()) >= {"synthetic", "imagenet", "coco", "synthetic-coco", "wsol"}
    for name in SUITES.names():
        cls = SUITES.get(name)
        assert issubclass(cls, Suite) and not inspect.isabstract(cls), name
        assert cls.name == name and cls.description
    for name in PROTOCOL_FAMILIES.names():
        cls = PROTOCOL_FAMILIES.get(name)
        assert issubclass(cls, TrainingProtocol) and not inspect.isabstract(cls), name
        assert cls.family == name and issubclass(cls.config_class, ProtocolConfig)


def test_one_module_per_protocol_family() -> None:
    from luab_bench.api.protocol import PROTOCOL_FAMILIES

    where = {name: PROTOCOL_FAMILIES.get(name).__module__ for name in PROTOCOL_FAMILIES.names()}
    assert where["plain"] == "luab_bench.protocols.plain"
    assert where["point_regression"] == "luab_bench.protocols.point_regression"
    multilabel = "luab_bench.protocols.multilabel"  # the COCO family: two families, one module
    assert where["multilabel_plain"] == where["multilabel_point_regression"] == multilabel
    assert "luab_bench.protocols.base" not in where.values()  # base loads YAML; it defines no family


def test_every_training_source_takes_one_request() -> None:
    from luab_bench.api.source import TRAIN_SOURCES
    from luab_bench.train.sources.base import TRAIN_SOURCES as FROM_BASE
    from luab_bench.train.sources.base import SourceRequest

    assert FROM_BASE is TRAIN_SOURCES  # one registry, the contract's
    assert TRAIN_SOURCES.names() == ["coco-ab", "imagenet-ab", "synthetic", "synthetic-coco"]
    for name in TRAIN_SOURCES.names():
        fn = TRAIN_SOURCES.get(name)
        inspect.signature(fn).bind(SourceRequest(data_dir=None))  # type: ignore[arg-type]


def test_every_saliency_method_takes_the_contract_call() -> None:
    pytest.importorskip("torch")
    from luab_bench.alignment.saliency import SALIENCY_METHODS

    for name in SALIENCY_METHODS.names():
        sig = inspect.signature(SALIENCY_METHODS.get(name))
        sig.bind(object(), object(), object(), seed=0, batch_size=8, config=None)
