"""Training-data sources: where a training set comes from, behind one registry.

A source turns a :class:`SourceRequest` (variant, data root, byproducts path, options, data dir) into
one :class:`PreparedSource`: the training data (:class:`~luab_bench.train.data.TrainData` in memory or
:class:`~luab_bench.train.data.FileTrainData` on files), the number of classes, whether labels are
multi-hot, an optional held-out set for the per-epoch curves (in memory, or image files that
``train_one`` decodes once at the recipe's image size; see ``train.heldout``), the protocols it
expects, and the ``meta["data"]`` dict the checkpoint records (source, variant, data fingerprint,
config, byproduct parser report, join counts). ``train_one`` then trains every source through the same loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench.api.source import TRAIN_SOURCES, TrainSource
from luab_bench.errors import ConfigError

if TYPE_CHECKING:
    from luab_bench.train.data import FileTrainData, TrainData
    from luab_bench.train.heldout import HeldOutFiles, HeldOutSet

Echo = Callable[[str], None]
SINGLE_LABEL_PROTOCOLS = ("baseline", "rand", "luab")
MULTI_LABEL_PROTOCOLS = ("coco_baseline", "coco_rand", "coco_luab")


def _noop(_: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class SourceRequest:
    """Everything a training source may use. ``options``: source-specific keys (unknown keys are
    errors); ``source``: the registered training source to run (None = the suite's default)."""

    data_dir: Path
    variant: str | None = None
    data_root: Path | None = None
    train_data: Path | None = None
    byproducts: Path | None = None
    num_workers: int = 0
    seed: int = 0
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    echo: Echo = _noop
    progress: bool = True
    source: str | None = None

    def check_options(self, source: str, allowed: tuple[str, ...]) -> None:
        """Unknown option keys are a :class:`ConfigError` naming the allowed ones."""
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            known = ", ".join(allowed) or "none"
            raise ConfigError(
                f"training source {source!r}: unknown option(s) {', '.join(unknown)}; known: {known}"
            )


@dataclasses.dataclass(frozen=True)
class PreparedSource:
    """A training set ready for ``train()`` plus what the checkpoint records about it."""

    source: str
    variant: str
    data: TrainData | FileTrainData
    num_classes: int
    multilabel: bool
    meta: dict[str, Any]
    held_out: HeldOutSet | HeldOutFiles | None = None  # files: decoded by train_one at the recipe's size
    default_protocols: tuple[str, ...] = SINGLE_LABEL_PROTOCOLS
    evaluation_dir: Path | None = None  # generated data whose held-out splits a suite evaluates

    @property
    def fingerprint(self) -> str:
        return str(self.meta["fingerprint"])


SourceFn = TrainSource  # the contract and its registry: luab_bench.api.source


def prepare_source(name: str, request: SourceRequest) -> PreparedSource:
    """Run the registered source ``name`` (unknown names: a did-you-mean error)."""
    return TRAIN_SOURCES.get(name)(request)
