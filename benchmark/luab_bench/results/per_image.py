"""Per-test-image correctness behind a result's accuracy metrics (the optional ``per_image`` block).

Why: a paired bootstrap between two results on the same test images (issue 13: "per seed, a paired
bootstrap over the same test images") needs each model's per-image scores. Recording them in the
signed result makes every such comparison computable from result files alone, with no checkpoint
kept and no re-evaluation (the sensitivity study reads them from here).

Format: ``per_image: {metric_name: {"n": N, "correct": BITS}}``. ``BITS`` is the canonical base64 of
the N booleans (image i correct = 1) packed 8 per byte, most significant bit first (numpy's
``packbits(..., bitorder="big")``), the last byte's unused low bits zero; one spelling per vector.
The image order is the order of the suite's split (``suite.data_fingerprint`` identifies the data),
so two vectors pair only when their results have the same, non-null data fingerprint and the same N.
Each vector must agree with its metric: same ``n`` and 100 · (ones / N) equal to ``value`` (to
1e-9 pp), checked on load (:class:`~luab_bench.results.schema.Result`).

Decoding is pure Python (the site build imports no numpy); :func:`encode` accepts any sequence of
booleans (a numpy array included).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Iterable
from typing import Any

from pydantic import StrictStr, model_validator

from luab_bench.config import StrictModel
from luab_bench.results.fields import NonNegInt

#: |100 · ones / n − metric value| allowed (pp): the metric is the same mean in float64
VALUE_TOLERANCE = 1e-9


class PerImage(StrictModel):
    """One accuracy metric's per-image correctness: ``n`` booleans packed into base64 ``correct``."""

    n: NonNegInt
    correct: StrictStr

    @model_validator(mode="after")
    def _canonical_bits(self) -> PerImage:
        packed(self.correct, self.n)  # raises ValueError with the reason; bits are not expanded here
        return self

    def bits(self) -> list[bool]:
        """The n booleans, in the split's image order."""
        return decode(self.correct, self.n)

    def ones(self) -> int:
        """How many images are correct (a popcount of the packed bytes; the padding bits are zero)."""
        return bin(int.from_bytes(packed(self.correct, self.n), "big")).count("1")


def encode(correct: Iterable[bool]) -> dict[str, int | str]:
    """``{"n", "correct"}`` for a sequence of booleans (see the module docstring for the format)."""
    values = [bool(v) for v in correct]
    out = bytearray((len(values) + 7) // 8)
    for i, v in enumerate(values):
        if v:
            out[i >> 3] |= 0x80 >> (i & 7)
    return {"n": len(values), "correct": base64.b64encode(bytes(out)).decode("ascii")}


def packed(text: str, n: int) -> bytes:
    """The packed bytes of ``text`` for ``n`` images; ValueError when it is not the one canonical
    spelling (every load checks this; expanding the bits is left to :func:`decode`)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("per_image.correct is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("per_image.correct is not canonical base64 (re-encode it with luab-bench)")
    if len(raw) != (n + 7) // 8:
        raise ValueError(f"per_image.correct holds {len(raw)} bytes, need {(n + 7) // 8} for n = {n}")
    if n % 8 and raw[-1] & (0xFF >> (n % 8)):
        raise ValueError("per_image.correct has non-zero padding bits after the n-th image")
    return raw


def decode(text: str, n: int) -> list[bool]:
    """The ``n`` booleans of ``text``; ValueError when it is not the one canonical spelling."""
    raw = packed(text, n)
    return [bool(raw[i >> 3] & (0x80 >> (i & 7))) for i in range(n)]


#: the suffix of a background-gap metric, whose per-image score is derived, not recorded
GAP_SUFFIX = "bg_gap"


def gap_sources(metric: str) -> tuple[str, str] | None:
    """For a ``<prefix>bg_gap`` metric, the two recorded top-1 metrics ``(<prefix>mixed_same_top1,
    <prefix>mixed_rand_top1)`` whose per-foreground difference ``100 · (same − rand)`` it averages
    (the splits are index-aligned: the same foregrounds in the same order); None for other metrics.
    The one place that says how a BG-gap's per-image scores are derived (site, CLI, study)."""
    if not metric.endswith(GAP_SUFFIX):
        return None
    prefix = metric.removesuffix(GAP_SUFFIX)
    return prefix + "mixed_same_top1", prefix + "mixed_rand_top1"


def check_against_metric(name: str, block: PerImage, value: float, n: int) -> None:
    """ValueError unless ``block`` is the per-image record of metric ``name`` (same n, same mean)."""
    if block.n != n:
        raise ValueError(f"per_image.{name} has n = {block.n} but metric {name} has n = {n}")
    if block.n == 0:
        raise ValueError(f"per_image.{name} is empty")
    mean = 100.0 * block.ones() / block.n
    if not math.isclose(mean, value, rel_tol=0.0, abs_tol=VALUE_TOLERANCE):
        raise ValueError(
            f"per_image.{name}: {block.ones()} of {block.n} correct is {mean!r} %, but metric {name} "
            f"is {value!r}; the per-image record must be the one behind the metric"
        )


def per_image_block(outcome: Any) -> dict[str, dict[str, int | str]] | None:
    """The result's ``per_image`` block from a suite's ``EvalOutcome`` (None when it records none)."""
    recorded = getattr(outcome, "per_image", None) or {}
    return {name: encode(values) for name, values in sorted(recorded.items())} or None
