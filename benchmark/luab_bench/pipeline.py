"""The end-to-end job behind ``luab-bench run``: data -> train -> evaluate -> sign -> leaderboard.

Each stage is also callable on its own (``train_one``, ``evaluate_checkpoint``); the CLI commands are
thin wrappers. The measuring code is the recording code: a result is assembled here from the exact
configs that trained and evaluated the model, plus provenance and the data fingerprint.

Data sources: every suite that can train names a default training source (``TRAINING_DEFAULTS``;
sources live in ``train/sources/``, registry ``TRAIN_SOURCES``): ``synthetic`` and ``synthetic-coco``
generate the embedded data whose held-out splits their suites evaluate; ``imagenet`` trains on
``imagenet-ab`` and ``coco`` on ``coco-ab`` (real images on disk + byproduct records). Real data uses the
same code paths as the embedded data: only the source differs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# prepare/device names are re-exported from their own modules, below the pipeline (issue 15: no
# import cycle), so ``pipeline.prepare_synthetic`` / ``pipeline.resolve_device`` keep working.
from luab_bench.data.prepare import (  # noqa: F401
    GENERATED_SOURCES,
    SyntheticDataset,
    generated_dataset,
    prepare_synthetic,
    prepare_training_data,
)
from luab_bench.device import resolve_device
from luab_bench.errors import LuabError

Echo = Callable[[str], None]
BUILTIN_PROTOCOLS = ("baseline", "rand", "luab")
MULTILABEL_PROTOCOLS = ("coco_baseline", "coco_rand", "coco_luab")


@dataclasses.dataclass(frozen=True)
class SuiteTraining:
    """How a suite trains by default: training source, variant (None = the source's), recipe, and
    the protocols ``--protocol all`` means (multi-label suites: the coco_* family)."""

    source: str
    variant: str | None
    recipe: str
    protocols: tuple[str, ...]


# Suite -> its default training. One entry per suite that can train.
TRAINING_DEFAULTS: dict[str, SuiteTraining] = {
    "synthetic": SuiteTraining("synthetic", "synthetic", "synthetic", BUILTIN_PROTOCOLS),
    # the synthetic recipe (64 px, 5 epochs) is calibrated for the single-label split; used as is here
    "synthetic-coco": SuiteTraining("synthetic-coco", "synthetic-coco", "synthetic", MULTILABEL_PROTOCOLS),
    "imagenet": SuiteTraining("imagenet-ab", None, "resnet_in1k_100ep", BUILTIN_PROTOCOLS),
    "coco": SuiteTraining("coco-ab", None, "resnet_coco_multilabel", MULTILABEL_PROTOCOLS),
}


def _noop(_: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What ``run`` produced: (result path, Result) pairs and the leaderboard index page."""

    results: list[tuple[Path, Any]]
    site_index: Path


# ---------------------------------------------------------------- names
def expand_protocols(spec: str, suite: str | None = None) -> list[str]:
    """``all`` -> the suite's three protocols (baseline/rand/luab, or coco_* for a multi-label
    suite); ``a,b`` -> [a, b]; each name validated later."""
    spec = spec.strip()
    if spec == "all":
        if suite is not None and suite in TRAINING_DEFAULTS:
            return list(TRAINING_DEFAULTS[suite].protocols)
        return list(BUILTIN_PROTOCOLS)
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise LuabError("--protocol is empty; use 'all', a name (baseline, rand, luab) or a YAML path")
    return names


def list_names(what: str) -> list[str]:
    """Names for ``luab-bench list``."""
    if what == "protocols":
        from luab_bench.protocols.base import list_protocols

        return list_protocols()
    if what == "suites":
        from luab_bench.suites.base import SUITES

        return SUITES.names()
    if what == "variants":
        from luab_bench.data.synthetic import SYNTHETIC_VARIANTS

        return sorted(SYNTHETIC_VARIANTS)
    if what == "recipes":
        from luab_bench.protocols.base import list_recipes

        return list_recipes()
    raise LuabError(f"cannot list {what!r}")


def _suite_defaults(suite: str) -> SuiteTraining:
    from luab_bench.registry import unknown_name_message
    from luab_bench.suites.base import SUITES

    SUITES.get(suite)  # unknown suite -> did-you-mean error
    if suite not in TRAINING_DEFAULTS:
        raise LuabError(
            unknown_name_message("training suite", suite, TRAINING_DEFAULTS)
            + " (other suites are evaluation-only: train on one of these, then `luab-bench evaluate`)"
        )
    return TRAINING_DEFAULTS[suite]


# ---------------------------------------------------------------- train
def prepare_source_for(
    suite: str,
    *,
    source: str | None = None,
    variant: str | None = None,
    data_dir: Path,
    data_root: Path | None = None,
    train_data: Path | None = None,
    byproducts: Path | None = None,
    workers: int = 0,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: bool = True,
    echo: Echo = _noop,
) -> Any:
    """The suite's (or ``source``'s) training data as a ``train.sources.PreparedSource``."""
    from luab_bench.train.sources import SourceRequest, prepare_source

    defaults = _suite_defaults(suite)
    name = source or defaults.source
    request = SourceRequest(
        data_dir=Path(data_dir),
        variant=variant or (defaults.variant if name == defaults.source else None),
        data_root=data_root,
        train_data=train_data,
        byproducts=byproducts,
        num_workers=workers,
        seed=seed,
        options=dict(options or {}),
        echo=echo,
        progress=progress,
    )
    return prepare_source(name, request)


def _check_protocol_fits(proto: Any, prepared: Any) -> None:
    multi_family = str(proto.config.family).startswith("multilabel")
    if multi_family != prepared.multilabel:
        kind = "multi-label (multi-hot)" if prepared.multilabel else "single-label"
        raise LuabError(
            f"protocol {proto.config.name!r} (family {proto.config.family}) does not fit training source "
            f"{prepared.source!r}, whose labels are {kind}; use one of "
            f"{', '.join(prepared.default_protocols)}"
        )


def train_one(
    *,
    model: str,
    protocol: str,
    suite: str = "synthetic",
    variant: str | None = None,
    seed: int = 0,
    recipe: str | None = None,
    epochs: int | None = None,
    data_dir: Path,
    out: Path,
    device: str = "auto",
    progress: bool = True,
    echo: Echo = _noop,
    resume: bool = False,
    checkpoint_every_steps: int = 0,
    source: str | None = None,
    data_root: Path | None = None,
    train_data: Path | None = None,
    byproducts: Path | None = None,
    workers: int = 0,
    source_options: dict[str, Any] | None = None,
) -> Path:
    """Train ``model`` under ``protocol`` on the suite's training data; write a checkpoint dir.

    The data comes from the suite's default training source (``TRAINING_DEFAULTS``) or ``source``;
    ``data_root`` / ``train_data`` / ``byproducts`` / ``workers`` / ``source_options`` go to it (see
    ``train/sources/``). Under ``torchrun`` each process trains its slice of every global batch (DDP;
    gloo on CPU, NCCL on GPU) and only rank 0 writes. The training state is saved atomically in
    ``out`` every epoch (and every ``checkpoint_every_steps`` steps); ``resume=True`` continues from
    it so that the final weights equal an uninterrupted run's (same seed, CPU).
    """
    from luab_bench.models import create_model
    from luab_bench.progress import progress_bar
    from luab_bench.protocols.base import load_protocol, load_recipe
    from luab_bench.train.checkpoint import save_checkpoint
    from luab_bench.train.distributed import init_distributed, shutdown_distributed
    from luab_bench.train.heldout import resolve_held_out
    from luab_bench.train.loop import train

    defaults = _suite_defaults(suite)
    proto = load_protocol(protocol)
    rec = load_recipe(recipe or defaults.recipe)
    if epochs is not None:
        rec = rec.model_copy(update={"epochs": epochs})
    ctx, dev = init_distributed(resolve_device(device))
    try:
        if not ctx.is_main:  # only rank 0 prints and draws progress bars
            progress, echo = False, _noop
        prepared = prepare_source_for(
            suite,
            source=source,
            variant=variant,
            data_dir=data_dir,
            data_root=data_root,
            train_data=train_data,
            byproducts=byproducts,
            workers=workers,
            options=source_options,
            seed=seed,
            progress=progress,
            echo=echo,
        )
        _check_protocol_fits(proto, prepared)
        prepared = proto.adapt_source(prepared, seed)  # positive controls change the data; others: no-op
        num_classes = prepared.num_classes
        # init_seed=seed: under one seed, baseline / Rand / LUAB start from the same weights and see
        # the same batches, so protocol differences are not initialisation noise. train() applies the
        # protocol's targets (none / byproduct Z / uniform random) itself.
        extra = {"drop_path_rate": rec.drop_path_rate} if rec.drop_path_rate else {}
        net = create_model(
            model, num_classes, num_point_heads=proto.num_point_heads(num_classes), init_seed=seed, **extra
        )
        # Per-epoch held-out curves (the paper's Fig. 8/9) when the source has a held-out set (a
        # fixed, seeded val subset; real sources' files are decoded here, once, at the recipe's
        # image size); it draws no training randomness.
        held_out = resolve_held_out(prepared.held_out, rec.image_size, echo)
        where = f"device {dev}" + (f", {ctx.world_size} processes" if ctx.world_size > 1 else "")
        echo(f"Training {model} / {proto.config.name} on {prepared.variant} (seed {seed}, {where})")
        with progress_bar(progress) as prog:
            report = train(
                net,
                proto,
                rec,
                prepared.data,
                seed=seed,
                device=dev,
                progress=prog,
                checkpoint_dir=out,
                resume=resume,
                checkpoint_every_steps=checkpoint_every_steps,
                dist=ctx,
                held_out=held_out,
            )
        meta = {
            "model": {"name": model, "num_classes": num_classes, "num_point_heads": net.num_point_heads},
            "protocol": proto.config.model_dump(mode="json"),
            "recipe": rec.model_dump(mode="json"),
            "seed": seed,
            "suite": suite,
            "data": prepared.meta,
            "training": _report_dict(report),
            "device": dev,
        }
        if ctx.is_main:
            save_checkpoint(out, net, meta)
    finally:
        shutdown_distributed(ctx)
    return Path(out)


def _report_dict(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report):
        return dataclasses.asdict(report)
    if hasattr(report, "model_dump"):
        return report.model_dump(mode="json")
    return dict(report)


# ---------------------------------------------------------------- evaluate
def evaluate_checkpoint(
    *,
    checkpoint: Path,
    suite: str | None = None,
    data_dir: Path,
    out: Path | None = None,
    results_dir: Path,
    key: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    echo: Echo = _noop,
    data_root: Path | None = None,
    strict: bool = False,
    image_size: int | None = None,
) -> Path:
    """Evaluate a checkpoint, write the result JSON (signed when ``key`` is given); return its path.

    ``synthetic`` evaluates held-out splits of the generated dataset the model was trained on
    (checked by fingerprint); other suites (imagenet, coco, wsol, …) read released datasets under
    ``data_root``. Every task that can run does; each task's status (ok / missing / failed, with the
    reason) goes into the result's ``tasks`` block. The result is written whenever a task ran; with
    ``strict`` a missing or failed task then raises :class:`LuabError` (after writing). When nothing
    ran the suite raises and nothing is written.

    Under ``torchrun`` every rank evaluates its shard of every task's images and the outputs are
    gathered once per inference pass (``suites.base.predict``): the metrics equal a single-process
    run's; rank 0 alone writes derived data (first, the others wait), the result and its signature.
    ``created_at`` is ``SOURCE_DATE_EPOCH`` when set (reproducible, byte-identical re-evaluations).
    File-based suites feed the recipe's ``image_size`` (or ``image_size``); the result's
    ``model_provenance`` records the preprocessing.
    """
    from luab_bench.train.distributed import barrier, init_distributed, shutdown_distributed

    ctx, dev = init_distributed(resolve_device(device))
    try:
        if not ctx.is_main:  # only rank 0 prints and draws progress bars
            progress, echo = False, _noop
        path, outcome = _evaluate_and_write(
            ctx, checkpoint=checkpoint, suite=suite, data_dir=data_dir, out=out, results_dir=results_dir,
            key=key, dev=dev, progress=progress, echo=echo, data_root=data_root, image_size=image_size,
        )  # fmt: skip
        barrier(ctx)  # the result exists for every rank once this returns
    finally:
        shutdown_distributed(ctx)
    not_ok = outcome.not_ok
    if strict and not_ok:
        names = ", ".join(f"{k} ({v.status})" for k, v in not_ok.items())
        raise LuabError(
            f"--strict: {len(not_ok)} task(s) did not complete: {names}; the result was written to {path} "
            "with each reason in its tasks block"
        )
    return path


def _main_first(ctx: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` on rank 0, then on the other ranks once rank 0 is done (they reuse what it wrote)."""
    from luab_bench.train.distributed import barrier

    if ctx.is_main:
        value = fn()
        barrier(ctx)
        return value
    barrier(ctx)
    return fn()


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


def _evaluate_and_write(
    ctx: Any,
    *,
    checkpoint: Path,
    suite: str | None,
    data_dir: Path,
    out: Path | None,
    results_dir: Path,
    key: Path | None,
    dev: str,
    progress: bool,
    echo: Echo,
    data_root: Path | None,
    image_size: int | None = None,
) -> tuple[Path, Any]:
    from luab_bench.model_record import checkpoint_provenance
    from luab_bench.preprocess import apply_input_size
    from luab_bench.progress import progress_bar
    from luab_bench.results.provenance import collect_provenance
    from luab_bench.results.schema import SCHEMA_VERSION, Result
    from luab_bench.results.signing import sign_result_file
    from luab_bench.results.store import result_filename, write_result
    from luab_bench.suites.base import SUITES
    from luab_bench.train.checkpoint import check_evaluation_meta, load_checkpoint, read_checkpoint_meta

    check_evaluation_meta(read_checkpoint_meta(checkpoint), checkpoint)  # before any model is built
    net, meta = load_checkpoint(checkpoint, dev)
    suite_name = suite or meta["suite"]
    suite_obj = SUITES.get(suite_name)()
    data_meta = meta["data"]
    own = TRAINING_DEFAULTS.get(suite_name)
    if own is not None and own.source in GENERATED_SOURCES:
        # A suite evaluated on held-out splits of the generated training dataset itself.
        if data_meta["source"] != own.source:
            raise LuabError(
                f"{checkpoint}: suite {suite_name!r} evaluates the generated {own.source!r} data, but "
                f"this model was trained on {data_meta['source']!r}; evaluate it on the suite of its "
                "own training data, or on a real suite with --data-root"
            )
        dataset = _main_first(
            ctx, lambda: generated_dataset(own.source, data_meta["variant"], data_dir, progress=progress)
        )
        if dataset.fingerprint != data_meta["fingerprint"]:
            raise LuabError(
                f"{checkpoint}: trained on data {data_meta['fingerprint'][:12]} but the generated "
                f"{dataset.variant} data is {dataset.fingerprint[:12]}; regenerate with the same "
                "luab-bench version or retrain"
            )
        eval_dir, variant, fingerprint = dataset.directory, dataset.variant, dataset.fingerprint
    else:
        # An external suite (real datasets): the data lives under a user-given root.
        if data_root is None:
            raise LuabError(
                f"suite {suite_name!r} reads released datasets: pass --data-root DIR (the folder "
                "holding them; see docs/evaluation.md for the expected layout and variables)"
            )
        if not Path(data_root).is_dir():
            raise LuabError(f"--data-root {data_root}: not a directory")
        eval_dir, variant = Path(data_root), suite_name
        fingerprint = listing_fingerprint(eval_dir)
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
            _main_first(ctx, lambda: prepare(eval_dir, prog))
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
        from luab_bench.suites.base import TaskStatus

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
    result_id = _result_id(meta, suite_name, fingerprint)
    doc = {
        "schema_version": SCHEMA_VERSION,
        "result_id": result_id,
        "created_at": created_at(),
        "model": {
            "name": meta["model"]["name"],
            "source": "timm",
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
            net, meta, checkpoint, suite_name, size_from=size_from, dataset_dir=eval_dir
        ),
        "signature": None,
    }
    result = Result.model_validate(doc)
    path = Path(out) if out is not None else Path(results_dir) / result_filename(result)
    if ctx.is_main:
        write_result(path, result)
        if key is not None:
            sign_result_file(path, key)
    return path, outcome


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
    import json

    basis = json.dumps(
        [meta["model"], meta["protocol"], meta["recipe"], meta["seed"], suite, fingerprint],
        sort_keys=True,
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- everything
def run(
    *,
    model: str,
    protocols: Sequence[str],
    suite: str = "synthetic",
    variant: str | None = None,
    seed: int = 0,
    recipe: str | None = None,
    epochs: int | None = None,
    data_dir: Path,
    runs_dir: Path,
    results_dir: Path,
    site_dir: Path,
    key: Path | None = None,
    device: str = "auto",
    progress: bool = True,
    echo: Echo = _noop,
    source: str | None = None,
    data_root: Path | None = None,
    train_data: Path | None = None,
    byproducts: Path | None = None,
    workers: int = 0,
    source_options: dict[str, Any] | None = None,
    align: bool = True,
    seeds: Sequence[int] | None = None,
) -> RunOutcome:
    """Train and evaluate ``model`` under each protocol, sign every result, build the site.

    ``seeds`` (default: ``[seed]``): every protocol is trained at every seed (seed-major order), one
    signed result file per (protocol, seed); within a seed the protocols are paired (same initial
    weights and batches, see ``luab_bench.seeds``).

    ``source`` … ``source_options`` go to :func:`train_one`; ``data_root`` also to the evaluation of a
    real suite (the folder of released datasets). ``align``: after each evaluation, score the model's
    passive attention against human maps (``alignment.report.align_result`` with its default methods
    and image count) and re-sign the result with the same key; skipped, with the reason printed, where
    there are no human maps (real sources) or no method applies.
    """
    from luab_bench.leaderboard.build import build_site
    from luab_bench.models import check_model_name
    from luab_bench.protocols.base import load_protocol
    from luab_bench.results.schema import load_result

    # Fail fast on every name before any minute of training is spent.
    check_model_name(model)
    protos = [load_protocol(p) for p in protocols]
    _suite_defaults(suite)
    resolve_device(device)
    if key is None:
        key = _throwaway_key(Path(runs_dir), echo)
    elif not Path(key).is_file():
        raise LuabError(f"--key {key}: file not found; make one with `luab-bench keygen --out DIR`")

    results: list[tuple[Path, Any]] = []
    jobs = [(s, p) for s in (list(seeds) if seeds else [seed]) for p in protos]
    for run_seed, proto in jobs:
        name = proto.config.name
        ckpt_dir = Path(runs_dir) / f"{suite}__{model}__{name}__s{run_seed}"
        train_one(
            model=model,
            protocol=proto.source,
            suite=suite,
            variant=variant,
            seed=run_seed,
            recipe=recipe,
            epochs=epochs,
            data_dir=data_dir,
            out=ckpt_dir,
            device=device,
            progress=progress,
            echo=echo,
            source=source,
            data_root=data_root,
            train_data=train_data,
            byproducts=byproducts,
            workers=workers,
            source_options=source_options,
        )
        path = evaluate_checkpoint(
            checkpoint=ckpt_dir,
            suite=suite,
            data_dir=data_dir,
            results_dir=results_dir,
            key=key,
            device=device,
            progress=progress,
            echo=echo,
            data_root=data_root,
        )
        if align:
            _align_into_result(path, ckpt_dir, data_dir=data_dir, device=device, key=key, echo=echo)
        echo(f"Wrote signed result {path}")
        results.append((path, load_result(path)))
    report = build_site(results_dir, site_dir)
    echo(report.summary())
    return RunOutcome(results=results, site_index=report.index_path)


def _align_into_result(
    path: Path, ckpt_dir: Path, *, data_dir: Path, device: str, key: Path, echo: Echo
) -> None:
    """Add the human-alignment metrics and curves to the result at ``path`` and re-sign it."""
    from luab_bench.alignment.report import align_result

    echo(f"Aligning {ckpt_dir.name} with human maps (saliency vs simulated annotators' clicks)")
    outcome = align_result(path, ckpt_dir, data_dir=data_dir, device=device, key=key, seed=0)
    if outcome.skipped:
        echo(f"alignment skipped: {outcome.skipped}")
        return
    if outcome.report is not None:
        for method, why in outcome.report.skipped.items():
            echo(f"alignment: {method} skipped: {why}")


def _throwaway_key(runs_dir: Path, echo: Echo) -> Path:
    """Make (once) a throw-away signing key under ``runs_dir`` and say so loudly."""
    from luab_bench.results.signing import generate_keypair

    key_dir = runs_dir / "throwaway-key"
    priv = key_dir / "luab_ed25519"
    if not priv.exists():
        priv, _pub = generate_keypair(key_dir)
    echo(
        f"NOTE: signing with a THROW-AWAY key ({priv}). The results verify, but nobody can attribute "
        "them to you; for a submission make a key with `luab-bench keygen` and pass --key."
    )
    return Path(priv)


# ---------------------------------------------------------------- printing
def print_results_table(results: Sequence[tuple[Path, Any]]) -> None:
    """Print the results in their suite's paper layout (Table 1 / Table 6), one row per result.

    Values are shown with their 95% interval; metrics outside the layout stay in the JSON files.
    """
    from rich.console import Console

    from luab_bench.suites.tables import layout, render_by_metric

    by_suite: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for _, res in results:
        label = f"{res.model.name}\n{res.protocol.name} s{res.seed}"
        metrics = {k: m.model_dump() for k, m in res.metrics.items()}
        by_suite.setdefault(res.suite.name, []).append((label, metrics))
    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough that value [CI] cells never wrap
        console = Console(width=max(console.width, 110))
    for suite, rows in by_suite.items():
        columns = layout(suite) or {k: k for _, m in rows for k in m}
        console.print(render_by_metric(rows, columns, title=f"luab-bench: {suite} (value [95% CI])"))
    from luab_bench.suites.paired_tables import print_paired_tables

    print_paired_tables(console, results)
