"""``luab-bench run``: for each (seed, protocol) train -> evaluate -> align -> one signed write; site.

Per job the net is built once (training) and handed to evaluation; the result is assembled once,
the human-alignment metrics are merged into it in memory, and it is signed and written once
(atomically). The sensitivity study runs its jobs through the same :func:`run_job`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from luab_bench.run import evaluation
from luab_bench.run.spec import Echo, RunSpec, no_echo


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What ``run`` produced: (result path, Result) pairs and the leaderboard index page."""

    results: list[tuple[Path, Any]]
    site_index: Path


@dataclasses.dataclass(frozen=True)
class JobOutcome:
    """One (protocol, seed) job: the signed result file, its Result and the trained net."""

    path: Path
    result: Any
    trained: Any
    train_s: float  # wall time of the training step


def run(spec: RunSpec | None = None, /, **fields: Any) -> RunOutcome:
    """Train and evaluate ``spec.model`` under each protocol at each seed, sign every result, build
    the site. ``fields``: the spec as flat keywords (:meth:`RunSpec.from_fields`).

    Seed-major order, one signed result file per (protocol, seed); within a seed the protocols are
    paired (same initial weights and batches, see ``luab_bench.seeds``). ``spec.align``: after each
    evaluation, score the model's passive attention against human maps
    (``alignment.report.align_result`` with its default methods and image count); skipped, with the
    reason printed, where there are no human maps (real sources) or no method applies.
    """
    from luab_bench.device import resolve_device
    from luab_bench.leaderboard.build import build_site
    from luab_bench.models import check_model_name
    from luab_bench.protocols.base import load_protocol
    from luab_bench.run.keys import signing_key
    from luab_bench.run.names import suite_training

    spec = spec if spec is not None else RunSpec.from_fields(**fields)
    # Fail fast on every name before any minute of training is spent.
    check_model_name(spec.model)
    protos = [(given, load_protocol(given)) for given in spec.protocols]
    suite_training(spec.suite)
    resolve_device(spec.device)
    spec = dataclasses.replace(spec, key=signing_key(spec.key, Path(spec.runs_dir), spec.echo))
    results: list[tuple[Path, Any]] = []
    for seed in spec.seeds:
        for given, proto in protos:
            job = run_job(spec, given, proto.config.name, seed)
            spec.echo(f"Wrote signed result {job.path}")
            results.append((job.path, job.result))
    report = build_site(spec.results_dir, spec.site_dir)
    spec.echo(report.summary())
    return RunOutcome(results=results, site_index=report.index_path)


def run_job(spec: RunSpec, protocol: str, protocol_name: str, seed: int) -> JobOutcome:
    """Train (protocol, seed), evaluate the trained net, align it (``spec.align``), sign, write once."""
    from luab_bench.device import resolve_device
    from luab_bench.run.training import train_net
    from luab_bench.train.distributed import barrier, init_distributed, shutdown_distributed

    train_spec = spec.train_spec(protocol, protocol_name, seed)
    ctx, dev = init_distributed(resolve_device(spec.device))
    try:
        t0 = time.perf_counter()
        trained = train_net(train_spec, ctx, dev)
        train_s = time.perf_counter() - t0
        progress, echo = (spec.progress, spec.echo) if ctx.is_main else (False, no_echo)
        done = evaluation.assess(
            ctx, trained, suite=spec.suite, data_dir=spec.data.data_dir, data_root=spec.data.data_root,
            dev=dev, progress=progress, echo=echo,
        )  # fmt: skip
        if spec.align and ctx.is_main:
            _align_into(done.doc, trained, data_dir=spec.data.data_dir, device=dev, echo=echo)
        result = done.result()
        path = evaluation.result_path(result, out=None, results_dir=spec.results_dir)
        if ctx.is_main:
            result = evaluation.write_signed(path, result, spec.key)
        barrier(ctx)
    finally:
        shutdown_distributed(ctx)
    return JobOutcome(path=path, result=result, trained=trained, train_s=train_s)


def _align_into(doc: dict[str, Any], trained: Any, *, data_dir: Path, device: str, echo: Echo) -> None:
    """Merge the human-alignment metrics and curves into the result document ``doc`` (in memory).

    ``align_result`` measures only (no result path): the merge is what ``write_alignment`` does to a
    fresh result's file (``align_*`` metrics added, the ``alignment`` block set). The trained net
    is handed over (the checkpoint holds exactly its weights), so alignment does not rebuild it.
    """
    from luab_bench.alignment.report import align_result, merge_alignment

    ckpt_dir = trained.checkpoint
    echo(f"Aligning {ckpt_dir.name} with human maps (saliency vs simulated annotators' clicks)")
    outcome = align_result(None, ckpt_dir, data_dir=data_dir, device=device, seed=0, net=trained.net)
    if outcome.skipped:
        echo(f"alignment skipped: {outcome.skipped}")
        return
    if outcome.report is not None:
        merge_alignment(doc, outcome.report, echo)
