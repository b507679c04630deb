"""Named random streams: one seed per (run seed, name), stable across runs and processes.

``named_seed(seed, "val_top1")`` = ``[seed, crc32("val_top1")]``, the entropy list numpy's
``SeedSequence`` / ``default_rng`` and the bootstrap helpers take. Each metric's bootstrap (and each
named stream) gets its own independent draws, and adding a metric does not shift the others' draws.
crc32 (not ``hash()``) because Python's string hash is salted per process.

Seeds as an axis: ``--seeds 0,1,2`` (those seeds) or ``--seeds 3`` (a count: seeds 0, 1, 2).

The pairing contract (``pipeline.train_one``): under one training seed every protocol starts from the
same initial weights (``create_model(..., init_seed=seed)``) and sees the same batches in the same
order with the same augmentation draws (``train.data.iter_batches``: generators keyed by (seed,
epoch) only). A comparison of two protocols at one seed is therefore *paired*; over seeds the paired
differences are independent replicates (``luab_bench.metrics.paired``).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import numpy as np

MAX_SEEDS = 100


def named_seed(seed: int, name: str) -> list[int]:
    """``[seed, crc32(name as UTF-8)]``: the seed of the stream called ``name`` under run ``seed``."""
    return [int(seed), zlib.crc32(name.encode("utf-8"))]


def seeded_generator(*entropy: int) -> np.random.Generator:
    """``Generator(PCG64(SeedSequence([*entropy])))``: the one seeded numpy generator of the data code.

    ``seeded_generator(seed, 3)`` is the generated datasets' stream 3 of data seed ``seed``;
    ``seeded_generator(*named_seed(seed, name), ...)`` a named stream. numpy is imported on call.
    """
    import numpy as np

    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([*entropy])))


def parse_seeds(spec: str) -> list[int]:
    """``"0,1,2"`` -> [0, 1, 2]; ``"3"`` (one integer, a count) -> [0, 1, 2]; ``"5,"`` -> [5].

    Seeds are non-negative, distinct and kept in the given order; anything else is a LuabError
    naming the option and the fix.
    """
    text = spec.strip()
    fix = "use a count (--seeds 3 = seeds 0,1,2) or a comma-separated list (--seeds 0,1,2)"
    if not text:
        raise LuabError(f"--seeds is empty; {fix}")
    parts = [p.strip() for p in text.split(",")]
    is_list = "," in text
    parts = [p for p in parts if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise LuabError(f"--seeds {spec!r}: expected non-negative integers; {fix}")
    values = [int(p) for p in parts]
    if not is_list:
        count = values[0]
        if not 1 <= count <= MAX_SEEDS:
            raise LuabError(f"--seeds {spec!r}: a seed count must be 1..{MAX_SEEDS}; {fix}")
        return list(range(count))
    if len(set(values)) != len(values):
        raise LuabError(f"--seeds {spec!r}: a seed is listed twice; list each seed once")
    return values
