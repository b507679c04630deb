"""``luab-bench reproduce RESULT.json``: re-run a recorded result and report per-metric drift."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from luab_bench.cli_options import (
    opt_allow_code,
    opt_byproducts,
    opt_data_dir,
    opt_data_root,
    opt_progress,
    opt_train_data,
    opt_workers,
)
from luab_bench.errors import LuabError


@click.command("reproduce")
@click.argument("result", type=click.Path(path_type=Path))
@opt_data_dir
@click.option(
    "--tolerance",
    type=float,
    default=0.5,
    show_default=True,
    help="Largest |reproduced - recorded| allowed per metric, in the metric's unit (points for %).",
)
@click.option("--device", default=None, help="torch device (default: the one recorded in the result).")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Keep the re-run's configs, checkpoint and result here (default: a temporary directory).",
)
@opt_data_root("Folder of released datasets (real sources: training images, and the evaluation sets).")
@opt_train_data
@opt_byproducts
@opt_workers
@opt_allow_code
@opt_progress
def reproduce(
    result: Path,
    data_dir: Path,
    tolerance: float,
    device: str | None,
    work_dir: Path | None,
    data_root: Path | None,
    train_data: Path | None,
    byproducts: Path | None,
    workers: int,
    progress: bool,
) -> None:
    """Re-train and re-evaluate the run recorded in RESULT and print each metric's drift.

    Generated training data (synthetic, synthetic-coco) is regenerated under --data-dir; a real
    source (imagenet-ab, coco-ab) needs --data-root / --train-data (and --byproducts unless
    ingested). Either way the data must have the recorded fingerprint. Also compares the last value
    of each training curve (rows train/...). Exits non-zero when any row drifts by more than
    --tolerance (a CPU run with the same luab-bench version is deterministic: the expected drift is 0).
    """
    from luab_bench.train.reproduce import reproduce_result

    with tempfile.TemporaryDirectory(prefix="luab-reproduce-") as tmp:
        report = reproduce_result(
            result,
            data_dir=data_dir.expanduser(),
            work_dir=work_dir or Path(tmp),
            device=device,
            tolerance=tolerance,
            progress=progress,
            echo=click.echo,
            data_root=data_root.expanduser() if data_root else None,
            train_data=train_data.expanduser() if train_data else None,
            byproducts=byproducts.expanduser() if byproducts else None,
            workers=workers,
        )
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        bad = [d.name for d in report.drifts if not d.ok(tolerance)]
        raise LuabError(f"{result}: {len(bad)} metric(s) drift beyond ±{tolerance:g}: {', '.join(bad)}")
