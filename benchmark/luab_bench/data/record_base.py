"""Shared pieces of the byproduct record parsers (ImageNet-AB, COCO-AB).

:class:`RecordModel` and the float types type the records; :class:`RecordReport` is what a parse saw.
Nothing is skipped silently: each record without a point is counted by reason, each malformed record by
kind with a few example messages, and the report prints as lines for the CLI and as a dict for result
provenance. A parser subclasses :class:`RecordReport` with its reasons, kinds and headline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from luab_bench import safe_json
from luab_bench.errors import DataError, LuabError

MAX_EXAMPLES = 3

#: A coordinate relative to the displayed image, in [0, 1]; NaN/inf rejected.
UnitFloat = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
#: Any finite number (times, sizes); NaN/inf rejected.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class RecordModel(BaseModel):
    """Base of the record models: strict JSON types, frozen, unknown keys kept (not all are known)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class RecordReport:
    """Sources, record/image counts, images with a point, no-point reasons and malformed kinds."""

    no_point_reasons: ClassVar[tuple[str, ...]] = ()
    malformed_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.records = 0
        self.images = 0
        self.with_point = 0
        self.no_point: dict[str, int] = dict.fromkeys(self.no_point_reasons, 0)
        self.malformed: dict[str, int] = dict.fromkeys(self.malformed_kinds, 0)
        self.examples: dict[str, list[str]] = {}

    @property
    def n_no_point(self) -> int:
        """Valid images without a point."""
        return sum(self.no_point.values())

    @property
    def n_malformed(self) -> int:
        """Records skipped as malformed (duplicates included)."""
        return sum(self.malformed.values())

    def _add_malformed(self, kind: str, message: str) -> None:
        self.malformed[kind] += 1
        examples = self.examples.setdefault(kind, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(message)

    def reject(self, label: str, kind: str, problem: str, fix: str, *, strict: bool) -> None:
        """Count one malformed record (``label``: where it is); with ``strict`` raise instead."""
        message = f"{label}: {kind}: {problem}"
        if strict:
            raise DataError(f"{message}; fix: {fix} (or parse with strict=False to skip and count)")
        self._add_malformed(kind, message)

    def _headline(self, source: str, pct: float) -> list[str]:
        """The parser-specific first lines (dataset name, what counts as a point)."""
        raise NotImplementedError

    def _extra_lines(self) -> list[str]:
        """Parser-specific lines printed after the no-point line."""
        return []

    def _extra_dict(self) -> dict[str, Any]:
        """Parser-specific settings and counts for :meth:`as_dict`."""
        return {}

    def summary_lines(self) -> list[str]:
        """Human-readable lines for the CLI: totals, then every non-zero reason and kind."""
        src = ", ".join(self.sources) if len(self.sources) <= 3 else f"{len(self.sources)} files"
        pct = 100.0 * self.with_point / self.images if self.images else 0.0
        lines = self._headline(src, pct)
        reasons = ", ".join(f"{k} {v:,}" for k, v in self.no_point.items() if v)
        lines.append(f"no Z: {self.n_no_point:,}" + (f" ({reasons})" if reasons else ""))
        lines.extend(self._extra_lines())
        kinds = ", ".join(f"{k} {v:,}" for k, v in self.malformed.items() if v)
        lines.append(f"malformed, skipped: {self.n_malformed:,}" + (f" ({kinds})" if kinds else ""))
        for kind in self.malformed_kinds:
            lines.extend(f"  e.g. {example}" for example in self.examples.get(kind, []))
        return lines

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts for result provenance."""
        return {
            **self._extra_dict(),
            "sources": list(self.sources),
            "records": self.records,
            "images": self.images,
            "with_point": self.with_point,
            "no_point": dict(self.no_point),
            "malformed": dict(self.malformed),
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


def iter_record_dicts(source: Any, report: RecordReport, parser: str) -> Iterator[tuple[str, int, Any]]:
    """``("<records>: record", index, record)`` for an in-memory iterable of records (not a path)."""
    if isinstance(source, Mapping) or not isinstance(source, Iterable):
        raise LuabError(
            f"{parser}: source must be a path or an iterable of record dicts, got {type(source).__name__}"
        )
    report.sources.append("<records>")
    for number, record in enumerate(source):
        yield "<records>: record", number, record


class RecordProblem(Exception):
    """A malformed record: ``kind`` is the report's counter (missing_key, wrong_type, ...)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages (``number``, ``list``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def finite_number(value: Any, what: str) -> float:
    """``value`` if it is a finite JSON number; else :class:`RecordProblem` (wrong_type / non_finite)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordProblem("wrong_type", f"{what} must be a number, got {json_type(value)} {value!r:.40}")
    if not math.isfinite(value):
        raise RecordProblem("non_finite", f"{what} is {value}")
    return value


class Unparsable:
    """Stands in for a line / byte range of a record file that is not valid JSON (counted, not fatal)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def loads_json(data: Any) -> Any:
    """Parse one record file / line / batch with the shared safe loader (:func:`luab_bench.safe_json.loads`):
    orjson (fast); on failure the stdlib json, which also reads NaN/Infinity and big ints (then
    flagged by the record checks) and gives the same error position. Invalid UTF-8, lone surrogates
    and nesting too deep for the parsers raise :class:`~luab_bench.safe_json.InputProblem` (a
    ``ValueError``, like a syntax error), never ``RecursionError``. ``data``: bytes-like or str."""
    return safe_json.loads(data, max_depth=None)
