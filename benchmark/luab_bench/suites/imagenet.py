"""The ``imagenet`` suite: ImageNet-1k-trained classifiers on the real ImageNet test sets.

Each task is a :class:`~luab_bench.suites.imagenet_tasks.Task` in :data:`IMAGENET_TASKS` (one entry
per dataset: loader + label-space mapping + metrics, scored by ``suites/imagenet_tasks.py``). A
task's data root comes from ``roots[task]``, else its environment variable (e.g.
``LUAB_BENCH_IMAGENET_ROOT`` for val), else ``<base_dir>/<default_subdir>`` (or the first of the
task's ``alt_subdirs``, other released folder names, that exists).
:func:`evaluate_suite_group` runs every task whose data is present, lists the missing ones with
where to get them, and records a task whose data makes it fail (an incomplete ImageNet-C, a partial
Sketch, an unreadable image: :data:`~luab_bench.suites.base.TASK_ERRORS`) as ``failed`` with the
reason while the other tasks still run; ``EvalOutcome.tasks`` has every task's status and
``EvalOutcome.per_image`` the per-image correctness of every plain-mean accuracy metric of the tasks
that completed (see ``suites/imagenet_tasks.py``; a failed task's vectors are dropped). A model
whose classifier is not 1000-way is refused up front (one line), before any image is read.
Preprocessing is the model's timm data config (``resolve_model_data_config`` +
``create_transform(is_training=False)``: resize + centre crop + normalise), except ImageNet-C
(already 224 px: centre crop only) and ObjectNet (a 2-px border crop first).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from luab_bench.errors import DataError, LuabError
from luab_bench.run.spec import BUILTIN_PROTOCOLS, SuiteTraining
from luab_bench.suites import imagenet_data as data
from luab_bench.suites import imagenet_tasks as tasks
from luab_bench.suites.base import (
    SUITES,
    TASK_ERRORS,
    EvalOutcome,
    EvalSettings,
    MissingDataset,
    Suite,
    TaskStatus,
)
from luab_bench.suites.image_files import (
    border_crop,
    data_config_for,
    default_data_config,
    make_transform,
    model_num_classes,
)
from luab_bench.suites.imagenet_tasks import EvalContext, Task, run_model

__all__ = [
    "IMAGENET_CLASSES",
    "IMAGENET_TASKS",
    "EvalContext",
    "GroupOutcome",
    "ImagenetSuite",
    "Task",
    "border_crop",
    "check_imagenet_classes",
    "default_data_config",
    "evaluate_suite_group",
    "make_transform",
    "resolve_roots",
    "run_model",
]


IMAGENET_TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            "in1k_val",
            "LUAB_BENCH_IMAGENET_ROOT",
            "imagenet/val",
            "ILSVRC2012 val from image-net.org, arranged in wnid class folders",
            tasks.run_val,
        ),
        Task(
            "real",
            "LUAB_BENCH_REAL_JSON",
            "real.json",
            "real.json from github.com/google-research/reassessed-imagenet",
            tasks.run_real,
            needs=("in1k_val",),
        ),
        Task(
            "v2",
            "LUAB_BENCH_IMAGENET_V2_ROOT",
            "imagenetv2-matched-frequency-format-val",  # what the release tarball extracts to
            "imagenetv2-matched-frequency.tar.gz from the imagenetv2 project (HF: vaishaal/ImageNetV2), "
            "extracted (imagenetv2-matched-frequency-format-val/)",
            tasks.run_folders("v2", data.load_imagenet_v2, "ImageNetV2 matched-frequency: top-1"),
            alt_subdirs=("imagenetv2-matched-frequency",),
        ),
        Task(
            "a",
            "LUAB_BENCH_IMAGENET_A_ROOT",
            "imagenet-a",
            "imagenet-a.tar from github.com/hendrycks/natural-adv-examples",
            tasks.run_folders(
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
            tasks.run_folders(
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
            tasks.run_folders(
                "sketch", lambda r: data.load_wnid_folders(r, "sketch", expect=1000), "ImageNet-Sketch: top-1"
            ),
        ),
        Task(
            "c",
            "LUAB_BENCH_IMAGENET_C_ROOT",
            "imagenet-c",
            "ImageNet-C tarballs from github.com/hendrycks/robustness (zenodo)",
            tasks.run_c,
        ),
        Task(
            "o",
            "LUAB_BENCH_IMAGENET_O_ROOT",
            "imagenet-o",
            "imagenet-o.tar from github.com/hendrycks/natural-adv-examples",
            tasks.run_o,
            needs=("in1k_val",),
        ),
        Task(
            "objectnet",
            "LUAB_BENCH_OBJECTNET_ROOT",
            "objectnet-1.0",
            "objectnet-1.0.zip from objectnet.dev (keep its images/ and mappings/ folders)",
            tasks.run_objectnet,
        ),
        Task(
            "backgrounds",
            "LUAB_BENCH_BACKGROUNDS_ROOT",
            "bg_challenge",
            "backgrounds_challenge_data.tar.gz from github.com/MadryLab/backgrounds_challenge; "
            "put in_to_in9.json from that repo in the same folder",
            tasks.run_backgrounds,
        ),
        Task(
            "bg_challenge",
            "LUAB_BENCH_BACKGROUNDS_ROOT",
            "bg_challenge",
            "backgrounds_challenge_data.tar.gz (fg_mask/, original/, only_bg_t/) from "
            "github.com/MadryLab/backgrounds_challenge, with in_to_in9.json in the same folder",
            tasks.run_bg_challenge,
            requires="fg_mask",
        ),
        *(
            Task(
                f"si_{sub}",
                f"LUAB_BENCH_SI_SCORE_{sub.upper()}_ROOT",
                f"si-score/{folder}",
                f"aws s3 cp s3://si-score-dataset/{folder}/ . --recursive, or the https zip "
                f"(extracts to {data.SI_SCORE_ZIP_FOLDERS[sub]}/) (see github.com/google-research/si-score)",
                tasks.run_si(sub),
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


IMAGENET_CLASSES = 1000


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
    per_image: dict[str, Any] = {}
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
            ctx.per_image = {}  # this task's vectors only: a failure part-way through leaves none
            try:
                got = t.run(resolved[name], ctx)
            except TASK_ERRORS as err:
                status[name] = TaskStatus.failed(err)
                continue
            metrics.update(got)
            per_image.update({k: v for k, v in ctx.per_image.items() if k in got})
            status[name] = TaskStatus("ok")
    finally:
        model.train(was_training)
    return EvalOutcome(metrics, missing=tuple(missing), tasks=status, per_image=per_image)


@SUITES.register("imagenet")
class ImagenetSuite(Suite):
    """Real ImageNet test sets; ``dataset_dir`` is the base folder (see :data:`IMAGENET_TASKS`)."""

    name = "imagenet"
    training = SuiteTraining("imagenet-ab", None, "resnet_in1k_100ep", BUILTIN_PROTOCOLS)
    description = (
        "ImageNet val, ReaL, V2, A, R, Sketch, C, O, ObjectNet, SI-Score and the Backgrounds Challenge"
    )

    def run(self, model: Any, dataset_dir: Path | None, settings: EvalSettings) -> EvalOutcome:
        """All available tasks; raises DataError naming every missing / failed task if none ran."""
        check_imagenet_classes(model)
        cfg = data_config_for(model, settings.normalize)
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
