"""Benchmark: file-backed ImageFolder batches vs the in-memory path on the same images.

Run: ``python -m pytest tests/benchmarks/test_bench_train_sources.py --benchmark-enable --benchmark-only``.
256 JPEGs (quality 90) of varying size around 160x200 are written to a temp ImageFolder; the same
pixels, resized to 160x160, form the in-memory TrainData. One epoch = 4 batches of 64 at 112 px with
the ImageNet crop (scale 0.08-1) + flip, one CPU thread, workers 0 (decode in the training process)
and 2. Compare the ``min`` columns: the ratio file/in-memory is the cost of JPEG decoding + per-image
cropping; the machine is shared, so means carry other jobs' load.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from luab_bench.protocols.base import AugmentationConfig
from luab_bench.train.data import FileTrainData, TrainData, iter_batches
from luab_bench.train.sources.images import PathImages

N, BATCH, OUT = 256, 64, 112
AUG = AugmentationConfig(rrc_scale=(0.08, 1.0), rrc_ratio=(0.75, 4 / 3), hflip=0.5)


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    torch.set_num_threads(1)
    root = Path(tmp_path_factory.mktemp("folder"))
    rng = np.random.default_rng(0)
    paths, sizes, arrays = [], [], []
    for i in range(N):
        h, w = int(rng.integers(140, 180)), int(rng.integers(180, 220))
        arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="JPEG", quality=90)
        p = root / f"c{i % 4}" / f"img_{i}.JPEG"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(buf.getvalue())
        paths.append(p)
        sizes.append((h, w))
        arrays.append(np.asarray(Image.fromarray(arr).resize((160, 160))))
    labels = np.arange(N, dtype=np.int64) % 4
    points = rng.random((N, 1, 2)).astype(np.float32)
    has = np.ones((N, 1), dtype=bool)
    memory = TrainData(np.stack(arrays), labels, points, has)
    files = FileTrainData(PathImages(paths, np.asarray(sizes)), labels, points, has)
    files2 = FileTrainData(PathImages(paths, np.asarray(sizes)), labels, points, has, num_workers=2)
    return {"memory": memory, "files_w0": files, "files_w2": files2}


def _epoch(data: object) -> int:
    n = 0
    for batch in iter_batches(
        data,  # type: ignore[arg-type]
        batch_size=BATCH,
        seed=0,
        epoch=0,
        out_size=OUT,
        augmentation=AUG,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
    ):
        n += batch.images.shape[0]
    return n


@pytest.mark.parametrize("kind", ["memory", "files_w0", "files_w2"])
def test_bench_train_source_epoch(benchmark, sets, kind: str) -> None:  # type: ignore[no-untyped-def]
    n = benchmark.pedantic(_epoch, args=(sets[kind],), rounds=3, iterations=1, warmup_rounds=1)
    assert n == N
