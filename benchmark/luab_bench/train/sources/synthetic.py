"""``synthetic``: the embedded single-label benchmark (today's path, unchanged numbers).

The generated dataset's ``train`` split with its ImageNet-AB-schema records parsed into Z, in memory;
the held-out curves use a seeded 512-image subset of its ``val`` split (with boxes).
"""

from __future__ import annotations

from luab_bench.train.sources.base import TRAIN_SOURCES, PreparedSource, SourceRequest


@TRAIN_SOURCES.register("synthetic")
def synthetic_source(req: SourceRequest) -> PreparedSource:
    """Generate (or reuse) the variant under ``data_dir``; Z from its ``imagenet_ab.json``."""
    from luab_bench.data.prepare import prepare_synthetic, prepare_training_data
    from luab_bench.data.synthetic import load_split
    from luab_bench.train.heldout import HeldOutSet

    req.check_options("synthetic", ())
    dataset = prepare_synthetic(req.variant or "synthetic", req.data_dir, progress=req.progress)
    data, report = prepare_training_data(dataset, req.echo)
    val = load_split(dataset.directory, "val")
    held = HeldOutSet.subset(val.images, val.labels, val.boxes, max_samples=512, seed=req.seed)
    meta = {
        "source": "synthetic",
        "variant": dataset.variant,
        "fingerprint": dataset.fingerprint,
        "config": dataset.config,
        "byproducts": report,
    }
    return PreparedSource(
        source="synthetic",
        variant=dataset.variant,
        data=data,
        num_classes=int(dataset.config["num_classes"]),
        multilabel=False,
        meta=meta,
        held_out=held,
        evaluation_dir=dataset.directory,
    )
