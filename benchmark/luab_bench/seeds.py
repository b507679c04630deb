"""Named random streams: one seed per (run seed, name), stable across runs and processes.

``named_seed(seed, "val_top1")`` = ``[seed, crc32("val_top1")]``, the entropy list numpy's
``SeedSequence`` / ``default_rng`` and the bootstrap helpers take. Each metric's bootstrap (and each
named stream) gets its own independent draws, and adding a metric does not shift the others' draws.
crc32 (not ``hash()``) because Python's string hash is salted per process.
"""

from __future__ import annotations

import zlib


def named_seed(seed: int, name: str) -> list[int]:
    """``[seed, crc32(name as UTF-8)]``: the seed of the stream called ``name`` under run ``seed``."""
    return [int(seed), zlib.crc32(name.encode("utf-8"))]
