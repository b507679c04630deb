"""The typed numbers of result files (finite floats, bounded metric values, counts, identifiers)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
#: Largest magnitude a metric (or interval end, alignment number) may have. Real metrics are
#: percentages, correlations, errors and losses, far below it; the bound keeps every sum, mean and
#: difference the leaderboard computes over results finite (two values near 1.7e308 overflow a Δ
#: or ``math.fsum`` to inf, which no JSON can hold), so such a file is refused on load instead.
MAX_METRIC_MAGNITUDE = 1e12
MetricFloat = Annotated[
    float, Field(strict=True, allow_inf_nan=False, ge=-MAX_METRIC_MAGNITUDE, le=MAX_METRIC_MAGNITUDE)
]
NonNegInt = Annotated[int, Field(strict=True, ge=0)]
Identifier = Annotated[str, Field(strict=True, min_length=1, max_length=200)]
