"""What every suite module shares: :func:`make_metric`, and the contract re-exported by its old path.

The suite contract (:class:`Suite`, :class:`EvalOutcome`, :class:`EvalSettings`, :class:`TaskStatus`,
:class:`MissingDataset`, :data:`TASK_ERRORS`, :data:`SUITES`, :func:`get_suite`) lives in
:mod:`luab_bench.api.suite`; the one inference loop (:func:`predict`, :class:`Predictions`,
:func:`normalizer`, :data:`Normalize`) in :mod:`luab_bench.inference`. Both stay importable from here,
where every suite module and caller has always found them.

:func:`make_metric` builds one metric as a plain dict with exactly the fields of
``luab_bench.results.schema.Metric``, so suites do not depend on the results schema and the results
layer validates once.
"""

from __future__ import annotations

import math
from typing import Any

from luab_bench.api.suite import (
    SUITES,
    TASK_ERRORS,
    TASK_STATUSES,
    EvalOutcome,
    EvalSettings,
    MissingDataset,
    Suite,
    TaskStatus,
    get_suite,
)
from luab_bench.inference import (
    PREDICT_OUTPUTS,
    Normalize,
    Predictions,
    dist_world,
    normalizer,
    predict,
)

__all__ = [
    "PREDICT_OUTPUTS",
    "SUITES",
    "TASK_ERRORS",
    "TASK_STATUSES",
    "EvalOutcome",
    "EvalSettings",
    "MissingDataset",
    "Normalize",
    "Predictions",
    "Suite",
    "TaskStatus",
    "dist_world",
    "get_suite",
    "make_metric",
    "normalizer",
    "predict",
]


def make_metric(
    value: float,
    *,
    n: int,
    ci: tuple[float, float] | None,
    unit: str,
    higher_is_better: bool,
    task: str,
) -> dict[str, Any]:
    """One metric as the results-schema dict ``{value, n, ci_low, ci_high, unit, higher_is_better, task}``.

    Raises ValueError for a non-finite value or an interval that does not contain the value, so a bad
    number fails where it is computed rather than when the result is validated.
    """
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{task}: metric value {value} is not finite")
    low, high = (None, None) if ci is None else (float(ci[0]), float(ci[1]))
    if ci is not None and not (low <= value <= high):
        raise ValueError(f"{task}: interval [{low}, {high}] does not contain the value {value}")
    return {
        "value": value,
        "n": int(n),
        "ci_low": low,
        "ci_high": high,
        "unit": unit,
        "higher_is_better": bool(higher_is_better),
        "task": task,
    }
