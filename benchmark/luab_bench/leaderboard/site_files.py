"""Writing the site's files: replace a file only when its bytes change, atomically; remove a path."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from luab_bench.io import atomic_write_bytes, temp_suffix


def _same_content(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file holding exactly ``data`` (size checked before reading)."""
    try:
        st = path.lstat()
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def write_if_changed(path: Path, text: str, *, sync: bool = True) -> bool:
    """Write ``text`` (UTF-8) to ``path`` unless it already holds exactly that; True if written.

    A rebuild of an unchanged site writes nothing (and keeps file times, so sync tools copy nothing).
    Changed files are replaced atomically (temp file + rename); ``sync=False`` skips the fsync, for
    the many small detail pages that can always be rebuilt.
    """
    data = text.encode("utf-8")
    if _same_content(path, data):
        return False
    if sync:
        atomic_write_bytes(path, data)
        return True
    tmp = path.with_name(f".{path.name}{temp_suffix()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return True


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
