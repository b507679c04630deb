"""Evaluate any model spec on any suite without training (``luab-bench evaluate --model SPEC``).

The model comes from :mod:`luab_bench.model_spec` (timm name/tag, ``hf-hub:``, ``local-dir:``,
``module:callable``; ``--weights`` / ``--pretrained`` / ``--point-head``), the preprocessing from
:mod:`luab_bench.preprocess`, and the result carries a ``model_provenance`` block (schema 1.2) with the
exact spec, the weights' SHA-256 and size, the resolved preprocessing, and the metrics that do not apply
(a model without a point head has no point metrics: they are *absent with a reason*, never 0).

:func:`luab_bench.model_record.checkpoint_provenance` writes the same block for a ``luab-bench train``
checkpoint (``pipeline.evaluate_checkpoint``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.model_record import POINT_METRICS, not_applicable
from luab_bench.run.spec import ModelEvalSpec

__all__ = [
    "POINT_METRICS",
    "ModelEvalSpec",
    "evaluate_model",
    "evaluate_model_net",
    "not_applicable",
    "run_no_train_command",
    "run_without_training",
]

#: Output size of the real suites' label spaces (the generated suites read theirs from the dataset).
SUITE_NUM_CLASSES: dict[str, int] = {"imagenet": 1000, "coco": 80}
#: Protocol recorded for a model trained outside luab-bench when no --protocol is given.
EXTERNAL_PROTOCOL = {"name": "external", "version": "0", "family": "external"}


def _evaluation_data(job: ModelEvalSpec) -> tuple[Path, str, str, int | None]:
    """(data directory, variant, fingerprint, number of classes or None) of a suite's evaluation data."""
    from luab_bench.data.prepare import GENERATED_SOURCES, generated_dataset
    from luab_bench.run.evaluation import listing_fingerprint
    from luab_bench.run.names import own_training

    suite = job.suite
    own = own_training(suite)
    if own is not None and own.source in GENERATED_SOURCES:
        dataset = generated_dataset(
            own.source, job.variant or own.variant or suite, Path(job.data_dir), progress=job.progress
        )
        return dataset.directory, dataset.variant, dataset.fingerprint, int(dataset.config["num_classes"])
    if job.data_root is None:
        raise LuabError(
            f"suite {suite!r} reads released datasets: pass --data-root DIR (see docs/evaluation.md)"
        )
    if not Path(job.data_root).is_dir():
        raise LuabError(f"--data-root {job.data_root}: not a directory")
    root = Path(job.data_root)
    return root, suite, listing_fingerprint(root), SUITE_NUM_CLASSES.get(suite)


def evaluate_model(job: ModelEvalSpec | None = None, /, **fields: Any) -> Path:
    """Build ``job.spec`` (a :class:`~luab_bench.model_spec.ModelSpec`), evaluate it, write the result.

    ``fields``: the :class:`~luab_bench.run.spec.ModelEvalSpec` as flat keywords; returns the path.
    """
    return evaluate_model_net(job if job is not None else ModelEvalSpec(**fields))[0]


def evaluate_model_net(job: ModelEvalSpec) -> tuple[Path, Any]:
    """Build ``job.spec``, evaluate it on ``job.suite``, write the result once (signed with ``job.key``).

    Returns the result path and the evaluated model (see :func:`assess_model`).
    """
    doc, net = assess_model(job)
    return _write(job, doc), net


def _write(job: ModelEvalSpec, doc: dict[str, Any]) -> Path:
    from luab_bench.results.schema import Result
    from luab_bench.run.evaluation import result_path, write_signed

    result = Result.model_validate(doc)
    path = result_path(result, out=job.out, results_dir=job.results_dir)
    write_signed(path, result, job.key)
    return path


def assess_model(job: ModelEvalSpec) -> tuple[dict[str, Any], Any]:
    """Build ``job.spec`` and evaluate it on ``job.suite``: (the result document, the model).

    ``job.protocol``: how the model was trained (a registered name or YAML), recorded as is; None
    records ``external``. ``num_classes`` defaults to the suite's label space. ``seed`` seeds the
    bootstrap intervals (and a random init). ``extra`` is merged into the result document (``rescore``).
    """
    from luab_bench.device import resolve_device
    from luab_bench.model_spec import build_model
    from luab_bench.preprocess import apply_input_size, resolved_preprocessing
    from luab_bench.progress import progress_bar
    from luab_bench.results.per_image import per_image_block
    from luab_bench.results.provenance import collect_provenance
    from luab_bench.results.schema import SCHEMA_VERSION
    from luab_bench.suites.base import SUITES

    spec, suite, seed, echo = job.spec, job.suite, job.seed, job.echo
    suite_obj = SUITES.get(suite)()
    proto_info, proto_cfg = dict(EXTERNAL_PROTOCOL), None
    if job.protocol is not None:
        from luab_bench.protocols.base import load_protocol

        p = load_protocol(job.protocol)
        proto_cfg = p.config.model_dump(mode="json")
        proto_info = {"name": p.config.name, "version": str(p.config.version), "family": p.config.family}
    dev = resolve_device(job.device)
    eval_dir, variant_name, fingerprint, suite_classes = _evaluation_data(job)
    classes = job.num_classes or suite_classes
    if classes is None:
        raise LuabError(f"suite {suite!r}: pass --num-classes N (the size of the model's classifier)")
    loaded = build_model(spec, int(classes), init_seed=seed)
    net = loaded.net
    if loaded.provenance["weights"] is None:
        echo(f"NOTE: {spec.text} has random weights (no --weights, no --pretrained): a control, not a model")
    for note in loaded.provenance.get("notes", []):
        echo(f"NOTE: {spec.text}: {note}")
    size_from = apply_input_size(net, suite, job.image_size, explicit=job.image_size is not None)
    echo(f"Evaluating {spec.text} ({proto_info['name']}) on {suite}")
    with progress_bar(job.progress) as prog:
        outcome = suite_obj.evaluate(
            net, dataset_dir=eval_dir, device=dev, progress=prog, seed=seed,
            normalize=(net.input_mean, net.input_std),
        )  # fmt: skip
    for m in outcome.missing:
        echo(f"missing dataset for {m.task}: looked at {m.path}; {m.how_to_get}")
    tasks = getattr(outcome, "tasks", None)
    if tasks is not None and not tasks:  # a suite that bypasses Suite.evaluate's default
        from luab_bench.suites.base import TaskStatus

        tasks = {suite: TaskStatus("ok")}
    for name, task in (tasks or {}).items():
        if task.status != "ok":
            echo(f"{task.status} task {name}: {task.reason}")
    provenance = {
        **loaded.provenance,
        "preprocessing": resolved_preprocessing(net, suite, size_from=size_from, dataset_dir=eval_dir),
        "not_applicable": not_applicable(net, suite),
    }
    basis = json.dumps(
        [spec.text, provenance["weights"], proto_info, suite, variant_name, fingerprint, seed,
         provenance["preprocessing"]["input_size"], spec.point_head],
        sort_keys=True,
    )  # fmt: skip
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "result_id": hashlib.sha256(basis.encode()).hexdigest()[:16],
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "model": {
            "name": spec.text if len(spec.text) <= 200 else spec.text[:199] + "…",
            "source": spec.kind,  # result schema: where the model comes from (timm, hf-hub, …)
            "pretrained": bool(provenance["pretrained"]),
            "num_params": int(sum(p.numel() for p in net.backbone.parameters())),
        },
        "protocol": proto_info,
        "suite": {"name": suite, "variant": variant_name, "data_fingerprint": fingerprint},
        "seed": int(seed),
        "metrics": outcome.metrics,
        "config": {
            "protocol": proto_cfg,
            "evaluation": {"suite": suite, "device": dev, "num_classes": int(classes)},
        },
        "provenance": collect_provenance(fingerprint, extra_data=dict(outcome.data)),
        "training": None,
        "model_provenance": provenance,
        **({"tasks": {name: task.as_dict() for name, task in tasks.items()}} if tasks else {}),
        "per_image": per_image_block(outcome),
        "signature": None,
        **(job.extra or {}),
    }
    return doc, net


def run_without_training(job: ModelEvalSpec, *, align: bool = True) -> Path:
    """``run --no-train``: evaluate ``job.spec`` as is, align it with the embedded human maps (merged
    into the result in memory), then sign and write the result once."""
    doc, net = assess_model(job)
    suite, echo = job.suite, job.echo
    if align and suite not in ("synthetic", "synthetic-coco"):
        echo(f"alignment skipped: human maps exist here only for the embedded data, not {suite!r}")
    elif align:
        _align_into(doc, net, job)
    return _write(job, doc)


def _align_into(doc: dict[str, Any], net: Any, job: ModelEvalSpec) -> None:
    """Score ``net``'s saliency against the embedded human maps; merge the ``align_*`` metrics and the
    ``alignment`` block into ``doc`` (what ``alignment.report.write_alignment`` does to a fresh file)."""
    from luab_bench.alignment.report import align_set, merge_alignment
    from luab_bench.alignment.spec import AlignSpec
    from luab_bench.device import resolve_device

    echo = job.echo
    echo(f"Aligning {job.spec.text} with human maps (saliency vs simulated annotators' clicks)")
    spec = AlignSpec(seed=0)  # the paper's protocol on the embedded byproduct maps, as `run` aligns
    aset = spec.load_set(doc["suite"]["variant"] or job.suite, Path(job.data_dir))
    cfg = spec.config(aset.label)
    dev = resolve_device(job.device)
    merge_alignment(doc, align_set(net.to(dev).eval(), aset, cfg, device=dev), echo)


def run_no_train_command(job: ModelEvalSpec, *, runs_dir: Path, site_dir: Path, align: bool) -> Path:
    """``luab-bench run --no-train``: evaluate, align, sign (throw-away key unless given), build the site."""
    from luab_bench.leaderboard.build import build_site
    from luab_bench.results.schema import load_result
    from luab_bench.run.keys import signing_key
    from luab_bench.run.tables import print_results_table

    if job.protocol is not None and "," in job.protocol:
        raise LuabError("--no-train evaluates one model: give one --protocol (how it was trained) or 'all'")
    job = dataclasses.replace(job, key=signing_key(job.key, Path(runs_dir), job.echo))
    path = run_without_training(job, align=align)
    job.echo(f"Wrote signed result {path}")
    report = build_site(job.results_dir, site_dir)
    job.echo(report.summary())
    print_results_table([(path, load_result(path))])
    job.echo(f"Leaderboard: {report.index_path}")
    return path
