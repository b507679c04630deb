"""Distributed `predict`: each rank runs only its batches, one gather rebuilds the 1-process output.

The 2-process end-to-end runs (`torchrun -m luab_bench evaluate`, gloo) are in test_real_releases.py;
here each rank's half is computed in this process with the group faked (``dist_world`` and
``all_gather_object`` monkeypatched), so the sharding itself is checked: which batches each rank
ran, which images it decoded, and that the reassembly equals the single-process result exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from luab_bench import inference as base
from luab_bench.errors import DataError
from luab_bench.suites.base import predict


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


class _Recording(torch.utils.data.Dataset):
    def __init__(self, images: np.ndarray) -> None:
        self.images, self.read = images, []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        self.read.append(i)
        return torch.from_numpy(self.images[i]).permute(2, 0, 1).float() / 255.0


class _Stop(Exception):
    pass


def _sharded(monkeypatch: pytest.MonkeyPatch, call: Any, world: int = 2) -> tuple[list[Any], list[dict]]:
    """Run ``call()`` as every rank of a fake group; returns each rank's result and what it sent."""
    import torch.distributed as dist

    sent: list[dict] = []

    def capture(out: list, obj: dict) -> None:
        sent.append(obj)
        raise _Stop

    monkeypatch.setattr(dist, "get_world_size", lambda: world)
    monkeypatch.setattr(dist, "all_gather_object", capture)
    for r in range(world):  # pass 1: each rank's own work, up to the gather
        monkeypatch.setattr(base, "dist_world", lambda r=r: (r, world))
        with pytest.raises(_Stop):
            call()

    def gather(out: list, obj: dict) -> None:
        out[:] = sent

    monkeypatch.setattr(dist, "all_gather_object", gather)
    results = []
    for r in range(world):  # pass 2: the gather answers with every rank's part
        monkeypatch.setattr(base, "dist_world", lambda r=r: (r, world))
        try:
            results.append(call())
        except Exception as err:  # returned for the caller to check
            results.append(err)
    return results, sent


def test_uint8_arrays_are_sharded_by_batch_and_reassembled_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (10, 8, 8, 3), dtype=np.uint8)
    net = _Net().eval()
    kw: dict[str, Any] = dict(batch_size=3, outputs=("pred", "logits"))
    kw["hooks"] = {"rows": lambda x, rows: np.arange(rows.start, rows.stop)}
    one = predict(net, images, **kw)
    results, sent = _sharded(monkeypatch, lambda: predict(net, images, **kw))
    assert [s["starts"] for s in sent] == [[0, 6], [3, 9]]  # batches 0, 2 on rank 0; 1, 3 on rank 1
    assert [s["seen"] for s in sent] == [6, 4]
    for got in results:
        assert got.n == one.n == 10
        np.testing.assert_array_equal(got.pred, one.pred)
        np.testing.assert_array_equal(got.logits, one.logits)  # same batches: bit-identical
        np.testing.assert_array_equal(got.extra["rows"], np.arange(10))


def test_a_sequential_loader_decodes_only_the_ranks_own_images(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 255, (7, 8, 8, 3), dtype=np.uint8)
    net = _Net().eval()
    ds = _Recording(images)
    one = predict(net, torch.utils.data.DataLoader(ds, batch_size=2), outputs=("logits",))
    ds.read.clear()
    reads = []

    def call() -> Any:
        ds.read.clear()
        out = predict(net, torch.utils.data.DataLoader(ds, batch_size=2), outputs=("logits",))
        reads.append(sorted(ds.read))
        return out

    results, _ = _sharded(monkeypatch, call)
    assert reads[-2:] == [[0, 1, 4, 5], [2, 3, 6]]  # each rank read its batches' images only
    for got in results:
        np.testing.assert_array_equal(got.logits, one.logits)


def test_an_error_on_one_rank_is_raised_on_every_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    images = np.zeros((4, 8, 8, 3), np.uint8)
    images[3] = 255

    class _Picky(_Net):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if float(x.max()) > 0.5:
                raise DataError("batch with a white image")
            return super().forward(x)

    net = _Picky().eval()
    results, sent = _sharded(monkeypatch, lambda: predict(net, images, batch_size=2))
    assert sent[0]["error"] is None and sent[1]["error"][1] == "DataError"
    assert all(isinstance(r, DataError) for r in results)
    assert "white image" in str(results[0]) and "on rank 1" in str(results[0])


def test_without_a_group_nothing_is_gathered() -> None:
    assert base.dist_world() == (0, 1)
    out = predict(_Net().eval(), np.zeros((3, 8, 8, 3), np.uint8), batch_size=2)
    assert out.n == 3 and out.pred.shape == (3,)
