"""Atomic file writes: nothing a user wrote is ever half-written, and no temp file outlives its writer.

Write to a temporary file in the same directory, fsync, then ``os.replace`` (atomic on POSIX and
Windows). A crash leaves either the old file or the new one, never a truncated mix.

A process killed mid-write (``kill -9``, OOM, power loss) leaves its temporary file behind. Each
temporary name carries its owner, ``.<name>.<random>.<host8>-<pid>.tmp`` (:func:`temp_suffix`), so
:func:`remove_stale_temp_files` can tell a dead writer's leftovers from a live writer's file: the
first atomic write into a directory in a process removes the leftovers of dead processes of this
host there (and the site build does the same in the site folder, so none is ever published).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; on clean exit it replaces ``path``; on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=temp_suffix(), dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON (sorted keys, no NaN) atomically."""
    text = json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False, allow_nan=False)
    atomic_write_text(path, text + "\n")


# ------------------------------------------------------------------------------ temp-file leftovers
_HOST = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
#: ``.<anything>.<host8>-<pid>.tmp``: a temporary file or directory of a known owner.
_OWNED = re.compile(r"^\..+\.(?P<host>[0-9a-f]{8})-(?P<pid>[0-9]{1,12})\.tmp$")
#: Names of earlier versions: ``.<name>.tmp-<pid>`` (site build, this host) and ``.<name>.<rand>.tmp``
#: (``atomic_open``, no owner: removed once older than :data:`UNOWNED_TEMP_AGE_S`; files only).
_LEGACY_PID = re.compile(r"^\..+\.tmp-(?P<pid>[0-9]{1,12})$")
_LEGACY = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")
UNOWNED_TEMP_AGE_S = 24 * 3600
_cleaned: set[str] = set()


def temp_suffix() -> str:
    """``.<host8>-<pid>.tmp``: the end of every temporary name this process creates (its owner)."""
    return f".{_HOST}-{os.getpid()}.tmp"


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (unknown, e.g. not POSIX: assumed alive)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # no such pid can exist
    except OSError:  # PermissionError: it exists, owned by another user
        return True
    return pid > 0


def _is_stale(entry: os.DirEntry[str], now: float) -> bool:
    name = entry.name
    if m := _OWNED.match(name):
        return m["host"] == _HOST and not _pid_alive(int(m["pid"]))
    if m := _LEGACY_PID.match(name):
        return not _pid_alive(int(m["pid"]))
    if _LEGACY.match(name):
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            return False
        return entry.is_file(follow_symlinks=False) and now - st.st_mtime > UNOWNED_TEMP_AGE_S
    return False


def remove_stale_temp_files(directory: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files / directories in ``directory`` left by dead writers; their names.

    Only hidden names of the forms above are touched: a live process's temp file, another host's
    (a shared file system) and anything that is not a temp name are left alone. Never raises.
    """
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(".") or not _is_stale(entry, now):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue  # gone already, or not ours to remove
    return removed


def _clean_once(directory: Path) -> None:
    """:func:`remove_stale_temp_files` the first time this process writes into ``directory``."""
    key = os.fspath(directory)
    if key not in _cleaned:
        _cleaned.add(key)
        remove_stale_temp_files(directory)
