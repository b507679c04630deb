"""Shared test set-up.

- pytest's exit code 5 ("no tests collected", e.g. a `-k` that matches nothing) is reported as
  success so `.ci/run` does not fail on an empty selection; the summary line still says so.
- Tests run on CPU with few threads, deterministic hashing, and the HF Hub offline.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        session.exitstatus = pytest.ExitCode.OK


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `gpu` tests without CUDA and `network` tests unless LUAB_BENCH_NETWORK=1."""
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    skip_net = pytest.mark.skip(reason="needs network; set LUAB_BENCH_NETWORK=1")
    has_cuda = None
    for item in items:
        if "gpu" in item.keywords:
            if has_cuda is None:
                import torch

                has_cuda = torch.cuda.is_available()
            if not has_cuda:
                item.add_marker(skip_gpu)
        if "network" in item.keywords and os.environ.get("LUAB_BENCH_NETWORK") != "1":
            item.add_marker(skip_net)
