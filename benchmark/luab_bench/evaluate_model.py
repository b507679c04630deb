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

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.model_record import POINT_METRICS, not_applicable

__all__ = ["POINT_METRICS", "evaluate_model", "evaluate_model_net", "not_applicable", "run_no_train_command"]

Echo = Callable[[str], None]

#: Output size of the real suites' label spaces (the generated suites read theirs from the dataset).
SUITE_NUM_CLASSES: dict[str, int] = {"imagenet": 1000, "coco": 80}
#: Protocol recorded for a model trained outside luab-bench when no --protocol is given.
EXTERNAL_PROTOCOL = {"name": "external", "version": "0", "family": "external"}


def _noop(_: str) -> None:
    pass


def _evaluation_data(
    suite: str, *, variant: str | None, data_dir: Path, data_root: Path | None, progress: bool
) -> tuple[Path, str, str, int | None]:
    """(data directory, variant, fingerprint, number of classes or None) of a suite's evaluation data."""
    from luab_bench import pipeline

    own = pipeline.TRAINING_DEFAULTS.get(suite)
    if own is not None and own.source in pipeline.GENERATED_SOURCES:
        dataset = pipeline.generated_dataset(
            own.source, variant or own.variant or suite, Path(data_dir), progress=progress
        )
        return dataset.directory, dataset.variant, dataset.fingerprint, int(dataset.config["num_classes"])
    if data_root is None:
        raise LuabError(
            f"suite {suite!r} reads released datasets: pass --data-root DIR (see docs/evaluation.md)"
        )
    if not Path(data_root).is_dir():
        raise LuabError(f"--data-root {data_root}: not a directory")
    return Path(data_root), suite, pipeline.listing_fingerprint(Path(data_root)), SUITE_NUM_CLASSES.get(suite)


def evaluate_model(**kwargs: Any) -> Path:
    """Build ``spec`` (a :class:`~luab_bench.model_spec.ModelSpec`), evaluate it, write the result.

    Keyword arguments as :func:`evaluate_model_net`; returns only the result path.
    """
    return evaluate_model_net(**kwargs)[0]


def evaluate_model_net(
    *,
    spec: Any,
    suite: str = "synthetic",
    variant: str | None = None,
    protocol: str | None = None,
    num_classes: int | None = None,
    image_size: int | None = None,
    data_dir: Path,
    data_root: Path | None = None,
    out: Path | None = None,
    results_dir: Path,
    key: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    echo: Echo = _noop,
    seed: int = 0,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, Any]:
    """Build ``spec`` (a :class:`~luab_bench.model_spec.ModelSpec`), evaluate it, write the result.

    ``protocol``: how the model was trained (a registered name or YAML), recorded as is; None records
    ``external``. ``num_classes`` defaults to the suite's label space. ``seed`` seeds the bootstrap
    intervals (and a random init). ``extra`` is merged into the result document (``rescore``).
    Returns the result path (signed when ``key`` is given) and the evaluated model.
    """
    from luab_bench import pipeline
    from luab_bench.model_spec import build_model
    from luab_bench.preprocess import apply_input_size, resolved_preprocessing
    from luab_bench.progress import progress_bar
    from luab_bench.results.provenance import collect_provenance
    from luab_bench.results.schema import SCHEMA_VERSION, Result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import result_filename, write_result
    from luab_bench.suites.base import SUITES

    suite_obj = SUITES.get(suite)()
    proto_info, proto_cfg = dict(EXTERNAL_PROTOCOL), None
    if protocol is not None:
        from luab_bench.protocols.base import load_protocol

        p = load_protocol(protocol)
        proto_cfg = p.config.model_dump(mode="json")
        proto_info = {"name": p.config.name, "version": str(p.config.version), "family": p.config.family}
    dev = pipeline.resolve_device(device)
    eval_dir, variant_name, fingerprint, suite_classes = _evaluation_data(
        suite, variant=variant, data_dir=data_dir, data_root=data_root, progress=progress
    )
    classes = num_classes or suite_classes
    if classes is None:
        raise LuabError(f"suite {suite!r}: pass --num-classes N (the size of the model's classifier)")
    loaded = build_model(spec, int(classes), init_seed=seed)
    net = loaded.net
    if loaded.provenance["weights"] is None:
        echo(f"NOTE: {spec.text} has random weights (no --weights, no --pretrained): a control, not a model")
    for note in loaded.provenance.get("notes", []):
        echo(f"NOTE: {spec.text}: {note}")
    size_from = apply_input_size(net, suite, image_size, explicit=image_size is not None)
    echo(f"Evaluating {spec.text} ({proto_info['name']}) on {suite}")
    with progress_bar(progress) as prog:
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
            "source": spec.kind,
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
        "signature": None,
        **(extra or {}),
    }
    result = Result.model_validate(doc)
    path = Path(out) if out is not None else Path(results_dir) / result_filename(result)
    write_result(path, result)
    if key is not None:
        sign_result_file(path, key)
    return path, net


def run_without_training(
    *,
    spec: Any,
    suite: str,
    variant: str | None,
    protocol: str | None,
    data_dir: Path,
    data_root: Path | None,
    results_dir: Path,
    key: Path,
    device: str,
    progress: bool,
    echo: Echo = _noop,
    align: bool = True,
    seed: int = 0,
) -> Path:
    """``run --no-train``: evaluate ``spec`` as is, align it with the embedded human maps, sign."""
    path, net = evaluate_model_net(
        spec=spec, suite=suite, variant=variant, protocol=protocol, data_dir=data_dir,
        data_root=data_root, results_dir=results_dir, key=key, device=device, progress=progress,
        echo=echo, seed=seed,
    )  # fmt: skip
    if not align:
        return path
    if suite not in ("synthetic", "synthetic-coco"):
        echo(f"alignment skipped: human maps exist here only for the embedded data, not {suite!r}")
        return path
    from luab_bench import pipeline
    from luab_bench.alignment.report import (
        DEFAULT_LIMIT,
        DEFAULT_METHODS,
        AlignConfig,
        align_set,
        default_measure,
        write_alignment,
    )
    from luab_bench.alignment.sets import load_alignment_set
    from luab_bench.results.schema import load_result

    echo(f"Aligning {spec.text} with human maps (saliency vs simulated annotators' clicks)")
    aset = load_alignment_set(
        load_result(path).suite.variant or suite, Path(data_dir), split="val", limit=DEFAULT_LIMIT,
        maps="byproducts", seed=0,
    )  # fmt: skip
    cfg = AlignConfig(
        methods=DEFAULT_METHODS, measure=default_measure("byproducts", None), seed=0,
        data_label=aset.label, skip_inapplicable=True,
    )  # fmt: skip
    dev = pipeline.resolve_device(device)
    report = align_set(net.to(dev).eval(), aset, cfg, device=dev)
    for method, why in report.skipped.items():
        echo(f"alignment: {method} skipped: {why}")
    if report.scores:
        write_alignment(path, report, key=key)
    return path


def run_no_train_command(
    *,
    model: str,
    protocol: str,
    suite: str,
    variant: str | None,
    data_dir: Path,
    runs_dir: Path,
    results_dir: Path,
    site_dir: Path,
    key: Path | None,
    data_root: Path | None,
    align: bool,
    weights: Path | None,
    sha256: str | None,
    pretrained: bool,
    point_head: bool,
    device: str,
    progress: bool,
    echo: Echo = _noop,
) -> Path:
    """``luab-bench run --no-train``: evaluate, align, sign (throw-away key unless given), build the site."""
    from luab_bench import pipeline
    from luab_bench.leaderboard.build import build_site
    from luab_bench.model_spec import parse_model_spec
    from luab_bench.results.schema import load_result

    spec = parse_model_spec(
        model, weights=weights, sha256=sha256, pretrained=pretrained, point_head=point_head
    )
    if "," in protocol:
        raise LuabError("--no-train evaluates one model: give one --protocol (how it was trained) or 'all'")
    if key is not None and not Path(key).is_file():
        raise LuabError(f"--key {key}: file not found; make one with `luab-bench keygen --out DIR`")
    signing_key = key if key is not None else pipeline._throwaway_key(Path(runs_dir), echo)
    path = run_without_training(
        spec=spec, suite=suite, variant=variant, protocol=None if protocol == "all" else protocol,
        data_dir=data_dir, data_root=data_root, results_dir=results_dir, key=signing_key, device=device,
        progress=progress, echo=echo, align=align,
    )  # fmt: skip
    echo(f"Wrote signed result {path}")
    report = build_site(results_dir, site_dir)
    echo(report.summary())
    pipeline.print_results_table([(path, load_result(path))])
    echo(f"Leaderboard: {report.index_path}")
    return path
