"""The end-to-end job behind ``luab-bench run``: data -> train -> evaluate -> sign -> leaderboard.

The steps live in :mod:`luab_bench.run` (one module each: ``spec``, ``names``, ``training``,
``evaluation``, ``keys``, ``orchestrate``, ``tables``); this module is their public face, so
``pipeline.train_one`` / ``pipeline.evaluate_checkpoint`` / ``pipeline.run`` keep working. Each
takes its spec object (``TrainSpec``, ``EvalSpec``, ``RunSpec``, built once at the edge) or the
same fields as flat keywords.

Data sources: every suite that can train names a default training source (its ``training``
attribute; sources live in ``train/sources/``, registry ``TRAIN_SOURCES``): ``synthetic`` and
``synthetic-coco`` generate the embedded data whose held-out splits their suites evaluate;
``imagenet`` trains on ``imagenet-ab`` and ``coco`` on ``coco-ab`` (real images on disk + byproduct
records). Real data uses the same code paths as the embedded data: only the source differs.
"""

from __future__ import annotations

from typing import Any

# prepare/device names are re-exported from their own modules, below the pipeline (issue 15: no
# import cycle), so ``pipeline.prepare_synthetic`` / ``pipeline.resolve_device`` keep working.
from luab_bench.data.prepare import (
    GENERATED_SOURCES,
    SyntheticDataset,
    generated_dataset,
    prepare_synthetic,
    prepare_training_data,
)
from luab_bench.device import resolve_device
from luab_bench.run.evaluation import created_at, evaluate_checkpoint, listing_fingerprint
from luab_bench.run.keys import signing_key, throwaway_key
from luab_bench.run.names import expand_protocols, list_names, suite_training, training_defaults
from luab_bench.run.orchestrate import RunOutcome, run, run_job
from luab_bench.run.spec import (
    BUILTIN_PROTOCOLS,
    MULTILABEL_PROTOCOLS,
    EvalSpec,
    ModelEvalSpec,
    RunSpec,
    SuiteTraining,
    TrainSpec,
)
from luab_bench.run.tables import print_results_table
from luab_bench.run.training import Trained, prepare_source_for, train_net, train_one


def __getattr__(name: str) -> Any:
    """``TRAINING_DEFAULTS``: suite -> :class:`SuiteTraining`, read from the suites (computed on use)."""
    if name == "TRAINING_DEFAULTS":
        return training_defaults()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BUILTIN_PROTOCOLS",
    "GENERATED_SOURCES",
    "MULTILABEL_PROTOCOLS",
    "EvalSpec",
    "ModelEvalSpec",
    "RunOutcome",
    "RunSpec",
    "SuiteTraining",
    "SyntheticDataset",
    "TrainSpec",
    "Trained",
    "created_at",
    "evaluate_checkpoint",
    "expand_protocols",
    "generated_dataset",
    "list_names",
    "listing_fingerprint",
    "prepare_source_for",
    "prepare_synthetic",
    "prepare_training_data",
    "print_results_table",
    "resolve_device",
    "run",
    "run_job",
    "signing_key",
    "suite_training",
    "throwaway_key",
    "train_net",
    "train_one",
    "training_defaults",
]
