"""Held-out evaluation after every epoch: top-1 and point-localisation accuracy (paper Fig. 8/9).

:class:`HeldOutSet` is a small, fixed subset of a labelled split with its true object boxes (the
synthetic suite's ``val`` split has them). :func:`evaluate_held_out` runs the model in eval mode
without gradients on it, at the training ``image_size`` (bilinear resize when the images differ, as
``train.data.iter_batches`` does without augmentation), and returns

- ``val_top1``: % of images whose arg-max class is the label;
- ``val_point_in_box`` (only with a point head and boxes): % of images whose predicted point of
  head 0 lies inside the true box, borders inclusive — ``metrics.classification.point_in_box``, the
  same definition as the suite's ``point_loc_acc`` (on the subset, so the numbers differ from the
  final metric by the subset's sampling error).

It draws no random numbers and restores the model's train/eval mode, so turning it on does not
change the training trajectory (a resumed run stays bit-identical).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from luab_bench.errors import DataError

if TYPE_CHECKING:
    import torch


@dataclasses.dataclass(frozen=True)
class HeldOutSet:
    """uint8 images (N, H, W, 3), int labels (N,), optional boxes (N, 4) xyxy relative to the image."""

    images: np.ndarray
    labels: np.ndarray
    boxes: np.ndarray | None = None

    def __post_init__(self) -> None:
        im, lb, bx = self.images, self.labels, self.boxes
        if im.ndim != 4 or im.shape[-1] != 3 or im.dtype != np.uint8:
            raise DataError(f"held-out images must be uint8 (N, H, W, 3), got {im.dtype} {im.shape}")
        if lb.shape != (im.shape[0],) or not np.issubdtype(lb.dtype, np.integer):
            raise DataError(f"held-out labels must be integers of shape ({im.shape[0]},), got {lb.shape}")
        if bx is not None and bx.shape != (im.shape[0], 4):
            raise DataError(f"held-out boxes must have shape ({im.shape[0]}, 4), got {bx.shape}")
        if im.shape[0] == 0:
            raise DataError("the held-out set is empty")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @classmethod
    def subset(
        cls,
        images: np.ndarray,
        labels: np.ndarray,
        boxes: np.ndarray | None = None,
        *,
        max_samples: int = 512,
        seed: int = 0,
    ) -> HeldOutSet:
        """At most ``max_samples`` images drawn without replacement by ``seed`` (all if fewer),
        kept in index order (sequential reads from a memmap), copied into memory."""
        n = int(images.shape[0])
        if max_samples < 1:
            raise DataError(f"held-out max_samples must be >= 1, got {max_samples}")
        if n <= max_samples:
            idx = np.arange(n)
        else:
            idx = np.sort(np.random.default_rng(seed).choice(n, size=max_samples, replace=False))
        return cls(
            np.ascontiguousarray(images[idx]),
            np.asarray(labels[idx], dtype=np.int64),
            None if boxes is None else np.asarray(boxes[idx], dtype=np.float32),
        )


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
    """``val_top1`` (and ``val_point_in_box`` with a point head and boxes) of ``model`` on the set."""
    import torch
    import torch.nn.functional as F

    from luab_bench.metrics.classification import point_in_box

    device = torch.device(device)
    m = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    preds, points = [], []
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(held_out), batch_size):
                chunk = torch.from_numpy(held_out.images[start : start + batch_size])
                x = chunk.to(device).permute(0, 3, 1, 2).float().div_(255.0)
                if x.shape[-2:] != (image_size, image_size):
                    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
                out = model((x - m) / s)
                preds.append(out.logits.argmax(1).cpu())
                if out.points is not None:
                    points.append(out.points[:, 0].float().cpu())
    finally:
        model.train(was_training)
    pred = torch.cat(preds).numpy()
    stats = {"val_top1": float(100.0 * np.mean(pred == held_out.labels))}
    if points and held_out.boxes is not None:
        inside = point_in_box(torch.cat(points).numpy(), held_out.boxes)
        stats["val_point_in_box"] = float(100.0 * inside.mean())
    return stats
