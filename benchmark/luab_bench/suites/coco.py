"""The ``coco`` suite: multi-label classification on COCO-2014 val (the paper's Table 6).

``coco_map``: mean over classes of per-class AP of the model's class logits against the multi-hot
targets (:func:`luab_bench.metrics.multilabel.mean_average_precision`), n = images, 95% percentile
bootstrap over images. Images are resized to the model's input size *without* a centre crop (the
multi-label COCO convention: a crop would cut labelled objects out) and normalised with the
model's timm data config.

``coco_vavg`` / ``coco_vmin`` (LUAB §5.2, Tables 6-7, after Shetty et al. 2019; lower is better) and
the diagnostic ``coco_self_drop``: object-erasure context dependence over the val images with >= 2
labelled classes, each class erased by filling its instance masks (dilated by
:data:`luab_bench.suites.context.COCO_DILATE_PX` px) with the image's mean colour. The paper prints
no formula: the operational definition is ours (:mod:`luab_bench.metrics.context`) and every metric's
``task`` says so.

``coco_mpxap`` (LUAB Table 5): the class-averaged PxAP of per-class CAMs against the instance masks
(:mod:`luab_bench.suites.class_pxap`), for models with timm's CAM interface.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.metrics.bootstrap import bootstrap_index_ci
from luab_bench.metrics.context import context_metrics
from luab_bench.metrics.multilabel import mean_average_precision
from luab_bench.run.spec import MULTILABEL_PROTOCOLS, SuiteTraining
from luab_bench.seeds import named_seed
from luab_bench.suites.base import SUITES, EvalOutcome, EvalSettings, Suite, make_metric, predict
from luab_bench.suites.class_pxap import ClassPxap, resize_masks, supports_cam
from luab_bench.suites.coco_data import class_masks
from luab_bench.suites.context import COCO_DILATE_PX, erasure_note, score_coco_erasures

ENV_VAR = "LUAB_BENCH_COCO_ROOT"
HOW_TO_GET = (
    "val2014.zip and annotations_trainval2014.zip from cocodataset.org, unpacked so that "
    "<root>/val2014/ and <root>/annotations/instances_val2014.json exist"
)


def map_metric(
    scores: np.ndarray, targets: np.ndarray, *, seed: int, n_boot: int, key: str, task: str
) -> dict[str, Any]:
    """``mean_average_precision`` as a metric dict with a bootstrap interval over images (rows)."""
    res = mean_average_precision(scores, targets)
    t = np.asarray(targets, dtype=bool)

    def stat(idx: np.ndarray) -> float:
        sub = t[idx]
        return mean_average_precision(scores[idx], sub).map if sub.any() else 0.0

    ci = bootstrap_index_ci(stat, t.shape[0], n_boot=n_boot, seed=named_seed(seed, key))
    note = f"; {res.n_excluded} classes without a positive excluded" if res.n_excluded else ""
    return make_metric(
        res.map, n=t.shape[0], ci=(ci.low, ci.high), unit="%", higher_is_better=True, task=task + note
    )


def coco_transform(data_config: dict[str, Any]) -> Any:
    """PIL image -> normalised CHW tensor at the model's input size (bilinear resize, no crop)."""
    from torchvision import transforms as T

    size = tuple(data_config["input_size"][-2:])
    return T.Compose(
        [
            T.Resize(size, interpolation=T.InterpolationMode.BILINEAR),
            T.ToTensor(),
            T.Normalize(data_config["mean"], data_config["std"]),
        ]
    )


def score_images(
    model: Any,
    paths: list[Path],
    *,
    data_config: dict[str, Any],
    device: Any,
    batch_size: int,
    progress: Any = None,
    description: str = "coco",
    hooks: dict[str, Any] | None = None,
) -> np.ndarray:
    """Class logits (N, C) of image files, resized (no crop) to the model's input size (+ ``hooks``)."""
    from torch.utils.data import DataLoader

    from luab_bench.suites.image_files import ImageFiles

    loader = DataLoader(ImageFiles(paths, coco_transform(data_config)), batch_size=batch_size)
    out = predict(
        model, loader, device=device, batch_size=batch_size, outputs=("logits",), progress=progress,
        description=description, total=len(paths), hooks=hooks,
    )  # fmt: skip
    return out.logits if out.logits is not None else np.zeros((0, 0), dtype=np.float32)


@SUITES.register("coco")
class CocoSuite(Suite):
    """COCO-2014 val multi-label mAP; ``dataset_dir`` (or $LUAB_BENCH_COCO_ROOT) is the COCO root."""

    name = "coco"
    training = SuiteTraining("coco-ab", None, "resnet_coco_multilabel", MULTILABEL_PROTOCOLS)
    description = "COCO-2014 val multi-label classification: mAP over the 80 classes, V^avg / V^min"

    default_batch_size = 64

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Score every val image on disk; raises DataError naming where to get missing data."""
        from luab_bench.suites.coco_data import load_coco
        from luab_bench.suites.image_files import data_config_for

        root = dataset_dir or os.environ.get(ENV_VAR)
        if not root or not Path(root).exists():
            raise DataError(f"coco suite: no data at {root or '$' + ENV_VAR}; get {HOW_TO_GET}")
        cset = load_coco(root)
        cfg = data_config_for(model, settings.normalize)
        size = tuple(int(v) for v in cfg["input_size"][-2:])
        cam = ClassPxap(model, cset.targets, lambda i: resize_masks(class_masks(cset, i), size))  # type: ignore[arg-type]
        scores = score_images(
            model, cset.paths, data_config=cfg, device=settings.device, batch_size=settings.batch_size,
            progress=settings.progress, hooks={"cam": cam.hook} if supports_cam(model) else None,
        )  # fmt: skip
        if scores.shape[1] != cset.targets.shape[1]:
            raise DataError(
                f"coco suite: the model has {scores.shape[1]} outputs but COCO has "
                f"{cset.targets.shape[1]} classes; create it with num_classes={cset.targets.shape[1]}"
            )
        metrics = {
            "coco_map": map_metric(
                scores,
                cset.targets,
                seed=settings.seed,
                n_boot=settings.n_boot,
                key="coco_map",
                task="COCO-2014 val: multi-label mAP over classes (resize, no crop)",
            )
        }
        if supports_cam(model) and (mpxap := cam.metric("COCO-2014 val, instance masks")) is not None:
            metrics["coco_mpxap"] = mpxap
        erasures = score_coco_erasures(model, cset, coco_transform(cfg), settings, dilate_px=COCO_DILATE_PX)
        metrics.update(
            context_metrics(
                erasures, prefix="coco", dataset="COCO-2014 val", seed=settings.seed,
                n_boot=settings.n_boot, erasure=erasure_note(COCO_DILATE_PX),
            )
        )  # fmt: skip
        return EvalOutcome(metrics)
