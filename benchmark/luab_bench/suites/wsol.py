"""WSOL on real data in clovaai/wsolevaluation's layout: MaxBoxAccV2, PxAP and point-head localisation.

Layout (wsolevaluation checkout): ``<root>/metadata/<DATASET>/test/`` with ``image_ids.txt`` (one
image path per line, relative to ``<root>/dataset/<DATASET>/``), ``class_labels.txt``
(``path,label``) and ``localization.txt``: boxes as ``path,x0,y0,x1,y1`` in original pixels, one line
per box (ILSVRC, CUB); or masks as ``path,mask_path,ignore_path`` (OpenImages; PNGs under the dataset
folder, ``ignore_path`` may be empty).

As in wsolevaluation, images are resized to ``resize`` x ``resize`` (224, no crop) and boxes scaled to
that grid (``x * resize / width``), so integer box coordinates follow the reference's inclusive
convention. The CAM is the true class's: ``sum_c W[k, c] * F[c, :, :]`` with ``F`` the backbone's
last feature map (``forward_features``) and ``W`` the classifier weight, upsampled (bicubic) to the
image and min-max normalised. For ViTs ``forward_features`` gives tokens: the prefix (class /
register) tokens are dropped and the patch tokens reshaped to their grid, then projected the same
way; heads with a pre-logits norm (``fc_norm``) are ignored, so that CAM is an approximation of the
classifier's evidence, not the token-pooling model itself.

Metrics: ``wsol_maxboxacc_v2`` (+ ``wsol_boxacc_iou30/50/70``) from :mod:`luab_bench.metrics.wsol`
when boxes exist; ``wsol_pxap`` when masks exist; ``wsol_point_loc_acc`` = the point head's
prediction (model-input-relative, = image-relative since there is no crop) inside any ground-truth
box, for models with a point head and boxes. Intervals: bootstrap over images. ``wsol_point_loc_acc``
is the one plain per-image mean, so it alone is recorded per image (the result's ``per_image`` block;
:func:`score_wsol`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_index_ci
from luab_bench.metrics.wsol import (
    IOU_THRESHOLDS,
    box_accuracy_from_ious,
    max_box_acc_v2,
    normalize_cam,
    pxap,
)
from luab_bench.seeds import named_seed
from luab_bench.suites.base import SUITES, EvalOutcome, EvalSettings, Suite, make_metric, predict

if TYPE_CHECKING:
    import torch

RESIZE = 224


@dataclass
class WsolMetadata:
    """Image paths, labels, and per-image boxes (original pixels) or (mask, ignore) paths."""

    paths: list[str]
    labels: np.ndarray
    boxes: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=dict)
    masks: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _lines(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DataError(f"wsol: {path} missing; copy metadata/ from github.com/clovaai/wsolevaluation")
    return [ln.strip().split(",") for ln in path.read_text().splitlines() if ln.strip()]


def load_wsol_metadata(metadata_dir: str | Path) -> WsolMetadata:
    """Parse ``image_ids.txt``, ``class_labels.txt`` and ``localization.txt`` (see module docstring)."""
    d = Path(metadata_dir)
    ids = [r[0] for r in _lines(d / "image_ids.txt")]
    labels = {r[0]: int(r[1]) for r in _lines(d / "class_labels.txt")}
    meta = WsolMetadata(ids, np.asarray([labels.get(i, -1) for i in ids], dtype=np.int64))
    if (meta.labels < 0).any():
        raise DataError(f"wsol: {d / 'class_labels.txt'} lacks labels for some images in image_ids.txt")
    for r in _lines(d / "localization.txt"):
        try:
            if len(r) == 5:
                meta.boxes.setdefault(r[0], []).append(tuple(float(v) for v in r[1:]))  # type: ignore[arg-type]
            elif len(r) in (2, 3):
                meta.masks.setdefault(r[0], []).append((r[1], r[2] if len(r) == 3 else ""))
            else:
                raise ValueError(f"{len(r)} fields")
        except ValueError as e:
            raise DataError(f"wsol: {d / 'localization.txt'}: bad line {','.join(r)!r} ({e})") from None
    return meta


def scale_boxes(boxes: Any, width: int, height: int, resize: int = RESIZE) -> np.ndarray:
    """wsolevaluation's ``resize_bbox``: original-pixel xyxy boxes to the ``resize`` grid, as ints."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    s = np.array([resize / width, resize / height, resize / width, resize / height])
    return (b * s).astype(np.int64)


def cam_features(model: Any, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The last feature map (B, C, h, w) and the linear classifier's weight (K, C) (see module docstring)."""
    import torch

    net = getattr(model, "backbone", model)
    feats = net.forward_features(x)
    if feats.ndim == 3:  # tokens (B, N, C): drop prefix tokens, reshape patches to the grid
        feats = feats[:, getattr(net, "num_prefix_tokens", 0) :]
        side = round(feats.shape[1] ** 0.5)
        if side * side != feats.shape[1]:
            raise DataError(f"wsol: cannot reshape {feats.shape[1]} patch tokens to a square grid")
        feats = feats.transpose(1, 2).reshape(feats.shape[0], -1, side, side)
    head = net.get_classifier()
    if not isinstance(head, torch.nn.Linear):
        raise DataError(f"wsol: CAM needs a linear classifier, got {type(head).__name__}")
    return feats, head.weight


def class_activation_maps(model: Any, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """CAMs (B, h, w) of ``classes`` from the last feature map (see module docstring for ViTs)."""
    import torch

    feats, weight = cam_features(model, x)
    return torch.einsum("bc,bchw->bhw", weight[classes], feats)


def all_class_activation_maps(model: Any, x: torch.Tensor) -> torch.Tensor:
    """CAMs (B, K, h, w) of every class (the per-class CAMs of LUAB Table 5's COCO WSOL)."""
    import torch

    feats, weight = cam_features(model, x)
    return torch.einsum("kc,bchw->bkhw", weight, feats)


def evaluate_wsol(
    model: Any,
    root: str | Path,
    dataset: str = "ILSVRC",
    *,
    data_config: dict[str, Any],
    device: Any = "cpu",
    batch_size: int = 32,
    seed: int = 0,
    n_boot: int = 1000,
    cam_curve_interval: float = 0.001,
    progress: Any = None,
) -> dict[str, dict[str, Any]]:
    """All WSOL metrics for a wsolevaluation checkout at ``root`` (see module docstring)."""
    return score_wsol(
        model, root, dataset, data_config=data_config, device=device, batch_size=batch_size, seed=seed,
        n_boot=n_boot, cam_curve_interval=cam_curve_interval, progress=progress,
    )[0]  # fmt: skip


def score_wsol(
    model: Any,
    root: str | Path,
    dataset: str = "ILSVRC",
    *,
    data_config: dict[str, Any],
    device: Any = "cpu",
    batch_size: int = 32,
    seed: int = 0,
    n_boot: int = 1000,
    cam_curve_interval: float = 0.001,
    progress: Any = None,
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """:func:`evaluate_wsol`'s metrics and the per-image correctness behind the plain-mean ones.

    Only ``wsol_point_loc_acc`` is a plain mean over images (point inside any box, over the images
    with boxes in ``image_ids.txt`` order); BoxAcc picks its CAM threshold on the whole set (the
    per-image hits depend on the others), MaxBoxAccV2 averages three BoxAccs and PxAP pools pixels,
    so none of those has a per-image vector.
    """
    import torch
    import torch.nn.functional as F
    from PIL import Image

    root = Path(root)
    meta = load_wsol_metadata(root / "metadata" / dataset / "test")
    img_root = root / "dataset" / dataset
    sizes: list[tuple[int, int]] = []

    def batches() -> Any:  # uint8 NHWC batches at RESIZE x RESIZE; records each original size
        for s in range(0, len(meta.paths), batch_size):
            arrs = []
            for p in meta.paths[s : s + batch_size]:
                try:
                    with Image.open(img_root / p) as im:
                        sizes.append(im.size)
                        arrs.append(np.asarray(im.convert("RGB").resize((RESIZE, RESIZE), Image.BILINEAR)))
                except OSError as e:
                    raise DataError(f"wsol: cannot read image {img_root / p} ({e})") from None
            yield torch.from_numpy(np.stack(arrs))

    def cam_hook(x: torch.Tensor, rows: slice) -> np.ndarray:  # true-class CAM, bicubic, min-max
        cam = class_activation_maps(model, x, torch.as_tensor(meta.labels[rows]).to(x.device))
        cam = F.interpolate(cam[:, None], size=(RESIZE, RESIZE), mode="bicubic", align_corners=False)
        return np.stack([normalize_cam(c) for c in cam[:, 0].float().cpu().numpy()])

    was_training = model.training
    model.to(device).eval()
    try:
        pred = predict(
            model, batches(), device=device, normalize=(data_config["mean"], data_config["std"]),
            batch_size=batch_size, outputs=("points",), hooks={"cam": cam_hook},
            progress=progress, description=f"wsol/{dataset}", total=len(meta.paths),
        )  # fmt: skip
    finally:
        model.train(was_training)
    cams = list(pred.extra["cam"])
    pts = [pred.points[:, 0]] if pred.points is not None else []

    def seed_for(key: str) -> list[int]:
        return named_seed(seed, key)

    out: dict[str, dict[str, Any]] = {}
    per_image: dict[str, np.ndarray] = {}
    with_boxes = [i for i, p in enumerate(meta.paths) if p in meta.boxes]
    if with_boxes:
        gts = [scale_boxes(meta.boxes[meta.paths[i]], *sizes[i]) for i in with_boxes]
        res = max_box_acc_v2([cams[i] for i in with_boxes], gts, cam_curve_interval=cam_curve_interval)
        n = len(with_boxes)

        def stat(idx: np.ndarray, d: int | None = None) -> float:
            per = box_accuracy_from_ious(res.ious[idx])
            return per[d] if d is not None else float(np.mean(list(per.values())))

        ci = bootstrap_index_ci(stat, n, n_boot=n_boot, seed=seed_for("wsol_maxboxacc_v2"))
        out["wsol_maxboxacc_v2"] = make_metric(
            res.max_box_acc_v2, n=n, ci=(ci.low, ci.high), unit="%", higher_is_better=True,
            task=f"WSOL {dataset}: MaxBoxAccV2 (IoU 30/50/70, multi-contour), true-class CAM",
        )  # fmt: skip
        for d in IOU_THRESHOLDS:
            ci = bootstrap_index_ci(lambda i, d=d: stat(i, d), n, n_boot=n_boot, seed=seed_for(f"iou{d}"))
            out[f"wsol_boxacc_iou{d}"] = make_metric(
                res.per_delta[d], n=n, ci=(ci.low, ci.high), unit="%", higher_is_better=True,
                task=f"WSOL {dataset}: BoxAcc at IoU {d}, best CAM threshold",
            )  # fmt: skip
        if pts:
            points = np.concatenate(pts)
            inside = np.array(
                [_point_in_any_box(points[i], meta.boxes[meta.paths[i]], *sizes[i]) for i in with_boxes]
            )
            per_image["wsol_point_loc_acc"] = inside.astype(bool)
            ci = bootstrap_ci(100.0 * inside, n_boot=n_boot, seed=seed_for("wsol_point_loc_acc"))
            out["wsol_point_loc_acc"] = make_metric(
                100.0 * inside.mean(), n=n, ci=(ci.low, ci.high), unit="%", higher_is_better=True,
                task=f"WSOL {dataset}: point head's prediction inside any ground-truth box",
            )  # fmt: skip
    with_masks = [i for i, p in enumerate(meta.paths) if p in meta.masks]
    if with_masks:
        gms = [_read_mask(img_root, meta.masks[meta.paths[i]]) for i in with_masks]
        value = pxap([cams[i] for i in with_masks], gms, interval=cam_curve_interval)
        out["wsol_pxap"] = make_metric(
            value, n=len(with_masks), ci=None, unit="%", higher_is_better=True,
            task=f"WSOL {dataset}: PxAP of the true-class CAM against masks (no bootstrap)",
        )  # fmt: skip
    if not out:
        raise DataError(f"wsol: {dataset} localization.txt matches none of the images in image_ids.txt")
    return out, per_image


def _point_in_any_box(point: np.ndarray, boxes: list, width: int, height: int) -> bool:
    b = np.asarray(boxes, dtype=np.float64) / np.array([width, height, width, height])
    x, y = float(point[0]), float(point[1])
    return bool(np.any((b[:, 0] <= x) & (x <= b[:, 2]) & (b[:, 1] <= y) & (y <= b[:, 3])))


def _read_mask(img_root: Path, entries: list[tuple[str, str]]) -> np.ndarray:
    """Union of the mask PNGs (> 0 = object) resized to the grid; ignore pixels become 255."""
    from PIL import Image

    def load(p: str) -> np.ndarray:
        with Image.open(img_root / p) as im:
            return np.asarray(im.convert("L").resize((RESIZE, RESIZE), Image.NEAREST)) > 0

    mask = np.zeros((RESIZE, RESIZE), dtype=np.uint8)
    for m, _ign in entries:
        mask |= load(m).astype(np.uint8)
    for _, ign in entries:
        if ign:
            mask[load(ign)] = 255
    return mask


@SUITES.register("wsol")
class WsolSuite(Suite):
    """WSOL on ImageNet (wsolevaluation layout); ``dataset_dir`` = the wsolevaluation checkout."""

    name = "wsol"
    description = "MaxBoxAccV2 / PxAP of true-class CAMs and point-head localisation (wsolevaluation)"

    default_batch_size = 32

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """Run :func:`evaluate_wsol` on ``ILSVRC`` with the model's timm normalisation."""
        from luab_bench.suites.image_files import data_config_for

        if dataset_dir is None:
            raise DataError("wsol suite: pass dataset_dir = a clovaai/wsolevaluation checkout")
        cfg = data_config_for(model, settings.normalize)
        metrics, per_image = score_wsol(
            model, dataset_dir, "ILSVRC", data_config=cfg, device=settings.device,
            batch_size=settings.batch_size, seed=settings.seed, n_boot=settings.n_boot,
            progress=settings.progress,
        )  # fmt: skip
        return EvalOutcome(metrics, per_image=per_image)
