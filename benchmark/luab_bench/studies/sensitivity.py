"""The sensitivity study: positive controls × seeds × variants, paired statistics, a written report.

``run_study`` trains and evaluates every (variant, seed, protocol) of a :class:`StudyConfig` that has
no verified result yet (one at a time, seed-major, so a stopped study resumes where it left off),
logging the conditions of each job (start/end time, load average, usable cores, wall time). Then
``analyse`` computes, per variant:

* the seed means of every protocol (mean ± 95% t interval over seeds);
* per comparison (treated − control) and metric, the mean paired difference over the shared seeds
  with its 95% t interval (``metrics.paired.paired_difference``) and, per seed, the paired bootstrap
  over the same test images (``metrics.bootstrap.bootstrap_diff_ci(paired=True)`` on the two models'
  per-image scores; top-1 splits and BG-gap, whose per-image score is correct(mixed_same) −
  correct(mixed_rand) for the shared foreground);
* the minimum detectable effect per metric at the study's k and n (``metrics.paired``):
  ``(t_{1-α/2,k-1} + t_{power,k-1}) · sqrt(s_d²/k + se_test²)``, ``s_d`` the seed SD of the paired
  differences pooled over all comparisons, ``se_test`` the measured paired-bootstrap SE of one
  per-seed difference (95% half-width / 1.96) averaged over comparisons and seeds;
* which positive controls are detected: every metric listed under ``expected`` moves in its better
  direction with a t interval that excludes 0.

``render_markdown`` writes the report; the site gets the same tables (``commands/study.py``).
Nothing is tuned toward a result: the study reports whatever the runs give, including nulls.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING

from luab_bench.studies.analysis import analyse, metric_scores, per_image_scores, result_scores
from luab_bench.studies.config import (
    DEFAULT_CONFIG,
    LOG_FILE,
    PER_IMAGE_SPLITS,
    STUDY_DIR,
    Layout,
    StudyConfig,
    append_log,
    conditions,
    jobs,
    load_study,
    load_verified,
    read_log,
    subset,
)
from luab_bench.studies.report import render_markdown

if TYPE_CHECKING:
    from luab_bench.run.spec import RunSpec


def run_study(cfg: StudyConfig, out: Path, spec: RunSpec) -> list[tuple[str, int, str]]:
    """Train + evaluate every job without a verified result; returns the jobs that ran now.

    ``spec`` says where and how (``data.data_dir``, ``device``, ``key`` (None: a throw-away key under
    ``out``), ``progress``, ``echo``); what is trained comes from ``cfg``, and every file goes under
    ``out`` (:class:`Layout`). Each job is ``run``'s (:func:`luab_bench.run.orchestrate.run_job`): the
    trained net is evaluated as it is, the result written once, signed; no alignment.
    """
    from luab_bench.run.keys import signing_key
    from luab_bench.run.orchestrate import run_job

    layout = Layout(Path(out))
    layout.results.mkdir(parents=True, exist_ok=True)
    study = dataclasses.replace(
        spec, model=cfg.model, suite=cfg.suite, recipe=cfg.recipe, epochs=cfg.epochs,
        results_dir=layout.results, align=False, key=signing_key(spec.key, layout.out, spec.echo),
    )  # fmt: skip
    done = load_verified(layout.results, cfg.model)
    ran = []
    for variant, seed, protocol in jobs(cfg):
        ckpt = layout.checkpoint(cfg, variant, protocol, seed)
        if (variant, protocol, seed) in done and (
            result_scores(done[(variant, protocol, seed)][1]) is not None
            or (ckpt / "checkpoint.json").is_file()
        ):
            continue  # done: its per-image scores are in the result (or its checkpoint is kept)
        job = f"{variant}/{protocol}/s{seed}"
        spec.echo(f"study {cfg.name}: {job}")
        start, t0 = conditions(), time.perf_counter()
        variant_spec = dataclasses.replace(
            study, runs_dir=layout.runs(variant), data=dataclasses.replace(study.data, variant=variant)
        )
        outcome = run_job(variant_spec, protocol, protocol, seed)
        if result_scores(outcome.result) is None:  # a suite that records no per-image block
            per_image_scores(
                ckpt, variant, data_dir=study.data.data_dir, device=study.device, trained=outcome.trained
            )
        wall = time.perf_counter() - t0
        append_log(
            layout,
            {
                "job": job,
                "result": outcome.path.name,
                "start": start,
                "end": conditions(),
                "train_s": round(outcome.train_s, 1),
                "wall_s": round(wall, 1),
            },
        )
        ran.append((variant, seed, protocol))
    return ran


__all__ = [
    "DEFAULT_CONFIG",
    "LOG_FILE",
    "PER_IMAGE_SPLITS",
    "STUDY_DIR",
    "Layout",
    "StudyConfig",
    "analyse",
    "jobs",
    "load_study",
    "load_verified",
    "metric_scores",
    "per_image_scores",
    "read_log",
    "render_markdown",
    "result_scores",
    "run_study",
    "subset",
]
