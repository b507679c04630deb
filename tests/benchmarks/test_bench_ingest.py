"""Ingest of a ~400 MB COCO-AB-shaped file vs a bare orjson.loads, peak RSS, and point lookup cost.

The file is generated once outside the repo (``LUAB_BENCH_INGEST_FILE``, default
``/tmp/luab_bench_coco_ab_400mb.json``; 100,000 records x 40 mouse samples ~ 398 MB, like
``coco_ab_v1_0.json``). Peak RSS is measured in a fresh subprocess (``VmHWM``) so the benchmark
process's own memory does not count (Linux only).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

BIG = Path(os.environ.get("LUAB_BENCH_INGEST_FILE", "/tmp/luab_bench_coco_ab_400mb.json"))


@pytest.fixture(scope="module")
def big_file() -> Path:
    if not BIG.exists():
        from luab_bench.data.synthetic_coco import write_fake_coco_ab

        write_fake_coco_ab(BIG, 100_000, seed=0, mouse_points=40)
    return BIG


def _rss_of(code: str) -> float:
    """Peak RSS (MB) of a fresh interpreter running ``code``.

    Read from ``VmHWM`` in /proc/self/status: ``ru_maxrss`` survives ``execve`` on Linux, so a child
    of this (big) process would report the parent's peak.
    """
    prog = f"{code}\nprint([ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0])"
    out = subprocess.run([sys.executable, "-c", prog], check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def test_bench_orjson_loads_baseline(benchmark, big_file):
    import orjson

    benchmark.pedantic(lambda: len(orjson.loads(big_file.read_bytes())), rounds=1, iterations=1)
    benchmark.extra_info["peak_rss_mb"] = _rss_of(
        f"import orjson; orjson.loads(open({str(big_file)!r}, 'rb').read())"
    )


def test_bench_ingest_coco_ab(benchmark, big_file):
    from luab_bench.data.point_table import ingest_coco_ab

    with tempfile.TemporaryDirectory() as tmp:
        table = benchmark.pedantic(lambda: ingest_coco_ab(big_file, tmp, force=True), rounds=1, iterations=1)
        assert len(table) > 0
    rss = _rss_of(
        "import tempfile\nfrom luab_bench.data.point_table import ingest_coco_ab\n"
        f"ingest_coco_ab({str(big_file)!r}, tempfile.mkdtemp(), force=True)"
    )
    benchmark.extra_info["peak_rss_mb"] = rss
    assert rss <= 1536, f"peak RSS {rss:.0f} MB > 1.5 GB"


def test_bench_point_lookup_per_batch(benchmark, big_file, tmp_path_factory):
    from luab_bench.data.point_table import ingest_coco_ab

    table = ingest_coco_ab(big_file, tmp_path_factory.mktemp("pt"))
    ids = np.arange(9, 9 + 100_000)
    aligned = table.align(ids)
    cols = {c: i for i, c in enumerate(sorted(set(table.cls.tolist())))}
    rng = np.random.default_rng(0)
    batch = rng.integers(0, len(ids), 256)
    benchmark(aligned.dense, batch, cols)
    benchmark.extra_info["batch"] = len(batch)
