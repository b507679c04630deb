"""Cost of one training step: LUAB (extra point head + masked smooth-L1) vs the baseline, same backbone.

Acceptance (issue 6): a LUAB step costs <= 1.02x a baseline step. Run with
``python -m pytest tests/benchmarks/test_bench_train.py --benchmark-enable --benchmark-only -s``.

Wall-clock timings of two separate benchmark groups (``test_bench_train_step``, baseline's rounds all
before LUAB's) were unusable on a shared 2-core machine: other jobs' load moves them by more than 2 %
(that is where "1.04x min / 1.11x mean" came from). ``test_bench_train_step_ratio`` therefore times
many short *interleaved* rounds — baseline and LUAB alternate, and which goes first alternates too —
so slow drifts (frequency, cache, load) hit both alike, by wall clock and by this process's CPU time
(``time.process_time``, one torch thread) in the same rounds. The target figure (issue 15) is the
ratio of the fastest rounds by wall time: the round least disturbed by other jobs.
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


def _seconds(fn: Callable[[], None], steps: int) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) of ``steps`` calls."""
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        fn()
    return time.process_time() - c0, time.perf_counter() - w0


def interleaved_step_ratio(rounds: int = ROUNDS, steps: int = STEPS_PER_ROUND) -> dict[str, float]:
    """LUAB/baseline ratios over interleaved rounds, by CPU time and by wall time (same rounds).

    ``wall_ratio_of_minima`` (fastest LUAB round / fastest baseline round, wall clock) is the issue-15
    target figure: on a shared machine the minimum is the round least disturbed by other jobs.
    """
    base, luab = _step_fn("baseline"), _step_fn("luab")
    for fn in (base, luab):
        _seconds(fn, 2)  # warm-up beyond the first step
    t_base: list[tuple[float, float]] = []
    t_luab: list[tuple[float, float]] = []
    for r in range(rounds):
        if r % 2 == 0:
            t_base.append(_seconds(base, steps))
            t_luab.append(_seconds(luab, steps))
        else:
            t_luab.append(_seconds(luab, steps))
            t_base.append(_seconds(base, steps))
    out: dict[str, float] = {"rounds": float(rounds), "steps_per_round": float(steps)}
    for k, clock in enumerate(("cpu", "wall")):
        b = [t[k] for t in t_base]
        lu = [t[k] for t in t_luab]
        ratios = [x / y for x, y in zip(lu, b, strict=True)]
        prefix = "" if clock == "cpu" else "wall_"
        out.update(
            {
                f"{prefix}ratio_min": min(ratios),
                f"{prefix}ratio_median": statistics.median(ratios),
                f"{prefix}ratio_max": max(ratios),
                f"{prefix}ratio_of_minima": min(lu) / min(b),
                f"baseline_step_{clock}_s_min": min(b) / steps,
                f"luab_step_{clock}_s_min": min(lu) / steps,
                f"baseline_step_{clock}_s_median": statistics.median(b) / steps,
                f"luab_step_{clock}_s_median": statistics.median(lu) / steps,
            }
        )
    return out


def test_bench_train_step_ratio(benchmark) -> None:
    benchmark.group = "train-step ratio luab/baseline (CPU and wall time, interleaved)"
    result: dict[str, float] = {}

    def run() -> None:
        result.update(interleaved_step_ratio())

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(
        f"\nLUAB/baseline step ratio over {ROUNDS} interleaved rounds of {STEPS_PER_ROUND} steps: wall "
        f"time, fastest rounds {result['wall_ratio_of_minima']:.4f} (per-round median "
        f"{result['wall_ratio_median']:.4f}); CPU time, fastest rounds {result['ratio_of_minima']:.4f} "
        f"(median {result['ratio_median']:.4f}, min {result['ratio_min']:.4f}, max "
        f"{result['ratio_max']:.4f}); fastest step wall baseline "
        f"{result['baseline_step_wall_s_min'] * 1e3:.1f} ms, "
        f"LUAB {result['luab_step_wall_s_min'] * 1e3:.1f} ms"
    )
    # Target (issues 6, 15): <= 1.02. Recorded, not asserted: a timing under load is no test.
    benchmark.extra_info["target"] = TARGET
    benchmark.extra_info["meets_target"] = result["wall_ratio_of_minima"] <= TARGET


def test_bench_luab_extra_work(benchmark) -> None:
    """The LUAB-only work of a step timed alone: point head + masked smooth-L1 (x loss weight), forward
    and backward, on (64, 512) features as resnet10t gives them. The CE, backbone and optimiser are
    common to both protocols; this is the part of the step ratio that is LUAB's own cost (issue 15:
    222 us min against a ~520 ms step)."""
    from luab_bench.protocols.base import masked_smooth_l1
    from luab_bench.protocols.heads import PointHead

    torch.set_num_threads(1)
    cfg = load_protocol("luab").config
    g = torch.Generator().manual_seed(0)
    feats = torch.randn((BATCH, 512), generator=g, requires_grad=True)
    head = PointHead(512, 1)
    pts = torch.rand((BATCH, 1, 2), generator=g)
    has = torch.rand((BATCH, 1), generator=g) < 0.8

    def extra() -> None:
        (cfg.loss_weight * masked_smooth_l1(head(feats), pts, has, cfg.smooth_l1_beta)).backward()

    benchmark.group = "train-step LUAB-only work (isolated)"
    benchmark.pedantic(extra, rounds=200, iterations=1, warmup_rounds=20)


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
