"""Suite plugin API: a named evaluation task family that turns a model into metric dicts.

A suite registers its class in :data:`SUITES` (``@SUITES.register("name")``); ``get_suite(name)``
returns an instance. ``Suite.evaluate`` returns ``{metric_name: metric_dict}`` where every metric is a
plain dict with exactly the fields of ``luab_bench.results.schema.Metric`` (see :func:`make_metric`),
so this package does not depend on the results schema and the results layer validates once.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from luab_bench.registry import Registry

if TYPE_CHECKING:
    import torch

#: ``normalize`` argument of :meth:`Suite.evaluate`: a callable applied to the float batch (B, 3, H, W)
#: in [0, 1], or ``(mean, std)`` per channel on that [0, 1] scale (timm's data-config convention), or
#: None for no normalisation beyond the [0, 1] scaling.
Normalize = Callable[["torch.Tensor"], "torch.Tensor"] | tuple[Sequence[float], Sequence[float]] | None

SUITES: Registry[type[Suite]] = Registry(
    "suite",
    plugin_modules=[
        "luab_bench.suites.synthetic",
        "luab_bench.suites.imagenet",
        "luab_bench.suites.coco",
        "luab_bench.suites.synthetic_coco",
        "luab_bench.suites.wsol",
    ],
)


def get_suite(name: str) -> Suite:
    """Instantiate the suite registered as ``name`` (unknown names: LuabError with did-you-mean)."""
    return SUITES.get(name)()


def make_metric(
    value: float,
    *,
    n: int,
    ci: tuple[float, float] | None,
    unit: str,
    higher_is_better: bool,
    task: str,
) -> dict[str, Any]:
    """One metric as the results-schema dict ``{value, n, ci_low, ci_high, unit, higher_is_better, task}``.

    Raises ValueError for a non-finite value or an interval that does not contain the value, so a bad
    number fails where it is computed rather than when the result is validated.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{task}: metric value {value} is not finite")
    low, high = (None, None) if ci is None else (float(ci[0]), float(ci[1]))
    if ci is not None and not (low <= value <= high):
        raise ValueError(f"{task}: interval [{low}, {high}] does not contain the value {value}")
    return {
        "value": value,
        "n": int(n),
        "ci_low": low,
        "ci_high": high,
        "unit": unit,
        "higher_is_better": bool(higher_is_better),
        "task": task,
    }


class Suite(ABC):
    """An evaluation suite: ``name`` and ``description`` are class attributes; ``evaluate`` measures."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: Filled by ``evaluate`` for suites made of several datasets: (task, path looked at, how to get it)
    #: for every dataset that was absent and skipped, so callers can list them after the run.
    last_missing: tuple[tuple[str, str, str], ...] = ()
    #: Filled by ``evaluate``: identities (fingerprints) of any data it used beyond ``dataset_dir``'s
    #: own fingerprint (e.g. derived analogue splits); recorded in the result's provenance.
    last_data: dict[str, str] = {}  # noqa: RUF012 - replaced per instance, never mutated

    @abstractmethod
    def evaluate(
        self,
        model: torch.nn.Module,
        *,
        dataset_dir: str | Path,
        device: str | torch.device = "cpu",
        progress: Any = None,
        seed: int = 0,
        batch_size: int = 256,
        normalize: Normalize = None,
        n_boot: int = 1000,
    ) -> dict[str, dict[str, Any]]:
        """Evaluate ``model`` on the suite's data in ``dataset_dir``; return ``{metric: metric_dict}``.

        ``progress`` is a rich ``Progress`` (or None for silence); ``seed`` seeds the bootstrap
        intervals; ``normalize`` is the model's input normalisation (see :data:`Normalize`).
        """
