"""The one check of a generated directory's manifest hashes against the files on disk.

The embedded dataset (``synthetic.py``), its Table-1 analogues (``synthetic_ood.py``) and the
COCO-AB-schema split (``synthetic_coco.py``) each write ``{split: {file: sha256}}`` (plus top-level
files such as the byproduct records) into a manifest; :func:`check_file_hashes` says whether the
directory still holds exactly those bytes. How a fingerprint is formed from the hashes stays with
each generator (the formulas differ and are part of the datasets' identities).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

from luab_bench.hashing import file_sha256


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
