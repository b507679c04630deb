"""COCO WSOL as LUAB Table 5 reports it: the class-averaged mPxAP of per-class CAMs (Choe et al. [14]).

LUAB §5.2: a CAM is computed for every class and the class-averaged mPxAP [14] is reported (R50: 20.8
baseline, 21.5 LUAB). Operationally (the text gives no more detail; the choices marked *ours*):

* for each image and each of its labelled classes c (*ours*: only labelled classes, the "GT-known"
  setting of [14]'s PxAP, where the CAM of the true class is scored), the CAM of c
  (:func:`luab_bench.suites.wsol.all_class_activation_maps`: classifier weight of c times the last
  feature map), upsampled bicubically to the model input and min-max normalised, as [14] does;
* the ground truth is the union of c's instance masks at the model input resolution (COCO: decoded
  at the original size, resized nearest-neighbour as [14] resizes its masks; the embedded split: its
  exact masks);
* PxAP_c = [14]'s PxAP (:func:`luab_bench.metrics.wsol.pxap`'s histograms, bin width 0.001) pooled
  over the CAMs of class c; **mPxAP** = the mean of PxAP_c over the classes with at least one
  foreground pixel. Like ``wsol_pxap`` it has no bootstrap interval (``n`` = classes averaged).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import LuabError
from luab_bench.metrics.ranking import average_precision_from_histograms
from luab_bench.metrics.wsol import CAM_CURVE_INTERVAL, cam_thresholds, normalize_cam, pixel_histograms

if TYPE_CHECKING:
    import torch

#: ``masks_for(row) -> {class index: bool (H, W) at the model input size}`` for image ``row``.
MasksFor = Callable[[int], Mapping[int, np.ndarray]]


def supports_cam(model: Any) -> bool:
    """Does the model expose timm's ``forward_features`` and a linear ``get_classifier()``?"""
    import torch

    net = getattr(model, "backbone", model)
    if not (hasattr(net, "forward_features") and hasattr(net, "get_classifier")):
        return False
    return isinstance(net.get_classifier(), torch.nn.Linear)


def resize_masks(masks: Mapping[int, np.ndarray], size: tuple[int, int]) -> dict[int, np.ndarray]:
    """Class masks resized nearest-neighbour to ``size`` = (H, W), as [14] resizes its masks."""
    from PIL import Image

    h, w = size
    return {
        k: np.asarray(Image.fromarray(np.asarray(m, np.uint8) * 255).resize((w, h), Image.NEAREST)) > 127
        for k, m in masks.items()
    }


class ClassPxap:
    """Per-class PxAP histograms, filled batch by batch (:meth:`hook`), then :meth:`metric`."""

    def __init__(
        self, model: Any, labels: np.ndarray, masks_for: MasksFor, interval: float = CAM_CURVE_INTERVAL
    ) -> None:
        self.model, self.masks_for, self.interval = model, masks_for, interval
        self.labels = np.asarray(labels, dtype=bool)
        bins = len(cam_thresholds(interval)) + 2
        k = self.labels.shape[1]
        self.pos = np.zeros((k, bins))
        self.neg = np.zeros((k, bins))
        self.cams = np.zeros(k, dtype=np.int64)

    def add(self, cam: np.ndarray, mask: np.ndarray, k: int) -> None:
        """Accumulate one normalised CAM (H, W) in [0, 1] of class ``k`` against its mask."""
        p, n = pixel_histograms(cam, mask.astype(np.uint8), self.interval)
        self.pos[k] += p
        self.neg[k] += n
        self.cams[k] += 1

    def hook(self, x: torch.Tensor, rows: slice) -> np.ndarray:
        """A :func:`~luab_bench.suites.base.predict` hook: CAMs of each image's labelled classes."""
        import torch.nn.functional as F

        from luab_bench.suites.wsol import all_class_activation_maps

        cams = all_class_activation_maps(self.model, x)
        if cams.shape[1] != self.labels.shape[1]:
            raise LuabError(
                f"per-class CAMs: the model has {cams.shape[1]} classes but the data has "
                f"{self.labels.shape[1]}; create it with num_classes={self.labels.shape[1]}"
            )
        size = tuple(x.shape[-2:])
        for b, row in enumerate(range(rows.start, rows.stop)):
            classes = np.nonzero(self.labels[row])[0]
            if classes.size == 0:
                continue
            masks = self.masks_for(row)
            up = F.interpolate(cams[b, classes][:, None], size=size, mode="bicubic", align_corners=False)
            for cam, k in zip(up[:, 0].float().cpu().numpy(), classes, strict=True):
                self.add(normalize_cam(cam), np.asarray(masks[int(k)]), int(k))
        return np.zeros(rows.stop - rows.start, dtype=np.float32)

    def metric(self, task: str) -> dict[str, Any] | None:
        """``{value, n, …}``: mean over classes with a foreground pixel of 100 · AP; None if there is none."""
        from luab_bench.suites.base import make_metric

        keep = np.nonzero(self.pos.sum(axis=1) > 0)[0]
        if keep.size == 0:
            return None
        aps = [100.0 * average_precision_from_histograms(self.pos[k], self.neg[k]) for k in keep]
        return make_metric(
            float(np.mean(aps)), n=int(keep.size), ci=None, unit="%", higher_is_better=True,
            task=f"{task}: class-averaged PxAP of per-class CAMs over {int(self.cams.sum())} (image, "
            f"labelled class) CAMs, {keep.size} classes (LUAB Table 5 / Choe et al.; no bootstrap)",
        )  # fmt: skip
