"""ImageNet-AB byproduct records -> Z, the final click of each selected image.

LUAB regresses Z, where an annotator clicked on an image they selected as showing the class. This
module turns annotation records into a table ``imageID -> (x, y)`` (relative coordinates in [0, 1])
and a :class:`ParseReport` that says, by reason, why every other record gave no Z. Bad records are
never dropped silently: they are counted per kind, and ``strict=True`` turns the first one into a
:class:`~luab_bench.errors.DataError` naming the file, the record and the fix.

The record schema (and where each field is confirmed) is in ``imagenet_ab_schema``; the sources
(files, folders, the Hub's XML) in ``imagenet_ab_sources``.

Parsing rules
-------------
* A record must have ``imageID`` (non-empty string), ``selected`` (JSON boolean) and
  ``selectedRecord`` (list of objects with finite numeric ``x``, ``y`` in [0, 1] and ``time``).
  If present, ``originalImageWidth``/``originalImageHeight`` must be positive integers and
  ``mouseTracking``/``hoveredRecord`` lists; their points are checked only by
  :func:`validate_record` (a per-point check of every mouse track would dominate the parse time).
* Z = the click with the latest ``time`` (ties: the last one in the list), or with
  ``click="first"`` the earliest (ties: the first one).
* No Z, counted by reason: ``not_selected`` (never clicked) and ``deselected`` (clicked, then
  unselected).
* Malformed kinds (a fix never says "re-export": a Hub file cannot be; without ``strict`` such
  records are skipped and counted in the report):
  ``unparsable_json`` (a JSON-lines line, with its line number), ``missing_key``,
  ``wrong_type``, ``non_finite`` (NaN/inf), ``out_of_range``, ``empty_list`` (``selected`` is true
  but ``selectedRecord`` is empty: the tool appends a click on every selection, so such a record is
  corrupt) and ``duplicate_id``. For a duplicated ``imageID`` the **first valid** record wins (in
  source order; a directory is read in sorted path order); each later one is counted as a duplicate.
* A file that cannot be read at all (missing, empty, not JSON, a truncated JSON list) raises
  :class:`DataError` in both modes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from luab_bench.data.imagenet_ab_schema import (
    LIST_FIELDS,
    HoverEvent,
    ImageNetABRecord,
    ImagePosition,
    TimedPoint,
    as_list,
    empty_list_spelling,
    validate_record,
)
from luab_bench.data.imagenet_ab_sources import RECORD_FILE_SUFFIXES, iter_records

# one malformed-record exception and number check for both parsers (data/record_base.py)
from luab_bench.data.record_base import RecordProblem as _Bad
from luab_bench.data.record_base import RecordReport, Unparsable
from luab_bench.data.record_base import finite_number as _number
from luab_bench.data.record_base import json_type as _json_type
from luab_bench.errors import LuabError

ClickChoice = Literal["final", "first"]
Aggregate = Literal["first", "mean"]

NO_POINT_REASONS: tuple[str, ...] = ("not_selected", "deselected")
MALFORMED_KINDS: tuple[str, ...] = (
    "unparsable_json",
    "missing_key",
    "wrong_type",
    "non_finite",
    "out_of_range",
    "empty_list",
    "duplicate_id",
)

_SKIP = "parse without --strict to skip and count such records (the counts go into the result)"
_FIXES = {
    "unparsable_json": "re-download the file (a Hub file: `luab-bench data download --force`) or, for your "
    "own file, delete the broken line",
    "missing_key": f"every record needs imageID, selected and selectedRecord; {_SKIP}",
    "wrong_type": f"the ImageNet-AB types are selected: bool, x/y/time: numbers, lists as lists; {_SKIP}",
    "non_finite": f"clicks must be finite numbers; {_SKIP}",
    "out_of_range": f"x/y must be relative to the displayed image (in [0, 1]) and sizes positive; {_SKIP}",
    "empty_list": f"a selected image must carry the click that selected it; {_SKIP}",
    "duplicate_id": "the first valid record per imageID is used; parse with aggregate='mean' to average them "
    f"or {_SKIP}",
}


# --------------------------------------------------------------------------- report and result


class ParseReport(RecordReport):
    """What an ImageNet-AB parse saw: record counts, images with Z, no-Z reasons and malformed kinds."""

    no_point_reasons = NO_POINT_REASONS
    malformed_kinds = MALFORMED_KINDS

    def __init__(self, click: ClickChoice = "final", aggregate: Aggregate = "first") -> None:
        super().__init__()
        self.click: ClickChoice = click
        self.aggregate: Aggregate = aggregate
        self.boxes: dict[str, list] = {}  # VOC boxes per imageID, filled by the XML reader
        self.record_ids: list[str] = []  # imageIDs with a valid record ("interacted with", LUAB §3.2.2)

    def _headline(self, source: str, pct: float) -> list[str]:
        return [
            f"ImageNet-AB records: {self.records:,} read from {source}",
            f"images: {self.images:,}; with Z ({self.click} click of a selected image): "
            f"{self.with_point:,} ({pct:.1f}%)",
        ]

    def _extra_dict(self) -> dict[str, Any]:
        return {"click": self.click, "aggregate": self.aggregate}


class ByproductPoints:
    """``points``: imageID -> Z (x, y relative in [0, 1]); ``report``: what the parse saw."""

    def __init__(self, points: dict[str, tuple[float, float]], report: ParseReport) -> None:
        self.points = points
        self.report = report
        self._index = {image_id: i for i, image_id in enumerate(points)}
        self._xy = np.asarray(list(points.values()), dtype=np.float32).reshape(len(points), 2)

    def __len__(self) -> int:
        return len(self.points)

    def __contains__(self, image_id: object) -> bool:
        return image_id in self.points

    def lookup(self, ids: Sequence[str] | Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
        """Z for each id: ``(points float32 (N, 2), has_point bool (N,))``; rows without Z are (0, 0)."""
        ids = ids if isinstance(ids, Sequence | np.ndarray) else list(ids)
        get = self._index.get
        idx = np.fromiter((get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        has_point = idx >= 0
        out = np.zeros((len(idx), 2), dtype=np.float32)
        out[has_point] = self._xy[idx[has_point]]
        return out, has_point


# --------------------------------------------------------------------------- record checks


_MISSING = object()


def _extract(record: Any, final: bool) -> tuple[str, tuple[float, float] | None, str | None]:
    """Check one record; return ``(imageID, Z or None, no-Z reason or None)`` or raise :class:`_Bad`."""
    if not isinstance(record, dict):
        raise _Bad("wrong_type", f"record is a JSON {_json_type(record)}, expected an object")
    values = []
    for key in ("imageID", "selected", "selectedRecord"):
        value = record.get(key, _MISSING)
        if value is _MISSING:
            raise _Bad("missing_key", f"missing key {key!r}")
        values.append(value)
    image_id, selected, clicks = values
    clicks = as_list(clicks)
    if not isinstance(image_id, str) or not image_id:
        raise _Bad(
            "wrong_type", f"'imageID' must be a non-empty string, got {_json_type(image_id)} {image_id!r}"
        )
    if not isinstance(selected, bool):
        raise _Bad(
            "wrong_type", f"'selected' must be a JSON boolean, got {_json_type(selected)} {selected!r}"
        )
    if not isinstance(clicks, list):
        raise _Bad("wrong_type", f"'selectedRecord' must be a list, got {_json_type(clicks)}")
    for key in ("originalImageWidth", "originalImageHeight"):
        size = record.get(key, _MISSING)
        if size is _MISSING:
            continue
        if isinstance(size, bool) or not isinstance(size, int):
            raise _Bad("wrong_type", f"{key!r} must be an integer, got {_json_type(size)} {size!r}")
        if size <= 0:
            raise _Bad("out_of_range", f"{key!r} = {size} must be positive")
    for key in ("mouseTracking", "hoveredRecord"):
        track = record.get(key, _MISSING)
        if track is not _MISSING and not isinstance(as_list(track), list):
            raise _Bad("wrong_type", f"{key!r} must be a list, got {_json_type(track)}")

    best: tuple[float, float] | None = None
    best_time = 0.0
    for j, click in enumerate(clicks):
        if not isinstance(click, dict):
            raise _Bad("wrong_type", f"selectedRecord[{j}] is a JSON {_json_type(click)}, expected an object")
        for key in ("x", "y", "time"):
            if key not in click:
                raise _Bad("missing_key", f"selectedRecord[{j}] has no {key!r}")
        x = _number(click["x"], f"selectedRecord[{j}].x")
        y = _number(click["y"], f"selectedRecord[{j}].y")
        t = _number(click["time"], f"selectedRecord[{j}].time")
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise _Bad("out_of_range", f"selectedRecord[{j}] = ({x}, {y}) is outside [0, 1]")
        if best is None or (t >= best_time if final else t < best_time):
            best, best_time = (float(x), float(y)), t
    if not selected:
        return image_id, None, ("deselected" if clicks else "not_selected")
    if best is None:
        raise _Bad("empty_list", "'selected' is true but 'selectedRecord' is empty")
    return image_id, best, None


# --------------------------------------------------------------------------- entry point


def parse_imagenet_ab(
    source: str | Path | Iterable[Mapping[str, Any]],
    *,
    strict: bool = False,
    click: ClickChoice = "final",
    aggregate: Aggregate = "first",
) -> ByproductPoints:
    """Parse ImageNet-AB records into Z per imageID, counting every record without Z by reason.

    ``source``: a JSON list file, a JSON-lines file, a directory of such files (read recursively in
    sorted order), the Hub tarball ``imagenet_ab_v1_0.tar.gz`` / a folder of its XML files (streamed,
    see :mod:`luab_bench.data.imagenet_ab_xml`) or an iterable of record dicts. Non-strict: malformed
    records are skipped and counted; ``strict=True``: the first one raises :class:`DataError`.
    ``click="first"`` takes the earliest click instead of the final one.
    ``aggregate``: several annotations of one imageID (the XML files hold one ``<metadata>`` per
    annotation). ``"first"``: the first valid record wins, later ones are counted as ``duplicate_id``;
    ``"mean"``: Z = the mean of the Z of every valid record that has one (the official notebook,
    which combined with ``click="first"`` reproduces ``load_points`` + ``check_in_point``); the image
    counts as having no Z only when no record has one (reason of its first record).
    """
    if click not in ("final", "first"):
        raise LuabError(f"parse_imagenet_ab: click must be 'final' or 'first', got {click!r}")
    if aggregate not in ("first", "mean"):
        raise LuabError(f"parse_imagenet_ab: aggregate must be 'first' or 'mean', got {aggregate!r}")
    final = click == "final"
    mean = aggregate == "mean"
    report = ParseReport(click, aggregate)
    points: dict[str, tuple[float, float]] = {}
    sums: dict[str, list[float]] = {}
    first_seen: dict[str, tuple[str, int]] = {}
    first_reason: dict[str, str] = {}
    for where, number, record in iter_records(source, report):
        report.records += 1
        if isinstance(record, Unparsable):
            kind, problem = "unparsable_json", record.message
        else:
            try:
                image_id, point, reason = _extract(record, final)
            except _Bad as bad:
                kind, problem = bad.kind, bad.message
            else:
                previous = first_seen.get(image_id)
                if previous is None or mean:
                    if previous is None:
                        first_seen[image_id] = (where, number)
                    if point is None:
                        first_reason.setdefault(image_id, reason)  # type: ignore[arg-type]
                    elif mean:
                        acc = sums.setdefault(image_id, [0.0, 0.0, 0])
                        acc[0] += point[0]
                        acc[1] += point[1]
                        acc[2] += 1
                    else:
                        points[image_id] = point
                    continue
                kind = "duplicate_id"
                problem = f"imageID already given by {previous[0]} {previous[1]}"
        label = f"{where} {number}"
        if isinstance(record, dict) and isinstance(record.get("imageID"), str):
            label += f" (imageID {record['imageID']!r})"
        report.reject(label, kind, problem, _FIXES[kind], strict=strict)
    if mean:
        points = {
            image_id: (sums[image_id][0] / sums[image_id][2], sums[image_id][1] / sums[image_id][2])
            for image_id in first_seen
            if image_id in sums
        }
    for image_id, reason in first_reason.items():
        if image_id not in points:
            report.no_point[reason] += 1
    report.images = len(first_seen)
    report.record_ids = list(first_seen)
    report.with_point = len(points)
    return ByproductPoints(points, report)


__all__ = [
    "LIST_FIELDS",
    "MALFORMED_KINDS",
    "NO_POINT_REASONS",
    "RECORD_FILE_SUFFIXES",
    "Aggregate",
    "ByproductPoints",
    "ClickChoice",
    "HoverEvent",
    "ImageNetABRecord",
    "ImagePosition",
    "ParseReport",
    "TimedPoint",
    "as_list",
    "empty_list_spelling",
    "parse_imagenet_ab",
    "validate_record",
]
