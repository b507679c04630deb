"""Helpers shared by the real (file-backed) sources: listing fingerprints and byproduct tables."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from luab_bench.errors import ConfigError
from luab_bench.train.sources.base import SourceRequest


def file_listing(paths: Sequence[Path], root: Path) -> tuple[str, str]:
    """``(fingerprint, cache_key)`` of a file list: sha256 over (path relative to root, size) rows —
    portable, the data identity recorded in checkpoints — and the same plus mtimes (local cache key)."""
    fp, key = hashlib.sha256(), hashlib.sha256()
    for p in paths:
        st = p.stat()
        row = f"{Path(p).relative_to(root).as_posix()}\0{st.st_size}"
        fp.update(f"{row}\n".encode())
        key.update(f"{row}\0{st.st_mtime_ns}\n".encode())
    return fp.hexdigest(), key.hexdigest()


def point_table(req: SourceRequest, dataset: str, options: dict[str, Any]) -> Any:
    """The byproduct :class:`PointTable`: ingested from ``--byproducts`` (cached by the file's stamp
    and options) or the one already ingested under ``<data_dir>/points/<dataset>``."""
    from luab_bench.data import point_table as pt

    out = pt.default_table_dir(req.data_dir, dataset)
    strict = bool(req.options.get("strict", False))
    if req.byproducts is not None:
        if not Path(req.byproducts).expanduser().exists():
            raise ConfigError(f"--byproducts {req.byproducts}: no such file or directory")
        req.echo(f"Byproducts: {req.byproducts} (point table cached in {out})")
        if dataset == "coco-ab":
            return pt.ingest_coco_ab(Path(req.byproducts).expanduser(), out, strict=strict, **options)
        return pt.ingest_imagenet_ab(Path(req.byproducts).expanduser(), out, strict=strict, **options)
    if (out / pt.META_FILE).is_file():
        table = pt.PointTable(out)
        built = table.meta.get("options") or {}
        differ = {k: (built.get(k), v) for k, v in options.items() if built.get(k) != v}
        if differ:  # e.g. a COCO-AB table ingested with the replay rule, training asks for last_add
            wanted = " ".join(f"--{k.replace('_', '-')} {v}" for k, (_, v) in differ.items())
            have = ", ".join(f"{k}={b!r}" for k, (b, _) in differ.items())
            raise ConfigError(
                f"{out}: the ingested {dataset} table was built with {have}, but this run needs "
                f"{', '.join(f'{k}={v!r}' for k, (_, v) in differ.items())}; re-ingest it "
                f"(`luab-bench data ingest {dataset} PATH {wanted}`), pass --byproducts PATH, or pass "
                f"--source-option to match the table"
            )
        req.echo(f"Byproducts: the point table ingested in {out}")
        return table
    hub_file = "imagenet_ab_v1_0.tar.gz" if dataset == "imagenet-ab" else "coco_ab_v1_0.json"
    raise ConfigError(
        f"training source {dataset!r} needs the {dataset} records: pass --byproducts PATH ({hub_file}; "
        f"`luab-bench data download {dataset}` fetches it) or ingest it once with "
        f"`luab-bench data ingest {dataset} PATH` (looked for a table in {out})"
    )


def join_counts(n_images: int, found: int, table_images: int, with_z: int) -> dict[str, int]:
    """Images without a record and records without an image, counted (records = table rows)."""
    return {
        "images": n_images,
        "images_with_record": found,
        "images_without_record": n_images - found,
        "records_without_image": table_images - found,
        "images_with_z": with_z,
    }
