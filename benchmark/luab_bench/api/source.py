"""The training-data source contract: a named function from a request to a prepared training set.

A source (``luab_bench.train.sources.*``: synthetic, synthetic-coco, imagenet-ab, coco-ab) is a
callable :class:`TrainSource` registered in :data:`TRAIN_SOURCES` with
``@TRAIN_SOURCES.register("name")``. The core (``train_one``) calls only
``TRAIN_SOURCES.get(name)(request)`` (``luab_bench.train.sources.base.prepare_source``). The request
and the result are the data types ``SourceRequest`` (variant, data root, byproducts, options, data
dir, seed) and ``PreparedSource`` (``TrainData`` / ``FileTrainData``, number of classes, multi-label
or not, held-out set, default protocols, the ``meta["data"]`` record, the generated evaluation dir);
they are defined in ``luab_bench.train.sources.base`` (named here for annotations only).

This module imports no source and nothing heavy (the registry names its plugin modules as strings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from luab_bench.registry import Registry

if TYPE_CHECKING:
    from luab_bench.train.sources.base import PreparedSource, SourceRequest


class TrainSource(Protocol):
    """A training-data source: ``source(request) -> PreparedSource``.

    It must validate ``request.options`` (``SourceRequest.check_options``: unknown keys are errors),
    raise :class:`~luab_bench.errors.LuabError` (one line, naming the file and the fix) for bad or
    missing data, and make the same training set for the same request (seeded, no global RNG).
    """

    def __call__(self, request: SourceRequest, /) -> PreparedSource: ...


#: Every training-data source, by name (one module each, imported on the first lookup).
TRAIN_SOURCES: Registry[TrainSource] = Registry(
    "training source",
    plugin_modules=(
        "luab_bench.train.sources.synthetic",
        "luab_bench.train.sources.synthetic_coco",
        "luab_bench.train.sources.imagenet_ab",
        "luab_bench.train.sources.coco_ab",
    ),
)
