"""The one batching core (train/batching.py) and the shared helpers of the data split (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from luab_bench.data.json_stream import ListFile, iter_json_list
from luab_bench.data.manifest import build_directory, canonical_json, npy_bytes
from luab_bench.errors import DataError
from luab_bench.protocols.base import AugmentationConfig, RandAugmentConfig, RandomErasingConfig
from luab_bench.seeds import named_seed, seeded_generator
from luab_bench.train.data import BatchOptions, FileTrainData, TrainData, iter_batches

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
AUG = AugmentationConfig(rrc_scale=(0.3, 1.0), rrc_ratio=(0.75, 1.33), hflip=0.5)


def _data(n: int = 20, size: int = 16) -> TrainData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    points = rng.random((n, 1, 2)).astype(np.float32)
    return TrainData(images, np.arange(n) % 4, points, np.ones((n, 1), dtype=bool))


class _Files:
    """In-memory ImageFiles of varying size (picklable)."""

    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(1)
        self.images = [
            rng.integers(0, 256, (int(rng.integers(12, 30)), int(rng.integers(12, 30)), 3), dtype=np.uint8)
            for _ in range(n)
        ]
        self.sizes = np.array([im.shape[:2] for im in self.images], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.images)

    def read(self, index: int) -> np.ndarray:
        return self.images[index]

    def describe(self, index: int) -> str:
        return f"image {index}"


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(
        all(torch.equal(x, y) for x, y in zip(p, q, strict=True)) for p, q in zip(a, b, strict=True)
    )


def test_options_object_and_keywords_give_the_same_batches() -> None:
    d = _data()
    kw = dict(batch_size=6, seed=3, epoch=1, out_size=12, augmentation=AUG, mean=MEAN, std=STD)
    opts = BatchOptions(**kw, random_erasing=RandomErasingConfig(prob=0.5))
    by_keywords = list(iter_batches(d, **kw, random_erasing=RandomErasingConfig(prob=0.5)))
    assert _same(list(iter_batches(d, opts)), by_keywords)
    # keywords replace fields of a given options object
    assert _same(list(iter_batches(d, opts, start_batch=1)), by_keywords[1:])
    with pytest.raises(TypeError):
        iter_batches(d, batch_size=6)  # the required fields are checked at the call


def test_file_batches_with_randaugment_that_draws_no_geometric_layer() -> None:
    """prob=0: RandAugment draws but applies nothing, so no batch has a geometric warp (the file path
    used to call warp_points(None) then)."""
    n = 14
    rng = np.random.default_rng(2)
    data = FileTrainData(
        _Files(n), np.arange(n) % 3, rng.random((n, 1, 2)).astype(np.float32), np.ones((n, 1), dtype=bool)
    )
    kw = dict(batch_size=4, seed=0, epoch=0, out_size=10, augmentation=AUG, mean=MEAN, std=STD)
    ra = RandAugmentConfig(prob=0.0)
    first = list(iter_batches(data, **kw, rand_augment=ra))
    assert len(first) == 4 and all(b.images.shape[1:] == (3, 10, 10) for b in first)
    assert _same(first, list(iter_batches(data, **kw, rand_augment=ra)))
    for b in first:
        inside = b.points[b.has_point]
        assert bool(((inside >= 0) & (inside <= 1)).all())


@pytest.mark.parametrize("batch_bytes", [1, 40, 1 << 20])
def test_json_stream_reads_any_json_list_in_batches(tmp_path: Path, batch_bytes: int) -> None:
    records = [{"id": i, "xs": list(range(i % 4)), "name": f"r{i}"} for i in range(30)]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    assert list(iter_json_list(path, batch_bytes=batch_bytes)) == records


def test_json_stream_words_its_errors_with_the_given_names(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('[{"id": 1}, {"id": 2', encoding="utf-8")
    with pytest.raises(DataError, match=r"cut\.json: not a complete JSON list .*corrupt, re-create it"):
        list(iter_json_list(path))
    names = ListFile(what="widget records", expected="the widget file", refetch="fetch it again")
    with pytest.raises(DataError, match=r"truncated or corrupt, fetch it again$"):
        list(iter_json_list(path, names=names))
    path.write_text('{"id": 1}', encoding="utf-8")
    with pytest.raises(DataError, match=r"not a JSON list .*; expected the widget file$"):
        list(iter_json_list(path, names=names))


def test_build_directory_leaves_nothing_behind_on_failure_and_replaces_old_copies(tmp_path: Path) -> None:
    target = tmp_path / "ds"

    def boom(tmp: Path) -> None:
        (tmp / "half.npy").write_bytes(npy_bytes(np.zeros(3)))
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        build_directory(target, boom, lambda: None)
    assert list(tmp_path.iterdir()) == []

    def write(text: str):
        return lambda tmp: (tmp / "f.json").write_bytes(canonical_json({"v": text}))

    build_directory(target, write("old"), lambda: None)
    build_directory(target, write("new"), lambda: None)
    assert (target / "f.json").read_bytes() == b'{"v":"new"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_seeded_generator_is_the_pcg64_stream_of_its_entropy() -> None:
    want = np.random.Generator(np.random.PCG64(np.random.SeedSequence([5, *named_seed(1, "x")[1:], 7])))
    got = seeded_generator(5, named_seed(1, "x")[1], 7)
    assert np.array_equal(got.integers(0, 1 << 30, 16), want.integers(0, 1 << 30, 16))
    assert not np.array_equal(seeded_generator(5, 1).random(4), seeded_generator(5, 2).random(4))
