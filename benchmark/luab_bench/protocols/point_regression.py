"""The ``point_regression`` protocol family: LUAB and Rand (CE + λ · smooth-L1 to Z where Z exists).

``target: byproduct`` trains the point head on the annotation byproduct Z (LUAB §4); ``target:
uniform_random`` on a uniform-random point (Rand, LUAB §5.1), in the slots ``random_slots`` says.
:func:`masked_smooth_l1` is the point term the multi-label family reuses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig, TrainingProtocol
from luab_bench.errors import LuabError
from luab_bench.protocols import targets as _targets

if TYPE_CHECKING:
    import numpy as np
    import torch

    from luab_bench.models import ModelOutput


#: Which slots Rand draws a point for. ``every_sample`` (protocols v1.1): every image (single-label) /
#: every present class (multi-label), LUAB §5.1-5.2 "a uniform-random point Z for each image";
#: ``with_byproduct`` (v1.0, the value when the key is absent so older results reproduce): only the
#: slots that have a byproduct Z, as LUAB.
RandomSlots = Literal["with_byproduct", "every_sample"]
RANDOM_SLOTS_HELP = (
    "Rand only: every_sample = a random Z for every image / present class (LUAB §5.1); "
    "with_byproduct = only where a byproduct Z exists (v1.0; the default when absent)"
)


class PointRegressionConfig(ProtocolConfig):
    """``family: point_regression`` — CE + ``loss_weight`` · smooth-L1(point head, Z) where Z exists."""

    family: Literal["point_regression"]
    target: Literal["byproduct", "uniform_random"]
    loss_weight: float = Field(gt=0, description="λ in CE + λ·smoothL1")
    smooth_l1_beta: float = Field(ge=0, description="torch smooth_l1_loss beta (0 = plain L1)")
    random_slots: RandomSlots = Field("with_byproduct", description=RANDOM_SLOTS_HELP)

    @model_validator(mode="after")
    def _slots_only_for_rand(self) -> PointRegressionConfig:
        if self.target != "uniform_random" and self.random_slots != "with_byproduct":
            raise ValueError("random_slots applies to target: uniform_random only; remove it")
        return self


def masked_smooth_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """Mean smooth-L1 over the (sample, head) slots where ``mask`` is True (mean over x and y too).

    A masked slot contributes nothing to the value or the gradient, whatever its target holds (even
    NaN); with no slot set the result is exactly 0 and still part of the graph.
    """
    import torch
    import torch.nn.functional as F

    m = mask.to(torch.bool)
    safe_target = torch.where(m.unsqueeze(-1), target.to(pred.dtype), pred.detach())
    per_slot = F.smooth_l1_loss(pred, safe_target, beta=beta, reduction="none").mean(dim=-1)
    per_slot = torch.where(m, per_slot, per_slot.new_zeros(()))
    return per_slot.sum() / m.sum().clamp(min=1).to(per_slot.dtype)


@PROTOCOL_FAMILIES.register("point_regression")
class PointRegressionProtocol(TrainingProtocol):
    """LUAB / Rand: CE + λ · mean smooth-L1 between the point head and Z over samples that have Z."""

    family = "point_regression"
    config_class = PointRegressionConfig
    config: PointRegressionConfig

    def num_point_heads(self, num_classes: int) -> int:
        return 1

    def make_targets(
        self, points: np.ndarray, has_point: np.ndarray, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.config.target == "byproduct":
            return _targets.byproduct_targets(points, has_point)
        _, has_point = _targets.check_point_arrays(points, has_point)
        if self.config.random_slots == "every_sample":  # multi-label: the loss keeps present classes
            has_point = _targets.all_slots(has_point)
        return _targets.uniform_random_targets(has_point, seed)

    def point_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The regression term: mean smooth-L1 over the masked slots (one slot per image here)."""
        return masked_smooth_l1(pred, target, mask, self.config.smooth_l1_beta)

    def loss(
        self,
        out: ModelOutput,
        labels: torch.Tensor,
        points: torch.Tensor,
        has_point: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        heads = self.num_point_heads(out.logits.shape[1])
        if out.points is None or out.points.shape[1] != heads:
            raise LuabError(
                f"protocol {self.config.name!r} needs {heads} point head(s); create the model with "
                f"num_point_heads={heads}"
            )
        ce = self.classification_loss(out.logits, labels)
        mask = self.point_mask(labels, has_point)
        point = self.point_loss(out.points, points, mask)
        total = ce + self.config.loss_weight * point
        return total, {"ce": ce.detach(), "point": point.detach()}
