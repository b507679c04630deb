"""Training step: prepare the training source of a :class:`TrainSpec`, train, write the checkpoint.

:func:`train_net` returns the trained net with its checkpoint meta (:class:`Trained`), so that
``run`` hands it to evaluation instead of rebuilding it from the checkpoint; :func:`train_one` (the
public ``luab_bench.train``) returns only the checkpoint directory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from luab_bench.errors import LuabError
from luab_bench.run.names import suite_training
from luab_bench.run.spec import Echo, TrainSpec, no_echo
from luab_bench.train.sources.base import SourceRequest


@dataclasses.dataclass
class Trained:
    """A trained net (eval mode, on its device), its checkpoint ``meta`` and directory."""

    net: Any
    meta: dict[str, Any]
    checkpoint: Path


def resolved_request(suite: str, request: SourceRequest, **changes: Any) -> SourceRequest:
    """``request`` with the training source and variant filled in from the suite's default training
    (a variant only for the suite's own source), plus ``changes`` (seed, echo, progress)."""
    defaults = suite_training(suite)
    name = request.source or defaults.source
    variant = request.variant or (defaults.variant if name == defaults.source else None)
    return dataclasses.replace(request, source=name, variant=variant, **changes)


def prepare_source_for(suite: str, request: SourceRequest | None = None, /, **fields: Any) -> Any:
    """The suite's (or ``request.source``'s) training data as a ``train.sources.PreparedSource``.

    ``fields`` (instead of ``request``): ``data_dir``, ``source``, ``variant``, ``data_root``,
    ``train_data``, ``byproducts``, ``workers``, ``options``, ``seed``, ``progress``, ``echo``.
    """
    from luab_bench.run.spec import data_request
    from luab_bench.train.sources import prepare_source

    if request is None:
        extra = {k: fields.pop(k) for k in ("seed", "progress", "echo") if k in fields}
        if "options" in fields:
            fields["source_options"] = fields.pop("options")
        request = dataclasses.replace(data_request(fields), **extra)
    resolved = resolved_request(suite, request)
    return prepare_source(str(resolved.source), resolved)


def _check_protocol_fits(proto: Any, prepared: Any) -> None:
    multi_family = str(proto.config.family).startswith("multilabel")
    if multi_family != prepared.multilabel:
        kind = "multi-label (multi-hot)" if prepared.multilabel else "single-label"
        raise LuabError(
            f"protocol {proto.config.name!r} (family {proto.config.family}) does not fit training source "
            f"{prepared.source!r}, whose labels are {kind}; use one of "
            f"{', '.join(prepared.default_protocols)}"
        )


def train_one(spec: TrainSpec | None = None, /, **fields: Any) -> Path:
    """Train ``spec.model`` under ``spec.protocol`` on the suite's training data; return the
    checkpoint directory. ``fields``: the spec as flat keywords (:meth:`TrainSpec.from_fields`:
    ``model``, ``protocol``, ``data_dir``, ``out``, ``source``, ``data_root``, ``workers``, …)."""
    return train_net(spec if spec is not None else TrainSpec.from_fields(**fields)).checkpoint


def train_net(spec: TrainSpec, ctx: Any = None, dev: str | None = None) -> Trained:
    """Train and checkpoint ``spec``; return the trained net (eval mode) with its meta.

    The data comes from the suite's default training source or ``spec.data.source``. Under
    ``torchrun`` each process trains its slice of every global batch (DDP; gloo on CPU, NCCL on GPU)
    and only rank 0 writes; ``ctx``/``dev``: an already initialised distributed context (``run``),
    else one is set up and shut down here. The training state is saved atomically in ``spec.out``
    every epoch (and every ``checkpoint_every_steps`` steps); ``resume`` continues from it so that
    the final weights equal an uninterrupted run's (same seed, CPU).
    """
    from luab_bench.device import resolve_device
    from luab_bench.train.distributed import init_distributed, shutdown_distributed

    if ctx is not None:
        return _train(spec, ctx, str(dev))
    ctx, dev = init_distributed(resolve_device(spec.device))
    try:
        return _train(spec, ctx, dev)
    finally:
        shutdown_distributed(ctx)


def _train(spec: TrainSpec, ctx: Any, dev: str) -> Trained:
    from luab_bench.models import create_model
    from luab_bench.progress import progress_bar
    from luab_bench.protocols.base import load_protocol, load_recipe
    from luab_bench.train.checkpoint import read_checkpoint_meta, save_checkpoint
    from luab_bench.train.distributed import barrier
    from luab_bench.train.heldout import resolve_held_out
    from luab_bench.train.loop import train

    defaults = suite_training(spec.suite)
    proto = load_protocol(spec.protocol)
    rec = load_recipe(spec.recipe or defaults.recipe)
    if spec.epochs is not None:
        rec = rec.model_copy(update={"epochs": spec.epochs})
    progress, echo = (spec.progress, spec.echo) if ctx.is_main else (False, no_echo)  # rank 0 prints
    prepared = prepare_source_for(
        spec.suite, dataclasses.replace(spec.data, seed=spec.seed, progress=progress, echo=echo)
    )
    _check_protocol_fits(proto, prepared)
    prepared = proto.adapt_source(prepared, spec.seed)  # positive controls change the data; others: no-op
    num_classes = prepared.num_classes
    # init_seed=seed: under one seed, baseline / Rand / LUAB start from the same weights and see
    # the same batches, so protocol differences are not initialisation noise. train() applies the
    # protocol's targets (none / byproduct Z / uniform random) itself.
    extra = {"drop_path_rate": rec.drop_path_rate} if rec.drop_path_rate else {}
    net = create_model(
        spec.model, num_classes, num_point_heads=proto.num_point_heads(num_classes), init_seed=spec.seed,
        **extra,
    )  # fmt: skip
    # Per-epoch held-out curves (the paper's Fig. 8/9) when the source has a held-out set (a
    # fixed, seeded val subset; real sources' files are decoded here, once, at the recipe's
    # image size); it draws no training randomness.
    held_out = resolve_held_out(prepared.held_out, rec.image_size, echo)
    where = f"device {dev}" + (f", {ctx.world_size} processes" if ctx.world_size > 1 else "")
    echo(f"Training {spec.model} / {proto.config.name} on {prepared.variant} (seed {spec.seed}, {where})")
    with progress_bar(progress) as prog:
        report = train(
            net, proto, rec, prepared.data, seed=spec.seed, device=dev, progress=prog,
            checkpoint_dir=spec.out, resume=spec.resume, checkpoint_every_steps=spec.checkpoint_every_steps,
            dist=ctx, held_out=held_out,
        )  # fmt: skip
    meta = {
        "model": {"name": spec.model, "num_classes": num_classes, "num_point_heads": net.num_point_heads},
        "protocol": proto.config.model_dump(mode="json"),
        "recipe": rec.model_dump(mode="json"),
        "seed": spec.seed,
        "suite": spec.suite,
        "data": prepared.meta,
        "training": _report_dict(report),
        "device": dev,
    }
    if ctx.is_main:
        save_checkpoint(spec.out, net, meta)
    barrier(ctx)  # the checkpoint exists for every rank once this returns
    # the meta as written (weights hash, input normalisation, JSON types): what evaluation records
    return Trained(net=net, meta=read_checkpoint_meta(spec.out), checkpoint=Path(spec.out))


def _report_dict(report: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(report):
        return dataclasses.asdict(report)  # type: ignore[arg-type]
    if hasattr(report, "model_dump"):
        return report.model_dump(mode="json")
    return dict(report)


__all__ = ["Echo", "Trained", "prepare_source_for", "resolved_request", "train_net", "train_one"]
