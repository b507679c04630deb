"""The ``plain`` protocol family: cross-entropy only, no point head (the baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig, TrainingProtocol
from luab_bench.protocols import targets as _targets

if TYPE_CHECKING:
    import numpy as np
    import torch

    from luab_bench.models import ModelOutput


class PlainConfig(ProtocolConfig):
    """``family: plain`` — cross-entropy only, no point head (the baseline)."""

    family: Literal["plain"]


@PROTOCOL_FAMILIES.register("plain")
class PlainProtocol(TrainingProtocol):
    """Baseline: cross-entropy on the labels; any byproduct is ignored."""

    family = "plain"
    config_class = PlainConfig

    def num_point_heads(self, num_classes: int) -> int:
        return 0

    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        return _targets.no_targets(len(has_point))

    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ce = self.classification_loss(out.logits, labels)
        return ce, {"ce": ce.detach(), "point": ce.new_zeros(())}
