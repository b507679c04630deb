"""Bounds on numbers a user gives (CLI options, checkpoint files): one definition each, no imports.

A value outside them is refused where it is read, with the valid range, instead of crashing later.
"""

from __future__ import annotations

#: Seeds are 32-bit: the per-epoch generators mix ``seed & 0xFFFFFFFF`` (``train/data.py``), so a
#: larger seed would silently repeat a smaller one, and numpy seeds must be below 2**32.
MAX_SEED = 2**32 - 1
#: Upper bound of a checkpoint's class / point-head count (ImageNet-21k has 21,841 classes); a larger
#: number is a corrupt or hostile file, refused before a layer of that size is allocated.
MAX_CLASSES = 100_000
