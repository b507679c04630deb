"""Image readers for file-backed training data: a list of files, or rows of HF parquet shards.

Both implement :class:`luab_bench.train.data.ImageFiles`: ``sizes`` (N, 2) = (H, W) known up front
(the crop parameters are drawn in each image's own size before it is decoded), ``read(i)`` -> uint8
(H, W, 3) RGB, ``describe(i)`` for messages. A file that cannot be decoded, or whose size differs from
the listing, is a :class:`DataError` naming it. Both are picklable (they go to DataLoader workers).

Sizes come from the image headers (PIL reads only the header); :func:`cached_sizes` stores them under
``<data_dir>/train-sources/`` keyed by the listing fingerprint, so the scan of 1.28 M headers runs once.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError
from luab_bench.io import atomic_open

_FIX = "re-download or delete the file (and re-run, which rescans the listing)"


def decode_rgb(blob: bytes | str | Path, where: str) -> np.ndarray:
    """Decode an image file/bytes to uint8 (H, W, 3) RGB, or a DataError naming ``where``."""
    from PIL import Image

    try:
        src = io.BytesIO(blob) if isinstance(blob, bytes) else blob
        with Image.open(src) as im:
            return np.array(im.convert("RGB"))  # writable copy (torch.from_numpy)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{where}: cannot decode image ({err}); {_FIX}") from None


def header_size(blob: bytes | str | Path, where: str) -> tuple[int, int]:
    """(H, W) from the image header only, or a DataError naming ``where``."""
    from PIL import Image

    try:
        src = io.BytesIO(blob) if isinstance(blob, bytes) else blob
        with Image.open(src) as im:
            w, h = im.size
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DataError(f"{where}: cannot read image header ({err}); {_FIX}") from None
    return int(h), int(w)


def _check_size(arr: np.ndarray, expect: np.ndarray, where: str) -> np.ndarray:
    if arr.shape[:2] != (int(expect[0]), int(expect[1])):
        raise DataError(
            f"{where}: image is {arr.shape[1]}x{arr.shape[0]} but was listed as {int(expect[1])}x"
            f"{int(expect[0])}; the data changed since it was scanned: delete the size cache under "
            "<data-dir>/train-sources/ and re-run"
        )
    return arr


class PathImages:
    """Images stored one per file (ImageFolder, COCO ``train2014/``)."""

    def __init__(self, paths: Sequence[str | Path], sizes: np.ndarray) -> None:
        self.paths = [str(p) for p in paths]
        self.sizes = np.asarray(sizes, dtype=np.int64).reshape(len(self.paths), 2)

    def __len__(self) -> int:
        return len(self.paths)

    def describe(self, index: int) -> str:
        return self.paths[index]

    def header(self, index: int) -> tuple[int, int]:
        """(H, W) of image ``index`` from its header."""
        return header_size(self.paths[index], self.paths[index])

    def read(self, index: int) -> np.ndarray:
        where = self.paths[index]
        return _check_size(decode_rgb(where, where), self.sizes[index], where)


class ParquetImages:
    """Rows of HF ``imagenet-1k``-style parquet shards (``image`` = {bytes, path}).

    Sample i is row ``rows[i]`` of shard ``shard_of[i]``. A read decodes the whole row group that
    holds the row (parquet's unit of access) and keeps the last ``cache_groups`` groups per process,
    so random access costs about one row-group read per sample: fine for tests and small subsets;
    for full-scale training extract the shards to an ImageFolder tree first (docs/training.md).
    """

    def __init__(
        self,
        shards: Sequence[str | Path],
        shard_of: np.ndarray,
        rows: np.ndarray,
        sizes: np.ndarray,
        names: Sequence[str],
        cache_groups: int = 2,
    ) -> None:
        self.shards = [str(s) for s in shards]
        self.shard_of = np.asarray(shard_of, dtype=np.int64)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.sizes = np.asarray(sizes, dtype=np.int64).reshape(len(self.rows), 2)
        self.names = list(names)
        self.cache_groups = max(int(cache_groups), 1)
        self._files: dict[int, Any] = {}
        self._groups: OrderedDict[tuple[int, int], Any] = OrderedDict()

    def __getstate__(self) -> dict[str, Any]:  # open files and caches stay behind
        state = dict(self.__dict__)
        state["_files"], state["_groups"] = {}, OrderedDict()
        return state

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self, index: int) -> str:
        return f"{self.shards[self.shard_of[index]]} row {int(self.rows[index])} ({self.names[index]})"

    def _group(self, shard: int, row: int) -> tuple[Any, int]:
        import pyarrow.parquet as pq

        pf = self._files.get(shard)
        if pf is None:
            try:
                pf = self._files[shard] = pq.ParquetFile(self.shards[shard])
            except OSError as err:
                raise DataError(f"{self.shards[shard]}: cannot open parquet shard ({err})") from None
        meta = pf.metadata
        start = 0
        for g in range(meta.num_row_groups):
            n = meta.row_group(g).num_rows
            if row < start + n:
                break
            start += n
        else:
            raise DataError(f"{self.shards[shard]}: has no row {row}; the shard changed since it was listed")
        key = (shard, g)
        table = self._groups.get(key)
        if table is None:
            try:
                table = pf.read_row_group(g, columns=["image"]).column("image")
            except OSError as err:
                raise DataError(f"{self.shards[shard]}: cannot read row group {g} ({err})") from None
            self._groups[key] = table
            while len(self._groups) > self.cache_groups:
                self._groups.popitem(last=False)
        else:
            self._groups.move_to_end(key)
        return table, row - start

    def _bytes(self, index: int) -> bytes:
        column, r = self._group(int(self.shard_of[index]), int(self.rows[index]))
        cell = column[r].as_py()
        blob = cell.get("bytes") if isinstance(cell, dict) else None
        if not blob:
            raise DataError(f"{self.describe(index)}: the image cell holds no bytes; {_FIX}")
        return bytes(blob)

    def header(self, index: int) -> tuple[int, int]:
        """(H, W) of image ``index`` from its header (reads its row group; scan in row order)."""
        return header_size(self._bytes(index), self.describe(index))

    def read(self, index: int) -> np.ndarray:
        where = self.describe(index)
        return _check_size(decode_rgb(self._bytes(index), where), self.sizes[index], where)


def listing_key(items: Sequence[tuple[str, int, int]]) -> str:
    """sha256 over (name, size, mtime_ns) rows: changes when a file is added, removed, resized, touched."""
    h = hashlib.sha256()
    for name, size, mtime in items:
        h.update(f"{name}\0{size}\0{mtime}\n".encode())
    return h.hexdigest()


def cached_sizes(
    data_dir: Path,
    key: str,
    n: int,
    scan: Callable[[int], tuple[int, int]],
    *,
    workers: int = 0,
    echo: Callable[[str], None] | None = None,
) -> np.ndarray:
    """(N, 2) sizes from ``<data_dir>/train-sources/sizes-<key16>.npy`` or by calling ``scan(i)``."""
    path = Path(data_dir).expanduser() / "train-sources" / f"sizes-{key[:16]}.npy"
    if path.is_file():
        try:
            arr = np.load(path)
            if arr.shape == (n, 2):
                return arr.astype(np.int64)
        except (OSError, ValueError):
            pass
    if echo is not None and n > 1000:
        echo(f"Reading {n:,} image headers once (cached in {path.parent})")
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            sizes = list(pool.map(scan, range(n), chunksize=256))
    else:
        sizes = [scan(i) for i in range(n)]
    arr = np.asarray(sizes, dtype=np.int64).reshape(n, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as fh:
        np.save(fh, arr)
    return arr
