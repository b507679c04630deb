"""A compact, memory-mapped point table: byproduct points keyed by image id, O(1) per training sample.

Ingest parses a record file once and writes two uncompressed Arrow IPC files (memory-mapped on read,
so opening costs no parse and no copy):

* ``keys.arrow``: one row per image with a point: ``key`` (string imageID for ImageNet-AB, int64
  image_id for COCO-AB), ``start`` (int64 row in ``points.arrow``), ``count`` (int32 rows).
* ``points.arrow``: ``cls`` (int32: -1 for ImageNet-AB, the COCO category_id for COCO-AB), ``x``,
  ``y`` (float32, relative to the image, in [0, 1]) and ``icons`` (int32 live icons of the class).
* ``meta.json``: dataset, source file (path, size, mtime) and parse options (the cache key), the
  parse report (counts per reason/kind), row counts.

A training dataset calls :meth:`PointTable.align` once with its ids in dataset order; the returned
:class:`AlignedPoints` holds ``start``/``count`` arrays aligned with the dataset, so looking up sample i
is two array reads (O(1)), and a batch is one fancy index.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from luab_bench import safe_json
from luab_bench.errors import DataError, LuabError
from luab_bench.io import atomic_open, atomic_write_json

TABLE_VERSION = 1
KEYS_FILE, POINTS_FILE, META_FILE = "keys.arrow", "points.arrow", "meta.json"
Dataset = Literal["imagenet-ab", "coco-ab"]


def _write_arrow(path: Path, table: Any) -> None:
    import pyarrow as pa

    with atomic_open(path, "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
        writer.write_table(table)


def _read_arrow(path: Path) -> Any:
    import pyarrow as pa

    try:
        return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()
    except (OSError, pa.ArrowInvalid) as err:
        raise DataError(
            f"{path}: not a readable point table ({err}); delete the folder and re-ingest"
        ) from None


def source_stamp(path: str | Path) -> dict[str, Any]:
    """What identifies a source file cheaply: resolved path, size and mtime (ns)."""
    path = Path(path).resolve()
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_point_table(
    out_dir: str | Path,
    *,
    dataset: Dataset,
    keys: Sequence[Any] | np.ndarray,
    counts: np.ndarray,
    cls: np.ndarray,
    xy: np.ndarray,
    icons: np.ndarray,
    meta: dict[str, Any],
) -> PointTable:
    """Write a point table: ``keys[i]`` owns the next ``counts[i]`` rows of ``cls``/``xy``/``icons``."""
    import pyarrow as pa

    out = Path(out_dir)
    counts = np.asarray(counts, dtype=np.int32)
    start = np.zeros(len(counts), dtype=np.int64)
    if len(counts):
        start[1:] = np.cumsum(counts[:-1], dtype=np.int64)
    n_rows = int(counts.sum())
    xy = np.asarray(xy, dtype=np.float32).reshape(-1, 2)
    if not (len(cls) == len(icons) == len(xy) == n_rows):
        raise LuabError("write_point_table: cls/xy/icons must have sum(counts) rows")
    key_type = pa.string() if dataset == "imagenet-ab" else pa.int64()
    keys_table = pa.table(
        {"key": pa.array(keys, type=key_type), "start": pa.array(start), "count": pa.array(counts)}
    )
    points_table = pa.table(
        {
            "cls": pa.array(np.asarray(cls, dtype=np.int32)),
            "x": pa.array(xy[:, 0]),
            "y": pa.array(xy[:, 1]),
            "icons": pa.array(np.asarray(icons, dtype=np.int32)),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    _write_arrow(out / KEYS_FILE, keys_table)
    _write_arrow(out / POINTS_FILE, points_table)
    full_meta = {
        "version": TABLE_VERSION,
        "dataset": dataset,
        "images": len(counts),
        "rows": n_rows,
        **meta,
    }
    atomic_write_json(out / META_FILE, full_meta)  # written last: its presence marks a complete table
    return PointTable(out)


@dataclass(frozen=True)
class AlignedPoints:
    """Point rows of a training dataset, in dataset order: sample i owns rows start[i]:start[i]+count[i]."""

    table: PointTable
    start: np.ndarray  # int64 (N,)
    count: np.ndarray  # int32 (N,); 0 = no record / no point for this sample

    def __len__(self) -> int:
        return len(self.start)

    @property
    def has_point(self) -> np.ndarray:
        return self.count > 0

    def single(self, index: np.ndarray | Sequence[int] | int) -> tuple[np.ndarray, np.ndarray]:
        """One Z per sample (ImageNet-AB): ``(points float32 (B, 2), has_point bool (B,))``."""
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        rows, has = self.start[idx], self.count[idx] > 0
        out = np.zeros((len(idx), 2), dtype=np.float32)
        out[has, 0] = self.table.x[rows[has]]
        out[has, 1] = self.table.y[rows[has]]
        return out, has

    def dense(
        self, index: np.ndarray | Sequence[int] | int, class_index: dict[int, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Z per class (COCO-AB): ``(points float32 (B, K, 2), has bool (B, K))``.

        ``class_index`` maps a table ``cls`` (COCO category_id) to a column 0..K-1; other classes are
        dropped.
        """
        idx = np.atleast_1d(np.asarray(index, dtype=np.int64))
        k = len(class_index)
        lut = np.full(max([*class_index, 0]) + 2, -1, dtype=np.int64)
        for cat, col in class_index.items():
            lut[cat] = col
        pts = np.zeros((len(idx), k, 2), dtype=np.float32)
        has = np.zeros((len(idx), k), dtype=bool)
        counts = self.count[idx]
        if counts.sum() == 0:
            return pts, has
        owner = np.repeat(np.arange(len(idx)), counts)
        offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        rows = np.repeat(self.start[idx], counts) + offsets
        cls = self.table.cls[rows]
        col = np.where((cls >= 0) & (cls < len(lut) - 1), lut[np.clip(cls, 0, len(lut) - 1)], -1)
        keep = col >= 0
        pts[owner[keep], col[keep], 0] = self.table.x[rows[keep]]
        pts[owner[keep], col[keep], 1] = self.table.y[rows[keep]]
        has[owner[keep], col[keep]] = True
        return pts, has


class PointTable:
    """A memory-mapped point table on disk (see the module docstring)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        meta_path = self.directory / META_FILE
        if not meta_path.is_file():
            raise DataError(
                f"{self.directory}: no point table here ({META_FILE} missing: never ingested or "
                "interrupted); run `luab-bench data ingest`"
            )
        try:
            meta = safe_json.read_json_file(meta_path)
        except (OSError, safe_json.InputProblem) as err:
            raise DataError(f"{meta_path}: unreadable ({err}); delete the table and re-ingest") from None
        if not isinstance(meta, dict) or meta.get("version") != TABLE_VERSION:
            version = meta.get("version") if isinstance(meta, dict) else None
            raise DataError(f"{meta_path}: point table version {version!r}; re-ingest")
        if not all(isinstance(meta.get(k), int) for k in ("images", "rows")):
            raise DataError(f"{meta_path}: images / rows counts missing; delete the table and re-ingest")
        self.meta: dict[str, Any] = meta
        self._keys = _read_arrow(self.directory / KEYS_FILE)
        points = _read_arrow(self.directory / POINTS_FILE)
        if len(self._keys) != self.meta["images"] or len(points) != self.meta["rows"]:
            raise DataError(f"{self.directory}: row counts differ from {META_FILE}; delete it and re-ingest")
        # zero-copy numpy views over the memory map
        self.cls = points.column("cls").to_numpy()
        self.x = points.column("x").to_numpy()
        self.y = points.column("y").to_numpy()
        self.icons = points.column("icons").to_numpy()
        self.start = self._keys.column("start").to_numpy()
        self.count = self._keys.column("count").to_numpy()

    @property
    def dataset(self) -> str:
        return str(self.meta["dataset"])

    def __len__(self) -> int:
        return len(self._keys)

    def keys(self) -> list[Any]:
        return self._keys.column("key").to_pylist()

    def align(self, ids: Sequence[Any] | np.ndarray) -> AlignedPoints:
        """Row ranges for ``ids`` in dataset order (ids missing from the table get count 0)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        key_col = self._keys.column("key")
        wanted = pa.array(list(ids) if not isinstance(ids, np.ndarray) else ids.tolist(), type=key_col.type)
        pos = pc.index_in(wanted, value_set=key_col).to_numpy(zero_copy_only=False)
        pos = np.where(np.isnan(pos.astype(np.float64)), -1, pos).astype(np.int64)
        found = pos >= 0
        start = np.zeros(len(pos), dtype=np.int64)
        count = np.zeros(len(pos), dtype=np.int32)
        start[found] = self.start[pos[found]]
        count[found] = self.count[pos[found]]
        return AlignedPoints(self, start, count)

    def save_alignment(self, aligned: AlignedPoints, path: str | Path) -> None:
        """Cache an alignment next to a dataset (``.npz``-free: one ``.npy`` of (N, 2) int64)."""
        with atomic_open(path, "wb") as fh:
            np.save(fh, np.stack([aligned.start, aligned.count.astype(np.int64)], axis=1))

    def load_alignment(self, path: str | Path) -> AlignedPoints:
        arr = np.load(path, mmap_mode="r")
        return AlignedPoints(self, np.asarray(arr[:, 0]), np.asarray(arr[:, 1], dtype=np.int32))


def cached_table(out_dir: str | Path, meta_key: dict[str, Any]) -> PointTable | None:
    """The table in ``out_dir`` if it was built from the same source and options, else None."""
    meta_path = Path(out_dir) / META_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = safe_json.read_json_file(meta_path)
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("version") != TABLE_VERSION:
        return None
    if any(meta.get(k) != v for k, v in meta_key.items()):
        return None
    try:
        return PointTable(out_dir)
    except DataError:
        return None


def ingest_coco_ab(
    source: str | Path,
    out_dir: str | Path,
    *,
    strict: bool = False,
    mode: str = "last_add",
    force: bool = False,
) -> PointTable:
    """Parse a COCO-AB file (streamed) into a point table in ``out_dir``; reuse it if up to date."""
    from luab_bench.data.coco_ab import parse_coco_ab

    key = {"dataset": "coco-ab", "source": source_stamp(source), "options": {"mode": mode}}
    if not force and (table := cached_table(out_dir, key)) is not None:
        return table
    parsed = parse_coco_ab(source, strict=strict, mode=mode)  # type: ignore[arg-type]
    images = [(iid, img) for iid, img in parsed.images.items() if img.points]
    _require_sound_source(source, parsed.report)
    n_rows = sum(len(img.points) for _, img in images)
    keys = np.fromiter((iid for iid, _ in images), dtype=np.int64, count=len(images))
    counts = np.fromiter((len(img.points) for _, img in images), dtype=np.int32, count=len(images))
    cls = np.empty(n_rows, dtype=np.int32)
    xy = np.empty((n_rows, 2), dtype=np.float32)
    icons = np.empty(n_rows, dtype=np.int32)
    r = 0
    for _, img in images:
        for cat in sorted(img.points):
            p = img.points[cat]
            cls[r], xy[r, 0], xy[r, 1], icons[r] = cat, p.x, p.y, p.icons
            r += 1
    return write_point_table(
        out_dir,
        dataset="coco-ab",
        keys=keys,
        counts=counts,
        cls=cls,
        xy=xy,
        icons=icons,
        meta={**key, "report": parsed.report.as_dict()},
    )


def ingest_imagenet_ab(
    source: str | Path,
    out_dir: str | Path,
    *,
    strict: bool = False,
    click: str = "final",
    aggregate: str = "first",
    force: bool = False,
) -> PointTable:
    """Parse ImageNet-AB records (JSON, JSON lines, XML folder or the Hub tarball) into a point table."""
    from luab_bench.data.byproducts import parse_imagenet_ab

    key = {
        "dataset": "imagenet-ab",
        "source": source_stamp(source),
        "options": {"click": click, "aggregate": aggregate},
    }
    if not force and (table := cached_table(out_dir, key)) is not None:
        return table
    parsed = parse_imagenet_ab(source, strict=strict, click=click, aggregate=aggregate)  # type: ignore[arg-type]
    n = len(parsed.points)
    _require_sound_source(source, parsed.report)
    xy = np.asarray(list(parsed.points.values()), dtype=np.float32).reshape(n, 2)
    return write_point_table(
        out_dir,
        dataset="imagenet-ab",
        keys=list(parsed.points),
        counts=np.ones(n, dtype=np.int32),
        cls=np.full(n, -1, dtype=np.int32),
        xy=xy,
        icons=np.ones(n, dtype=np.int32),
        meta={**key, "report": parsed.report.as_dict()},
    )


def _require_sound_source(source: str | Path, report: Any) -> None:
    """Refuse to write a table from a truncated or corrupt file.

    A record that is not valid JSON (``unparsable_json``) means the file is cut short or damaged: a
    table built from it would silently lack the rest (a file cut inside its first record gave an
    empty table), so nothing is written and the user re-fetches the file. Malformed but parsable
    records (NaN, out-of-range, duplicates) are counted in the table's report as before.
    """
    unparsable = report.malformed.get("unparsable_json", 0)
    if unparsable:
        example = (report.examples.get("unparsable_json") or [""])[0]
        raise DataError(
            f"{source}: {unparsable:,} record(s) are not valid JSON (e.g. {example[:120]}); the file is "
            "truncated or corrupt, re-download it; no table was written"
        )


def default_table_dir(data_dir: str | Path, dataset: str) -> Path:
    """``<data_dir>/points/<dataset>``."""
    return Path(os.path.expanduser(str(data_dir))) / "points" / dataset
