"""How each ImageNet test-set task of the ``imagenet`` suite is scored: the ``run_*`` functions.

A :class:`Task` is one dataset (where its data lives, how to get it, and ``run(root, ctx)``: its
loader, label-space mapping and metrics; the table is ``suites.imagenet.IMAGENET_TASKS``);
:class:`EvalContext` is what every task is given (model, device, batching, the timm data config,
bootstrap settings, a cache shared between tasks, e.g. the val predictions that ReaL and ImageNet-O
reuse, and ``per_image``, see below). :func:`run_model` is batched inference over image files
through :func:`luab_bench.inference.predict`. Preprocessing is the model's timm data config, except
ImageNet-C (already 224 px: centre crop only) and ObjectNet (a 2-px border crop first). The suite
itself (root resolution, presence checks, per-task status) is ``luab_bench.suites.imagenet``.

Per-image correctness (the result's ``per_image`` block): every metric made by :func:`_acc_metric`
is the plain mean of one boolean vector, and :func:`_acc_metric` records that very vector in
``ctx.per_image[metric]``, in the order of the images it is computed over: val, V2, A, R, Sketch,
ObjectNet, SI-Score and the four IN-9 splits in their loader's ``ImageSet.paths`` order (sorted
folders, then sorted files); ReaL over the subset of val images that have a non-empty ReaL label
list, in val order (``real_top1``'s ``n`` is that subset's size, not val's); ``in9_bgc_acc`` per
foreground (True = no only_bg_t background flips it, the Backgrounds Challenge's per-foreground
event), in the challenge's foreground order. Not recorded: ``c_top1`` (the mean of the 75
corruption x severity cell accuracies, equal to a mean over the concatenated images only when every
cell holds the same number of images, which the loader does not require; its interval is
stratified by cell) and ``c_mce`` (AlexNet-normalised errors), ``o_aupr`` (an AUPR), and
``in9_bg_gap`` (a difference of two recorded means: readers derive its per-image scores from
``in9_mixed_same_top1`` and ``in9_mixed_rand_top1``). Under ``torchrun`` every rank scores the
gathered predictions of all images, so every rank holds the same vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.inference import predict
from luab_bench.metrics.bootstrap import bootstrap_ci, bootstrap_diff_ci, bootstrap_index_ci
from luab_bench.metrics.classification import accuracy, bg_gap
from luab_bench.metrics.ood import (
    IMAGENET_C_CORRUPTIONS,
    IMAGENET_C_SEVERITIES,
    imagenet_o_anomaly_score,
    mean_corruption_error,
    ood_aupr,
)
from luab_bench.metrics.spurious import foreground_survives, load_in_to_in9, map_to_in9
from luab_bench.metrics.subset import grouped_max_scores, real_correct
from luab_bench.seeds import named_seed
from luab_bench.suites import imagenet_data as data
from luab_bench.suites.base import make_metric
from luab_bench.suites.image_files import ImageFiles, make_transform

if TYPE_CHECKING:
    import torch


@dataclass
class EvalContext:
    """What every task needs: model, device, batching, the data config, bootstrap settings, caches."""

    model: Any
    device: Any
    batch_size: int
    num_workers: int
    data_config: dict[str, Any]
    seed: int
    n_boot: int
    progress: Any
    cache: dict[str, Any] = field(default_factory=dict)
    #: metric name -> the bool vector (image order of that metric) its value is the mean of
    per_image: dict[str, np.ndarray] = field(default_factory=dict)

    def seed_for(self, metric: str) -> list[int]:
        return named_seed(self.seed, metric)


@dataclass(frozen=True)
class Task:
    """One evaluation task: where its data lives and how to score it."""

    name: str
    env_var: str
    default_subdir: str
    how_to_get: str
    run: Callable[[Path, EvalContext], dict[str, dict[str, Any]]]
    needs: tuple[str, ...] = ()  # other tasks' roots this task also reads (e.g. val for ReaL)
    requires: str = ""  # a path under the root that must exist for the data to count as present
    alt_subdirs: tuple[str, ...] = ()  # other released folder names under the base dir, also accepted


def run_model(
    ctx: EvalContext,
    paths: list[Path],
    reduce: Callable[[torch.Tensor], torch.Tensor],
    *,
    kind: str = "standard",
    description: str = "evaluate",
) -> np.ndarray:
    """Batched inference over image files (:func:`~luab_bench.inference.predict`); ``reduce(logits)``
    picks what is kept per image."""
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(
        ImageFiles(paths, make_transform(ctx.data_config, kind)),
        batch_size=ctx.batch_size,
        num_workers=ctx.num_workers,
        pin_memory=torch.device(ctx.device).type == "cuda",
    )
    out = predict(
        ctx.model, loader, device=ctx.device, batch_size=ctx.batch_size,
        reduce=lambda z: reduce(z.float()), progress=ctx.progress, description=description,
        total=len(paths),
    )  # fmt: skip
    return out.pred if out.n else np.zeros(0)


def _argmax(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=1)


def _acc_metric(correct: np.ndarray, ctx: EvalContext, key: str, task: str) -> dict[str, Any]:
    """Top-1-style metric ``key``: the mean of ``correct`` (bool, one per image), recorded per image
    in ``ctx.per_image[key]`` too, so the result's ``per_image`` vector is the one behind the value."""
    correct = np.asarray(correct, dtype=bool).ravel()
    if correct.size == 0:
        raise DataError(f"{task}: no images to score")
    ctx.per_image[key] = correct.copy()
    ci = bootstrap_ci(100.0 * correct, n_boot=ctx.n_boot, seed=ctx.seed_for(key))
    return make_metric(
        accuracy(correct), n=correct.size, ci=(ci.low, ci.high), unit="%", higher_is_better=True, task=task
    )


def _val(root: Path, ctx: EvalContext) -> tuple[data.ImageSet, np.ndarray]:
    if "val" not in ctx.cache:
        s = data.load_imagenet_val(root)
        ctx.cache["val"] = (s, run_model(ctx, s.paths, _argmax, description="in1k_val"))
    return ctx.cache["val"]


def run_val(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    s, pred = _val(root, ctx)
    return {"in1k_val_top1": _acc_metric(pred == s.labels, ctx, "in1k_val_top1", "ImageNet-1k val: top-1")}


def run_real(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    s, pred = _val(ctx.cache["roots"]["in1k_val"], ctx)
    c = real_correct(pred, data.load_real_labels(root, s))
    return {
        "real_top1": _acc_metric(
            c, ctx, "real_top1", "ImageNet-ReaL: top-1 (pred in ReaL labels; empty lists skipped)"
        )
    }


def run_folders(key: str, loader: Callable[[Path], data.ImageSet], desc: str, kind: str = "standard"):
    def run(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
        s = loader(root)
        cols = [g[0] for g in s.class_indices]
        if len(cols) == 1000:
            pred = run_model(ctx, s.paths, _argmax, kind=kind, description=key)
        else:  # 200-class logit mask: argmax over the subset columns only
            import torch

            idx = torch.tensor(cols)
            pred = run_model(
                ctx, s.paths, lambda z: z[:, idx.to(z.device)].argmax(1), kind=kind, description=key
            )
        return {f"{key}_top1": _acc_metric(pred == s.labels, ctx, f"{key}_top1", desc)}

    return run


def run_c(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    # the folder structure first (cheap): an incomplete download fails before any image is listed
    present = data.imagenet_c_cells(root)
    missing = [(c, s) for c in IMAGENET_C_CORRUPTIONS for s in IMAGENET_C_SEVERITIES if (c, s) not in present]
    if missing:
        raise DataError(
            f"c: {root} lacks {len(missing)} corruption/severity folders, "
            f"e.g. {missing[0][0]}/{missing[0][1]}"
        )
    cells = data.load_imagenet_c(root)
    correct = {}
    for (c, sev), s in sorted(cells.items()):
        if c in IMAGENET_C_CORRUPTIONS:
            correct[(c, sev)] = (
                run_model(ctx, s.paths, _argmax, kind="center_crop_only", description=f"c/{c}/{sev}")
                == s.labels
            )
    keys = sorted(correct)

    def stats(cells_correct: dict) -> tuple[float, float]:
        accs = {k: 100.0 * v.mean() for k, v in cells_correct.items()}
        err = {c: [100.0 - accs[(c, s)] for s in IMAGENET_C_SEVERITIES] for c in IMAGENET_C_CORRUPTIONS}
        return float(np.mean(list(accs.values()))), mean_corruption_error(err)

    acc, mce = stats(correct)
    # stratified bootstrap: each (corruption, severity) cell resampled on its own stream
    rngs = np.random.SeedSequence(ctx.seed_for("c")).spawn(len(keys))
    gens = [np.random.default_rng(r) for r in rngs]
    boots = np.empty((ctx.n_boot, 2))
    for b in range(ctx.n_boot):
        res = {
            k: v[(g.random(v.size) * v.size).astype(np.intp)]
            for (k, v), g in zip(correct.items(), gens, strict=True)
        }
        boots[b] = stats(res)
    lo, hi = np.percentile(boots, [2.5, 97.5], axis=0)
    n = int(sum(v.size for v in correct.values()))
    return {
        "c_top1": make_metric(
            acc,
            n=n,
            ci=(min(lo[0], acc), max(hi[0], acc)),
            unit="%",
            higher_is_better=True,
            task="ImageNet-C: top-1 averaged over 15 corruptions x 5 severities",
        ),
        "c_mce": make_metric(
            mce,
            n=n,
            ci=(min(lo[1], mce), max(hi[1], mce)),
            unit="%",
            higher_is_better=False,
            task="ImageNet-C: mCE (AlexNet-normalised)",
        ),
    }


def run_o(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    import torch

    o = data.load_wnid_folders(root, "o", expect=200)
    cols = [g[0] for g in o.class_indices]
    val = data.load_imagenet_val(ctx.cache["roots"]["in1k_val"])
    neg_paths = [p for p, lab in zip(val.paths, val.labels, strict=True) if int(lab) in set(cols)]
    idx = torch.tensor(cols)

    def score(z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(imagenet_o_anomaly_score(z[:, idx.to(z.device)].double().cpu().numpy()))

    pos = run_model(ctx, o.paths, score, description="o")
    neg = run_model(ctx, neg_paths, score, description="o/val-negatives")
    value = ood_aupr(pos, neg)
    labels = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]
    scores = np.r_[pos, neg]

    def stat(i: np.ndarray) -> float:
        y = labels[i]
        return ood_aupr(scores[i][y], scores[i][~y]) if y.any() and (~y).any() else 0.0

    ci = bootstrap_index_ci(stat, labels.size, n_boot=ctx.n_boot, seed=ctx.seed_for("o_aupr"))
    return {
        "o_aupr": make_metric(
            value,
            n=labels.size,
            ci=(ci.low, ci.high),
            unit="%",
            higher_is_better=True,
            task="ImageNet-O: AUPR, IN-O positive, score -max softmax over the 200 classes",
        )
    }


def run_objectnet(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    import torch

    s = data.load_objectnet(root)

    def reduce(z: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(grouped_max_scores(z.cpu().numpy(), s.class_indices).argmax(1))

    pred = run_model(ctx, s.paths, reduce, kind="objectnet", description="objectnet")
    return {
        "objectnet_top1": _acc_metric(
            pred == s.labels,
            ctx,
            "objectnet_top1",
            "ObjectNet: top-1 over mapped classes (max over mapped logits)",
        )
    }


def run_backgrounds(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    mapping_file = root / "in_to_in9.json"
    mapping = load_in_to_in9(mapping_file)
    out: dict[str, dict[str, Any]] = {}
    correct = {}
    for variant in ("original", "only_fg", "mixed_same", "mixed_rand"):
        s = data.load_in9(root, variant)
        pred = run_model(ctx, s.paths, _argmax, kind="none", description=f"backgrounds/{variant}")
        correct[variant] = map_to_in9(pred, mapping) == s.labels
        out[f"in9_{variant}_top1"] = _acc_metric(
            correct[variant],
            ctx,
            f"in9_{variant}_top1",
            f"IN-9 {variant}: top-1 (1000-way argmax mapped to IN-9)",
        )
    a, b = correct["mixed_same"], correct["mixed_rand"]
    paired = a.shape == b.shape
    ci = bootstrap_diff_ci(
        100.0 * a, 100.0 * b, paired=paired, n_boot=ctx.n_boot, seed=ctx.seed_for("in9_bg_gap")
    )
    out["in9_bg_gap"] = make_metric(
        bg_gap(out["in9_mixed_same_top1"]["value"], out["in9_mixed_rand_top1"]["value"]),
        n=a.size + b.size,
        ci=(ci.low, ci.high),
        unit="pp",
        higher_is_better=False,
        task="IN-9: BG-gap = top-1(mixed_same) - top-1(mixed_rand)",
    )
    return out


def run_si(subset: str):
    """SI-Score top-1 as the reference scores it: 1000-way argmax == the class's ImageNet index.

    No restriction to the subset's classes (61 in the released data): google-research/si-score's
    ``analysis_demo.ipynb`` (``get_pred_top1_top5_acc``) ranks the *full* ImageNet-1k logits of the
    classifier (``np.argsort(logits, axis=1)``) and compares the top prediction with the label that
    ``fix_labels`` looks up from ``foreground_classes.csv`` (``int`` = ImageNet index). Djolonga et
    al. 2020, "On Robustness and Transferability of CNNs", arXiv 2007.08558, App. D, describe the data.
    """

    def run(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
        s = data.load_si_score(root, subset)
        pred = run_model(ctx, s.paths, _argmax, description=f"si_{subset}")
        key = f"si_{subset}_top1"
        return {
            key: _acc_metric(
                pred == s.labels,
                ctx,
                key,
                f"SI-Score {subset}: 1000-way top-1 against the class's ImageNet index "
                "(unrestricted, as google-research/si-score's analysis colab)",
            )
        }

    return run


def run_bg_challenge(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    """BGC-acc: % of foregrounds that no only_bg_t background flips (see metrics/spurious.py)."""
    import torch
    from PIL import Image

    ch = data.load_bg_challenge(root)
    mapping = load_in_to_in9(root / "in_to_in9.json")
    norm = (ctx.data_config["mean"], ctx.data_config["std"])

    def read(p: Path) -> np.ndarray:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)

    bgs = np.stack([read(p) for p in ch.bg_paths])  # uint8 keeps 4,050 x 224^2 at ~600 MB

    def batches():
        for i in range(0, bgs.shape[0], ctx.batch_size):
            yield bgs[i : i + ctx.batch_size].astype(np.float32) / 255.0

    def classify(x: np.ndarray) -> np.ndarray:  # float NHWC composites in [0, 1], one batch
        t = torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)
        out = predict(ctx.model, [t], device=ctx.device, normalize=norm, batch_size=max(len(t), 1))
        return map_to_in9(out.pred, mapping)

    survived = np.empty(len(ch.fg_paths), dtype=bool)
    bar = ctx.progress.add_task("bg_challenge", total=len(ch.fg_paths)) if ctx.progress else None
    for i, (fp, mp, lab) in enumerate(zip(ch.fg_paths, ch.mask_paths, ch.labels, strict=True)):
        fg = read(fp).astype(np.float32) / 255.0
        mask = np.load(mp)
        if mask.shape != fg.shape[:2] or fg.shape != bgs.shape[1:]:
            raise DataError(f"backgrounds challenge: {mp} / {fp} sizes differ from the backgrounds")
        survived[i] = foreground_survives(fg, mask, int(lab), batches(), classify)[0]
        if bar is not None:
            ctx.progress.advance(bar, 1)
    return {
        "in9_bgc_acc": _acc_metric(
            survived,
            ctx,
            "in9_bgc_acc",
            "Backgrounds Challenge: % of foregrounds no only_bg_t background flips (1000-way -> IN-9)",
        )
    }
