"""Stream the elements of a big JSON list file (hundreds of MB) a batch at a time, in bounded memory.

The file is memory-mapped and cut at record starts (found by the first record's first key), each cut
decoded by one ``loads_json`` (orjson) call; a batch that does not decode is decoded record by record,
and a bad record yields :class:`~luab_bench.data.record_base.Unparsable` with its byte offset, so one
corrupt record costs only itself. Used for COCO-AB's 398 MB ``coco_ab_v1_0.json`` (``coco_ab.py``:
587 MB peak RSS vs 3.1 GB for a bare ``orjson.loads``); any file holding one JSON list of objects
whose first key is a top-level key works. :class:`ListFile` words the errors for a given file.
"""

from __future__ import annotations

import dataclasses
import itertools
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from luab_bench.data.record_base import Unparsable, loads_json
from luab_bench.errors import DataError

BATCH_BYTES = 8 << 20


@dataclasses.dataclass(frozen=True)
class ListFile:
    """How the errors of :func:`iter_json_list` name the file and its fix."""

    what: str = "JSON records"  # "cannot read <what>"
    expected: str = "a file holding one JSON list"  # "not a JSON list ...; expected <expected>"
    refetch: str = "re-create it"  # how to replace an empty, truncated or corrupt file


def _first_key(buf: Any, start: int) -> bytes | None:
    """The first key of the first record (``"worker_id"``), the anchor used to split records."""
    i = buf.find(b"{", start, start + 4096)
    if i < 0:
        return None
    q0 = buf.find(b'"', i, i + 4096)
    q1 = buf.find(b'"', q0 + 1, q0 + 256) if q0 >= 0 else -1
    if q0 < 0 or q1 < 0:
        return None
    return bytes(buf[q0 : q1 + 1])


def _record_start(buf: Any, key_at: int, lo: int) -> int:
    """Position of the ``{`` that opens the object whose first key starts at ``key_at`` (or -1)."""
    j = key_at - 1
    while j > lo and buf[j] in b" \t\r\n":
        j -= 1
    return j if buf[j] == 0x7B else -1  # '{'


def iter_json_list(
    path: Path, batch_bytes: int = BATCH_BYTES, *, names: ListFile = ListFile()
) -> Iterator[Any]:
    """Stream the elements of a big JSON list file, a batch of records at a time.

    The file is memory-mapped and cut at record starts found by the first record's first key (a
    top-level key such as ``"worker_id"`` never occurs inside the nested objects); each cut is
    decoded by one ``orjson.loads`` call, so peak memory is one batch of Python objects, not the whole
    file. A batch that does not decode is decoded record by record; a bad record yields
    :class:`Unparsable` with its byte offset. A file that is not a complete JSON list raises
    :class:`DataError`, worded by ``names``.
    """
    try:
        fh = path.open("rb")
    except OSError as err:
        raise DataError(f"{path}: cannot read {names.what} ({err.strerror or err}); check the path") from None
    with fh:
        if path.stat().st_size == 0:
            raise DataError(f"{path}: file is empty; {names.refetch}")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            yield from _iter_mapped(path, buf, batch_bytes, names)


def _iter_mapped(path: Path, buf: Any, batch_bytes: int, names: ListFile) -> Iterator[Any]:
    n = len(buf)
    start = 0
    if buf[:3] == b"\xef\xbb\xbf":
        start = 3
    while start < n and buf[start] in b" \t\r\n":
        start += 1
    end = n - 1
    while end > start and buf[end] in b" \t\r\n":
        end -= 1
    if start >= n:
        raise DataError(f"{path}: file is empty; {names.refetch}")
    if buf[start] != 0x5B:  # '['
        raise DataError(
            f"{path}: not a JSON list (starts with {bytes(buf[start : start + 20])!r}); "
            f"expected {names.expected}"
        )
    if buf[end] != 0x5D:  # ']'
        raise DataError(
            f"{path}: not a complete JSON list (ends with {bytes(buf[max(start, end - 20) : end + 1])!r}"
            f" at byte {end}); the file is truncated or corrupt, {names.refetch}"
        )
    body_lo, body_hi = start + 1, end  # between the brackets
    key = _first_key(buf, body_lo)
    if key is None:
        if bytes(buf[body_lo:body_hi]).strip():
            yield from _decode_span(buf, body_lo, body_hi, None)
        return
    pos = body_lo
    while pos < body_hi:
        cut = body_hi
        probe = pos + batch_bytes
        while probe < body_hi:
            k = buf.find(key, probe, body_hi)
            if k < 0:
                break
            s = _record_start(buf, k, pos)
            if s > pos:
                cut = s
                break
            probe = k + len(key)
        yield from _decode_span(buf, pos, cut, key)
        pos = cut


def _strip_span(buf: Any, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and buf[lo] in b" \t\r\n,":
        lo += 1
    while hi > lo and buf[hi - 1] in b" \t\r\n,":
        hi -= 1
    return lo, hi


def _decode_span(buf: Any, lo: int, hi: int, key: bytes | None) -> Iterator[Any]:
    lo, hi = _strip_span(buf, lo, hi)
    if lo >= hi:
        return
    try:
        yield from loads_json(b"[" + buf[lo:hi] + b"]")
        return
    except ValueError:
        pass
    # slow path: one record at a time, so one bad record does not cost its neighbours
    cuts = [lo]
    if key is not None:
        k = buf.find(key, lo + 1, hi)
        while k >= 0:
            s = _record_start(buf, k, cuts[-1])
            if s > cuts[-1]:
                cuts.append(s)
            k = buf.find(key, k + len(key), hi)
    cuts.append(hi)
    for a, b in itertools.pairwise(cuts):
        a2, b2 = _strip_span(buf, a, b)
        if a2 >= b2:
            continue
        try:
            yield from loads_json(b"[" + buf[a2:b2] + b"]")
        except ValueError as err:
            yield Unparsable(f"bytes {a2}-{b2} are not a valid JSON record ({err})")
