"""Training data and its seeded, augmenting batch iterator: :func:`iter_batches`.

The training sets are :class:`TrainData` (arrays in memory or memory-mapped) and
:class:`FileTrainData` (image files of varying size), both in ``train.datasets``.
:func:`iter_batches` yields normalised, point-aware-augmented float batches in an order fixed by
(seed, epoch) alone: a ``torch.Generator`` permutation per epoch and a separate generator for the
augmentation, so two runs with one seed see the same batches, and so do two protocols. Both kinds
run through the one core of ``train.batching`` and yield the same :class:`Batch`; only the crop draws
and the pixels are the source's (arrays: :class:`ArraySource` here; files: ``train.file_batches``,
decoded and cropped in DataLoader workers), so seeds, resume (``start_batch``) and DDP sharding behave
the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.train.batching import _AUG_STREAM as _AUG_STREAM  # the stream tests re-draw from
from luab_bench.train.batching import (
    Batch,
    BatchOptions,
    BatchSource,
    Planned,
    epoch_generator,
    epoch_order,
    num_batches,
    run_epoch,
)
from luab_bench.train.datasets import FileTrainData, ImageFiles, TrainData
from luab_bench.train.file_batches import PREFETCH_FACTOR, FileSource

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import AugmentationConfig
    from luab_bench.train.transforms import CropParams


class ArraySource:
    """:class:`~luab_bench.train.batching.BatchSource` of a TrainData: one batched crop draw in the
    arrays' (H, W), pixels gathered from the (memory-mapped) arrays and cropped on the device."""

    def __init__(self, data: TrainData) -> None:
        self.data = data
        self.height, self.width = int(data.images.shape[1]), int(data.images.shape[2])

    def random_crops(
        self, idx: np.ndarray, augmentation: AugmentationConfig, generator: torch.Generator
    ) -> CropParams:
        from luab_bench.train.transforms import sample_crop_params

        return sample_crop_params(
            len(idx),
            self.height,
            self.width,
            scale=augmentation.rrc_scale,
            ratio=augmentation.rrc_ratio,
            hflip_prob=augmentation.hflip,
            generator=generator,
        )

    def sizes(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        full = torch.full((len(idx),), 0, dtype=torch.int64)
        return full + self.height, full + self.width

    def render(self, plans: Iterator[Planned], opts: BatchOptions) -> Iterator[tuple[Planned, Any, Any, Any]]:
        import torch
        import torch.nn.functional as F

        from luab_bench.train.transforms import crop_images

        device, size = torch.device(opts.device), opts.out_size
        for plan in plans:
            sorted_idx = np.sort(plan.idx)  # sequential reads from a memmap, then back to shuffled order
            back = np.argsort(np.argsort(plan.idx))
            images = torch.from_numpy(np.ascontiguousarray(self.data.images[sorted_idx][back]))
            x = images.to(device).permute(0, 3, 1, 2).float().div_(255.0)
            if plan.crops is not None:
                x = crop_images(x, plan.crops, size, geometric=plan.geometric, fill=opts.mean)
            elif x.shape[-2:] != (size, size):
                x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
            yield plan, x, self.height, self.width


def iter_batches(
    data: TrainData | FileTrainData, options: BatchOptions | None = None, /, **fields: Any
) -> Iterator[Batch]:
    """Yield the batches of one epoch: shuffled, augmented (image and Z together), normalised.

    ``options``: a :class:`BatchOptions`; keyword ``fields`` build one (or replace its fields), e.g.
    ``iter_batches(data, batch_size=32, seed=0, epoch=0, out_size=64, augmentation=aug, mean=m,
    std=s)``. ``start_batch`` skips the first batches of the epoch exactly (their augmentation draws
    are still made, so batch k is the same whether or not the epoch was resumed).
    ``shard=(rank, world_size)`` yields only this rank's contiguous slice of every global batch of
    ``batch_size`` samples; the permutation and crop parameters are drawn for the whole global batch,
    so the union over ranks is the single-process batch (see ``train.distributed``).

    Per image, in DeiT's order: random-resized crop + flip, ``rand_augment`` (its geometric layers in
    the same resampling as the crop, filled with ``mean``; see ``train.randaug``), normalisation,
    ``random_erasing`` (``train.erasing``). Every draw is made for the global batch from the epoch's
    augmentation generator, RandAugment after the crop and erasing after that, and only for the
    augmentations that are on (with all off the draws are those of the crop alone).
    ``repeated_aug``: see :func:`epoch_order`.
    """
    opts = BatchOptions(**fields) if options is None else dataclasses.replace(options, **fields)
    source: BatchSource = FileSource(data) if isinstance(data, FileTrainData) else ArraySource(data)
    return run_epoch(data, source, opts)


__all__ = [
    "PREFETCH_FACTOR",
    "ArraySource",
    "Batch",
    "BatchOptions",
    "FileTrainData",
    "ImageFiles",
    "TrainData",
    "epoch_generator",
    "epoch_order",
    "iter_batches",
    "num_batches",
]
