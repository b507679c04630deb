"""``imagenet-ab``: ImageNet train images (ImageFolder tree or HF parquet shards) + ImageNet-AB Z.

Where the images are: ``--train-data PATH`` (an ImageFolder ``<wnid>/<wnid>_<n>.JPEG`` tree, a folder
of ``imagenet-1k`` parquet shards, or one shard), else ``<data-root>/imagenet/train`` (ImageFolder) or
``<data-root>/imagenet-1k`` (parquet, e.g. the HF dataset snapshot). Labels: the ImageFolder class
index (sorted wnids) or the parquet ``label`` column. Z: the ImageNet-AB records (``--byproducts`` or
an ingested point table) joined by imageID ``<wnid>/<wnid>_<n>``. File-backed
(:class:`~luab_bench.train.data.FileTrainData`); sizes from the headers, cached under the data dir.

Options: ``click`` (final/first), ``aggregate`` (first/mean), ``strict`` (parser), ``cache_row_groups``
(parquet reader), ``held_out`` (images in the held-out subset, default 1000, 0 = no curves), ``val``
(the validation images, default: ``val/`` beside an ImageFolder ``train/``, ``<data-root>/imagenet/val``,
or the snapshot's ``validation-*.parquet``; see ``sources.validation``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from luab_bench.errors import ConfigError
from luab_bench.train.sources.base import TRAIN_SOURCES, PreparedSource, SourceRequest

_OPTIONS = ("click", "aggregate", "strict", "cache_row_groups", "held_out", "val")


def _locate(req: SourceRequest) -> Path:
    if req.train_data is not None:
        path = Path(req.train_data).expanduser()
        if not path.exists():
            raise ConfigError(f"--train-data {path}: no such file or directory")
        return path
    if req.data_root is not None:
        for sub in ("imagenet/train", "imagenet-1k"):
            if (Path(req.data_root).expanduser() / sub).exists():
                return Path(req.data_root).expanduser() / sub
    raise ConfigError(
        "training source 'imagenet-ab' needs the ImageNet train images: pass --train-data PATH (an "
        "ImageFolder tree <wnid>/<wnid>_<n>.JPEG or a folder of imagenet-1k parquet shards) or "
        "--data-root DIR holding imagenet/train/ or imagenet-1k/"
    )


def _is_parquet(path: Path) -> bool:
    """A shard file, or a folder with shards at the top, in ``data/`` (HF snapshot) or in
    ``snapshots/*/data/`` (HF cache repo folder); anything else is read as an ImageFolder tree."""
    if path.is_file():
        return path.suffix == ".parquet"
    patterns = ("*.parquet", "data/*.parquet", "snapshots/*/data/*.parquet")
    return any(next(path.glob(pat), None) is not None for pat in patterns)


@TRAIN_SOURCES.register("imagenet-ab")
def imagenet_ab_source(req: SourceRequest) -> PreparedSource:
    """ImageNet train (ImageFolder or parquet) joined with ImageNet-AB final-click Z."""
    from luab_bench.data.imagenet import id_from_filename, imagefolder_files, parquet_samples
    from luab_bench.train.data import FileTrainData
    from luab_bench.train.sources.common import file_listing, join_counts, point_table
    from luab_bench.train.sources.images import ParquetImages, PathImages, cached_sizes
    from luab_bench.train.sources.validation import imagenet_validation

    req.check_options("imagenet-ab", _OPTIONS)
    location = _locate(req)
    reader: PathImages | ParquetImages
    if _is_parquet(location):
        variant = "parquet"
        listing = parquet_samples(location)
        root = location if location.is_dir() else location.parent
        fingerprint, cache_key = file_listing(listing.shards, root)
        names = listing.names
        labels = np.asarray(listing.labels, dtype=np.int64)
        classes = listing.class_names
        num_classes = len(classes) if classes else int(labels.max()) + 1
        reader = ParquetImages(
            listing.shards,
            np.asarray(listing.shard_of),
            np.asarray(listing.rows),
            np.ones((len(names), 2), dtype=np.int64),
            names,
            cache_groups=int(req.options.get("cache_row_groups", 2)),
        )
        sizes = cached_sizes(req.data_dir, cache_key, len(names), reader.header, workers=0, echo=req.echo)
        ids = [id_from_filename(n) for n in names]
    else:
        variant = "imagefolder"
        paths, label_list, classes = imagefolder_files(location)
        fingerprint, cache_key = file_listing(paths, location)
        labels = np.asarray(label_list, dtype=np.int64)
        num_classes = len(classes)
        reader = PathImages(paths, np.ones((len(paths), 2), dtype=np.int64))
        sizes = cached_sizes(
            req.data_dir, cache_key, len(paths), reader.header, workers=req.num_workers, echo=req.echo
        )
        ids = [f"{p.parent.name}/{p.name.rsplit('.', 1)[0]}" for p in paths]
    reader.sizes = sizes
    opts = {"click": req.options.get("click", "final"), "aggregate": req.options.get("aggregate", "first")}
    table = point_table(req, "imagenet-ab", opts)
    aligned = table.align(ids)
    n = len(ids)
    pts, has = aligned.single(np.arange(n))
    found = int(has.sum())
    join = join_counts(n, found, len(table), found)
    req.echo(
        f"Byproducts: {found}/{n} training images have a final click Z; "
        f"{join['records_without_image']} records with Z have no image here"
    )
    data = FileTrainData(
        images=reader,
        labels=labels,
        points=pts.reshape(n, 1, 2),
        has_point=has.reshape(n, 1),
        num_workers=req.num_workers,
        identity=fingerprint,
    )
    meta = {
        "source": "imagenet-ab",
        "options": dict(req.options),  # `luab-bench reproduce` passes them again
        "variant": variant,
        "fingerprint": fingerprint,
        "config": {"location": str(location), "num_classes": num_classes, "byproduct_options": opts},
        "byproducts": table.meta.get("report"),
        "join": join,
    }
    held = imagenet_validation(req, location, classes, parquet=variant == "parquet")
    return PreparedSource(
        source="imagenet-ab",
        variant=variant,
        data=data,
        num_classes=num_classes,
        multilabel=False,
        meta=meta,
        held_out=held,
    )
