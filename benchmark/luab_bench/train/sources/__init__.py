"""Training-data sources (``TRAIN_SOURCES``): synthetic, synthetic-coco, imagenet-ab, coco-ab.

One file per source; each registers a function ``SourceRequest -> PreparedSource`` (see ``base``).
"""

from luab_bench.train.sources.base import (
    MULTI_LABEL_PROTOCOLS,
    SINGLE_LABEL_PROTOCOLS,
    TRAIN_SOURCES,
    PreparedSource,
    SourceRequest,
    prepare_source,
)

__all__ = [
    "MULTI_LABEL_PROTOCOLS",
    "SINGLE_LABEL_PROTOCOLS",
    "TRAIN_SOURCES",
    "PreparedSource",
    "SourceRequest",
    "prepare_source",
]
