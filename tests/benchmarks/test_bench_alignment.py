"""Benchmark: SmoothGrad-GBP with its 30 noisy samples in one batch vs one forward/backward per sample.

Run: ``python -m pytest tests/benchmarks/test_bench_alignment.py --benchmark-enable --benchmark-only``.
The acceptance target of issue #5 is batched >= 3x faster than one by one (resnet10t, one image of
the synthetic suite, 64x64, and of its tiny variant, 32x32; one CPU thread). Compare the ``min``
columns: the machine is shared, so means carry other jobs' load.
"""

from __future__ import annotations

import pytest
import torch

from luab_bench.alignment.saliency import SALIENCY_METHODS, SMOOTHGRAD_SAMPLES
from luab_bench.models import create_model


@pytest.fixture(scope="module")
def net() -> object:
    torch.set_num_threads(1)
    return create_model("resnet10t", 10, num_point_heads=0, init_seed=0).eval()


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("samples_per_pass", [SMOOTHGRAD_SAMPLES, 1], ids=["batched", "one_by_one"])
def test_bench_sgbp(benchmark, net, size: int, samples_per_pass: int) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([3])
    fn = SALIENCY_METHODS.get("sgbp")
    out = benchmark.pedantic(
        fn,
        args=(net, x, t),
        kwargs={"seed": 0, "samples_per_pass": samples_per_pass},
        rounds=5,
        warmup_rounds=1,
    )
    assert out.shape == (1, size, size) and torch.isfinite(out).all()
