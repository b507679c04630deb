"""Object erasure for V^avg / V^min (LUAB §5.2): build the erased images, score them, hand the scores on.

For an eligible image (≥ 2 labelled classes) with labelled classes ``c_1 < … < c_L`` the model sees
L + 1 images: the clean one and, for each ``c_j``, the image with every instance of ``c_j`` erased.
Erasing = setting the pixels of the class's mask (the union of its instance masks, dilated by
``dilate_px`` pixels with a 3 × 3 square structuring element, i.e. a Chebyshev radius) to the
image's mean colour (per-channel mean over all pixels of the clean image, rounded to uint8). The
dilation covers the object's anti-aliased rim and annotation slack; it is **ours**, as is the mean-colour
fill (the paper gives neither; Shetty et al. erase objects with an in-painter, which we do not ship):

* real COCO (``coco`` suite): polygon / RLE instance masks of ``instances_val2014.json``,
  :data:`COCO_DILATE_PX` = 4 px at the original image resolution, then the same resize as ``coco_map``;
* embedded split (``synthetic-coco`` suite): its exact visible-pixel masks, no dilation
  (:data:`SYNTHETIC_DILATE_PX` = 0).

The scores go to :func:`luab_bench.metrics.context.context_metrics` (definitions there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.metrics.context import ErasureScores, sigmoid_score

if TYPE_CHECKING:
    import torch

    from luab_bench.suites.base import EvalSettings
    from luab_bench.suites.coco_data import CocoSet

COCO_DILATE_PX = 4
SYNTHETIC_DILATE_PX = 0


def erasure_note(dilate_px: int) -> str:
    """How objects were erased, for the metrics' ``task`` text."""
    grow = f"masks dilated by {dilate_px} px (3x3 square)" if dilate_px else "exact masks, no dilation"
    return f"erased = class masks filled with the image's mean colour, {grow}"


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` grown by ``pixels`` (3 × 3 square element, ``pixels`` iterations); 0 returns it as is."""
    m = np.asarray(mask, dtype=bool)
    if pixels <= 0 or not m.any():
        return m
    from scipy import ndimage

    return ndimage.binary_dilation(m, structure=np.ones((3, 3), dtype=bool), iterations=int(pixels))


def mean_colour(image: np.ndarray) -> np.ndarray:
    """Per-channel mean over all pixels of a uint8 (H, W, 3) image, rounded to uint8 (3,)."""
    return np.rint(np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)).astype(np.uint8)


def erasure_stack(
    image: np.ndarray, masks: Mapping[int, np.ndarray], classes: np.ndarray, dilate_px: int
) -> np.ndarray:
    """uint8 (L + 1, H, W, 3): the clean image, then one copy per class in ``classes`` with it erased."""
    img = np.asarray(image, dtype=np.uint8)
    fill = mean_colour(img)
    out = np.repeat(img[None], len(classes) + 1, axis=0)
    for j, c in enumerate(classes, start=1):
        m = masks.get(int(c))
        if m is None:
            raise DataError(f"erasure: no mask for labelled class {int(c)}")
        if m.shape != img.shape[:2]:
            raise DataError(f"erasure: mask shape {m.shape} differs from the image's {img.shape[:2]}")
        out[j][dilate(m, dilate_px)] = fill
    return out


def _split(logits: np.ndarray, classes: list[np.ndarray]) -> list[ErasureScores]:
    scores = sigmoid_score(logits)
    items, start = [], 0
    for cls in classes:
        block = scores[start : start + len(cls) + 1]
        items.append(ErasureScores(cls, block[0], block[1:]))
        start += len(cls) + 1
    return items


def eligible(labels: np.ndarray) -> list[int]:
    """Rows of a multi-hot (N, K) array with at least two labelled classes."""
    return [int(i) for i in np.nonzero(np.asarray(labels, dtype=bool).sum(axis=1) >= 2)[0]]


def score_array_erasures(
    model: Any,
    images: np.ndarray,
    labels: np.ndarray,
    masks: np.ndarray,
    settings: EvalSettings,
    *,
    dilate_px: int = SYNTHETIC_DILATE_PX,
    description: str = "context",
) -> list[ErasureScores]:
    """Scores of every eligible image of in-memory uint8 (N, H, W, 3) images with (N, K, H, W) masks."""
    from luab_bench.suites.base import predict

    rows = eligible(labels)
    if not rows:
        return []
    classes = [np.nonzero(labels[i])[0] for i in rows]
    stack = np.concatenate(
        [
            erasure_stack(images[i], {int(c): masks[i, c] for c in cls}, cls, dilate_px)
            for i, cls in zip(rows, classes, strict=True)
        ]
    )
    out = predict(
        model, stack, device=settings.device, normalize=settings.normalize, batch_size=settings.batch_size,
        outputs=("logits",), progress=settings.progress, description=description,
    )  # fmt: skip
    assert out.logits is not None
    return _split(out.logits, classes)


def score_coco_erasures(
    model: Any,
    cset: CocoSet,
    transform: Callable[[Any], torch.Tensor],
    settings: EvalSettings,
    *,
    dilate_px: int = COCO_DILATE_PX,
) -> list[ErasureScores]:
    """Scores of every eligible COCO image: erasure at the original size, then ``transform`` (PIL -> CHW)."""
    from luab_bench.suites.base import predict
    from luab_bench.suites.coco_data import class_masks

    rows = eligible(cset.targets)
    if not rows:
        return []
    classes = [np.nonzero(cset.targets[i])[0] for i in rows]
    total = sum(len(c) + 1 for c in classes)

    def batches() -> Iterator[torch.Tensor]:
        import torch
        from PIL import Image

        pending: list[torch.Tensor] = []
        for i, cls in zip(rows, classes, strict=True):
            path: Path = cset.paths[i]
            try:
                with Image.open(path) as im:
                    img = np.asarray(im.convert("RGB"))
            except OSError as e:
                raise DataError(f"coco: cannot read image {path} ({e}); re-download val2014") from None
            if img.shape[:2] != tuple(cset.sizes[i]):
                raise DataError(
                    f"coco: {path} is {img.shape[1]}x{img.shape[0]} px but the instances file says "
                    f"{cset.sizes[i][1]}x{cset.sizes[i][0]}; re-download val2014 or the annotations"
                )
            for variant in erasure_stack(img, class_masks(cset, i), cls, dilate_px):
                pending.append(transform(Image.fromarray(variant)))
                if len(pending) == settings.batch_size:
                    yield torch.stack(pending)
                    pending = []
        if pending:
            yield torch.stack(pending)

    out = predict(
        model, batches(), device=settings.device, normalize=None, batch_size=settings.batch_size,
        outputs=("logits",), progress=settings.progress, description="coco/erasure", total=total,
    )  # fmt: skip
    assert out.logits is not None
    return _split(out.logits, classes)
