"""Reading files a user (or anyone opening a pull request) wrote: bounded, strict, never a traceback.

One place for the rules every parser of a user file follows, so that no single bad file can crash a
command or a whole leaderboard build:

- only **regular files** are read (a FIFO or a device would block or never end), opened with
  ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor (no race with a swapped path);
- a **size cap** (``max_bytes``) is checked before anything is read;
- text is **strict UTF-8** (a byte that is not UTF-8 is reported with its offset);
- JSON nesting is **depth-limited**: the stdlib parser's ``RecursionError`` and orjson's own limit
  become a normal error, and (where ``max_depth`` is given) a document deeper than that is refused
  before recursive code (pydantic, canonical JSON, templates) sees it;
- **lone surrogates** (``"\\ud800"``, valid JSON escapes but not encodable as UTF-8) are refused, as
  they would crash the first write of the value;
- **duplicate keys** are an error where asked (a second ``"signature"`` or ``"metrics"`` must not
  silently win).

Problems raise :class:`InputProblem` (a ``ValueError``) with a short reason and no file name; the
caller adds the file and the fix and raises its own :class:`~luab_bench.errors.LuabError` subclass.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

try:  # orjson is ~5x faster on large files; json is the fallback (and reads NaN/Infinity, big ints)
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

#: Deepest JSON nesting accepted in result / checkpoint / metadata files (real ones are < 10 deep).
MAX_DEPTH = 32
#: Largest result / checkpoint-metadata JSON file read (real ones are a few hundred KiB at most).
MAX_DOC_BYTES = 32 << 20
#: Largest YAML config file read (protocols, recipes, submission.yaml are a few KiB).
MAX_YAML_BYTES = 1 << 20


class InputProblem(ValueError):
    """A user file is not something we will parse; ``str(err)`` is the reason (no file name)."""


def read_regular_file(path: str | os.PathLike[str], *, max_bytes: int | None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes.

    Raises :class:`InputProblem` for a FIFO, socket, device or directory (reading those may block
    forever) and for a file over the cap; ``OSError`` (e.g. ``FileNotFoundError``) passes through.
    """
    fd = os.open(os.fspath(path), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputProblem(f"not a regular file ({_kind(st.st_mode)}); pass a file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise InputProblem(f"file is {st.st_size:,} bytes, more than the {max_bytes:,} accepted")
        chunks = []
        remaining = st.st_size if max_bytes is None else max_bytes + 1
        while True:  # the file may grow while read: never read more than the cap (+1 to notice)
            chunk = os.read(fd, min(1 << 20, remaining) if max_bytes is not None else 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            if max_bytes is not None:
                remaining -= len(chunk)
                if remaining <= 0:
                    raise InputProblem(f"file is more than the {max_bytes:,} bytes accepted")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO/pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def decode_utf8(data: bytes) -> str:
    """``data`` as strict UTF-8 (a leading BOM dropped); :class:`InputProblem` naming the bad byte."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = data[err.start : err.start + 1]
        raise InputProblem(
            f"not UTF-8 text (byte 0x{bad.hex()} at offset {err.start}); save it as UTF-8"
        ) from None


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate code point (not encodable as UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_tree(value: Any, *, max_depth: int | None = MAX_DEPTH) -> None:
    """Refuse a parsed document nested deeper than ``max_depth`` or holding a lone surrogate.

    Iterative (an explicit stack), so it cannot itself overflow the Python stack.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            if has_surrogate(node):
                raise InputProblem(f"string {node[:40]!r} holds a lone surrogate (not valid Unicode text)")
            continue
        if isinstance(node, dict):
            children: Any = node.items()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if max_depth is not None and depth > max_depth:
            raise InputProblem(f"nested more than {max_depth} levels deep")
        for child in children:
            if isinstance(node, dict):
                key, child = child
                if isinstance(key, str) and has_surrogate(key):
                    raise InputProblem(f"key {key[:40]!r} holds a lone surrogate (not valid Unicode text)")
            if isinstance(child, str | dict | list):
                stack.append((child, depth + 1))


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InputProblem(f"duplicate key {k!r}")
        out[k] = v
    return out


def loads(
    data: bytes | bytearray | memoryview | str,
    *,
    max_depth: int | None = MAX_DEPTH,
    reject_duplicates: bool = False,
) -> Any:
    """Parse JSON ``data`` under the module's rules; :class:`InputProblem` (a ValueError) if it breaks one.

    orjson first (it refuses invalid UTF-8, lone surrogates and nesting over 1024 by itself); on its
    failure, or when duplicate keys must be detected (orjson keeps the last silently), the stdlib
    parser, which also reads NaN/Infinity and big ints (the callers' schemas then refuse them) and
    gives the same error positions (orjson reads an integer beyond 64 bits as a float; the record
    checks refuse such values either way, and ``reject_duplicates=True``, used for results and
    checkpoints, always takes the exact stdlib path). ``max_depth=None``: no walk over the parsed
    tree (for large record files whose records are checked one by one; the parsers' own depth
    limits still apply).
    """
    if _orjson is not None and not reject_duplicates:
        try:
            doc = _orjson.loads(data)
        except _orjson.JSONDecodeError:
            pass
        else:
            if max_depth is not None and max_depth < 1024:
                check_tree(doc, max_depth=max_depth)
            return doc
    text = data if isinstance(data, str) else decode_utf8(bytes(data))
    try:
        doc = json.loads(text, object_pairs_hook=_reject_duplicate_keys if reject_duplicates else None)
    except RecursionError:
        raise InputProblem("nested too deeply to parse") from None
    except InputProblem:
        raise
    except ValueError as err:  # JSONDecodeError
        raise InputProblem(str(err)) from None
    check_tree(doc, max_depth=max_depth)
    return doc


def read_json_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = MAX_DOC_BYTES,
    max_depth: int | None = MAX_DEPTH,
    reject_duplicates: bool = True,
) -> Any:
    """Read and parse the JSON file ``path`` under the module's rules (see :func:`loads`).

    Raises :class:`InputProblem` for every problem with the content; ``OSError`` passes through so the
    caller can say "not found" in its own words.
    """
    return loads(
        read_regular_file(Path(path), max_bytes=max_bytes),
        max_depth=max_depth,
        reject_duplicates=reject_duplicates,
    )


def display_name(name: str | os.PathLike[str]) -> str:
    """``name`` (a path or any text) printable as UTF-8: bytes of a file name that are not UTF-8
    (``os.fsdecode``'s surrogate escapes) are shown as ``\\xff``, other lone surrogates as
    ``\\ud800``; so a name can always be echoed, listed on a page or written to JSON."""
    text = os.fspath(name)
    if not has_surrogate(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
