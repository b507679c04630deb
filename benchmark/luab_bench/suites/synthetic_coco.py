"""The ``synthetic-coco`` suite: the embedded COCO-AB-like multi-label split (data/synthetic_coco.py).

Metrics on the ``val`` split of a generated dataset directory:

- ``synthetic_coco_map``: multi-label mAP of the class logits against ``labels.npy`` (bootstrap over
  images), the analogue of ``coco_map``.
- ``synthetic_coco_point_loc_acc``: only for models with one point head per class: over every
  (image, present class) pair, the class's predicted point lies inside a visible box of that class
  (``objects.npy``; borders inclusive). Bootstrap over pairs.

- ``synthetic_coco_vavg`` / ``synthetic_coco_vmin`` (lower is better) and ``synthetic_coco_self_drop``:
  the COCO V^avg / V^min of LUAB §5.2 on the val images with >= 2 classes, each class erased through
  its exact visible-pixel mask (no dilation) filled with the image's mean colour
  (:mod:`luab_bench.metrics.context`; the operational definition is ours, the paper gives no formula).

- ``synthetic_coco_mpxap``: LUAB Table 5's class-averaged mPxAP of per-class CAMs against the exact
  class masks (:mod:`luab_bench.suites.class_pxap`), for models with timm's CAM interface.

Images are fed at their stored size, scaled to [0, 1] and normalised with ``normalize``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError, LuabError
from luab_bench.metrics.bootstrap import bootstrap_ci
from luab_bench.metrics.classification import accuracy
from luab_bench.metrics.context import context_metrics
from luab_bench.run.spec import MULTILABEL_PROTOCOLS, SuiteTraining
from luab_bench.suites.base import SUITES, EvalOutcome, EvalSettings, Suite, make_metric, predict
from luab_bench.suites.class_pxap import ClassPxap, supports_cam
from luab_bench.suites.coco import map_metric
from luab_bench.suites.context import SYNTHETIC_DILATE_PX, erasure_note, score_array_erasures


def points_in_class_boxes(points: np.ndarray, labels: np.ndarray, objects: np.ndarray) -> np.ndarray:
    """Per (image, present class) pair, in row-major order: is class k's point inside a box of k?"""
    out = []
    for i, k in zip(*np.nonzero(labels), strict=True):
        boxes = objects[(objects[:, 0] == i) & (objects[:, 1] == k), 2:6]
        x, y = points[i, k]
        out.append(
            bool(np.any((boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])))
        )
    return np.asarray(out, dtype=bool)


@SUITES.register("synthetic-coco")
class SyntheticCocoSuite(Suite):
    """mAP (+ per-class point localisation) on a generated synthetic COCO-AB dataset's val split."""

    name = "synthetic-coco"
    # the synthetic recipe (64 px, 5 epochs) is calibrated for the single-label split; used as is here
    training = SuiteTraining("synthetic-coco", "synthetic-coco", "synthetic", MULTILABEL_PROTOCOLS)
    description = "Embedded multi-label COCO-like split: mAP, V^avg / V^min, mPxAP, per-class point-loc"

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Evaluate on ``<dataset_dir>/val``; model outputs must have one logit per class."""
        from luab_bench.data.synthetic_coco import load_coco_split

        if dataset_dir is None or not dataset_dir.is_dir():
            raise DataError(
                f"{dataset_dir}: synthetic-coco dataset not found; generate it with "
                "luab_bench.data.synthetic_coco.generate_coco"
            )
        split = load_coco_split(dataset_dir, "val")
        labels = np.asarray(split["labels"], dtype=bool)
        seed, n_boot = settings.seed, settings.n_boot
        masks = np.asarray(split["masks"])
        cam = ClassPxap(model, labels, lambda i: {k: masks[i, k] for k in np.nonzero(labels[i])[0]})
        out = predict(
            model, np.asarray(split["images"]), device=settings.device, normalize=settings.normalize,
            batch_size=settings.batch_size, outputs=("logits", "points"), progress=settings.progress,
            description="synthetic-coco/val", hooks={"cam": cam.hook} if supports_cam(model) else None,
        )  # fmt: skip
        logits, points = out.logits, out.points
        if logits.shape[1] != labels.shape[1]:
            raise LuabError(
                f"synthetic-coco: the model has {logits.shape[1]} outputs but the data has "
                f"{labels.shape[1]} classes; create it with num_classes={labels.shape[1]}"
            )
        metrics = {
            "synthetic_coco_map": map_metric(
                logits,
                labels,
                seed=seed,
                n_boot=n_boot,
                key="synthetic_coco_map",
                task="synthetic-coco/val: multi-label mAP over classes",
            )
        }
        if points is not None and points.shape[1] == labels.shape[1]:
            inside = points_in_class_boxes(points, labels, np.asarray(split["objects"]))
            ci = bootstrap_ci(100.0 * inside, n_boot=n_boot, seed=[seed, 7])
            metrics["synthetic_coco_point_loc_acc"] = make_metric(
                accuracy(inside),
                n=inside.size,
                ci=(ci.low, ci.high),
                unit="%",
                higher_is_better=True,
                task="synthetic-coco/val: class-k point inside a visible box of class k, per present class",
            )
        if supports_cam(model) and (mpxap := cam.metric("synthetic-coco/val, exact masks")) is not None:
            metrics["synthetic_coco_mpxap"] = mpxap
        erasures = score_array_erasures(
            model, np.asarray(split["images"]), labels, masks, settings,
            dilate_px=SYNTHETIC_DILATE_PX, description="synthetic-coco/val erasure",
        )  # fmt: skip
        metrics.update(
            context_metrics(
                erasures, prefix="synthetic_coco", dataset="synthetic-coco/val", seed=seed, n_boot=n_boot,
                erasure=erasure_note(SYNTHETIC_DILATE_PX),
            )
        )  # fmt: skip
        return EvalOutcome(metrics)
