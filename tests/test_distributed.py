"""Distributed training: env parsing, global-batch sharding, and 2-process DDP (gloo) == 1 process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from luab_bench.errors import LuabError
from luab_bench.models import create_model
from luab_bench.protocols.base import load_protocol, load_recipe
from luab_bench.train.data import TrainData, iter_batches, num_batches
from luab_bench.train.distributed import DistContext, all_reduce_sum, env_world, init_distributed, shard_slice
from luab_bench.train.loop import train

MODEL = "test_convnext"  # LayerNorm only: no per-rank BatchNorm statistics on CPU


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def toy(n: int = 16, size: int = 32) -> TrainData:
    rng = np.random.default_rng(0)
    labels = (np.arange(n) % 4).astype(np.int64)
    images = rng.integers(0, 255, (n, size, size, 3)).astype(np.uint8)
    points = rng.random((n, 1, 2)).astype(np.float32)
    return TrainData(images, labels, points, np.ones((n, 1), bool))


def recipe():
    # full-image crops + flips: every Z stays in view, so each rank has the same number of targets.
    # Plain SGD pinned here (not inherited from the synthetic recipe): Adam's per-weight normalisation
    # amplifies the last-bit differences between a 2-rank and a 1-rank gradient sum.
    aug = {"rrc_scale": (1.0, 1.0), "rrc_ratio": (1.0, 1.0), "hflip": 0.5}
    base = load_recipe("synthetic")
    return base.model_copy(
        update={
            "epochs": 2,
            "batch_size": 8,
            "image_size": 32,
            "optimizer": "sgd",
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "lr": 0.05,
            "warmup_epochs": 0,
            "augmentation": base.augmentation.model_copy(update=aug),
        }
    )


def test_shard_slices_partition_the_batch() -> None:
    for batch in (1, 7, 8, 13):
        for world in (1, 2, 3):
            parts = [shard_slice(batch, DistContext(r, world)) for r in range(world)]
            covered = [i for s in parts for i in range(batch)[s]]
            assert covered == list(range(batch))
            sizes = [s.stop - s.start for s in parts]
            assert max(sizes) - min(sizes) <= 1
    assert num_batches(10, 4, 2) == 2 and num_batches(12, 4, 2) == 3  # rest 2 < 2*2 dropped, 4 kept


def test_env_world(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert env_world() is None
    assert init_distributed("cpu") == (DistContext(), "cpu")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert env_world() == (1, 2, 1)
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(LuabError, match="inconsistent"):
        env_world()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(LuabError, match="integers"):
        env_world()
    assert all_reduce_sum({"a": 1.5}, DistContext(), "cpu") == {"a": 1.5}


def test_sharded_batches_union_equals_the_global_batch() -> None:
    d = toy(20, size=16)
    aug = load_recipe("synthetic").augmentation
    kw = dict(batch_size=8, seed=5, epoch=1, out_size=12, augmentation=aug, mean=(0, 0, 0), std=(1, 1, 1))
    full = list(iter_batches(d, **kw))
    shards = [list(iter_batches(d, **kw, shard=(r, 2))) for r in range(2)]
    assert len(full) == len(shards[0]) == len(shards[1])
    for f, a, b in zip(full, *shards, strict=True):
        for ft, at, bt in zip(f, a, b, strict=True):
            torch.testing.assert_close(torch.cat([at, bt]), ft, rtol=0, atol=0)
    resumed = list(iter_batches(d, **kw, start_batch=1))
    for f, r in zip(full[1:], resumed, strict=True):
        assert all(torch.equal(x, y) for x, y in zip(f, r, strict=True))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    from safetensors.torch import save_file
    sys.path.insert(0, {tests!r})
    from test_distributed import MODEL, recipe, toy
    from luab_bench.models import create_model
    from luab_bench.protocols.base import load_protocol
    from luab_bench.train.distributed import init_distributed, shutdown_distributed
    from luab_bench.train.loop import train

    ctx, dev = init_distributed("cpu")
    assert ctx.world_size == 2 and ctx.backend == "gloo", ctx
    proto = load_protocol("luab")
    net = create_model(MODEL, 4, num_point_heads=1, init_seed=0)
    report = train(net, proto, recipe(), toy(), seed=0, device=dev, dist=ctx)
    if ctx.is_main:
        save_file({{k: v.contiguous() for k, v in net.state_dict().items()}}, {out!r})
        import json; open({out!r} + ".json", "w").write(json.dumps(report.curves))
    shutdown_distributed(ctx)
    """
)


@pytest.mark.slow
def test_two_process_ddp_equals_single_process(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out = str(tmp_path / "ddp.safetensors")
    script = tmp_path / "ddp_run.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), out=out))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    cmd += ["--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    net = create_model(MODEL, 4, num_point_heads=1, init_seed=0)
    report = train(net, load_protocol("luab"), recipe(), toy(), seed=0)
    ddp = load_file(out)
    single = net.state_dict()
    assert report.steps == 4
    moved = 0
    init = create_model(MODEL, 4, num_point_heads=1, init_seed=0).state_dict()
    for k, v in single.items():
        torch.testing.assert_close(ddp[k], v, rtol=1e-4, atol=1e-5, msg=k)
        moved += int(not torch.equal(v, init[k]))
    assert moved > len(single) // 2  # training changed the weights: the comparison is not vacuous
    import json

    curves = json.loads(Path(out + ".json").read_text())
    # metrics are reduced over ranks: the epoch means equal the single-process ones
    for k in ("ce", "point", "total", "train_top1", "point_in_view", "point_err"):
        np.testing.assert_allclose(curves[k], report.curves[k], rtol=1e-4, atol=1e-5, err_msg=k)
