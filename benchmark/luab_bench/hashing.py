"""The one sha256 helper for bytes and files (datasets, downloads, manifests).

Plain-Python (hashlib only) so every layer may import it; one definition instead of a private copy
per data module (issue 15).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_hex(data: bytes) -> str:
    """sha256 of ``data`` as lowercase hex."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path, chunk: int = 8 << 20) -> str:
    """sha256 of a file as lowercase hex, read in ``chunk``-byte blocks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
