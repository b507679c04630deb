"""Files of the generated directories: canonical bytes, hashed writes, the build-and-rename, the check.

The embedded dataset (``synthetic.py``), its Table-1 analogues (``synthetic_ood.py``) and the
COCO-AB-schema split (``synthetic_coco.py``) each write ``{split: {file: sha256}}`` (plus top-level
files such as the byproduct records) into a manifest; :func:`check_file_hashes` says whether the
directory still holds exactly those bytes. How a fingerprint is formed from the hashes stays with
each generator (the formulas differ and are part of the datasets' identities). Every file is written
from bytes made here (:func:`canonical_json`, :func:`npy_bytes`), so one config gives the same bytes,
and every directory is built by :func:`build_directory`, so a crash never leaves one that looks
complete. :func:`read_manifest` reads any of their manifests.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luab_bench import safe_json
from luab_bench.errors import DataError
from luab_bench.hashing import file_sha256, sha256_hex
from luab_bench.io import atomic_write_bytes, remove_stale_temp_files, temp_suffix

if TYPE_CHECKING:
    import numpy as np


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII, no NaN: the bytes every generated JSON file and hash uses."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def npy_bytes(arr: np.ndarray) -> bytes:
    """``np.save`` bytes of ``arr`` (C-contiguous, no pickle): what every generated ``.npy`` holds."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_hashed(path: Path, blob: bytes) -> str:
    """Write ``blob`` atomically to ``path``; its sha256 (for the manifest)."""
    atomic_write_bytes(path, blob)
    return sha256_hex(blob)


def build_directory(target: Path, write: Callable[[Path], None], verify: Callable[[], str | None]) -> Path:
    """Build ``target`` by ``write(tmp)`` into a temporary sibling, then rename it into place.

    Half-built siblings of dead writers are removed first; an existing ``target`` is moved aside and
    deleted before the rename. When the rename fails because another process finished first, its
    copy is kept if ``verify()`` (None = complete and hash-verified) accepts it.
    """
    root = target.parent
    remove_stale_temp_files(root)  # half-generated directories of killed runs
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=temp_suffix(), dir=root))
    try:
        write(tmp)
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=root))
            os.replace(target, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            # another process finished first; keep its copy if it verifies
            if verify() is not None:
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def read_manifest(
    path: Path, *, required: Collection[str], incomplete: str, kind: str, fix: str
) -> dict[str, Any]:
    """A generated directory's manifest: a JSON object with the ``required`` keys, else a DataError.

    Read with the bounded reader (``safe_json``); the messages name ``path``, say what is wrong
    (missing: ``incomplete``; not JSON; not ``kind``) and end with ``fix``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing ({incomplete}); {fix}")
    try:
        manifest = safe_json.read_json_file(path)
    except (OSError, ValueError) as err:  # safe_json.InputProblem is a ValueError
        raise DataError(f"{path}: not valid JSON ({err}); {fix}") from None
    if not isinstance(manifest, dict) or not set(required) <= set(manifest):
        raise DataError(f"{path}: not {kind}; {fix}")
    return manifest


def check_file_hashes(
    directory: Path,
    split_hashes: Mapping[str, Mapping[str, str]],
    expected_files: Collection[str],
    top_hashes: Mapping[str, str] | None = None,
    *,
    what: str = "manifest",
) -> str | None:
    """None when every split lists exactly ``expected_files`` and every listed file's sha256 matches.

    ``split_hashes`` maps split -> file -> sha256 (files under ``directory/split/``); ``top_hashes``
    maps file -> sha256 directly under ``directory``. Otherwise the first problem, naming the file.
    """
    directory = Path(directory)
    for split, files in split_hashes.items():
        if set(files) != set(expected_files):
            return f"{what} lists the wrong files for split {split!r}"
        for fname, digest in files.items():
            path = directory / split / fname
            if not path.is_file():
                return f"{path}: missing"
            if file_sha256(path) != digest:
                return f"{path}: sha256 mismatch"
    for fname, digest in (top_hashes or {}).items():
        path = directory / fname
        if not path.is_file() or file_sha256(path) != digest:
            return f"{path}: missing or sha256 mismatch"
    return None
