"""Where ImageNet-AB records come from: JSON list / JSON-lines files, folders of them, the Hub's XML.

:func:`iter_records` yields ``(location prefix, number, record)`` for every record of a source (a
file, a directory read recursively in sorted order, the Hub tarball / an XML folder streamed by
``imagenet_ab_xml``, or an iterable of dicts); a line or byte range that is not JSON arrives as an
:class:`~luab_bench.data.record_base.Unparsable`. A file that cannot be read at all raises
:class:`DataError`. ``byproducts.parse_imagenet_ab`` turns the records into Z.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench import safe_json
from luab_bench.data.record_base import Unparsable, iter_record_dicts, loads_json
from luab_bench.errors import DataError

if TYPE_CHECKING:
    from luab_bench.data.byproducts import ParseReport

RECORD_FILE_SUFFIXES: tuple[str, ...] = (".json", ".jsonl", ".ndjson")


def _describe(err: ValueError) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at line {err.lineno} column {err.colno} (char {err.pos})"
    return str(err)


def _record_files(directory: Path) -> list[Path]:
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in RECORD_FILE_SUFFIXES
    )
    if not files:
        raise DataError(
            f"{directory}: no record files ({', '.join(RECORD_FILE_SUFFIXES)}) found; "
            "point to the ImageNet-AB JSON file or to a directory that holds it"
        )
    return files


def _read_file(path: Path) -> tuple[str, Iterator[Any]]:
    """Return the unit ("record" or "line") and the records of a JSON list / JSON-lines file."""
    try:
        data = safe_json.read_regular_file(path, max_bytes=None)
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ImageNet-AB records ({err.strerror or err}); check the path"
        ) from None
    except safe_json.InputProblem as err:
        raise DataError(f"{path}: {err}; give the ImageNet-AB records file or folder") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data.lstrip()[:1]
    if not head:
        raise DataError(f"{path}: file is empty; re-download or regenerate it, or remove it")
    if head == b"[":
        try:
            records = loads_json(data)
        except ValueError as err:
            raise DataError(
                f"{path}: not a complete JSON list ({_describe(err)}); the file is truncated or corrupt, "
                "re-download or regenerate it"
            ) from None
        return "record", iter(records)
    if head != b"{":
        raise DataError(
            f"{path}: not JSON or JSON lines (starts with {data.lstrip()[:20]!r}); "
            "expected a list of ImageNet-AB records or one record per line"
        )
    lines = data.splitlines()
    first = next(line for line in lines if line.strip())
    try:
        loads_json(first)
    except ValueError:
        try:  # one pretty-printed record per file (a webdataset sample's .json)
            return "record", iter([loads_json(data)])
        except ValueError:
            pass  # JSON lines whose first line is broken: counted below
    return "line", _iter_lines(lines)


def _iter_lines(lines: list[bytes]) -> Iterator[Any]:
    for line in lines:
        if not line.strip():
            yield None  # blank lines keep the line numbering; skipped by the caller
            continue
        try:
            yield loads_json(line)
        except ValueError as err:
            yield Unparsable(f"line is not valid JSON ({_describe(err)})")


def iter_records(source: Any, report: ParseReport) -> Iterator[tuple[str, int, Any]]:
    """Yield ``(location prefix, number, record)``; the number is a line (1-based) or index (0-based)."""
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: no such file or directory; give the ImageNet-AB records file or folder")
        if _is_xml(path):
            yield from _iter_xml(path, report)
            return
        files = _record_files(path) if path.is_dir() else [path]
        for file in files:
            report.sources.append(str(file))
            unit, records = _read_file(file)
            where = f"{file}: {unit}"  # one string per file, shared by every record's location
            start = 1 if unit == "line" else 0
            for number, record in enumerate(records, start):
                if record is None and unit == "line":
                    continue
                yield where, number, record
        return
    yield from iter_record_dicts(source, report, "parse_imagenet_ab")


def _is_xml(path: Path) -> bool:
    """The Hub tarball, one XML file, or a folder with XML files and no JSON record files."""
    from luab_bench.data.imagenet_ab_xml import is_xml_source

    if is_xml_source(path):
        return True
    if not path.is_dir():
        return False
    has_json = any(p.suffix.lower() in RECORD_FILE_SUFFIXES for p in path.rglob("*") if p.is_file())
    return not has_json and next(path.rglob("*.xml"), None) is not None


def _iter_xml(path: Path, report: ParseReport) -> Iterator[tuple[str, int, Any]]:
    from luab_bench.data.imagenet_ab_xml import XmlProblem, iter_xml_source

    report.sources.append(str(path))
    last, number = None, 0
    for where, record in iter_xml_source(path, report.boxes):
        number = number + 1 if where == last else 0  # the k-th <metadata> of one XML file
        last = where
        yield where, number, (Unparsable(record.message) if isinstance(record, XmlProblem) else record)
