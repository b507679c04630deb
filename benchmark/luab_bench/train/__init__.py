"""Training: the loop, data, augmentations, checkpoints, sources (see docs/ARCHITECTURE.md).

``luab_bench.train`` is also the public API's ``train`` (docs/ARCHITECTURE.md): the package object
is callable, ``luab_bench.train(model=..., protocol=..., data_dir=..., out=...)`` being exactly
:func:`luab_bench.pipeline.train_one`. A plain function of that name could not live beside the
subpackage: importing ``luab_bench.train.loop`` rebinds ``luab_bench.train`` to the package.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _TrainPackage(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from luab_bench.pipeline import train_one

        return train_one(*args, **kwargs)


sys.modules[__name__].__class__ = _TrainPackage
