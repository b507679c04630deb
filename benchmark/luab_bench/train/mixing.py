"""Point-aware mixup / CutMix for a batch: what happens to the byproduct Z.

The LUAB text says DeiT's mixup and CutMix were on for the ViTs (§5.1 footnote 1) but not what they
do to Z (docs/paper_notes.md §4: open), so this is our rule, chosen to treat Z exactly like the label:

- Both follow timm's ``Mixup(mode='batch')``: one λ per batch, sample i is mixed with sample
  B-1-i (the flipped batch); with probability ``switch_prob`` CutMix is used instead of mixup;
  CutMix's box is timm's ``rand_bbox`` and λ is corrected to the pasted area (``correct_lam``).
- The loss of a mixed batch is ``λ·L(out, y_a, Z_a) + (1-λ)·L(out, y_b, Z_b)``. For cross-entropy
  and BCE this is exactly the loss against the λ-mixed soft label (both are linear in the target);
  for Z it asks the single point head for the minimiser of the λ-weighted point losses, which for
  smooth-L1 in its quadratic branch is the λ-weighted mean of Z_a and Z_b.
- Mixup keeps both Z (both objects are visible, faded). CutMix keeps Z_a only if it lies *outside*
  the pasted box (else it is covered) and Z_b only if it lies *inside* it (else it is not in the
  image): the same "a Z out of view has no target" rule as the random-resized crop.

All randomness comes from a numpy generator keyed by (seed, epoch, batch index), so a resumed epoch
mixes batch k exactly as an uninterrupted one. Label smoothing is not applied.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from luab_bench.seeds import seeded_generator

if TYPE_CHECKING:
    import torch

    from luab_bench.models import ModelOutput
    from luab_bench.protocols.base import MixingConfig, TrainingProtocol

_MIX_STREAM = zlib.crc32(b"luab-bench/mixing")


class MixTargets(NamedTuple):
    """One partner's targets: labels (B,), points (B, P, 2), has_point (B, P)."""

    labels: torch.Tensor
    points: torch.Tensor
    has_point: torch.Tensor


class MixedBatch(NamedTuple):
    """Mixed images, both partners' targets, the weight λ of partner a, and what was done."""

    images: torch.Tensor
    a: MixTargets
    b: MixTargets
    lam: float
    kind: str  # "none", "mixup" or "cutmix"
    box: tuple[int, int, int, int] | None  # CutMix box (top, bottom, left, right) in pixels


def mix_params(
    cfg: MixingConfig, height: int, width: int, *, seed: int, epoch: int, batch_index: int
) -> tuple[str, float, tuple[int, int, int, int] | None]:
    """(kind, λ, box) for one batch, drawn from (seed, epoch, batch_index) alone (timm's rules)."""
    rng = seeded_generator(int(seed) & 0xFFFFFFFF, int(epoch), int(batch_index), _MIX_STREAM)
    if rng.random() >= cfg.prob:
        return "none", 1.0, None
    use_cutmix = cfg.cutmix_alpha > 0 and (cfg.mixup_alpha == 0 or rng.random() < cfg.switch_prob)
    if not use_cutmix:
        return "mixup", float(rng.beta(cfg.mixup_alpha, cfg.mixup_alpha)), None
    lam = float(rng.beta(cfg.cutmix_alpha, cfg.cutmix_alpha))
    # timm.data.mixup.rand_bbox + cutmix_bbox_and_lam(correct_lam=True)
    cut_rat = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * cut_rat), int(width * cut_rat)
    cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
    top, bottom = int(np.clip(cy - cut_h // 2, 0, height)), int(np.clip(cy + cut_h // 2, 0, height))
    left, right = int(np.clip(cx - cut_w // 2, 0, width)), int(np.clip(cx + cut_w // 2, 0, width))
    lam = 1.0 - (bottom - top) * (right - left) / float(height * width)
    return "cutmix", lam, (top, bottom, left, right)


def mix_batch(
    images: torch.Tensor,
    labels: torch.Tensor,
    points: torch.Tensor,
    has_point: torch.Tensor,
    cfg: MixingConfig,
    *,
    seed: int,
    epoch: int,
    batch_index: int,
) -> MixedBatch:
    """Mix a (normalised) batch with its flip; returns images, both partners' targets and λ."""
    a = MixTargets(labels, points, has_point)
    b = MixTargets(labels.flip(0), points.flip(0), has_point.flip(0))
    height, width = int(images.shape[-2]), int(images.shape[-1])
    kind, lam, box = mix_params(cfg, height, width, seed=seed, epoch=epoch, batch_index=batch_index)
    if kind == "none":
        return MixedBatch(images, a, b, 1.0, kind, None)
    if kind == "mixup":
        mixed = images * lam + images.flip(0) * (1.0 - lam)
        return MixedBatch(mixed, a, b, lam, kind, None)
    assert box is not None
    top, bottom, left, right = box
    mixed = images.clone()
    mixed[..., top:bottom, left:right] = images.flip(0)[..., top:bottom, left:right]
    x_px, y_px = points[..., 0] * width, points[..., 1] * height
    inside = (x_px >= left) & (x_px < right) & (y_px >= top) & (y_px < bottom)
    a = a._replace(has_point=a.has_point & ~inside)
    b = b._replace(has_point=b.has_point & inside.flip(0))
    return MixedBatch(mixed, a, b, lam, kind, box)


def mixed_loss(
    protocol: TrainingProtocol, out: ModelOutput, mixed: MixedBatch
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``λ·loss(a) + (1-λ)·loss(b)`` with the protocol's loss; terms mixed the same way."""
    loss_a, terms_a = protocol.loss(out, *mixed.a)
    if mixed.lam >= 1.0:
        return loss_a, terms_a
    loss_b, terms_b = protocol.loss(out, *mixed.b)
    lam = mixed.lam
    terms = {k: lam * terms_a[k] + (1 - lam) * terms_b[k] for k in terms_a}
    return lam * loss_a + (1 - lam) * loss_b, terms
