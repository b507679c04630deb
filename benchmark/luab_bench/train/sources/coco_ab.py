"""``coco-ab``: COCO-2014 train images + ``instances_train2014.json`` + COCO-AB Z_c (multi-label).

Where: ``--train-data ROOT`` or ``--data-root ROOT`` holding ``train2014/`` and
``annotations/instances_train2014.json`` (options ``images`` / ``instances`` override the two relative
paths). Samples: the instances' images whose file exists in the folder, by image_id. Labels: multi-hot
over the instances' categories (80, sorted by category_id = the column order; images without any
annotation keep an all-zero row and are counted). Z_c: the COCO-AB records (``--byproducts`` or an
ingested point table; by default the final ``add`` action per class, LUAB §4.1; option ``mode: replay``
for the position after replaying add/move/remove)
joined by image_id, one column per category. Sizes from the instances json (checked at decode).
Held-out curves (``val_map``, ``val_point_in_box``): a seeded subset of ``val2014/`` +
``annotations/instances_val2014.json`` (options ``held_out`` = count, default 1000, 0 = off;
``val_images`` / ``val_instances``), skipped with the reason printed when absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from luab_bench.errors import ConfigError
from luab_bench.train.sources.base import (
    MULTI_LABEL_PROTOCOLS,
    TRAIN_SOURCES,
    PreparedSource,
    SourceRequest,
)

_OPTIONS = ("images", "instances", "mode", "strict", "held_out", "val_images", "val_instances")


@TRAIN_SOURCES.register("coco-ab")
def coco_ab_source(req: SourceRequest) -> PreparedSource:
    """COCO-2014 train joined with COCO-AB Z_c per class."""
    from luab_bench.data.coco import folder_image_ids, load_instances
    from luab_bench.data.coco_ab import DEFAULT_MODE, z_mode
    from luab_bench.train.data import FileTrainData
    from luab_bench.train.sources.common import file_listing, join_counts, point_table
    from luab_bench.train.sources.images import PathImages
    from luab_bench.train.sources.validation import coco_validation

    req.check_options("coco-ab", _OPTIONS)
    root = req.train_data or req.data_root
    if root is None:
        raise ConfigError(
            "training source 'coco-ab' needs COCO-2014 train: pass --train-data ROOT (or --data-root ROOT) "
            "holding train2014/ and annotations/instances_train2014.json"
        )
    root = Path(root).expanduser()
    image_dir = root / str(req.options.get("images", "train2014"))
    instances_path = root / str(req.options.get("instances", "annotations/instances_train2014.json"))
    instances = load_instances(instances_path)
    image_ids = folder_image_ids(image_dir, instances)
    if not image_ids:
        raise ConfigError(
            f"{image_dir}: none of the {len(instances.images)} images of {instances_path} is here"
        )
    categories = sorted(instances.categories)
    columns = {cat: k for k, cat in enumerate(categories)}
    n, k = len(image_ids), len(categories)
    labels = np.zeros((n, k), dtype=bool)
    for row, image_id in enumerate(image_ids):
        for cat in instances.labels.categories.get(image_id, ()):
            labels[row, columns[cat]] = True
    paths = [image_dir / instances.images[i][0] for i in image_ids]
    sizes = np.asarray([(instances.images[i][2], instances.images[i][1]) for i in image_ids], dtype=np.int64)
    fingerprint, _ = file_listing([*paths, instances_path], root)
    mode = z_mode(req.options.get("mode", DEFAULT_MODE), "training source 'coco-ab'")
    table = point_table(req, "coco-ab", {"mode": mode})
    aligned = table.align(image_ids)
    points, has = aligned.dense(np.arange(n), columns)
    found = int((aligned.count > 0).sum())
    join = join_counts(n, found, len(table), int(has.any(axis=1).sum()))
    join["class_points"] = int(has.sum())
    join["images_without_annotations"] = int((~labels.any(axis=1)).sum())
    join["instances_images_without_file"] = len(instances.images) - n
    req.echo(
        f"Byproducts: {join['images_with_z']}/{n} training images have a Z_c ({join['class_points']} "
        f"(image, class) points); {join['records_without_image']} records with Z_c have no image here"
    )
    data = FileTrainData(
        images=PathImages(paths, sizes),
        labels=labels,
        points=points,
        has_point=has,
        num_workers=req.num_workers,
        identity=fingerprint,
    )
    meta = {
        "source": "coco-ab",
        "options": {**req.options, "mode": mode},  # `luab-bench reproduce` passes them again
        "variant": "coco2014-train",
        "fingerprint": fingerprint,
        "config": {
            "root": str(root),
            "images": str(image_dir),
            "instances": str(instances_path),
            "mode": mode,
            "category_ids": categories,
        },
        "byproducts": table.meta.get("report"),
        "join": join,
        "classes": [instances.categories[c] for c in categories],
    }
    return PreparedSource(
        source="coco-ab",
        variant="coco2014-train",
        data=data,
        num_classes=k,
        multilabel=True,
        meta=meta,
        default_protocols=MULTI_LABEL_PROTOCOLS,
        held_out=coco_validation(req, root, categories),
    )
