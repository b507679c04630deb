"""Multi-label protocol families (COCO-AB style): BCE on multi-hot labels, one point head per class.

- ``multilabel_plain``: the COCO baseline, ``BCEWithLogits(logits, y)`` averaged over (sample, class),
  no point head.
- ``multilabel_point_regression``: COCO LUAB / Rand, ``BCE + λ · mean smooth-L1`` where the point head
  predicts one (x, y) per class (``num_point_heads = num_classes``, 80 for COCO) and the mean runs over
  every (sample, class) slot of the batch whose class is present *and* has a byproduct point Z_c
  (pooled over the batch, not averaged per image first; the paper's aggregation could not be
  confirmed, docs/paper_notes.md §2, so this choice is ours).

Targets: ``points`` (N, K, 2) in image-relative (x, y) (note: the authors' COCO loader stores (y, x));
``has_point`` (N, K). Z_c per the official loader is the ``pointTo`` of the last ``add`` action of class
c. Unlike that loader, a Z_c cropped out of view drops only the point target, never the positive
label. Rand draws one uniform point per (sample, class) slot that has a Z_c, fixed for the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from luab_bench.errors import LuabError
from luab_bench.protocols.base import (
    PROTOCOL_FAMILIES,
    PlainProtocol,
    PointRegressionProtocol,
    ProtocolConfig,
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
