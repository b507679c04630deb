"""COCO-AB byproduct records -> Z_c, one annotator point per (image, class).

COCO-AB (HF Hub ``coallaoh/COCO-AB``, file ``coco_ab_v1_0.json``, ~398 MB, one JSON list) holds one
record per re-annotated COCO-2014 train image. Annotators dragged class icons onto the image; every
drag is logged in ``actionHistories``. This module turns the records into ``(image_id, class) -> Z``
(relative coordinates in [0, 1]) and a :class:`CocoParseReport` that counts every record without a
point by reason and every malformed record by kind; ``strict=True`` makes the first one a
:class:`~luab_bench.errors.DataError` naming the file, the record and the fix.

The record schema (and where each field is confirmed) is in ``coco_ab_schema``; the streaming reader
of the 398 MB file in ``json_stream``.

Z_c: the paper's final add (default) or a replay of the icon history (option)
------------------------------------------------------------------------------
``mode="last_add"`` (default) is the paper's definition: LUAB §4.1 takes, for COCO, the coordinates of
the **final add action** of a class icon (``actionHistories``). Z_c = ``pointTo`` of the last ``add``
of class c in list order (§3.3.2: ``actionHistories`` lists the actions in sequence); ``move`` and
``remove`` are ignored, so a class whose icon was added and later removed keeps its Z_c. The authors'
released loader (``naver-ai/NeglectedFreeLunch`` ``coco_dataloader.ipynb``, ``_get_weak_coco``) does
the same: later ``add``s overwrite earlier ones.
``mode="replay"`` (ours; the default of protocol-era 1.0 results, kept as a named option):
actions are replayed in ``timeAt`` order (ties: list order). ``add`` places a new icon of class c
at ``pointTo``; ``move`` moves the live icon of class c at ``pointFrom`` (exact match, else the
nearest live icon of c; without ``pointFrom``, the icon of c touched last) to ``pointTo``; ``remove``
deletes the live icon of class c at ``pointFrom`` (or at ``pointTo`` when ``pointFrom`` is null;
exact, else nearest; with neither, the icon touched last). A ``move``/``remove`` with no live icon
of its class is counted (``orphan_actions``) and ignored. After the replay, Z_c = the position of
the live icon of class c that was placed or moved last; ``icons`` counts the live icons of c
(several icons of one class happen when an annotator marks several instances; §3.3.1 says the front
end allows one icon per class and image, so this count is 1 in well-formed records). A class whose
icons were all removed has no Z_c. Results record the mode (``config.data``); a result from before the
default changed has no mode recorded and is reproduced with ``replay`` (``train/reproduce.py``).

Malformed kinds: ``unparsable_json`` (a record that is not valid JSON; byte offset given),
``missing_key``, ``wrong_type``, ``non_finite``, ``out_of_range`` (coordinates outside [0, 1],
negative sizes), ``unknown_class`` (``iconType`` not a COCO class name), ``unknown_action``,
``empty_point`` (an ``add``/``move`` without ``pointTo``) and ``duplicate_id`` (the first valid record
of an ``image_id`` wins). No-point reasons: ``no_actions`` (empty ``actionHistories``: the annotator
placed no icon) and ``all_removed``. A file that cannot be read (missing, empty, not a JSON list,
truncated) raises :class:`DataError` in both modes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from luab_bench.data.coco_ab_schema import (
    CATEGORY_ID,
    COCO_CLASS_NAMES,
    CategoryEvent,
    CocoABRecord,
    IconAction,
    MouseSample,
    RelPoint,
    validate_coco_record,
)
from luab_bench.data.json_stream import BATCH_BYTES, ListFile, iter_json_list

# one malformed-record exception and number check for both parsers (data/record_base.py)
from luab_bench.data.record_base import RecordProblem as _Bad
from luab_bench.data.record_base import RecordReport, Unparsable, iter_record_dicts
from luab_bench.data.record_base import finite_number as _num
from luab_bench.data.record_base import json_type as _jtype
from luab_bench.errors import DataError, LuabError

#: How the streaming reader's errors name the COCO-AB file and its fix.
COCO_AB_FILE = ListFile(
    what="COCO-AB records",
    expected="the COCO-AB file coco_ab_v1_0.json",
    refetch="re-download it (`luab-bench data download coco-ab`)",
)

ZMode = Literal["replay", "last_add"]
#: LUAB §4.1: "the final add action of a class icon"; ``replay`` stays available as a named option.
DEFAULT_MODE: ZMode = "last_add"
#: The mode every result made before DEFAULT_MODE changed was trained with (they do not record it).
LEGACY_MODE: ZMode = "replay"


def z_mode(value: object, where: str) -> ZMode:
    """A Z_c mode option checked: ``last_add`` or ``replay``, else a ConfigError naming ``where``."""
    from luab_bench.errors import ConfigError

    if value not in ("last_add", "replay"):
        raise ConfigError(f"{where}: option mode={value!r}; use last_add (default, LUAB §4.1) or replay")
    return value  # type: ignore[return-value]


ACTION_TYPES: tuple[str, ...] = ("add", "move", "remove")
NO_POINT_REASONS: tuple[str, ...] = ("no_actions", "all_removed")
MALFORMED_KINDS: tuple[str, ...] = (
    "unparsable_json",
    "missing_key",
    "wrong_type",
    "non_finite",
    "out_of_range",
    "unknown_class",
    "unknown_action",
    "empty_point",
    "duplicate_id",
)
REQUIRED_KEYS: tuple[str, ...] = ("image_id", "actionHistories")

_FIXES = {
    "unparsable_json": "re-download (`luab-bench data download coco-ab`) or delete the broken record",
    "missing_key": "every record needs image_id and actionHistories; re-export the records",
    "wrong_type": "re-export the records with the COCO-AB types (image_id int, lists, x/y numbers)",
    "non_finite": "coordinates and times must be finite numbers; drop or re-export the record",
    "out_of_range": "x/y must be relative to the displayed image (in [0, 1]) and sizes >= 0",
    "unknown_class": "iconType must be a COCO class name (luab_bench.data.coco_ab.COCO_CLASS_NAMES)",
    "unknown_action": "actionType must be add, move or remove",
    "empty_point": "add/move actions need pointTo {x, y}; drop or re-export the record",
    "duplicate_id": "keep one record per image_id (the first valid one is used)",
}


# --------------------------------------------------------------------------- result


class ClassPoint:
    """Z_c of one class in one image: ``(x, y)`` and the number of live icons of that class."""

    __slots__ = ("icons", "x", "y")

    def __init__(self, x: float, y: float, icons: int) -> None:
        self.x, self.y, self.icons = x, y, icons

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClassPoint) and (self.x, self.y, self.icons) == (
            other.x,
            other.y,
            other.icons,
        )

    def __repr__(self) -> str:
        return f"ClassPoint({self.x!r}, {self.y!r}, icons={self.icons})"


class CocoImage:
    """What one valid record gives: Z per COCO category id, plus the per-record facts stats need."""

    __slots__ = ("n_actions", "orig_size", "points", "time_spent", "worker_id")

    def __init__(
        self,
        points: dict[int, ClassPoint],
        n_actions: int,
        orig_size: tuple[int, int] | None,
        worker_id: str | None,
        time_spent: float | None,
    ) -> None:
        self.points = points
        self.n_actions = n_actions
        self.orig_size = orig_size
        self.worker_id = worker_id
        self.time_spent = time_spent


class CocoParseReport(RecordReport):
    """Record counts, images with points, no-point reasons and malformed kinds."""

    no_point_reasons = NO_POINT_REASONS
    malformed_kinds = MALFORMED_KINDS

    def __init__(self, mode: ZMode = "last_add") -> None:
        super().__init__()
        self.mode: ZMode = mode
        self.class_points = 0
        self.orphan_actions = 0

    def _headline(self, source: str, pct: float) -> list[str]:
        return [
            f"COCO-AB records: {self.records:,} read from {source}",
            f"images: {self.images:,}; with at least one Z_c ({self.mode}): {self.with_point:,} "
            f"({pct:.1f}%); (image, class) points: {self.class_points:,}",
        ]

    def _extra_lines(self) -> list[str]:
        if not self.orphan_actions:
            return []
        return [f"move/remove actions with no live icon of their class (ignored): {self.orphan_actions:,}"]

    def _extra_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "class_points": self.class_points, "orphan_actions": self.orphan_actions}


class CocoByproducts:
    """``images``: COCO image_id -> :class:`CocoImage` (valid records only); ``report``."""

    def __init__(self, images: dict[int, CocoImage], report: CocoParseReport) -> None:
        self.images = images
        self.report = report

    def __len__(self) -> int:
        return len(self.images)

    def points(self) -> dict[tuple[int, int], tuple[float, float]]:
        """``(image_id, category_id) -> (x, y)`` for every class point."""
        return {
            (image_id, cat): (p.x, p.y)
            for image_id, img in self.images.items()
            for cat, p in img.points.items()
        }


# --------------------------------------------------------------------------- record checks


def _point(value: Any, what: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Bad("wrong_type", f"{what} must be an object {{x, y}} or null, got {_jtype(value)}")
    if "x" not in value or "y" not in value:
        raise _Bad("missing_key", f"{what} needs 'x' and 'y'")
    x, y = _num(value["x"], f"{what}.x"), _num(value["y"], f"{what}.y")
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise _Bad("out_of_range", f"{what} = ({x}, {y}) is outside [0, 1]")
    return float(x), float(y)


def _size(record: dict, key: str) -> int | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad("wrong_type", f"{key!r} must be an integer, got {_jtype(value)} {value!r:.40}")
    if value < 0:
        raise _Bad("out_of_range", f"{key!r} = {value} must be >= 0")
    return value


def _take(icons: list[list], at: tuple[float, float] | None) -> int:
    """Index of the icon at ``at`` (exact), else the nearest one; ``at`` None: the latest touched."""
    if at is None:
        return max(range(len(icons)), key=lambda i: icons[i][2])
    best, best_d = 0, math.inf
    for i, (x, y, _) in enumerate(icons):
        d = (x - at[0]) ** 2 + (y - at[1]) ** 2
        if d < best_d:
            best, best_d = i, d
            if d == 0.0:
                break
    return best


def _extract(record: Any, mode: ZMode) -> tuple[int, CocoImage, str | None, int]:
    """Check one record; return ``(image_id, image, no-point reason, orphan actions)`` or raise _Bad."""
    if not isinstance(record, dict):
        raise _Bad("wrong_type", f"record is a JSON {_jtype(record)}, expected an object")
    for key in REQUIRED_KEYS:
        if key not in record:
            raise _Bad("missing_key", f"missing key {key!r}")
    image_id, actions = record["image_id"], record["actionHistories"]
    if isinstance(image_id, bool) or not isinstance(image_id, int):
        raise _Bad("wrong_type", f"'image_id' must be an integer, got {_jtype(image_id)} {image_id!r:.40}")
    if image_id < 0:
        raise _Bad("out_of_range", f"'image_id' = {image_id} must be >= 0")
    if not isinstance(actions, list):
        raise _Bad("wrong_type", f"'actionHistories' must be a list, got {_jtype(actions)}")
    width, height = _size(record, "originalImageWidth"), _size(record, "originalImageHeight")
    for key in ("imageWidth", "imageHeight", "page_id"):
        _size(record, key)
    for key in ("categoryHistories", "mouseTracking"):
        value = record.get(key)
        if value is not None and not isinstance(value, list):
            raise _Bad("wrong_type", f"{key!r} must be a list, got {_jtype(value)}")
    worker = record.get("worker_id")
    if worker is not None and not isinstance(worker, str):
        raise _Bad("wrong_type", f"'worker_id' must be a string, got {_jtype(worker)}")
    spent = record.get("timeSpent")
    spent = None if spent is None else _num(spent, "'timeSpent'")

    steps: list[tuple[float, int, str, int, tuple | None, tuple | None]] = []
    for j, action in enumerate(actions):
        what = f"actionHistories[{j}]"
        if not isinstance(action, dict):
            raise _Bad("wrong_type", f"{what} is a JSON {_jtype(action)}, expected an object")
        for key in ("actionType", "iconType", "timeAt"):
            if key not in action:
                raise _Bad("missing_key", f"{what} has no {key!r}")
        kind, icon = action["actionType"], action["iconType"]
        if not isinstance(kind, str) or not isinstance(icon, str):
            raise _Bad("wrong_type", f"{what}: actionType and iconType must be strings")
        if kind not in ACTION_TYPES:
            raise _Bad("unknown_action", f"{what}.actionType = {kind!r} is not add, move or remove")
        cat = CATEGORY_ID.get(icon)
        if cat is None:
            raise _Bad("unknown_class", f"{what}.iconType = {icon!r} is not a COCO class name")
        t = _num(action["timeAt"], f"{what}.timeAt")
        src = _point(action.get("pointFrom"), f"{what}.pointFrom")
        dst = _point(action.get("pointTo"), f"{what}.pointTo")
        if kind != "remove" and dst is None:
            raise _Bad("empty_point", f"{what} ({kind}) has no pointTo")
        steps.append((t, j, kind, cat, src, dst))

    orphans = 0
    points: dict[int, ClassPoint] = {}
    if mode == "last_add":
        for _, _, kind, cat, _, dst in steps:
            if kind == "add":
                points[cat] = ClassPoint(dst[0], dst[1], 1)  # type: ignore[index]
    else:
        steps.sort(key=lambda s: (s[0], s[1]))
        live: dict[int, list[list]] = {}
        for order, (_, _, kind, cat, src, dst) in enumerate(steps):
            icons = live.setdefault(cat, [])
            if kind == "add":
                icons.append([dst[0], dst[1], order])  # type: ignore[index]
                continue
            if not icons:
                orphans += 1
                continue
            i = _take(icons, src if src is not None else (dst if kind == "remove" else None))
            if kind == "move":
                icons[i] = [dst[0], dst[1], order]  # type: ignore[index]
            else:
                icons.pop(i)
        for cat, icons in live.items():
            if icons:
                x, y, _ = max(icons, key=lambda ic: ic[2])
                points[cat] = ClassPoint(x, y, len(icons))
    reason = None if points else ("no_actions" if not steps else "all_removed")
    size = (width, height) if width is not None and height is not None else None
    return image_id, CocoImage(points, len(steps), size, worker, spent), reason, orphans


def _iter_source(source: Any, report: CocoParseReport) -> Iterator[tuple[str, int, Any]]:
    if isinstance(source, str | Path):
        path = Path(source)
        if path.exists() and not path.is_file():  # a FIFO would block the memory map forever
            raise DataError(f"{path}: not a regular file; give the COCO-AB records file (coco_ab_v1_0.json)")
        if not path.is_file():
            raise DataError(f"{path}: no such file; give the COCO-AB records file (coco_ab_v1_0.json)")
        report.sources.append(str(path))
        where = f"{path}: record"
        for number, record in enumerate(iter_json_list(path, names=COCO_AB_FILE)):
            yield where, number, record
        return
    yield from iter_record_dicts(source, report, "parse_coco_ab")


def parse_coco_ab(
    source: str | Path | Iterable[Mapping[str, Any]],
    *,
    strict: bool = False,
    mode: ZMode = DEFAULT_MODE,
) -> CocoByproducts:
    """Parse COCO-AB records into Z_c per (image_id, category_id), counting every record without Z.

    ``source``: the JSON list file (streamed) or an iterable of record dicts. Non-strict: malformed
    records are skipped and counted; ``strict=True``: the first one raises :class:`DataError`.
    ``mode``: ``"last_add"`` (default: the paper's final add action, LUAB §4.1) or ``"replay"``
    (ours: the icon's position after replaying add/move/remove); see the module docstring.
    """
    if mode not in ("replay", "last_add"):
        raise LuabError(f"parse_coco_ab: mode must be 'replay' or 'last_add', got {mode!r}")
    report = CocoParseReport(mode)
    images: dict[int, CocoImage] = {}
    first_seen: dict[int, tuple[str, int]] = {}
    for where, number, record in _iter_source(source, report):
        report.records += 1
        if isinstance(record, Unparsable):
            kind, problem = "unparsable_json", record.message
        else:
            try:
                image_id, image, reason, orphans = _extract(record, mode)
            except _Bad as bad:
                kind, problem = bad.kind, bad.message
            else:
                previous = first_seen.get(image_id)
                if previous is None:
                    first_seen[image_id] = (where, number)
                    images[image_id] = image
                    report.orphan_actions += orphans
                    if reason is not None:
                        report.no_point[reason] += 1
                    continue
                kind, problem = "duplicate_id", f"image_id already given by {previous[0]} {previous[1]}"
        label = f"{where} {number}"
        if isinstance(record, dict) and isinstance(record.get("image_id"), int):
            label += f" (image_id {record['image_id']})"
        report.reject(label, kind, problem, _FIXES[kind], strict=strict)
    report.images = len(images)
    report.with_point = sum(1 for img in images.values() if img.points)
    report.class_points = sum(len(img.points) for img in images.values())
    return CocoByproducts(images, report)


__all__ = [
    "ACTION_TYPES",
    "BATCH_BYTES",
    "CATEGORY_ID",
    "COCO_AB_FILE",
    "COCO_CLASS_NAMES",
    "DEFAULT_MODE",
    "LEGACY_MODE",
    "MALFORMED_KINDS",
    "NO_POINT_REASONS",
    "REQUIRED_KEYS",
    "CategoryEvent",
    "ClassPoint",
    "CocoABRecord",
    "CocoByproducts",
    "CocoImage",
    "CocoParseReport",
    "IconAction",
    "MouseSample",
    "RelPoint",
    "ZMode",
    "iter_json_list",
    "parse_coco_ab",
    "validate_coco_record",
    "z_mode",
]
