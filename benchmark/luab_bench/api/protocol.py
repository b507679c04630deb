"""The training-protocol contract: what a protocol family implements, and the registry of families.

A *protocol* says what the model is trained on besides (X, Y): nothing (baseline), the annotation
byproduct Z (LUAB), or a random Z (Rand). It is YAML data (``protocols/<name>.yaml``: ``name``,
``version``, ``family``, ``description`` and the family's parameters) validated by the family's typed
config (a :class:`ProtocolConfig` subclass); the family class (a :class:`TrainingProtocol` subclass,
registered in :data:`PROTOCOL_FAMILIES`) implements what the training loop and the data layer call:

- ``num_point_heads(num_classes)``: how many points the model regresses (0 = no point head; 1 for
  ImageNet-style single-label data; the multi-label COCO family returns ``num_classes``);
- ``make_targets(points, has_point, seed)``: the (N, P, 2) targets and (N, P) mask actually trained on
  (idempotent: applying it to its own output gives the same arrays);
- ``loss(out, labels, points, has_point)``: the scalar loss and its terms ``{"ce", "point"}``;
- ``classification_loss`` / ``point_mask`` (overridable parts of ``loss``; mixing calls them) and
  ``adapt_source(prepared, seed)`` (the positive controls change the training data).

A new family is one new module with ``@PROTOCOL_FAMILIES.register("name")`` on a :class:`TrainingProtocol`
subclass, named in the registry's ``plugin_modules`` (imported on the first lookup). This module
imports no family (they import it) and nothing heavy: torch is imported inside the losses only.
``luab_bench.protocols.base`` loads protocol YAMLs (``load_protocol``) and recipes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from luab_bench.config import StrictModel
from luab_bench.registry import Registry

if TYPE_CHECKING:
    import numpy as np
    import torch

    from luab_bench.models import ModelOutput
    from luab_bench.train.sources.base import PreparedSource


def version_str(v: Any) -> Any:
    """Accept ``version: 1`` / ``1.0`` in YAML as the string "1" / "1.0"."""
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


class ProtocolConfig(StrictModel):
    """Fields every protocol YAML has."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str
    family: str
    description: str

    _v = field_validator("version", mode="before")(version_str)


class TrainingProtocol(ABC):
    """A training protocol: its validated config plus targets and loss."""

    family: ClassVar[str]
    config_class: ClassVar[type[ProtocolConfig]]

    def __init__(self, config: ProtocolConfig, source: str | None = None) -> None:
        self.config = config
        #: what :func:`load_protocol` was given (a built-in name or a YAML path); loads it again.
        self.source = source or config.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config.name!r}, source={self.source!r})"

    @abstractmethod
    def num_point_heads(self, num_classes: int) -> int:
        """How many (x, y) points the model's point head predicts (0 = no point head)."""

    @abstractmethod
    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Byproduct points (N, P, 2) + mask (N, P) -> the targets and mask this protocol trains on."""

    @abstractmethod
    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar training loss and its (detached) terms ``{"ce": .., "point": ..}``."""

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The classification term (softmax CE on class indices; multi-label families use BCE)."""
        import torch.nn.functional as F

        return F.cross_entropy(logits, labels)

    def point_mask(self, labels: torch.Tensor, has_point: torch.Tensor) -> torch.Tensor:
        """Which (sample, head) slots the point term averages over (single-label: where Z exists)."""
        return has_point

    def adapt_source(self, prepared: PreparedSource, seed: int) -> PreparedSource:
        """The training source this protocol trains on (default: unchanged).

        Positive controls (``protocols/controls.py``) change the data itself: other backgrounds, or
        noise-free Z. They must keep labels, ids, batch order and the evaluation data, so that the
        run stays paired with the other protocols at the same seed.
        """
        return prepared


#: Every protocol family, one module each (imported on the first lookup).
PROTOCOL_FAMILIES: Registry[type[TrainingProtocol]] = Registry(
    "protocol family",
    plugin_modules=(
        "luab_bench.protocols.plain",
        "luab_bench.protocols.point_regression",
        "luab_bench.protocols.multilabel",
        "luab_bench.protocols.controls",
    ),
)
