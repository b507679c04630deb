"""The file-backed part of batching: images decoded and cropped in DataLoader workers.

For :class:`~luab_bench.train.datasets.FileTrainData` the crop + flip of each image is drawn, as for
arrays, from the epoch's augmentation generator for the whole global batch, in batch order, each
from ``sample_crop_params(1, H_i, W_i, ...)`` in that image's own size (so file-backed and
array-backed runs of the same images are not bit-identical); RandAugment and erasing follow for the
whole batch (``train.batching``). Decoding, cropping and the RandAugment warp run in a torch
``DataLoader`` with ``num_workers`` worker processes (0 = in this process), created once per
``FileTrainData`` and kept across epochs (``persistent_workers``, :data:`PREFETCH_FACTOR` batches
ahead per worker); each epoch hands it its own lazily drawn plan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from luab_bench.errors import DataError
from luab_bench.train.batching import BatchOptions, Planned

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import AugmentationConfig
    from luab_bench.train.datasets import FileTrainData, ImageFiles
    from luab_bench.train.transforms import CropParams

# batches each DataLoader worker decodes ahead: per-image decode times vary (JPEG sizes), so a
# little more than torch's default of 2 keeps the training step fed
PREFETCH_FACTOR = 4


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


def _loader(data: FileTrainData, out_size: int, fill: Sequence[float], pin: bool) -> tuple[Any, _EpochPlan]:
    """The DataLoader that decodes and crops ``data``'s images, made once per (out size, fill,
    pinning) and cached on ``data``: with workers they persist across epochs (``persistent_workers``),
    each epoch handing its lazily drawn plan to the shared :class:`_EpochPlan`."""
    from torch.utils.data import DataLoader

    key = (int(out_size), tuple(float(v) for v in fill), bool(pin))
    if key not in data._loaders:
        holder = _EpochPlan()
        workers = data.num_workers
        loader = DataLoader(
            _CropDataset(data.images, out_size, fill),  # type: ignore[arg-type]
            batch_sampler=holder,  # type: ignore[arg-type]
            num_workers=workers,
            collate_fn=_collate,
            persistent_workers=workers > 0,
            prefetch_factor=PREFETCH_FACTOR if workers > 0 else None,
            pin_memory=pin,
        )
        data._loaders[key] = (loader, holder)
    return data._loaders[key]  # type: ignore[return-value]


class FileSource:
    """:class:`~luab_bench.train.batching.BatchSource` of a FileTrainData: per-image crop draws,
    pixels from the DataLoader workers."""

    def __init__(self, data: FileTrainData) -> None:
        self.data = data
        self.image_sizes = np.asarray(data.images.sizes, dtype=np.int64)

    def random_crops(
        self, idx: np.ndarray, augmentation: AugmentationConfig, generator: torch.Generator
    ) -> CropParams:
        import torch

        from luab_bench.train.transforms import CropParams, sample_crop_params

        crops = [
            sample_crop_params(
                1,
                int(self.image_sizes[i, 0]),
                int(self.image_sizes[i, 1]),
                scale=augmentation.rrc_scale,
                ratio=augmentation.rrc_ratio,
                hflip_prob=augmentation.hflip,
                generator=generator,
            )
            for i in idx
        ]
        return CropParams(*(torch.cat(parts) for parts in zip(*crops, strict=True)))

    def sizes(self, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        hw = torch.from_numpy(self.image_sizes[idx])
        return hw[:, 0], hw[:, 1]

    def render(self, plans: Iterator[Planned], opts: BatchOptions) -> Iterator[tuple[Planned, Any, Any, Any]]:
        import torch

        device = torch.device(opts.device)
        drawn: list[Planned] = []

        def jobs() -> Iterator[list[_CropJob]]:
            """This rank's jobs per batch, drawn lazily in order as the loader's sampler runs."""
            for plan in plans:
                batch = []
                for j, i in enumerate(plan.idx):
                    crop = None
                    if plan.crops is not None:
                        crop = (*(int(p[j]) for p in plan.crops[:4]), bool(plan.crops.flip[j]))
                    geo = None if plan.geometric is None else plan.geometric[j].to(torch.float64).numpy()
                    batch.append(_CropJob(int(i), crop, geo))  # type: ignore[arg-type]
                drawn.append(plan)
                yield batch

        # The plan is drawn lazily, in order, as the loader's sampler is iterated (prefetch included);
        # the loader (and with workers, its worker pool) is shared by every epoch of ``data``.
        loader, holder = _loader(self.data, opts.out_size, opts.mean, pin=device.type == "cuda")
        holder.plan = jobs
        for images, error in loader:
            plan = drawn.pop(0)
            if error is not None:
                raise DataError(error)
            hw = torch.from_numpy(self.image_sizes[plan.idx]).to(device, torch.float32)
            # each image's own (H, W): (B, 1) broadcasts over the P points of crop_points' maths
            yield plan, images.to(device), hw[:, :1], hw[:, 1:]
