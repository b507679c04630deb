"""Held-out (validation) subsets of the real sources, for the per-epoch curves.

Each function returns a :class:`~luab_bench.train.heldout.HeldOutFiles` (decoded later, once, at the
recipe's image size) or ``None`` after printing why the curves are skipped. The subset is
``held_out`` images (option; default 1000, 0 = off) drawn by the run's seed from the sorted listing,
so it is fixed per (data, seed) and draws nothing from the training generators. Only the subset's
image headers are read (its sizes), never the whole split's.

- ImageNet: an ImageFolder ``val`` tree (``<wnid>/*.JPEG``, labels mapped to the training classes by
  wnid; classes not trained on are dropped) or the ``validation-*.parquet`` shards of an imagenet-1k
  snapshot (the ``label`` column). Evaluation transform: resize to size/0.875 + centre crop.
- COCO: ``val2014/`` + ``annotations/instances_val2014.json``; multi-hot labels over the training
  categories, per-class boxes from the instances (``objects`` rows) for ``val_point_in_box``.
  Whole-image square resize (boxes stay valid).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from luab_bench.errors import ConfigError
from luab_bench.train.heldout import DEFAULT_HELD_OUT, HeldOutFiles, subset_index
from luab_bench.train.sources.base import SourceRequest

IMAGENET_CROP_PCT = 0.875


def held_out_count(req: SourceRequest) -> int:
    """Option ``held_out``: images in the subset (0 = no held-out curves)."""
    raw = req.options.get("held_out", DEFAULT_HELD_OUT)
    try:
        n = int(raw)
    except (TypeError, ValueError):
        n = -1
    if n < 0:
        raise ConfigError(f"source option held_out={raw!r}: give a whole number >= 0 (0 = no curves)")
    return n


def _skip(req: SourceRequest, why: str) -> None:
    req.echo(f"Held-out curves: skipped ({why})")


def imagenet_validation(
    req: SourceRequest, train_location: Path, train_classes: Sequence[str] | None, parquet: bool
) -> HeldOutFiles | None:
    """The ImageNet val subset next to the training images (or option ``val``), or None."""
    from luab_bench.data.imagenet import imagefolder_files, parquet_samples
    from luab_bench.train.sources.images import ParquetImages, PathImages

    n_max = held_out_count(req)
    if n_max == 0:
        return None
    looked: list[Path] = []
    if "val" in req.options:
        looked.append(Path(str(req.options["val"])).expanduser())
    elif parquet:
        root = train_location if train_location.is_dir() else train_location.parent
        shards = sorted(root.rglob("validation-*.parquet"))
        if shards:
            looked.append(shards[0].parent)
        else:
            _skip(req, f"no validation-*.parquet shards under {root}")
            return None
    else:
        if train_location.name == "train":
            looked.append(train_location.parent / "val")
        if req.data_root is not None:
            looked.append(Path(req.data_root).expanduser() / "imagenet" / "val")
    found = next((p for p in looked if p.exists()), None)
    if found is None:
        _skip(req, "no ImageNet validation images at " + " or ".join(str(p) for p in looked))
        return None
    shards = sorted(found.glob("validation-*.parquet")) if found.is_dir() else [found]
    if found.is_file() or shards:
        names: list[str] = []
        shard_of: list[int] = []
        rows: list[int] = []
        labels: list[int] = []
        for s, shard in enumerate(shards):
            listing = parquet_samples(shard)
            names += listing.names
            rows += listing.rows
            labels += listing.labels
            shard_of += [s] * len(listing.rows)
        idx = subset_index(len(rows), n_max, req.seed)
        reader = ParquetImages(
            shards,
            np.asarray(shard_of)[idx],
            np.asarray(rows)[idx],
            np.ones((len(idx), 2), dtype=np.int64),
            [names[i] for i in idx],
        )
        kept = np.asarray(labels, dtype=np.int64)[idx]
    else:
        paths, val_labels, val_classes = imagefolder_files(found)
        to_train = {c: k for k, c in enumerate(train_classes or ())}
        pairs = [(p, to_train[val_classes[lb]]) for p, lb in zip(paths, val_labels, strict=True)
                 if val_classes[lb] in to_train]  # fmt: skip
        if len(pairs) < len(paths):
            req.echo(f"Held-out: {len(paths) - len(pairs)} images of {found} are of classes not trained on")
        if not pairs:
            _skip(req, f"none of the classes in {found} is a training class")
            return None
        idx = subset_index(len(pairs), n_max, req.seed)
        reader = PathImages([pairs[i][0] for i in idx], np.ones((len(idx), 2), dtype=np.int64))
        kept = np.asarray([pairs[i][1] for i in idx], dtype=np.int64)
    reader.sizes = np.asarray([reader.header(i) for i in range(len(idx))], dtype=np.int64).reshape(-1, 2)
    return HeldOutFiles(
        reader, kept, max_samples=len(idx), seed=req.seed, crop_pct=IMAGENET_CROP_PCT, where=str(found)
    )


def coco_validation(req: SourceRequest, root: Path, categories: Sequence[int]) -> HeldOutFiles | None:
    """The COCO val2014 subset (options ``val_images`` / ``val_instances``), or None."""
    from luab_bench.data.coco import folder_image_ids, load_instances
    from luab_bench.train.sources.images import PathImages

    n_max = held_out_count(req)
    if n_max == 0:
        return None
    image_dir = root / str(req.options.get("val_images", "val2014"))
    instances_path = root / str(req.options.get("val_instances", "annotations/instances_val2014.json"))
    if not image_dir.is_dir() or not instances_path.is_file():
        _skip(req, f"no COCO validation data: need {image_dir}/ and {instances_path}")
        return None
    instances = load_instances(instances_path)
    image_ids = folder_image_ids(image_dir, instances)
    if not image_ids:
        _skip(req, f"none of the images of {instances_path} is in {image_dir}")
        return None
    columns = {cat: k for k, cat in enumerate(categories)}
    idx = subset_index(len(image_ids), n_max, req.seed)
    chosen = [image_ids[i] for i in idx]
    labels = np.zeros((len(chosen), len(columns)), dtype=bool)
    objects: list[tuple[float, ...]] = []
    for row, image_id in enumerate(chosen):
        for cat in instances.labels.categories.get(image_id, ()):
            if cat in columns:
                labels[row, columns[cat]] = True
        for cat, boxes in instances.labels.boxes.get(image_id, {}).items():
            if cat in columns:
                objects += [(row, columns[cat], *b) for b in boxes]
    if not labels.any():
        _skip(req, f"the {len(chosen)} drawn images of {instances_path} have no training category")
        return None
    sizes = np.asarray([(instances.images[i][2], instances.images[i][1]) for i in chosen], dtype=np.int64)
    reader = PathImages([image_dir / instances.images[i][0] for i in chosen], sizes)
    return HeldOutFiles(
        reader,
        labels,
        np.asarray(objects, dtype=np.float32).reshape(-1, 6),
        max_samples=len(chosen),
        seed=req.seed,
        crop_pct=None,
        where=str(image_dir),
    )
