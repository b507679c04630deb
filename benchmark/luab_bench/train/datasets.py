"""The two kinds of training set: arrays (:class:`TrainData`) and image files (:class:`FileTrainData`).

:class:`TrainData` holds uint8 images (N, H, W, 3), int64 labels (N,) (or multi-hot (N, K) for
multi-label data), point targets float32 (N, P, 2) in relative image coordinates and their mask bool
(N, P) (P = 0 for the baseline). :class:`FileTrainData` is the same training set backed by image
*files* of varying size (real ImageNet-AB / COCO-AB): the same label / point arrays plus an
:class:`ImageFiles` reader that knows each image's (H, W) and decodes sample i. Both are checked on
construction; ``train.data.iter_batches`` turns either into the same batches.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from luab_bench.errors import DataError
from luab_bench.hashing import sha256_hex


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
    ``DataLoader`` worker processes that decode and crop (0 = decode in the training process), created
    once per ``FileTrainData`` and kept across epochs (``train.file_batches``).
    ``identity``: a string identifying the exact images (e.g. a listing fingerprint) for run keys.
    """

    images: ImageFiles
    labels: np.ndarray
    points: np.ndarray
    has_point: np.ndarray
    num_workers: int = 0
    identity: str = ""
    # (out_size, fill, pin) -> (DataLoader, its epoch-plan holder), made by ``train.file_batches``: one
    # persistent worker pool per training run, reused by every epoch (a replace() copy, e.g.
    # with_targets, starts its own)
    _loaders: dict[tuple[object, ...], tuple[object, object]] = dataclasses.field(
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
        digest = sha256_hex(np.ascontiguousarray(self.images.sizes, dtype=np.int64).tobytes())
        return [len(self), "files", self.identity, digest[:16]]

    def with_targets(self, points: np.ndarray, has_point: np.ndarray) -> FileTrainData:
        """The same images and labels with other point targets (a protocol's)."""
        return dataclasses.replace(self, points=points, has_point=has_point)

    def close_workers(self) -> None:
        """Shut the persistent DataLoader workers down now (they also go with this object)."""
        self._loaders.clear()
