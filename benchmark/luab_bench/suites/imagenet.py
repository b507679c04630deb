"""The ``imagenet`` suite: ImageNet-1k-trained classifiers on the real ImageNet test sets.

Each task is a :class:`Task` in :data:`IMAGENET_TASKS` (one entry per dataset: loader + label-space
mapping + metrics). A task's data root comes from ``roots[task]``, else its environment variable
(e.g. ``LUAB_BENCH_IMAGENET_ROOT`` for val), else ``<base_dir>/<default_subdir>`` (or the first of
the task's ``alt_subdirs``, other released folder names, that exists).
:func:`evaluate_suite_group` runs every task whose data is present, lists the missing ones with
where to get them, and records a task whose data makes it fail (an incomplete ImageNet-C, a partial
Sketch, an unreadable image: :data:`~luab_bench.suites.base.TASK_ERRORS`) as ``failed`` with the
reason while the other tasks still run; ``EvalOutcome.tasks`` has every task's status. A model
whose classifier is not 1000-way is refused up front (one line), before any image is read.
Preprocessing is the model's timm data config (``resolve_model_data_config`` +
``create_transform(is_training=False)``: resize + centre crop + normalise), except ImageNet-C
(already 224 px: centre crop only) and ObjectNet (a 2-px border crop first).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from luab_bench.errors import DataError, LuabError
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
from luab_bench.suites.base import (
    SUITES,
    TASK_ERRORS,
    EvalOutcome,
    EvalSettings,
    MissingDataset,
    Suite,
    TaskStatus,
    make_metric,
    predict,
)

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


def make_transform(data_config: Mapping[str, Any], kind: str = "standard") -> Callable[[Any], Any]:
    """Eval transform from a timm data config; ``kind``: standard | center_crop_only | objectnet | none."""
    from timm.data import create_transform
    from torchvision import transforms as T

    size = tuple(data_config["input_size"][-2:])
    norm = T.Normalize(mean=data_config["mean"], std=data_config["std"])
    if kind == "center_crop_only":
        return T.Compose([T.CenterCrop(size), T.ToTensor(), norm])
    if kind == "none":
        return T.Compose([T.ToTensor(), norm])
    base = create_transform(**data_config, is_training=False)
    if kind == "objectnet":
        return T.Compose([T.Lambda(border_crop), base])
    return base


def border_crop(img: Any, border: int = 2) -> Any:
    """ObjectNet's preprocessing: remove a ``border``-pixel frame (the red border) from a PIL image."""
    w, h = img.size
    return img.crop((border, border, w - border, h - border))


class _Files:
    """A map-style dataset of image files (RGB PIL -> transform)."""

    def __init__(self, paths: list[Path], transform: Callable[[Any], Any]) -> None:
        self.paths, self.transform = paths, transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Any:
        from PIL import Image

        with Image.open(self.paths[i]) as im:
            return self.transform(im.convert("RGB"))


def run_model(
    ctx: EvalContext,
    paths: list[Path],
    reduce: Callable[[torch.Tensor], torch.Tensor],
    *,
    kind: str = "standard",
    description: str = "evaluate",
) -> np.ndarray:
    """Batched inference over image files (:func:`~luab_bench.suites.base.predict`); ``reduce(logits)``
    picks what is kept per image."""
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(
        _Files(paths, make_transform(ctx.data_config, kind)),
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
    if correct.size == 0:
        raise DataError(f"{task}: no images to score")
    ci = bootstrap_ci(100.0 * correct, n_boot=ctx.n_boot, seed=ctx.seed_for(key))
    return make_metric(
        accuracy(correct), n=correct.size, ci=(ci.low, ci.high), unit="%", higher_is_better=True, task=task
    )


def _val(root: Path, ctx: EvalContext) -> tuple[data.ImageSet, np.ndarray]:
    if "val" not in ctx.cache:
        s = data.load_imagenet_val(root)
        ctx.cache["val"] = (s, run_model(ctx, s.paths, _argmax, description="in1k_val"))
    return ctx.cache["val"]


def _run_val(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    s, pred = _val(root, ctx)
    return {"in1k_val_top1": _acc_metric(pred == s.labels, ctx, "in1k_val_top1", "ImageNet-1k val: top-1")}


def _run_real(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
    s, pred = _val(ctx.cache["roots"]["in1k_val"], ctx)
    c = real_correct(pred, data.load_real_labels(root, s))
    return {
        "real_top1": _acc_metric(
            c, ctx, "real_top1", "ImageNet-ReaL: top-1 (pred in ReaL labels; empty lists skipped)"
        )
    }


def _run_folders(key: str, loader: Callable[[Path], data.ImageSet], desc: str, kind: str = "standard"):
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


def _run_c(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
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


def _run_o(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
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


def _run_objectnet(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
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


def _run_backgrounds(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
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


def _run_si(subset: str):
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


def _run_bg_challenge(root: Path, ctx: EvalContext) -> dict[str, dict[str, Any]]:
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


IMAGENET_TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "in1k_val",
            "LUAB_BENCH_IMAGENET_ROOT",
            "imagenet/val",
            "ILSVRC2012 val from image-net.org, arranged in wnid class folders",
            _run_val,
        ),
        Task(
            "real",
            "LUAB_BENCH_REAL_JSON",
            "real.json",
            "real.json from github.com/google-research/reassessed-imagenet",
            _run_real,
            needs=("in1k_val",),
        ),
        Task(
            "v2",
            "LUAB_BENCH_IMAGENET_V2_ROOT",
            "imagenetv2-matched-frequency-format-val",  # what the release tarball extracts to
            "imagenetv2-matched-frequency.tar.gz from the imagenetv2 project (HF: vaishaal/ImageNetV2), "
            "extracted (imagenetv2-matched-frequency-format-val/)",
            _run_folders("v2", data.load_imagenet_v2, "ImageNetV2 matched-frequency: top-1"),
            alt_subdirs=("imagenetv2-matched-frequency",),
        ),
        Task(
            "a",
            "LUAB_BENCH_IMAGENET_A_ROOT",
            "imagenet-a",
            "imagenet-a.tar from github.com/hendrycks/natural-adv-examples",
            _run_folders(
                "a",
                lambda r: data.load_wnid_folders(r, "a", expect=200),
                "ImageNet-A: top-1 over its 200 classes",
            ),
        ),
        Task(
            "r",
            "LUAB_BENCH_IMAGENET_R_ROOT",
            "imagenet-r",
            "imagenet-r.tar from github.com/hendrycks/imagenet-r",
            _run_folders(
                "r",
                lambda r: data.load_wnid_folders(r, "r", expect=200),
                "ImageNet-R: top-1 over its 200 classes",
            ),
        ),
        Task(
            "sketch",
            "LUAB_BENCH_IMAGENET_SKETCH_ROOT",
            "sketch",
            "ImageNet-Sketch from github.com/HaohanWang/ImageNet-Sketch",
            _run_folders(
                "sketch", lambda r: data.load_wnid_folders(r, "sketch", expect=1000), "ImageNet-Sketch: top-1"
            ),
        ),
        Task(
            "c",
            "LUAB_BENCH_IMAGENET_C_ROOT",
            "imagenet-c",
            "ImageNet-C tarballs from github.com/hendrycks/robustness (zenodo)",
            _run_c,
        ),
        Task(
            "o",
            "LUAB_BENCH_IMAGENET_O_ROOT",
            "imagenet-o",
            "imagenet-o.tar from github.com/hendrycks/natural-adv-examples",
            _run_o,
            needs=("in1k_val",),
        ),
        Task(
            "objectnet",
            "LUAB_BENCH_OBJECTNET_ROOT",
            "objectnet-1.0",
            "objectnet-1.0.zip from objectnet.dev (keep its images/ and mappings/ folders)",
            _run_objectnet,
        ),
        Task(
            "backgrounds",
            "LUAB_BENCH_BACKGROUNDS_ROOT",
            "bg_challenge",
            "backgrounds_challenge_data.tar.gz from github.com/MadryLab/backgrounds_challenge; "
            "put in_to_in9.json from that repo in the same folder",
            _run_backgrounds,
        ),
        Task(
            "bg_challenge",
            "LUAB_BENCH_BACKGROUNDS_ROOT",
            "bg_challenge",
            "backgrounds_challenge_data.tar.gz (fg_mask/, original/, only_bg_t/) from "
            "github.com/MadryLab/backgrounds_challenge, with in_to_in9.json in the same folder",
            _run_bg_challenge,
            requires="fg_mask",
        ),
        *(
            Task(
                f"si_{sub}",
                f"LUAB_BENCH_SI_SCORE_{sub.upper()}_ROOT",
                f"si-score/{folder}",
                f"aws s3 cp s3://si-score-dataset/{folder}/ . --recursive, or the https zip "
                f"(extracts to {data.SI_SCORE_ZIP_FOLDERS[sub]}/) (see github.com/google-research/si-score)",
                _run_si(sub),
                alt_subdirs=(f"si-score/{data.SI_SCORE_ZIP_FOLDERS[sub]}", data.SI_SCORE_ZIP_FOLDERS[sub]),
            )
            for sub, folder in data.SI_SCORE_SUBSETS.items()
        ),
    )
}


#: What :func:`evaluate_suite_group` returns: the suite API's outcome (metrics of every task that
#: ran, ``missing`` = the tasks whose data was absent). Kept as a name for existing callers.
GroupOutcome = EvalOutcome


def resolve_roots(
    base_dir: str | Path | None, roots: Mapping[str, str | Path] | None = None
) -> dict[str, Path]:
    """Each task's root: explicit ``roots[task]`` > environment variable > ``base_dir/default_subdir``."""
    roots = dict(roots or {})
    unknown = sorted(set(roots) - set(IMAGENET_TASKS))
    if unknown:
        raise DataError(f"unknown imagenet task(s) {unknown}; known: {', '.join(IMAGENET_TASKS)}")
    out: dict[str, Path] = {}
    for name, t in IMAGENET_TASKS.items():
        if name in roots:
            out[name] = Path(roots[name])
        elif os.environ.get(t.env_var):
            out[name] = Path(os.environ[t.env_var])
        elif base_dir is not None:
            candidates = [Path(base_dir) / d for d in (t.default_subdir, *t.alt_subdirs)]
            out[name] = next((c for c in candidates if c.exists()), candidates[0])
    return out


def _present(task: str, resolved: Mapping[str, Path]) -> bool:
    if task not in resolved:
        return False
    req = IMAGENET_TASKS[task].requires
    return (resolved[task] / req if req else resolved[task]).exists()


def default_data_config(model: Any) -> dict[str, Any]:
    """timm's eval data config of ``model`` (a LuabNet's own, with its evaluation overrides)."""
    from timm.data import resolve_model_data_config

    if isinstance(getattr(model, "data_config_overrides", None), dict):
        return model.data_config
    return resolve_model_data_config(getattr(model, "backbone", model))


IMAGENET_CLASSES = 1000


def model_num_classes(model: Any) -> int | None:
    """The model's number of class logits when it says (LuabNet / timm ``num_classes``), else None."""
    n = getattr(model, "num_classes", None)
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def check_imagenet_classes(model: Any) -> None:
    """Refuse, in one line, a model whose classifier is not ImageNet-1k's 1000-way one."""
    n = model_num_classes(model)
    if n is not None and n != IMAGENET_CLASSES:
        raise LuabError(
            f"imagenet suite: the model predicts {n} classes, but every ImageNet test set is scored over "
            f"ImageNet-1k's {IMAGENET_CLASSES} logits; evaluate it on the suite it was trained for "
            "(e.g. --suite coco for an 80-class COCO model)"
        )


def evaluate_suite_group(
    group: str,
    roots: Mapping[str, str | Path] | None,
    model: Any,
    *,
    base_dir: str | Path | None = None,
    tasks: list[str] | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    num_workers: int = 0,
    data_config: dict[str, Any] | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    progress: Any = None,
) -> EvalOutcome:
    """Run every task of ``group`` ("imagenet") whose data exists; list the rest as missing.

    A task whose data raises one of :data:`~luab_bench.suites.base.TASK_ERRORS` is recorded as
    ``failed`` (its reason in ``EvalOutcome.tasks``) and the next task runs; its metrics are left out.
    """
    import torch

    if group != "imagenet":
        raise DataError(f"unknown suite group {group!r}; available: imagenet")
    check_imagenet_classes(model)
    resolved = resolve_roots(base_dir, roots)
    names = tasks or list(IMAGENET_TASKS)
    ctx = EvalContext(
        model,
        torch.device(device),
        batch_size,
        num_workers,
        data_config or default_data_config(model),
        seed,
        n_boot,
        progress,
    )
    ctx.cache["roots"] = resolved
    metrics: dict[str, dict[str, Any]] = {}
    missing: list[MissingDataset] = []
    status: dict[str, TaskStatus] = {}
    was_training = model.training
    model.to(ctx.device).eval()
    try:
        for name in names:
            t = IMAGENET_TASKS[name]
            need = [name, *t.needs]
            absent = [n for n in need if not _present(n, resolved)]
            if absent:
                for n in absent:
                    p = resolved.get(n, Path(f"${IMAGENET_TASKS[n].env_var}"))
                    missing.append(
                        MissingDataset(
                            name, p, IMAGENET_TASKS[n].how_to_get + f" (or set {IMAGENET_TASKS[n].env_var})"
                        )
                    )
                why = "; ".join(f"{m.path} not found ({m.how_to_get})" for m in missing if m.task == name)
                status[name] = TaskStatus("missing", why)
                continue
            try:
                got = t.run(resolved[name], ctx)
            except TASK_ERRORS as err:
                status[name] = TaskStatus.failed(err)
                continue
            metrics.update(got)
            status[name] = TaskStatus("ok")
    finally:
        model.train(was_training)
    return EvalOutcome(metrics, missing=tuple(missing), tasks=status)


@SUITES.register("imagenet")
class ImagenetSuite(Suite):
    """Real ImageNet test sets; ``dataset_dir`` is the base folder (see :data:`IMAGENET_TASKS`)."""

    name = "imagenet"
    description = (
        "ImageNet val, ReaL, V2, A, R, Sketch, C, O, ObjectNet, SI-Score and the Backgrounds Challenge"
    )

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """All available tasks; raises DataError naming every missing / failed task if none ran."""
        check_imagenet_classes(model)
        cfg = default_data_config(model)
        if isinstance(settings.normalize, tuple):
            cfg = {**cfg, "mean": tuple(settings.normalize[0]), "std": tuple(settings.normalize[1])}
        res = evaluate_suite_group(
            "imagenet",
            None,
            model,
            base_dir=dataset_dir,
            device=str(settings.device),
            batch_size=settings.batch_size,
            data_config=cfg,
            seed=settings.seed,
            n_boot=settings.n_boot,
            progress=settings.progress,
        )
        if not res.metrics:
            failed = "; ".join(
                f"{k} failed: {v.reason}" for k, v in res.tasks.items() if v.status == "failed"
            )
            lines = "; ".join(f"{m.task}: {m.path} ({m.how_to_get})" for m in res.missing)
            if failed:
                raise DataError(
                    f"imagenet suite: no task completed. {failed}" + (f"; missing: {lines}" if lines else "")
                )
            raise DataError(f"imagenet suite: no dataset found. {lines}")
        return res
