"""luab-bench: reproducible benchmark for learning using annotation byproducts (LUAB).

Heavy dependencies (torch, timm) are imported lazily inside the modules that need them so that
``luab-bench --help`` and the pure-Python parts (parsers, signing, leaderboard) start instantly.

The public API below is lazy too (PEP 562 module ``__getattr__``): ``import luab_bench`` imports
nothing else; ``luab_bench.create_model`` imports the model code on first use. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> "module:attribute" it is (the one implementation; nothing here wraps it).
_API: dict[str, str] = {
    "create_model": "luab_bench.models:create_model",
    "list_models": "luab_bench.models:list_models",
    "load_protocol": "luab_bench.protocols.base:load_protocol",
    "load_recipe": "luab_bench.protocols.base:load_recipe",
    "get_suite": "luab_bench.suites.base:get_suite",
    "train": "luab_bench.train",  # the package, callable as pipeline.train_one (see train/__init__.py)
    "evaluate": "luab_bench.pipeline:evaluate_checkpoint",
    "align": "luab_bench.alignment.report:align_result",
    "load_result": "luab_bench.results.schema:load_result",
    "verify": "luab_bench.results.signing:verify_result_file",
    "build_site": "luab_bench.leaderboard.build:build_site",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Import a public API name's module on first access (submodules resolve as usual)."""
    target = _API.get(name)
    if target is None:
        raise AttributeError(f"module 'luab_bench' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = importlib.import_module(module)
    if attr:
        value = getattr(value, attr)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
