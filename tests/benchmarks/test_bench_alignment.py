"""Benchmark: SmoothGrad-GBP with its 30 noisy samples batched vs one forward/backward per sample.

Run: ``python -m pytest tests/benchmarks/test_bench_alignment.py --benchmark-enable --benchmark-only``.
The acceptance target of issue #5 is batched >= 3x faster than one by one (resnet10t, one image,
64x64 as in the synthetic suite and 32x32 as in its tiny variant; one CPU thread). Compare the
``min`` columns of the same run: the machine is shared, so means carry other jobs' load.
``test_bench_sgbp_pass_size`` shows why passes are capped at SMOOTHGRAD_ROWS_PER_PASS rows for
several images: 32 images (the alignment batch) x 30 samples in default passes of 60 rows vs the
old single 960-row pass (about 2.9 GiB of activations at 64 px).
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
        rounds=7,
        warmup_rounds=1,
    )
    assert out.shape == (1, size, size) and torch.isfinite(out).all()


@pytest.mark.parametrize("rows", [None, 32 * SMOOTHGRAD_SAMPLES], ids=["default_passes", "one_pass"])
def test_bench_sgbp_pass_size(benchmark, net, rows: int | None) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(32, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    t = torch.arange(32) % 10
    fn = SALIENCY_METHODS.get("sgbp")
    out = benchmark.pedantic(fn, args=(net, x, t), kwargs={"seed": 0, "samples_per_pass": rows}, rounds=2)
    assert out.shape == (32, 64, 64)


@pytest.mark.parametrize("size", [32, 64])
def test_bench_sgbp_ratio_interleaved(benchmark, net, size: int) -> None:  # type: ignore[no-untyped-def]
    """One batched and one one-by-one run per round, so both see the same co-tenant load; the
    speed-up (ratio of the two paths' min and median over rounds) goes into ``extra_info``
    (``--benchmark-json``) and is printed. The separate tests above run minutes apart on a shared
    machine, so the ratio of their mins mixes load windows."""
    import statistics
    import time

    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([3])
    fn = SALIENCY_METHODS.get("sgbp")
    times: dict[int, list[float]] = {SMOOTHGRAD_SAMPLES: [], 1: []}

    def pair() -> None:
        for spp in (SMOOTHGRAD_SAMPLES, 1):
            t0 = time.perf_counter()
            fn(net, x, t, seed=0, samples_per_pass=spp)
            times[spp].append(time.perf_counter() - t0)

    benchmark.pedantic(pair, rounds=7, warmup_rounds=1)
    batched, single = times[SMOOTHGRAD_SAMPLES][1:], times[1][1:]  # drop the warm-up round
    info = {
        "batched_min_ms": 1e3 * min(batched),
        "one_by_one_min_ms": 1e3 * min(single),
        "speedup_min": min(single) / min(batched),
        "speedup_median": statistics.median(single) / statistics.median(batched),
    }
    benchmark.extra_info.update(info)
    print(f"\nsgbp {size}px interleaved: " + ", ".join(f"{k}={v:.2f}" for k, v in info.items()))
    assert len(batched) == len(single) == 7


@pytest.mark.parametrize("size", [32, 64])
def test_bench_sgbp_vs_captum_noise_tunnel(benchmark, net, size: int) -> None:  # type: ignore[no-untyped-def]
    """Issue #12: luab-bench's SGBP (30 samples, the paper's noise std and raw-gradient averaging) vs
    captum's ``NoiseTunnel(GuidedBackprop)`` with ``nt_type="smoothgrad"``, the same model, input,
    target, noise std and noise draws (both use ``torch.normal``/``randn`` from the same seed), one
    image, one thread; the two alternate in every round. The maps after the same normalisation
    (``sum_c |.|``, divided by the max) must agree within 1e-5; the speed-up (captum time / ours)
    goes into ``extra_info``. No timing assertion (the machine is shared).

    A third path in the same rounds, ``floor``: one plain forward + input-gradient backward of the
    same 30 noisy rows without any guidance - the work any exact SmoothGrad-GBP has to do (every
    noisy copy needs its own forward for the ReLU masks and its own backward). ``captum / floor`` is
    the largest speed-up over captum that an exact implementation could reach on this model."""
    import statistics
    import time
    import warnings

    from captum.attr import GuidedBackprop, NoiseTunnel

    class Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x).logits

    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([3])
    std = float((0.1 * (x.max() - x.min())) ** 2)  # their smooth_grad.py: normal_(0, sigma**2)
    tunnel = NoiseTunnel(GuidedBackprop(Logits(net)))
    fn = SALIENCY_METHODS.get("sgbp")
    from luab_bench.alignment.saliency import smoothgrad_noise

    noisy = smoothgrad_noise(x, SMOOTHGRAD_SAMPLES, 0.1, 7)
    rows = t.repeat(SMOOTHGRAD_SAMPLES)
    times: dict[str, list[float]] = {"ours": [], "captum": [], "floor": []}
    maps: dict[str, torch.Tensor] = {}

    def pair() -> None:
        t0 = time.perf_counter()
        maps["ours"] = fn(net, x, t, seed=7)
        times["ours"].append(time.perf_counter() - t0)
        torch.manual_seed(7)  # captum draws its noise from the global generator
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            attr = tunnel.attribute(
                x, nt_type="smoothgrad", nt_samples=SMOOTHGRAD_SAMPLES, stdevs=std, target=3
            )
        times["captum"].append(time.perf_counter() - t0)
        maps["captum"] = attr.abs().sum(1)
        t0 = time.perf_counter()
        xx = noisy.detach().clone().requires_grad_(True)
        torch.autograd.grad(net(xx).logits.gather(1, rows.view(-1, 1)).sum(), xx)
        times["floor"].append(time.perf_counter() - t0)

    benchmark.pedantic(pair, rounds=7, warmup_rounds=1)
    ours, theirs = times["ours"][1:], times["captum"][1:]
    a, b = maps["ours"] / maps["ours"].max(), maps["captum"] / maps["captum"].max()
    diff = float((a - b).abs().max())
    info = {
        "ours_min_ms": 1e3 * min(ours),
        "captum_min_ms": 1e3 * min(theirs),
        "speedup_min": min(theirs) / min(ours),
        "speedup_median": statistics.median(theirs) / statistics.median(ours),
        "floor_min_ms": 1e3 * min(times["floor"][1:]),
        "bound_captum_over_floor_min": min(theirs) / min(times["floor"][1:]),
        "max_abs_diff_normalised": diff,
    }
    benchmark.extra_info.update(info)
    print(f"\nSGBP vs captum {size}px: " + ", ".join(f"{k} {v:.3g}" for k, v in info.items()))
    assert diff <= 1e-5
