"""Label smoothing on top of any protocol whose classification term is softmax cross-entropy.

Protocols compute ``CE(logits, y) + (terms of their own)``; DeiT trains with the smoothed
cross-entropy ``CE_ε(logits, y) = (1 − ε)·CE(logits, y) + ε·mean_k(−log p_k)`` (timm's
``LabelSmoothingCrossEntropy``; with mixup timm smooths both one-hot targets, i.e. ``off = ε/K``,
``on = 1 − ε + ε/K``, which is the same thing). Because CE is linear in the target, the smoothed
loss of a (possibly mixed) batch is the protocol's loss with its CE term swapped:
``loss − Σ w·CE(y) + Σ w·CE_ε(y)`` over the mixing partners (weights λ, 1 − λ). Nothing about Z
changes. The swap is checked: the protocol's reported ``ce`` term must equal the recomputed CE,
otherwise the protocol's classification loss is something else and smoothing is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch

    from luab_bench.models import ModelOutput


def smooth_cross_entropy(
    loss: torch.Tensor,
    terms: dict[str, torch.Tensor],
    out: ModelOutput,
    targets: list[tuple[torch.Tensor, float]],
    eps: float,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Swap the hard CE in ``loss`` for ε-smoothed CE; ``targets`` = [(labels, weight), ...].

    Returns the new loss and terms (``ce`` becomes the smoothed CE actually optimised).
    """
    import torch
    import torch.nn.functional as F

    if eps == 0:
        return loss, terms
    hard = sum(w * F.cross_entropy(out.logits, y) for y, w in targets)
    soft = sum(w * F.cross_entropy(out.logits, y, label_smoothing=eps) for y, w in targets)
    assert isinstance(hard, torch.Tensor) and isinstance(soft, torch.Tensor)
    reported = terms["ce"].detach().float()
    if not torch.allclose(reported, hard.detach().float(), rtol=1e-3, atol=1e-5):
        raise LuabError(
            "label_smoothing needs a protocol whose classification term is softmax cross-entropy on "
            f"class indices (its 'ce' term is {float(reported):.6g}, softmax CE is {float(hard):.6g}); "
            "set label_smoothing: 0 in the recipe for this protocol"
        )
    return loss - hard + soft, {**terms, "ce": soft.detach()}
