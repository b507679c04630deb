"""Names: the protocols ``--protocol`` means, each suite's default training, ``luab-bench list``.

A suite's default training lives on the suite class (its ``training`` attribute, a
:class:`~luab_bench.run.spec.SuiteTraining`; None = evaluation-only), as timm keeps a model's
default configuration beside the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from luab_bench.errors import LuabError
from luab_bench.run.spec import BUILTIN_PROTOCOLS

if TYPE_CHECKING:
    from luab_bench.run.spec import SuiteTraining


def own_training(suite: str) -> SuiteTraining | None:
    """The registered suite's default training, None for an evaluation-only suite (unknown: error)."""
    from luab_bench.suites.base import SUITES

    return getattr(SUITES.get(suite), "training", None)


def training_defaults() -> dict[str, SuiteTraining]:
    """Suite -> its default training, for every suite that can train."""
    from luab_bench.suites.base import SUITES

    found = {name: getattr(SUITES.get(name), "training", None) for name in SUITES.names()}
    return {name: t for name, t in found.items() if t is not None}


def suite_training(suite: str) -> SuiteTraining:
    """The default training of ``suite``; a did-you-mean error for an unknown or evaluation-only one."""
    from luab_bench.registry import unknown_name_message

    training = own_training(suite)  # unknown suite -> did-you-mean error
    if training is None:
        raise LuabError(
            unknown_name_message("training suite", suite, training_defaults())
            + " (other suites are evaluation-only: train on one of these, then `luab-bench evaluate`)"
        )
    return training


def expand_protocols(spec: str, suite: str | None = None) -> list[str]:
    """``all`` -> the suite's three protocols (baseline/rand/luab, or coco_* for a multi-label
    suite); ``a,b`` -> [a, b]; each name validated later."""
    spec = spec.strip()
    if spec == "all":
        from luab_bench.suites.base import SUITES

        training = own_training(suite) if suite is not None and suite in SUITES else None
        return list(training.protocols if training is not None else BUILTIN_PROTOCOLS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise LuabError("--protocol is empty; use 'all', a name (baseline, rand, luab) or a YAML path")
    return names


def list_names(what: str) -> list[str]:
    """Names for ``luab-bench list``."""
    if what == "protocols":
        from luab_bench.protocols.base import list_protocols

        return list_protocols()
    if what == "suites":
        from luab_bench.suites.base import SUITES

        return SUITES.names()
    if what == "variants":
        from luab_bench.data.synthetic import SYNTHETIC_VARIANTS

        return sorted(SYNTHETIC_VARIANTS)
    if what == "recipes":
        from luab_bench.protocols.base import list_recipes

        return list_recipes()
    raise LuabError(f"cannot list {what!r}")
