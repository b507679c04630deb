"""Cost of one training step: LUAB (extra point head + masked smooth-L1) vs the baseline, same backbone.

Acceptance (issue 6): a LUAB step costs <= 1.02x a baseline step. Run with
``python -m pytest tests/benchmarks/test_bench_train.py --benchmark-enable --benchmark-only -s``.

Wall-clock timings of two separate benchmark groups were unusable on a shared 2-core machine (other
jobs' load moves them by more than 2 %). ``test_bench_train_step_ratio`` therefore measures CPU time
of this process (``time.process_time``, one torch thread: time the scheduler gave to other processes
is not counted) in many short *interleaved* rounds — baseline and LUAB alternate, and which goes
first alternates too — so slow drifts (frequency, cache, load) hit both alike. It reports, over the
rounds, the minimum and median of the per-round ratio LUAB/baseline and the ratio of the fastest
rounds; the acceptance check uses the median (a typical round, robust to outliers either way).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import torch

from luab_bench.models import create_model
from luab_bench.protocols.base import load_protocol, load_recipe
from luab_bench.train.loop import make_optimizer

BATCH, SIZE = 64, 64
ROUNDS, STEPS_PER_ROUND = 30, 2
TARGET = 1.02


def _step_fn(protocol: str, *, warm_up: bool = True) -> Callable[[], None]:
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

    if warm_up:
        step()  # allocations
    return step


@pytest.mark.parametrize("protocol", ["baseline", "luab"])
def test_bench_train_step(benchmark, protocol: str) -> None:
    benchmark.group = "train-step resnet10t 64x64 b64"
    benchmark.pedantic(_step_fn(protocol), rounds=15, iterations=1, warmup_rounds=2)


def _cpu_seconds(fn: Callable[[], None], steps: int) -> float:
    t0 = time.process_time()
    for _ in range(steps):
        fn()
    return time.process_time() - t0


def interleaved_step_ratio(rounds: int = ROUNDS, steps: int = STEPS_PER_ROUND) -> dict[str, float]:
    """LUAB/baseline CPU-time ratios over interleaved rounds: min, median, max, ratio of minima."""
    base, luab = _step_fn("baseline"), _step_fn("luab")
    for fn in (base, luab):
        _cpu_seconds(fn, 2)  # warm-up beyond the first step
    t_base: list[float] = []
    t_luab: list[float] = []
    for r in range(rounds):
        if r % 2 == 0:
            t_base.append(_cpu_seconds(base, steps))
            t_luab.append(_cpu_seconds(luab, steps))
        else:
            t_luab.append(_cpu_seconds(luab, steps))
            t_base.append(_cpu_seconds(base, steps))
    ratios = [lu / b for lu, b in zip(t_luab, t_base, strict=True)]
    return {
        "ratio_min": min(ratios),
        "ratio_median": statistics.median(ratios),
        "ratio_max": max(ratios),
        "ratio_of_minima": min(t_luab) / min(t_base),
        "baseline_step_cpu_s_median": statistics.median(t_base) / steps,
        "luab_step_cpu_s_median": statistics.median(t_luab) / steps,
        "rounds": float(rounds),
        "steps_per_round": float(steps),
    }


def test_bench_train_step_ratio(benchmark) -> None:
    benchmark.group = "train-step ratio luab/baseline (process CPU time, interleaved)"
    result: dict[str, float] = {}

    def run() -> None:
        result.update(interleaved_step_ratio())

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(
        "\nLUAB/baseline step CPU-time ratio over "
        f"{ROUNDS} interleaved rounds: min {result['ratio_min']:.4f}, "
        f"median {result['ratio_median']:.4f}, max {result['ratio_max']:.4f}, "
        f"ratio of fastest rounds {result['ratio_of_minima']:.4f}; baseline step "
        f"{result['baseline_step_cpu_s_median'] * 1e3:.1f} ms CPU, LUAB step "
        f"{result['luab_step_cpu_s_median'] * 1e3:.1f} ms CPU"
    )
    # Target (issue 6): median ratio <= 1.02. Recorded, not asserted: a timing under load is no test.
    benchmark.extra_info["target"] = TARGET
    benchmark.extra_info["meets_target"] = result["ratio_median"] <= TARGET


def test_train_step_flop_ratio() -> None:
    """FLOPs of a LUAB step / a baseline step (matmuls and convolutions, forward + backward)."""
    from torch.utils.flop_counter import FlopCounterMode

    flops = {}
    for protocol in ("baseline", "luab"):
        step = _step_fn(protocol, warm_up=False)
        with FlopCounterMode(display=False) as counter:
            step()
        flops[protocol] = counter.get_total_flops()
    assert flops["baseline"] > 0
    ratio = flops["luab"] / flops["baseline"]
    print(f"\nLUAB/baseline step FLOP ratio: {ratio:.6f} ({flops['luab']} / {flops['baseline']})")
    assert 1.0 < ratio <= TARGET  # the point head adds a little, never more than the target
