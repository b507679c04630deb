"""Training data in memory (or memory-mapped) and a seeded, augmenting batch iterator.

:class:`TrainData` holds uint8 images (N, H, W, 3), int64 labels (N,) (or multi-hot (N, K) for
multi-label data), point targets float32
(N, P, 2) in relative image coordinates and their mask bool (N, P) (P = 0 for the baseline).
:func:`iter_batches` yields normalised, point-aware-augmented float batches in an order fixed by
(seed, epoch) alone: a ``torch.Generator`` permutation per epoch and a separate generator for the
augmentation, so two runs with one seed see the same batches, and so do two protocols.

:class:`FileTrainData` is the same training set backed by image *files* of varying size (real
ImageNet-AB / COCO-AB): the same label / point arrays plus an :class:`ImageFiles` reader that knows each
image's (H, W) and decodes sample i. :func:`iter_batches` dispatches on the type and yields the same
:class:`Batch` tuples: the crop + flip of each image is drawn, as for arrays, from the epoch's
augmentation generator for the whole global batch (in batch order, each in its own (H, W)), so seeds,
resume (``start_batch``) and DDP sharding behave the same; decoding and cropping run in a torch
``DataLoader`` with ``num_workers`` worker processes (0 = in this process), created once per
``FileTrainData`` and kept across epochs (``persistent_workers``, ``PREFETCH_FACTOR`` batches ahead per
worker); each epoch hands it its own crop plan.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

import numpy as np

from luab_bench.errors import DataError

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import AugmentationConfig, RandAugmentConfig, RandomErasingConfig
    from luab_bench.train.erasing import ErasingParams
    from luab_bench.train.randaug import RandAugParams
    from luab_bench.train.transforms import CropParams

# batches each DataLoader worker decodes ahead: per-image decode times vary (JPEG sizes), so a
# little more than torch's default of 2 keeps the training step fed
PREFETCH_FACTOR = 4
_PERM_STREAM = zlib.crc32(b"luab-bench/permutation")
_AUG_STREAM = zlib.crc32(b"luab-bench/augmentation")


class _TargetArrays:
    """What both training-set kinds derive from their ``labels`` and ``points`` arrays."""

    labels: np.ndarray
    points: np.ndarray

    @property
    def multilabel(self) -> bool:
        """True for multi-hot (N, K) labels (COCO-style), False for class indices (N,)."""
        return self.labels.ndim == 2

    @property
    def num_point_slots(self) -> int:
        """P: points per sample (0 = no point targets)."""
        return int(self.points.shape[1])


@dataclasses.dataclass(frozen=True)
class TrainData(_TargetArrays):
    """Arrays of one training set; shapes are checked on construction."""

    images: np.ndarray
    labels: np.ndarray
    points: np.ndarray
    has_point: np.ndarray

    def __post_init__(self) -> None:
        im = self.images
        if im.ndim != 4 or im.shape[-1] != 3 or im.dtype != np.uint8:
            raise DataError(f"training images must be uint8 (N, H, W, 3), got {im.dtype} {im.shape}")
        _check_targets(im.shape[0], self.labels, self.points, self.has_point)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape_key(self) -> list[object]:
        """What identifies the image data in a resumable run key (the array shape)."""
        return list(self.images.shape)

    def with_targets(self, points: np.ndarray, has_point: np.ndarray) -> TrainData:
        """The same images and labels with other point targets (a protocol's)."""
        return TrainData(self.images, self.labels, points, has_point)


def _check_targets(n: int, lb: np.ndarray, pt: np.ndarray, hp: np.ndarray) -> None:
    """Labels (N,) int or (N, K) multi-hot 0/1, points (N, P, 2), has_point bool (N, P)."""
    if n == 0:
        raise DataError("the training set is empty")
    integer = lb.dtype == np.bool_ or np.issubdtype(lb.dtype, np.integer)
    multi = lb.ndim == 2 and lb.shape[0] == n and integer
    if multi:
        if lb.size and (lb.min() < 0 or lb.max() > 1):
            raise DataError("multi-label training labels (N, K) must be multi-hot 0/1")
    elif lb.shape != (n,) or not np.issubdtype(lb.dtype, np.integer):
        raise DataError(
            f"training labels must be integers of shape ({n},) or multi-hot 0/1 of shape ({n}, K), "
            f"got {lb.dtype} {lb.shape}"
        )
    if pt.ndim != 3 or pt.shape[0] != n or pt.shape[2] != 2:
        raise DataError(f"training points must have shape ({n}, P, 2), got {pt.shape}")
    if hp.shape != pt.shape[:2] or hp.dtype != np.bool_:
        raise DataError(f"has_point must be bool of shape {pt.shape[:2]}, got {hp.dtype} {hp.shape}")
    if not multi and lb.min() < 0:
        raise DataError(f"training labels must be >= 0, found {int(lb.min())}")


@runtime_checkable
class ImageFiles(Protocol):
    """Images stored as files: N of them, each (H, W) known up front, decodable one at a time.

    Implementations must be picklable (they travel to ``DataLoader`` worker processes) and raise
    :class:`DataError` naming the file when one cannot be read.
    """

    sizes: np.ndarray  # int64 (N, 2): (height, width) of every image

    def __len__(self) -> int: ...

    def read(self, index: int) -> np.ndarray:
        """Image ``index`` as uint8 (H, W, 3) RGB, H and W equal to ``sizes[index]``."""
        ...

    def describe(self, index: int) -> str:
        """Where image ``index`` lives (a path, or shard + row), for error messages."""
        ...


@dataclasses.dataclass(frozen=True)
class FileTrainData(_TargetArrays):
    """A training set whose images are files of varying size (see :class:`ImageFiles`).

    Same ``labels`` / ``points`` / ``has_point`` arrays as :class:`TrainData`. ``num_workers``: the
    ``DataLoader`` worker processes that decode and crop (0 = decode in the training process).
    ``identity``: a string identifying the exact images (e.g. a listing fingerprint) for run keys.
    """

    images: ImageFiles
    labels: np.ndarray
    points: np.ndarray
    has_point: np.ndarray
    num_workers: int = 0
    identity: str = ""
    # (out_size, fill, pin) -> (DataLoader, its epoch-plan holder): one persistent worker pool per
    # training run, reused by every epoch (a replace() copy, e.g. with_targets, starts its own)
    _loaders: dict[tuple[object, ...], tuple[object, _EpochPlan]] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        sizes = np.asarray(self.images.sizes)
        n = len(self.images)
        if sizes.shape != (n, 2) or (n and int(sizes.min()) < 1):
            raise DataError(f"image sizes must be positive (N, 2) = ({n}, 2), got {sizes.shape}")
        if self.num_workers < 0:
            raise DataError(f"num_workers must be >= 0, got {self.num_workers}")
        _check_targets(n, self.labels, self.points, self.has_point)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape_key(self) -> list[object]:
        """What identifies the images in a resumable run key: count + identity + sizes digest."""
        digest = hashlib.sha256(np.ascontiguousarray(self.images.sizes, dtype=np.int64).tobytes())
        return [len(self), "files", self.identity, digest.hexdigest()[:16]]

    def with_targets(self, points: np.ndarray, has_point: np.ndarray) -> FileTrainData:
        """The same images and labels with other point targets (a protocol's)."""
        return dataclasses.replace(self, points=points, has_point=has_point)

    def close_workers(self) -> None:
        """Shut the persistent DataLoader workers down now (they also go with this object)."""
        self._loaders.clear()

    def _loader(self, out_size: int, fill: Sequence[float], pin: bool) -> tuple[object, _EpochPlan]:
        """The DataLoader that decodes and crops for :func:`iter_batches`, made once per
        (out size, fill, pinning): with workers they persist across epochs (``persistent_workers``),
        each epoch handing its lazily drawn plan to the shared :class:`_EpochPlan`."""
        from torch.utils.data import DataLoader

        key = (int(out_size), tuple(float(v) for v in fill), bool(pin))
        if key not in self._loaders:
            holder = _EpochPlan()
            workers = self.num_workers
            loader = DataLoader(
                _CropDataset(self.images, out_size, fill),  # type: ignore[arg-type]
                batch_sampler=holder,  # type: ignore[arg-type]
                num_workers=workers,
                collate_fn=_collate,
                persistent_workers=workers > 0,
                prefetch_factor=PREFETCH_FACTOR if workers > 0 else None,
                pin_memory=pin,
            )
            self._loaders[key] = (loader, holder)
        return self._loaders[key]


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


def iter_batches(
    data: TrainData | FileTrainData,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    out_size: int,
    augmentation: AugmentationConfig | None,
    mean: Sequence[float],
    std: Sequence[float],
    device: str | torch.device = "cpu",
    start_batch: int = 0,
    shard: tuple[int, int] = (0, 1),
    rand_augment: RandAugmentConfig | None = None,
    random_erasing: RandomErasingConfig | None = None,
    repeated_aug: int = 1,
) -> Iterator[Batch]:
    """Yield the batches of one epoch: shuffled, augmented (image and Z together), normalised.

    ``start_batch`` skips the first batches of the epoch exactly (their augmentation draws are still
    made, so batch k is the same whether or not the epoch was resumed). ``shard=(rank, world_size)``
    yields only this rank's contiguous slice of every global batch of ``batch_size`` samples; the
    permutation and crop parameters are drawn for the whole global batch, so the union over ranks is
    the single-process batch (see ``train.distributed``).

    Per image, in DeiT's order: random-resized crop + flip, ``rand_augment`` (its geometric layers in
    the same resampling as the crop, filled with ``mean``; see ``train.randaug``), normalisation,
    ``random_erasing`` (``train.erasing``). Every draw is made for the global batch from the epoch's
    augmentation generator, RandAugment after the crop and erasing after that, and only for the
    augmentations that are on (with all off the draws are those of the crop alone).
    ``repeated_aug``: see :func:`epoch_order`.
    """
    import torch
    import torch.nn.functional as F

    from luab_bench.train.distributed import DistContext, shard_slice
    from luab_bench.train.erasing import apply_erasing
    from luab_bench.train.randaug import (
        apply_photometric,
        geometric_matrices,
    )
    from luab_bench.train.transforms import (
        CropParams,
        crop_images,
        crop_points,
        sample_crop_params,
        warp_points,
    )

    if isinstance(data, FileTrainData):
        yield from _iter_file_batches(
            data,
            batch_size=batch_size,
            seed=seed,
            epoch=epoch,
            out_size=out_size,
            augmentation=augmentation,
            mean=mean,
            std=std,
            device=device,
            start_batch=start_batch,
            shard=shard,
            rand_augment=rand_augment,
            random_erasing=random_erasing,
            repeated_aug=repeated_aug,
        )
        return
    device = torch.device(device)
    rank, world = shard
    ctx = DistContext(rank=rank, world_size=world)
    order = epoch_order(len(data), seed, epoch, repeated_aug)
    aug_gen = epoch_generator(seed, epoch, _AUG_STREAM)
    height, width = int(data.images.shape[1]), int(data.images.shape[2])
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    for b in range(num_batches(len(data), batch_size, world)):
        idx = order[b * batch_size : (b + 1) * batch_size]
        params = ra = er = None
        if augmentation is not None:
            params = sample_crop_params(
                len(idx),
                height,
                width,
                scale=augmentation.rrc_scale,
                ratio=augmentation.rrc_ratio,
                hflip_prob=augmentation.hflip,
                generator=aug_gen,
            )
        elif rand_augment is not None:  # RandAugment without a random crop: the whole image
            full = torch.full((len(idx),), 0, dtype=torch.int64)
            params = CropParams(full, full, full + height, full + width, full.to(torch.bool))
        ra, er = _draw_extra(len(idx), rand_augment, random_erasing, out_size, aug_gen)
        if b < start_batch:
            continue
        sel = shard_slice(len(idx), ctx)
        idx = idx[sel]
        params, ra, er = _shard_params(sel, params, ra, er)
        sorted_idx = np.sort(idx)  # sequential reads from a memmap, then back to shuffled order
        back = np.argsort(np.argsort(idx))
        images = torch.from_numpy(np.ascontiguousarray(data.images[sorted_idx][back]))
        labels = torch.from_numpy(np.asarray(data.labels[idx], dtype=np.int64))
        points = torch.from_numpy(np.asarray(data.points[idx], dtype=np.float32))
        has_point = torch.from_numpy(np.asarray(data.has_point[idx], dtype=bool))
        x = images.to(device).permute(0, 3, 1, 2).float().div_(255.0)
        points, has_point = points.to(device), has_point.to(device)
        before = has_point
        if params is not None:
            geometric = geometric_matrices(ra, rand_augment, out_size) if ra is not None else None
            points, has_point = crop_points(points, has_point, params, height, width)
            if geometric is not None:
                points, has_point = warp_points(points, has_point, geometric, out_size)
            x = crop_images(x, params, out_size, geometric=geometric, fill=mean)
            if ra is not None:
                x = apply_photometric(x, ra, rand_augment)
        elif x.shape[-2:] != (out_size, out_size):
            x = F.interpolate(x, size=(out_size, out_size), mode="bilinear", align_corners=False)
        x = (x - m) / s
        if er is not None:
            x = apply_erasing(x, er, random_erasing)
        yield Batch(x, labels.to(device), points, has_point, before)


def _draw_extra(
    n: int,
    rand_augment: RandAugmentConfig | None,
    random_erasing: RandomErasingConfig | None,
    out_size: int,
    aug_gen: torch.Generator,
) -> tuple[RandAugParams | None, ErasingParams | None]:
    """RandAugment then erasing draws for a global batch of ``n``, in that order (after the crop's);
    shared by the in-memory and file-backed iterators so both consume the generator identically."""
    from luab_bench.train.erasing import sample_erasing_params
    from luab_bench.train.randaug import sample_randaug_params

    ra = sample_randaug_params(n, rand_augment, generator=aug_gen) if rand_augment is not None else None
    er = (
        sample_erasing_params(n, out_size, out_size, random_erasing, generator=aug_gen)
        if random_erasing is not None
        else None
    )
    return ra, er


def _shard_params(
    sel: slice, params: CropParams | None, ra: RandAugParams | None, er: ErasingParams | None
) -> tuple[CropParams | None, RandAugParams | None, ErasingParams | None]:
    """This rank's rows of the global batch's crop / RandAugment / erasing parameters."""
    from luab_bench.train.erasing import ErasingParams
    from luab_bench.train.randaug import RandAugParams
    from luab_bench.train.transforms import CropParams

    return (
        CropParams(*(p[sel] for p in params)) if params is not None else None,
        RandAugParams(*(p[sel] for p in ra)) if ra is not None else None,
        ErasingParams(*(p[sel] for p in er)) if er is not None else None,
    )


# ---------------------------------------------------------------- file-backed batches
class _CropJob(NamedTuple):
    """What a worker needs to produce one training image: which file, its crop, its RandAugment warp."""

    index: int
    crop: tuple[int, int, int, int, bool] | None  # top, left, height, width, flip (None = resize)
    geometric: np.ndarray | None  # (L, 3, 3) float64 RandAugment layers after the crop, or None


class _CropDataset:
    """Map-style dataset whose "indices" are :class:`_CropJob` s: decode, crop/flip, resize to float.

    Returns ``(image float32 (3, S, S) in [0, 1], None)`` or ``(None, message)`` when the file cannot be
    read, so that the error reaches the training process as one :class:`DataError` line (a raise
    inside a worker would come back wrapped in a traceback).
    """

    def __init__(self, images: ImageFiles, out_size: int, fill: Sequence[float]) -> None:
        self.images, self.out_size, self.fill = images, out_size, list(fill)

    def __getitem__(self, job: _CropJob) -> tuple[torch.Tensor | None, str | None]:
        import torch
        import torch.nn.functional as F

        from luab_bench.train.transforms import CropParams, crop_images

        try:
            pixels = self.images.read(job.index)
        except DataError as err:
            return None, str(err)
        x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].float().div_(255.0)
        if job.crop is None:
            out = F.interpolate(x, size=(self.out_size, self.out_size), mode="bilinear", align_corners=False)
            return out[0], None
        top, left, h, w, flip = job.crop
        params = CropParams(*(torch.tensor([v]) for v in (top, left, h, w)), torch.tensor([flip]))
        geometric = None if job.geometric is None else torch.from_numpy(job.geometric)[None]
        out = crop_images(x, params, self.out_size, geometric=geometric, fill=self.fill)
        return out[0], None


class _EpochPlan:
    """The batch sampler of a persistent DataLoader: iterating it runs the current epoch's plan.

    A persistent loader re-iterates its batch sampler at the start of every epoch (``iter(loader)``),
    so each epoch sets ``plan`` (a zero-argument function returning that epoch's job lists) first.
    """

    def __init__(self) -> None:
        self.plan: Callable[[], Iterator[list[_CropJob]]] | None = None

    def __iter__(self) -> Iterator[list[_CropJob]]:
        if self.plan is None:
            raise RuntimeError("no epoch plan set")
        return self.plan()


def _collate(items: list[tuple[torch.Tensor | None, str | None]]) -> tuple[torch.Tensor | None, str | None]:
    import torch

    for _, error in items:
        if error is not None:
            return None, error
    return torch.stack([img for img, _ in items]), None  # type: ignore[misc]


def _iter_file_batches(
    data: FileTrainData,
    *,
    batch_size: int,
    seed: int,
    epoch: int,
    out_size: int,
    augmentation: AugmentationConfig | None,
    mean: Sequence[float],
    std: Sequence[float],
    device: str | torch.device,
    start_batch: int,
    shard: tuple[int, int],
    rand_augment: RandAugmentConfig | None,
    random_erasing: RandomErasingConfig | None,
    repeated_aug: int,
) -> Iterator[Batch]:
    """:func:`iter_batches` for :class:`FileTrainData` (same draws per global batch, same Batch).

    Draw order per global batch: one crop (+ flip) per image in batch order, each from
    ``sample_crop_params(1, H_i, W_i, ...)`` in that image's own size; then RandAugment and erasing
    for the whole batch, as for arrays. (The crop draws differ from the array path's batched draw,
    so file-backed and array-backed runs of the same images are not bit-identical.)
    """
    import torch

    from luab_bench.train.distributed import DistContext, shard_slice
    from luab_bench.train.erasing import apply_erasing
    from luab_bench.train.randaug import (
        apply_photometric,
        geometric_matrices,
    )
    from luab_bench.train.transforms import CropParams, crop_points, sample_crop_params, warp_points

    device = torch.device(device)
    rank, world = shard
    ctx = DistContext(rank=rank, world_size=world)
    order = epoch_order(len(data), seed, epoch, repeated_aug)
    sizes = np.asarray(data.images.sizes, dtype=np.int64)
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    plans: list[tuple[np.ndarray, CropParams | None, RandAugParams | None, ErasingParams | None]] = []

    def plan() -> Iterator[list[_CropJob]]:
        """Draw every batch's parameters in order (skipped ones too); yield this rank's jobs."""
        aug_gen = epoch_generator(seed, epoch, _AUG_STREAM)
        for b in range(num_batches(len(data), batch_size, world)):
            idx = order[b * batch_size : (b + 1) * batch_size]
            params = ra = er = None
            if augmentation is not None:
                crops = [
                    sample_crop_params(
                        1,
                        int(sizes[i, 0]),
                        int(sizes[i, 1]),
                        scale=augmentation.rrc_scale,
                        ratio=augmentation.rrc_ratio,
                        hflip_prob=augmentation.hflip,
                        generator=aug_gen,
                    )
                    for i in idx
                ]
                params = CropParams(*(torch.cat(parts) for parts in zip(*crops, strict=True)))
            elif rand_augment is not None:  # RandAugment without a random crop: the whole image
                hw = torch.from_numpy(sizes[idx])
                zero = torch.zeros(len(idx), dtype=torch.int64)
                params = CropParams(zero, zero, hw[:, 0], hw[:, 1], zero.to(torch.bool))
            ra, er = _draw_extra(len(idx), rand_augment, random_erasing, out_size, aug_gen)
            if b < start_batch:
                continue
            sel = shard_slice(len(idx), ctx)
            idx = idx[sel]
            params, ra, er = _shard_params(sel, params, ra, er)
            geometric = geometric_matrices(ra, rand_augment, out_size) if ra is not None else None
            jobs = []
            for j, i in enumerate(idx):
                crop = None
                if params is not None:
                    crop = (*(int(p[j]) for p in params[:4]), bool(params.flip[j]))
                geo = None if geometric is None else geometric[j].to(torch.float64).numpy()
                jobs.append(_CropJob(int(i), crop, geo))  # type: ignore[arg-type]
            plans.append((idx, params, ra, er))
            yield jobs

    # The plan is drawn lazily, in order, as the loader's sampler is iterated (prefetch included);
    # the loader (and with workers, its worker pool) is shared by every epoch of ``data``.
    loader, holder = data._loader(out_size, mean, pin=device.type == "cuda")
    holder.plan = plan
    for images, error in loader:  # type: ignore[attr-defined]
        idx, params, ra, er = plans.pop(0)
        if error is not None:
            raise DataError(error)
        labels = torch.from_numpy(np.asarray(data.labels[idx], dtype=np.int64))
        points = torch.from_numpy(np.asarray(data.points[idx], dtype=np.float32)).to(device)
        has_point = torch.from_numpy(np.asarray(data.has_point[idx], dtype=bool)).to(device)
        before = has_point
        x = images.to(device)
        if params is not None:
            hw = torch.from_numpy(sizes[idx]).to(device, torch.float32)
            # each image's own (H, W): (B, 1) broadcasts over the P points of crop_points' maths
            points, has_point = crop_points(points, has_point, params, hw[:, :1], hw[:, 1:])  # type: ignore[arg-type]
            if ra is not None:
                geometric = geometric_matrices(ra, rand_augment, out_size)  # type: ignore[arg-type]
                points, has_point = warp_points(points, has_point, geometric, out_size)
                x = apply_photometric(x, ra, rand_augment)  # type: ignore[arg-type]
        x = (x - m) / s
        if er is not None:
            x = apply_erasing(x, er, random_erasing)  # type: ignore[arg-type]
        yield Batch(x, labels.to(device), points, has_point, before)
