"""Cost of one training step: LUAB (extra point head + masked smooth-L1) vs the baseline, same backbone.

Acceptance (issue 6): a LUAB step costs <= 1.02x a baseline step. Run with
``python -m pytest tests/benchmarks/test_bench_train.py --benchmark-enable --benchmark-only``.
"""

from __future__ import annotations

import pytest
import torch

from luab_bench.models import create_model
from luab_bench.protocols.base import load_protocol, load_recipe
from luab_bench.train.loop import make_optimizer

BATCH, SIZE = 64, 64


def _step_fn(protocol: str):
    torch.set_num_threads(1)
    proto = load_protocol(protocol)
    net = create_model("resnet10t", 10, num_point_heads=proto.num_point_heads(10), init_seed=0)
    net.train()
    opt = make_optimizer(net, load_recipe("synthetic"))
    g = torch.Generator().manual_seed(0)
    x = torch.randn((BATCH, 3, SIZE, SIZE), generator=g)
    y = torch.randint(0, 10, (BATCH,), generator=g)
    pts = torch.rand((BATCH, 1, 2), generator=g)
    has = torch.rand((BATCH, 1), generator=g) < 0.8

    def step() -> None:
        out = net(x)
        loss, _ = proto.loss(out, y, pts, has)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up (allocations)
    return step


@pytest.mark.parametrize("protocol", ["baseline", "luab"])
def test_bench_train_step(benchmark, protocol: str) -> None:
    benchmark.group = "train-step resnet10t 64x64 b64"
    benchmark.pedantic(_step_fn(protocol), rounds=15, iterations=1, warmup_rounds=2)
