"""Training data in memory (or memory-mapped) and a seeded, augmenting batch iterator.

:class:`TrainData` holds uint8 images (N, H, W, 3), int64 labels (N,), point targets float32
(N, P, 2) in relative image coordinates and their mask bool (N, P) (P = 0 for the baseline).
:func:`iter_batches` yields normalised, point-aware-augmented float batches in an order fixed by
(seed, epoch) alone: a ``torch.Generator`` permutation per epoch and a separate generator for the
augmentation, so two runs with one seed see the same batches, and so do two protocols.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from luab_bench.errors import DataError

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import AugmentationConfig

_PERM_STREAM = zlib.crc32(b"luab-bench/permutation")
_AUG_STREAM = zlib.crc32(b"luab-bench/augmentation")


@dataclasses.dataclass(frozen=True)
class TrainData:
    """Arrays of one training set; shapes are checked on construction."""

    images: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    has_point: np.ndarray

    def __post_init__(self) -> None:
        im, lb, pt, hp = self.images, self.labels, self.points, self.has_point
        if im.ndim != 4 or im.shape[-1] != 3 or im.dtype != np.uint8:
            raise DataError(f"training images must be uint8 (N, H, W, 3), got {im.dtype} {im.shape}")
        n = im.shape[0]
        if lb.shape != (n,) or not np.issubdtype(lb.dtype, np.integer):
            raise DataError(f"training labels must be integers of shape ({n},), got {lb.dtype} {lb.shape}")
        if pt.ndim != 3 or pt.shape[0] != n or pt.shape[2] != 2:
            raise DataError(f"training points must have shape ({n}, P, 2), got {pt.shape}")
        if hp.shape != pt.shape[:2] or hp.dtype != np.bool_:
            raise DataError(f"has_point must be bool of shape {pt.shape[:2]}, got {hp.dtype} {hp.shape}")
        if n == 0:
            raise DataError("the training set is empty")
        if lb.min() < 0:
            raise DataError(f"training labels must be >= 0, found {int(lb.min())}")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_point_slots(self) -> int:
        """P: points per sample (0 = no point targets)."""
        return int(self.points.shape[1])


class Batch(NamedTuple):
    """One training batch: normalised images (B, 3, S, S), labels, targets (B, P, 2), mask (B, P)."""

    images: torch.Tensor
    labels: torch.Tensor
    points: torch.Tensor
    has_point: torch.Tensor
    has_point_before_aug: torch.Tensor


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """A generator seeded from (seed, epoch, stream) alone."""
    import torch

    mixed = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), stream]).generate_state(2)
    return torch.Generator().manual_seed(int(mixed[0]) << 32 | int(mixed[1]))


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of ``epoch``: a permutation fixed by (seed, epoch)."""
    import torch

    return torch.randperm(n, generator=epoch_generator(seed, epoch, _PERM_STREAM)).numpy()


def num_batches(n: int, batch_size: int) -> int:
    """Batches per epoch; a final batch of a single sample is dropped (BatchNorm cannot train on it)."""
    full, rest = divmod(n, batch_size)
    return full + (1 if rest > 1 else 0)


def iter_batches(
    data: TrainData,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    out_size: int,
    augmentation: AugmentationConfig | None,
    mean: Sequence[float],
    std: Sequence[float],
    device: str | torch.device = "cpu",
) -> Iterator[Batch]:
    """Yield the batches of one epoch: shuffled, augmented (image and Z together), normalised."""
    import torch
    import torch.nn.functional as F

    from luab_bench.train.transforms import random_resized_crop_flip

    device = torch.device(device)
    order = epoch_order(len(data), seed, epoch)
    aug_gen = epoch_generator(seed, epoch, _AUG_STREAM)
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    for b in range(num_batches(len(data), batch_size)):
        idx = order[b * batch_size : (b + 1) * batch_size]
        sorted_idx = np.sort(idx)  # sequential reads from a memmap, then back to shuffled order
        back = np.argsort(np.argsort(idx))
        images = torch.from_numpy(np.ascontiguousarray(data.images[sorted_idx][back]))
        labels = torch.from_numpy(np.asarray(data.labels[idx], dtype=np.int64))
        points = torch.from_numpy(np.asarray(data.points[idx], dtype=np.float32))
        has_point = torch.from_numpy(np.asarray(data.has_point[idx], dtype=bool))
        x = images.to(device).permute(0, 3, 1, 2).float().div_(255.0)
        points, has_point = points.to(device), has_point.to(device)
        before = has_point
        if augmentation is not None:
            x, points, has_point = random_resized_crop_flip(
                x,
                points,
                has_point,
                out_size=out_size,
                scale=augmentation.rrc_scale,
                ratio=augmentation.rrc_ratio,
                hflip_prob=augmentation.hflip,
                generator=aug_gen,
            )
        elif x.shape[-2:] != (out_size, out_size):
            x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", align_corners=False)
        x = (x - m) / s
        yield Batch(x, labels.to(device), points, has_point, before)
