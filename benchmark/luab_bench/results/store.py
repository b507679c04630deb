"""Writing result files: deterministic pretty JSON, atomic, under stable filesystem-safe names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from luab_bench.io import atomic_write_json
from luab_bench.results.schema import Result

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe_part(text: str, max_len: int = 60) -> str:
    """Filesystem-safe slug: runs of other characters become '-', no leading dots, bounded length."""
    slug = _UNSAFE.sub("-", text).strip("-.")[:max_len].rstrip("-.")
    return slug or "x"


def result_filename(result: Result) -> str:
    """``<suite>__<model>__<protocol>__s<seed>__<hash8>.json``; the hash is of the result id.

    The same result always gets the same name (re-signing does not rename it) and two results
    that differ only in id cannot collide.
    """
    suite = result.suite.name
    if result.suite.variant and result.suite.variant != result.suite.name:
        suite = f"{suite}.{result.suite.variant}"
    short = hashlib.sha256(result.result_id.encode("utf-8")).hexdigest()[:8]
    parts = [_safe_part(suite), _safe_part(result.model.name), _safe_part(result.protocol.name)]
    return "__".join([*parts, f"s{result.seed}", short]) + ".json"


def write_result(path: str | Path, result: Result) -> Path:
    """Write ``result`` to ``path`` atomically as sorted, indented UTF-8 JSON; returns the path.

    The same result always produces the same bytes, so result files diff cleanly in review.
    """
    path = Path(path)
    atomic_write_json(path, result.to_json_dict(), indent=2)
    return path


def write_result_to_dir(directory: str | Path, result: Result) -> Path:
    """Write ``result`` into ``directory`` under :func:`result_filename`; returns the file path."""
    return write_result(Path(directory) / result_filename(result), result)
