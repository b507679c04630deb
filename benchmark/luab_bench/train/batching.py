"""The one batching core: an epoch's order and every augmentation draw, then the same Batch per source.

Per epoch, :func:`plan_epoch` fixes the sample order (a ``torch.Generator`` permutation keyed by
(seed, epoch) alone) and, per *global* batch of ``batch_size`` samples, draws from the epoch's
augmentation generator, in this order, the crops (+ flips), RandAugment and random erasing (only the
augmentations that are on), then keeps this rank's contiguous slice (``shard``). Batches before
``start_batch`` are drawn and skipped, so batch k is the same whether or not the epoch was resumed,
and the union over ranks is the single-process batch (``train.distributed``). How the crops are drawn
and how the cropped pixels are made is the source's part (a :class:`BatchSource`: arrays in
``train.data``, image files in ``train.file_batches``); :func:`finish_batch` then moves Z through
the same crop and RandAugment warp, applies the photometric layers, normalises and erases, the same
for every source.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import AugmentationConfig, RandAugmentConfig, RandomErasingConfig
    from luab_bench.train.erasing import ErasingParams
    from luab_bench.train.randaug import RandAugParams
    from luab_bench.train.transforms import CropParams

_PERM_STREAM = zlib.crc32(b"luab-bench/permutation")
_AUG_STREAM = zlib.crc32(b"luab-bench/augmentation")


class Batch(NamedTuple):
    """One training batch: normalised images (B, 3, S, S), labels, targets (B, P, 2), mask (B, P)."""

    images: torch.Tensor
    labels: torch.Tensor
    points: torch.Tensor
    has_point: torch.Tensor
    has_point_before_aug: torch.Tensor


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    """How one epoch of batches is drawn: size, seeds, output, augmentations, device, resume, shard.

    ``start_batch``: the first batch yielded (earlier ones are drawn and skipped). ``shard=(rank,
    world_size)``: this rank's slice of every global batch. ``repeated_aug``: see :func:`epoch_order`.
    """

    batch_size: int
    seed: int
    epoch: int
    out_size: int
    augmentation: AugmentationConfig | None
    mean: Sequence[float]
    std: Sequence[float]
    device: str | torch.device = "cpu"
    start_batch: int = 0
    shard: tuple[int, int] = (0, 1)
    rand_augment: RandAugmentConfig | None = None
    random_erasing: RandomErasingConfig | None = None
    repeated_aug: int = 1


class Planned(NamedTuple):
    """This rank's part of one global batch: sample indices and every drawn parameter."""

    idx: np.ndarray
    crops: CropParams | None  # None: no crop (the image is resized to out_size)
    ra: RandAugParams | None
    er: ErasingParams | None
    geometric: torch.Tensor | None  # (B, L, 3, 3) RandAugment warps after the crop, or None


class BatchSource(Protocol):
    """The per-source part of batching: crop draws in each image's size, and the cropped pixels."""

    def random_crops(
        self, idx: np.ndarray, augmentation: AugmentationConfig, generator: torch.Generator
    ) -> CropParams:
        """Random-resized crops + flips of the global batch ``idx`` (consumes ``generator``)."""
        ...

    def sizes(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """int64 (B,) heights and widths of images ``idx`` (whole-image crops)."""
        ...

    def render(self, plans: Iterator[Planned], opts: BatchOptions) -> Iterator[tuple[Planned, Any, Any, Any]]:
        """Per plan, in order: ``(plan, float images (B, 3, S, S) in [0, 1] on the device, cropped and
        RandAugment-warped, height, width)``; height / width as :func:`crop_points` takes them."""
        ...


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, stream) alone."""
    import torch

    mixed = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), stream]).generate_state(2)
    return torch.Generator().manual_seed(int(mixed[0]) << 32 | int(mixed[1]))


def epoch_order(n: int, seed: int, epoch: int, repeats: int = 1) -> np.ndarray:
    """The sample order of ``epoch``: a permutation fixed by (seed, epoch).

    ``repeats`` > 1 is repeated augmentation (DeiT's ``RASampler``): each index of the permutation is
    repeated ``repeats`` times in a row and the first ``n`` are kept, so an epoch still has ``n``
    samples but only about n / repeats distinct images, each seen ``repeats`` times with independent
    augmentation draws. (DeiT also cuts the epoch to a multiple of 256 and strides the copies over
    ranks; here copies sit next to each other in the global batch, which DDP splits contiguously —
    the same global batch, so only per-rank BatchNorm statistics could differ.)
    """
    import torch

    order = torch.randperm(n, generator=epoch_generator(seed, epoch, _PERM_STREAM))
    if repeats > 1:
        order = order.repeat_interleave(repeats)[:n]
    return order.numpy()


def num_batches(n: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch; a final batch is dropped when some rank's share would be a single sample
    (BatchNorm cannot train on it): kept only if it has at least ``2 * world_size`` samples."""
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 * world_size else 0)


def plan_epoch(n: int, source: BatchSource, opts: BatchOptions) -> Iterator[Planned]:
    """Draw every global batch's parameters in order (skipped ones too); yield this rank's plans."""
    import torch

    from luab_bench.train.distributed import DistContext, shard_slice
    from luab_bench.train.randaug import geometric_matrices
    from luab_bench.train.transforms import CropParams

    rank, world = opts.shard
    ctx = DistContext(rank=rank, world_size=world)
    order = epoch_order(n, opts.seed, opts.epoch, opts.repeated_aug)
    aug_gen = epoch_generator(opts.seed, opts.epoch, _AUG_STREAM)
    for b in range(num_batches(n, opts.batch_size, world)):
        idx = order[b * opts.batch_size : (b + 1) * opts.batch_size]
        crops = None
        if opts.augmentation is not None:
            crops = source.random_crops(idx, opts.augmentation, aug_gen)
        elif opts.rand_augment is not None:  # RandAugment without a random crop: the whole image
            heights, widths = source.sizes(idx)
            zero = torch.zeros(len(idx), dtype=torch.int64)
            crops = CropParams(zero, zero, heights, widths, zero.to(torch.bool))
        ra, er = _draw_extra(len(idx), opts, aug_gen)
        if b < opts.start_batch:
            continue
        sel = shard_slice(len(idx), ctx)
        crops, ra, er = _shard_params(sel, crops, ra, er)
        geometric = geometric_matrices(ra, opts.rand_augment, opts.out_size) if ra is not None else None  # type: ignore[arg-type]
        yield Planned(idx[sel], crops, ra, er, geometric)


def _draw_extra(
    n: int, opts: BatchOptions, aug_gen: torch.Generator
) -> tuple[RandAugParams | None, ErasingParams | None]:
    """RandAugment then erasing draws for a global batch of ``n``, in that order (after the crop's)."""
    from luab_bench.train.erasing import sample_erasing_params
    from luab_bench.train.randaug import sample_randaug_params

    ra_cfg, er_cfg, size = opts.rand_augment, opts.random_erasing, opts.out_size
    ra = sample_randaug_params(n, ra_cfg, generator=aug_gen) if ra_cfg is not None else None
    er = sample_erasing_params(n, size, size, er_cfg, generator=aug_gen) if er_cfg is not None else None
    return ra, er


def _shard_params(
    sel: slice, crops: CropParams | None, ra: RandAugParams | None, er: ErasingParams | None
) -> tuple[CropParams | None, RandAugParams | None, ErasingParams | None]:
    """This rank's rows of the global batch's crop / RandAugment / erasing parameters."""
    from luab_bench.train.erasing import ErasingParams
    from luab_bench.train.randaug import RandAugParams
    from luab_bench.train.transforms import CropParams

    return (
        CropParams(*(p[sel] for p in crops)) if crops is not None else None,
        RandAugParams(*(p[sel] for p in ra)) if ra is not None else None,
        ErasingParams(*(p[sel] for p in er)) if er is not None else None,
    )


def run_epoch(data: Any, source: BatchSource, opts: BatchOptions) -> Iterator[Batch]:
    """The batches of one epoch of ``data`` (a TrainData or FileTrainData) through ``source``."""
    import torch

    from luab_bench.train.erasing import apply_erasing
    from luab_bench.train.randaug import apply_photometric
    from luab_bench.train.transforms import crop_points, warp_points

    device = torch.device(opts.device)
    m = torch.tensor(opts.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(opts.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    for plan, x, height, width in source.render(plan_epoch(len(data), source, opts), opts):
        idx = plan.idx
        labels = torch.from_numpy(np.asarray(data.labels[idx], dtype=np.int64))
        points = torch.from_numpy(np.asarray(data.points[idx], dtype=np.float32)).to(device)
        has_point = torch.from_numpy(np.asarray(data.has_point[idx], dtype=bool)).to(device)
        before = has_point
        if plan.crops is not None:
            points, has_point = crop_points(points, has_point, plan.crops, height, width)
            if plan.geometric is not None:
                points, has_point = warp_points(points, has_point, plan.geometric, opts.out_size)
            if plan.ra is not None:
                x = apply_photometric(x, plan.ra, opts.rand_augment)  # type: ignore[arg-type]
        x = (x - m) / s
        if plan.er is not None:
            x = apply_erasing(x, plan.er, opts.random_erasing)  # type: ignore[arg-type]
        yield Batch(x, labels.to(device), points, has_point, before)
