"""Multi-label protocol families (COCO-AB style): BCE on multi-hot labels, one point head per class.

- ``multilabel_plain``: the COCO baseline, ``BCEWithLogits(logits, y)`` averaged over (sample, class),
  no point head.
- ``multilabel_point_regression``: COCO LUAB / Rand, ``BCE + λ · smooth-L1 term`` where the point
  head predicts one (x, y) per class (``num_point_heads = num_classes``, 80 for COCO; LUAB §5.2 "one
  regression head per class on the penultimate layer"). The slots are the (sample, class) pairs whose
  class is present *and* has a Z_c (LUAB §4.2: the term applies only where Z exists). ``point_reduction``:
  ``per_image`` (protocols v1.1, LUAB §4.2: for each image the mean of the smooth-L1 losses of its
  present classes, then the mean over the images of the batch that have at least one slot; the
  reduction over images is not stated in the text, this is ours) or ``pooled`` (v1.0, and the value
  when the key is absent so older results reproduce: one mean over all slots of the batch).

Targets: ``points`` (N, K, 2) in image-relative (x, y) (note: the authors' COCO loader stores (y, x));
``has_point`` (N, K). Z_c is the ``pointTo`` of the final ``add`` action of class c (LUAB §4.1;
data/coco_ab.py). Unlike the authors' loader, a Z_c cropped out of view drops only the point target,
never the positive label. Rand (``random_slots``, see protocols/point_regression.py) draws one
uniform point per (sample, class) slot, fixed for the run: for every present class (v1.1, LUAB
§5.2) or only where a Z_c exists (v1.0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from luab_bench.api.protocol import PROTOCOL_FAMILIES, ProtocolConfig
from luab_bench.errors import LuabError
from luab_bench.protocols.plain import PlainProtocol
from luab_bench.protocols.point_regression import (
    RANDOM_SLOTS_HELP,
    PointRegressionProtocol,
    RandomSlots,
    masked_smooth_l1,
)

if TYPE_CHECKING:
    import torch


class MultiLabelPlainConfig(ProtocolConfig):
    """``family: multilabel_plain`` — BCE on multi-hot labels only."""

    family: Literal["multilabel_plain"]


class MultiLabelPointRegressionConfig(ProtocolConfig):
    """``family: multilabel_point_regression`` — BCE + λ · smooth-L1 over present classes with a point."""

    family: Literal["multilabel_point_regression"]
    target: Literal["byproduct", "uniform_random"]
    loss_weight: float = Field(gt=0, description="λ in BCE + λ·smoothL1")
    smooth_l1_beta: float = Field(ge=0, description="torch smooth_l1_loss beta (0 = plain L1)")
    random_slots: RandomSlots = Field("with_byproduct", description=RANDOM_SLOTS_HELP)
    point_reduction: Literal["per_image", "pooled"] = Field(
        "pooled",
        description="per_image = LUAB §4.2 (mean over present classes, then over images); pooled = v1.0",
    )

    @model_validator(mode="after")
    def _slots_only_for_rand(self) -> MultiLabelPointRegressionConfig:
        if self.target != "uniform_random" and self.random_slots != "with_byproduct":
            raise ValueError("random_slots applies to target: uniform_random only; remove it")
        return self


def multilabel_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy with logits over all (sample, class) entries of multi-hot ``labels``."""
    import torch.nn.functional as F

    if labels.ndim != 2 or labels.shape != logits.shape:
        raise LuabError(
            f"multi-label protocols need multi-hot labels of shape {tuple(logits.shape)}, got "
            f"{tuple(labels.shape)}; use a single-label protocol (baseline, rand, luab) for class indices"
        )
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


class _MultiLabel:
    """Mixin: BCE on multi-hot labels; the point term runs over present classes that have a Z_c."""

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return multilabel_bce(logits, labels)

    def point_mask(self, labels: torch.Tensor, has_point: torch.Tensor) -> torch.Tensor:
        return has_point.to(bool) & (labels > 0)


@PROTOCOL_FAMILIES.register("multilabel_plain")
class MultiLabelPlainProtocol(_MultiLabel, PlainProtocol):
    """COCO baseline: BCE on the multi-hot labels; byproducts ignored (the ``ce`` curve holds the BCE)."""

    family = "multilabel_plain"
    config_class = MultiLabelPlainConfig


@PROTOCOL_FAMILIES.register("multilabel_point_regression")
class MultiLabelPointRegressionProtocol(_MultiLabel, PointRegressionProtocol):
    """COCO LUAB / Rand: BCE + λ · mean smooth-L1 of the per-class points over present classes with Z."""

    family = "multilabel_point_regression"
    config_class = MultiLabelPointRegressionConfig
    config: MultiLabelPointRegressionConfig

    def num_point_heads(self, num_classes: int) -> int:
        return num_classes

    def point_loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``per_image``: :func:`per_image_smooth_l1`; ``pooled``: one mean over every slot of the batch."""
        if self.config.point_reduction == "pooled":
            return masked_smooth_l1(pred, target, mask, self.config.smooth_l1_beta)
        return per_image_smooth_l1(pred, target, mask, self.config.smooth_l1_beta)


def per_image_smooth_l1(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, beta: float
) -> torch.Tensor:
    """LUAB §4.2's COCO term: per image, the mean smooth-L1 over its masked classes; then the mean over
    the images with at least one masked class (0, still in the graph, when there is none).

    Each slot's loss is the mean over x and y, as in
    :func:`~luab_bench.protocols.point_regression.masked_smooth_l1`.
    """
    import torch
    import torch.nn.functional as F

    m = mask.to(torch.bool)
    safe_target = torch.where(m.unsqueeze(-1), target.to(pred.dtype), pred.detach())
    per_slot = F.smooth_l1_loss(pred, safe_target, beta=beta, reduction="none").mean(dim=-1)
    per_slot = torch.where(m, per_slot, per_slot.new_zeros(()))
    count = m.sum(dim=1)
    per_image = per_slot.sum(dim=1) / count.clamp(min=1).to(per_slot.dtype)
    has = count > 0
    return (per_image * has).sum() / has.sum().clamp(min=1).to(per_slot.dtype)
