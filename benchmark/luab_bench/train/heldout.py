"""Held-out evaluation after every epoch: the per-epoch validation curves (paper Fig. 8/9).

:class:`HeldOutSet` is a small, fixed subset of a labelled split, in memory. :func:`evaluate_held_out`
runs the model in eval mode without gradients on it, at the training ``image_size`` (bilinear resize
when the stored images differ, as ``train.data.iter_batches`` does without augmentation), and returns

single-label sets (labels (N,) class indices):

- ``val_top1``: % of images whose arg-max class is the label;
- ``val_point_in_box`` (only with a point head and ``boxes`` (N, 4)): % of images whose predicted
  point of head 0 lies inside the true box, borders inclusive — ``metrics.classification.point_in_box``,
  the definition of the synthetic suite's ``point_loc_acc``;

multi-label sets (labels (N, K) multi-hot):

- ``val_map``: mAP (%) of the class logits against the labels over the classes with a positive in
  the subset (``metrics.multilabel.mean_average_precision``, the suites' ``*_map`` definition);
- ``val_point_in_box`` (only with one point head per class and ``objects``): over every (image,
  present class) pair, % whose class-k point lies inside *a* box of class k (borders inclusive; a
  present class without a box counts as a miss) — the definition of ``synthetic_coco_point_loc_acc``.

Both are measured on the subset, so they differ from the final suite metrics by its sampling error.

Real sources (image files of varying size) give a :class:`HeldOutFiles` instead: the same subset
drawn by seed from a listing, decoded once by :func:`resolve_held_out` when the recipe's image size is
known (:func:`eval_resize`: ImageNet-style resize + centre crop, or a whole-image square resize where
boxes must stay valid). Nothing here draws from torch's or numpy's global generators, and the
model's train/eval mode is restored, so turning the curves on does not change the training
trajectory (a resumed run stays bit-identical).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from luab_bench.errors import DataError

if TYPE_CHECKING:
    import torch

    from luab_bench.train.data import ImageFiles

DEFAULT_HELD_OUT = 1000  # images in a real source's held-out subset


def subset_index(n: int, max_samples: int, seed: int) -> np.ndarray:
    """At most ``max_samples`` of ``range(n)`` drawn without replacement by ``seed``, sorted."""
    if max_samples < 1:
        raise DataError(f"held-out max_samples must be >= 1, got {max_samples}")
    if n <= max_samples:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))


def _select_objects(objects: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    """Rows of ``objects`` [image, class, x0, y0, x1, y1] whose image is in ``idx``, renumbered."""
    if objects is None:
        return None
    objects = np.asarray(objects, dtype=np.float32).reshape(-1, 6)
    new = np.full(int(idx.max()) + 1 if len(idx) else 0, -1, dtype=np.int64)
    new[idx] = np.arange(len(idx))
    img = objects[:, 0].astype(np.int64)
    keep = (img >= 0) & (img < len(new))
    keep[keep] = new[img[keep]] >= 0
    out = objects[keep].copy()
    out[:, 0] = new[img[keep]]
    return out


@dataclasses.dataclass(frozen=True)
class HeldOutSet:
    """uint8 images (N, H, W, 3) and labels: int (N,) or multi-hot (N, K).

    Boxes are relative xyxy: single-label ``boxes`` (N, 4) (one per image), multi-label ``objects``
    (M, 6) rows ``[image_index, class_index, x0, y0, x1, y1]`` (any number per (image, class)).
    """

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray | None = None
    objects: np.ndarray | None = None

    def __post_init__(self) -> None:
        im, lb, bx, ob = self.images, self.labels, self.boxes, self.objects
        if im.ndim != 4 or im.shape[-1] != 3 or im.dtype != np.uint8:
            raise DataError(f"held-out images must be uint8 (N, H, W, 3), got {im.dtype} {im.shape}")
        n = im.shape[0]
        if n == 0:
            raise DataError("the held-out set is empty")
        if lb.ndim == 2:
            if lb.shape[0] != n or lb.dtype != np.bool_:
                raise DataError(
                    f"multi-label held-out labels must be bool ({n}, K), got {lb.dtype} {lb.shape}"
                )
            if not lb.any():
                raise DataError("the held-out subset has no positive label: its mAP is undefined")
            if bx is not None:
                raise DataError("a multi-label held-out set takes per-class boxes as `objects`, not `boxes`")
            if ob is not None and (ob.ndim != 2 or ob.shape[1] != 6):
                raise DataError(f"held-out objects must have shape (M, 6), got {ob.shape}")
        else:
            if lb.shape != (n,) or not np.issubdtype(lb.dtype, np.integer):
                raise DataError(f"held-out labels must be integers of shape ({n},), got {lb.shape}")
            if bx is not None and bx.shape != (n, 4):
                raise DataError(f"held-out boxes must have shape ({n}, 4), got {bx.shape}")
            if ob is not None:
                raise DataError("a single-label held-out set takes one box per image as `boxes`")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def multilabel(self) -> bool:
        return self.labels.ndim == 2

    @property
    def has_boxes(self) -> bool:
        """Whether a point-in-box curve can be measured (given a fitting point head)."""
        return (self.objects if self.multilabel else self.boxes) is not None

    @classmethod
    def subset(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        boxes: np.ndarray | None = None,
        *,
        objects: np.ndarray | None = None,
        max_samples: int = 512,
        seed: int = 0,
    ) -> HeldOutSet:
        """At most ``max_samples`` images drawn without replacement by ``seed`` (all if fewer),
        kept in index order (sequential reads from a memmap), copied into memory; ``objects`` rows
        are kept for the drawn images and renumbered."""
        idx = subset_index(int(images.shape[0]), max_samples, seed)
        lb = np.asarray(labels[idx])
        return cls(
            np.ascontiguousarray(images[idx]),
            lb.astype(bool) if lb.ndim == 2 else lb.astype(np.int64),
            None if boxes is None else np.asarray(boxes[idx], dtype=np.float32),
            _select_objects(objects, idx),
        )


def eval_resize(pixels: np.ndarray, size: int, crop_pct: float | None) -> np.ndarray:
    """uint8 (H, W, 3) -> (size, size, 3), bilinear.

    ``crop_pct`` None: the whole image squashed to a square (relative box coordinates stay valid);
    else the ImageNet evaluation transform: shorter side to ``round(size / crop_pct)``, then the
    centre ``size`` x ``size`` crop.
    """
    from PIL import Image

    img = Image.fromarray(pixels)
    if crop_pct is None:
        return np.asarray(img.resize((size, size), Image.BILINEAR))
    h, w = pixels.shape[:2]
    short = max(round(size / crop_pct), size)
    scale = short / min(h, w)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return np.asarray(img.crop((left, top, left + size, top + size)))


@dataclasses.dataclass(frozen=True)
class HeldOutFiles:
    """A held-out subset of image *files*, decoded by :meth:`load` once the image size is known.

    ``reader``: an :class:`~luab_bench.train.data.ImageFiles`; ``labels`` / ``objects`` as in
    :class:`HeldOutSet` for all N files; ``max_samples`` images are drawn by ``seed``;
    ``crop_pct``: see :func:`eval_resize`; ``where``: what the set is, for messages.
    """

    reader: ImageFiles
    labels: np.ndarray
    objects: np.ndarray | None = None
    max_samples: int = DEFAULT_HELD_OUT
    seed: int = 0
    crop_pct: float | None = 0.875
    where: str = ""

    def load(self, image_size: int, echo: Callable[[str], None] | None = None) -> HeldOutSet:
        """Decode the subset at ``image_size`` into a :class:`HeldOutSet` (a bad file: DataError)."""
        idx = subset_index(len(self.reader), self.max_samples, self.seed)
        if echo is not None:
            echo(f"Held-out curves: {len(idx)} images of {self.where} at {image_size} px")
        images = np.empty((len(idx), image_size, image_size, 3), dtype=np.uint8)
        for row, i in enumerate(idx):
            images[row] = eval_resize(self.reader.read(int(i)), image_size, self.crop_pct)
        lb = np.asarray(self.labels[idx])
        return HeldOutSet(
            images,
            lb.astype(bool) if lb.ndim == 2 else lb.astype(np.int64),
            None,
            _select_objects(self.objects, idx),
        )


def resolve_held_out(
    held: HeldOutSet | HeldOutFiles | None, image_size: int, echo: Callable[[str], None] | None = None
) -> HeldOutSet | None:
    """The in-memory set for training: as is, or a :class:`HeldOutFiles` decoded at ``image_size``."""
    if held is None or isinstance(held, HeldOutSet):
        return held
    return held.load(image_size, echo)


def points_in_class_boxes(points: np.ndarray, labels: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """Per (image, present class) pair, row-major: is class k's point (``points[i, k]``) inside a box
    of class k in ``objects``? Borders inclusive; no box of k in image i = False."""
    by_pair: dict[tuple[int, int], list[np.ndarray]] = {}
    for row in np.asarray(objects, dtype=np.float64).reshape(-1, 6):
        by_pair.setdefault((int(row[0]), int(row[1])), []).append(row[2:6])
    out = []
    for i, k in zip(*np.nonzero(labels), strict=True):
        x, y = points[i, k]
        boxes = by_pair.get((int(i), int(k)), [])
        out.append(any(b[0] <= x <= b[2] and b[1] <= y <= b[3] for b in boxes))
    return np.asarray(out, dtype=bool)


def evaluate_held_out(
    model: torch.nn.Module,
    held_out: HeldOutSet,
    *,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    device: str | torch.device = "cpu",
    batch_size: int = 256,
) -> dict[str, float]:
    """The held-out curve values of ``model`` on the set (keys: see the module docstring).

    Inference is :func:`luab_bench.inference.predict` (uint8 -> [0, 1] -> bilinear resize to
    ``image_size`` when the stored size differs -> ``(x - mean) / std``), run whole by every rank
    (``distributed=False``) so the curves agree across ranks.
    """
    import torch
    import torch.nn.functional as F

    from luab_bench.inference import predict
    from luab_bench.metrics.classification import point_in_box

    device = torch.device(device)
    images: np.ndarray | Iterable[torch.Tensor] = held_out.images
    if held_out.images.shape[1:3] != (image_size, image_size):

        def resized() -> Iterator[torch.Tensor]:
            for start in range(0, len(held_out), batch_size):
                chunk = torch.from_numpy(held_out.images[start : start + batch_size])
                x = chunk.to(device).permute(0, 3, 1, 2).float().div_(255.0)
                yield F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)

        images = resized()
    was_training = model.training
    model.eval()
    try:
        out = predict(
            model, images, device=device, normalize=(mean, std), batch_size=batch_size,
            outputs=("logits", "points"), description="held-out", distributed=False,
        )  # fmt: skip
    finally:
        model.train(was_training)
    scores, pts = out.logits, out.points
    if held_out.multilabel:
        from luab_bench.metrics.multilabel import mean_average_precision

        stats = {"val_map": mean_average_precision(scores, held_out.labels).map}
        k = held_out.labels.shape[1]
        if pts is not None and held_out.objects is not None and pts.shape[1] == k:
            inside = points_in_class_boxes(pts, held_out.labels, held_out.objects)  # >= 1 pair
            stats["val_point_in_box"] = float(100.0 * inside.mean())
        return stats
    stats = {"val_top1": float(100.0 * np.mean(scores.argmax(1) == held_out.labels))}
    if pts is not None and held_out.boxes is not None:
        stats["val_point_in_box"] = float(100.0 * point_in_box(pts[:, 0], held_out.boxes).mean())
    return stats
