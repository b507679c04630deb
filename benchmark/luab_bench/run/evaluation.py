"""Evaluation step: a net on a suite -> the result document, assembled once, written once, signed.

:func:`assess` evaluates a :class:`~luab_bench.run.training.Trained` net (handed over by ``run``, or
loaded from a checkpoint by :func:`evaluate_checkpoint`) and assembles the result document from the
exact configs that trained it, provenance and the data fingerprint (the measuring code is the
recording code). :func:`write_signed` signs the validated result in memory and writes it once, atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from luab_bench.data.prepare import GENERATED_SOURCES, generated_dataset
from luab_bench.errors import LuabError
from luab_bench.run.names import own_training
from luab_bench.run.spec import Echo, EvalSpec, no_echo


@dataclasses.dataclass
class Assessment:
    """A suite's outcome on a net and the result document made of it (``doc["signature"]`` None)."""

    doc: dict[str, Any]
    outcome: Any

    def result(self) -> Any:
        """The document as a validated :class:`~luab_bench.results.schema.Result`."""
        from luab_bench.results.schema import Result

        return Result.model_validate(self.doc)


def created_at() -> str:
    """The result timestamp: ``SOURCE_DATE_EPOCH`` (reproducible-builds convention) when set, else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            when = datetime.fromtimestamp(int(epoch), timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise LuabError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds; set an integer or unset it"
            ) from None
    else:
        when = datetime.now(timezone.utc)
    return when.replace(microsecond=0).isoformat()


def listing_fingerprint(root: Path) -> str:
    """sha256 over the sorted (relative path, size) listing of ``root``.

    A cheap identity for released datasets (hashing every ImageNet image would take hours): it
    changes when files are added, removed, renamed or resized, not on same-size edits.
    """
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(f"{p.relative_to(root).as_posix()}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()


def _result_id(meta: dict[str, Any], suite: str, fingerprint: str) -> str:
    """Stable id: same model/protocol/recipe/seed/suite/data -> same id."""
    basis = json.dumps(
        [meta["model"], meta["protocol"], meta["recipe"], meta["seed"], suite, fingerprint],
        sort_keys=True,
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def main_first(ctx: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` on rank 0, then on the other ranks once rank 0 is done (they reuse what it wrote)."""
    from luab_bench.train.distributed import barrier

    if ctx.is_main:
        value = fn()
        barrier(ctx)
        return value
    barrier(ctx)
    return fn()


def evaluation_data(
    ctx: Any, trained: Any, suite: str, *, data_dir: Path, data_root: Path | None, progress: bool
) -> tuple[Path, str, str]:
    """(data directory, variant, fingerprint) that ``suite`` evaluates the trained net on.

    A suite whose training source is generated evaluates held-out splits of that very dataset
    (checked by fingerprint); other suites read released datasets under ``data_root``.
    """
    data_meta = trained.meta["data"]
    own = own_training(suite)
    if own is not None and own.source in GENERATED_SOURCES:
        if data_meta["source"] != own.source:
            raise LuabError(
                f"{trained.checkpoint}: suite {suite!r} evaluates the generated {own.source!r} data, but "
                f"this model was trained on {data_meta['source']!r}; evaluate it on the suite of its "
                "own training data, or on a real suite with --data-root"
            )
        dataset = main_first(
            ctx, lambda: generated_dataset(own.source, data_meta["variant"], data_dir, progress=progress)
        )
        if dataset.fingerprint != data_meta["fingerprint"]:
            raise LuabError(
                f"{trained.checkpoint}: trained on data {data_meta['fingerprint'][:12]} but the generated "
                f"{dataset.variant} data is {dataset.fingerprint[:12]}; regenerate with the same "
                "luab-bench version or retrain"
            )
        return dataset.directory, dataset.variant, dataset.fingerprint
    if data_root is None:
        raise LuabError(
            f"suite {suite!r} reads released datasets: pass --data-root DIR (the folder "
            "holding them; see docs/evaluation.md for the expected layout and variables)"
        )
    if not Path(data_root).is_dir():
        raise LuabError(f"--data-root {data_root}: not a directory")
    return Path(data_root), suite, listing_fingerprint(Path(data_root))


def assess(
    ctx: Any,
    trained: Any,
    *,
    suite: str | None,
    data_dir: Path,
    data_root: Path | None,
    dev: str,
    image_size: int | None = None,
    progress: bool = True,
    echo: Echo = no_echo,
) -> Assessment:
    """Evaluate ``trained.net`` on ``suite`` (None = its training suite); assemble the result document.

    Every task that can run does; each task's status (ok / missing / failed, with the reason) goes
    into the ``tasks`` block. Under ``torchrun`` every rank evaluates its shard of each task's images
    (``suites.base.predict``) and rank 0 alone writes derived data (first; the others wait).
    File-based suites feed the recipe's ``image_size`` (or ``image_size``).
    """
    from luab_bench.model_record import checkpoint_provenance
    from luab_bench.preprocess import apply_input_size
    from luab_bench.progress import progress_bar
    from luab_bench.results.per_image import per_image_block
    from luab_bench.results.provenance import collect_provenance
    from luab_bench.results.schema import SCHEMA_VERSION
    from luab_bench.suites.base import SUITES, TaskStatus

    net, meta = trained.net, trained.meta
    suite_name = suite or meta["suite"]
    suite_obj = SUITES.get(suite_name)()
    data_meta = meta["data"]
    eval_dir, variant, fingerprint = evaluation_data(
        ctx, trained, suite_name, data_dir=data_dir, data_root=data_root, progress=progress
    )
    size_from = apply_input_size(
        net,
        suite_name,
        image_size or (meta.get("recipe") or {}).get("image_size"),
        explicit=image_size is not None,
    )
    where = f" ({ctx.world_size} processes)" if ctx.world_size > 1 else ""
    echo(f"Evaluating {meta['model']['name']} / {meta['protocol']['name']} on {suite_name}{where}")
    with progress_bar(progress) as prog:
        prepare = getattr(suite_obj, "prepare", None)  # Suite's hook (duck-typed suites may lack it)
        if callable(prepare):
            main_first(ctx, lambda: prepare(eval_dir, prog))
        outcome = suite_obj.evaluate(
            net,
            dataset_dir=eval_dir,
            device=dev,
            progress=prog,
            seed=meta["seed"],
            # the same input normalisation the model was trained with (timm's data config)
            normalize=(net.input_mean, net.input_std),
        )
    if not outcome.tasks:  # a suite that bypasses Suite.evaluate's default
        outcome.tasks = {suite_name: TaskStatus("ok")}
    for name, task in outcome.tasks.items():
        if task.status != "ok":
            echo(f"{task.status} task {name}: {task.reason}")
    config = {
        "protocol": meta["protocol"],
        "recipe": meta["recipe"],
        "data": {k: v for k, v in data_meta.items() if k != "byproducts"},
        "evaluation": {"suite": suite_name, "device": dev},
    }
    doc = {
        "schema_version": SCHEMA_VERSION,
        "result_id": _result_id(meta, suite_name, fingerprint),
        "created_at": created_at(),
        "model": {
            "name": meta["model"]["name"],
            "source": "timm",  # result schema: where the model comes from (not a training source)
            "pretrained": False,
            "num_params": int(sum(p.numel() for p in net.backbone.parameters())),
        },
        "protocol": {
            "name": meta["protocol"]["name"],
            "version": str(meta["protocol"]["version"]),
            "family": meta["protocol"]["family"],
        },
        "suite": {"name": suite_name, "variant": variant, "data_fingerprint": fingerprint},
        "seed": int(meta["seed"]),
        "metrics": outcome.metrics,
        "config": config,
        "provenance": collect_provenance(
            fingerprint, extra_data={"byproducts": data_meta.get("byproducts"), **outcome.data}
        ),
        "training": meta.get("training"),
        "tasks": {name: task.as_dict() for name, task in outcome.tasks.items()},
        "model_provenance": checkpoint_provenance(
            net, meta, trained.checkpoint, suite_name, size_from=size_from, dataset_dir=eval_dir
        ),
        "per_image": per_image_block(outcome),
        "signature": None,
    }
    return Assessment(doc=doc, outcome=outcome)


def result_path(result: Any, *, out: Path | None, results_dir: Path) -> Path:
    """Where ``result`` goes: ``out``, or ``results_dir/<stable name>.json``."""
    from luab_bench.results.store import result_filename

    return Path(out) if out is not None else Path(results_dir) / result_filename(result)


def write_signed(path: Path, result: Any, key: Path | None) -> Any:
    """Sign ``result`` with ``key`` (when given) in memory, then write it to ``path`` once, atomically;
    return the (signed) result."""
    from luab_bench.results.signing import load_private_key, sign_result
    from luab_bench.results.store import write_result

    if key is not None:
        result = sign_result(result, load_private_key(key))
    write_result(path, result)
    return result


def evaluate_checkpoint(spec: EvalSpec | None = None, /, **fields: Any) -> Path:
    """Evaluate a checkpoint, write the result JSON (signed when ``spec.key`` is given); return its path.

    ``fields``: the :class:`EvalSpec` as flat keywords (the public ``luab_bench.evaluate``).
    ``synthetic`` evaluates held-out splits of the generated dataset the model was trained on
    (checked by fingerprint); other suites (imagenet, coco, wsol, …) read released datasets under
    ``data_root``. The result is written whenever a task ran; with ``strict`` a missing or failed task
    then raises :class:`LuabError` (after writing). When nothing ran the suite raises and nothing is
    written. Under ``torchrun`` the metrics equal a single-process run's; rank 0 alone writes the
    result. ``created_at`` is ``SOURCE_DATE_EPOCH`` when set (byte-identical re-evaluations).
    """
    from luab_bench.device import resolve_device
    from luab_bench.run.training import Trained
    from luab_bench.train.checkpoint import check_evaluation_meta, load_checkpoint, read_checkpoint_meta
    from luab_bench.train.distributed import barrier, init_distributed, shutdown_distributed

    spec = spec if spec is not None else EvalSpec(**fields)
    ctx, dev = init_distributed(resolve_device(spec.device))
    try:
        progress, echo = (spec.progress, spec.echo) if ctx.is_main else (False, no_echo)  # rank 0 prints
        check_evaluation_meta(read_checkpoint_meta(spec.checkpoint), spec.checkpoint)  # before any build
        net, meta = load_checkpoint(spec.checkpoint, dev)
        done = assess(
            ctx, Trained(net, meta, Path(spec.checkpoint)), suite=spec.suite, data_dir=spec.data_dir,
            data_root=spec.data_root, dev=dev, image_size=spec.image_size, progress=progress, echo=echo,
        )  # fmt: skip
        result = done.result()
        path = result_path(result, out=spec.out, results_dir=spec.results_dir)
        if ctx.is_main:
            write_signed(path, result, spec.key)
        barrier(ctx)  # the result exists for every rank once this returns
    finally:
        shutdown_distributed(ctx)
    not_ok = done.outcome.not_ok
    if spec.strict and not_ok:
        names = ", ".join(f"{k} ({v.status})" for k, v in not_ok.items())
        raise LuabError(
            f"--strict: {len(not_ok)} task(s) did not complete: {names}; the result was written to {path} "
            "with each reason in its tasks block"
        )
    return path
