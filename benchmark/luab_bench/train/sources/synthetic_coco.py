"""``synthetic-coco``: the embedded COCO-AB-schema multi-label split (``data/synthetic_coco.py``).

Multi-hot labels (N, K) from ``train/labels.npy``; Z_c per (image, class) from the split's
``coco_ab.json`` through :func:`luab_bench.data.coco_ab.parse_coco_ab`, as real COCO-AB (option
``mode``: ``last_add``, the default, = the final add action of LUAB §4.1; ``replay`` = after
add/move/remove), columns in the manifest's class order (``category_id`` -> index). In memory. Held-out curves
(``val_map``, ``val_point_in_box``): a seeded 512-image subset of the ``val`` split with its visible
object boxes (``objects.npy``).
"""

from __future__ import annotations

import json

import numpy as np

from luab_bench.errors import LuabError
from luab_bench.registry import unknown_name_message
from luab_bench.train.sources.base import (
    MULTI_LABEL_PROTOCOLS,
    TRAIN_SOURCES,
    PreparedSource,
    SourceRequest,
)


def class_points(
    parsed: object, image_ids: list[int], columns: dict[int, int]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Z_c as (N, K, 2) + mask (N, K) for ``image_ids`` from a parsed COCO-AB, and the join counts.

    ``columns`` maps COCO category_id -> column; points of other categories are dropped (counted).
    """
    images = parsed.images  # type: ignore[attr-defined]
    n, k = len(image_ids), len(columns)
    points = np.zeros((n, k, 2), dtype=np.float32)
    has = np.zeros((n, k), dtype=bool)
    dropped = 0
    for row, image_id in enumerate(image_ids):
        image = images.get(int(image_id))
        if image is None:
            continue
        for cat, p in image.points.items():
            col = columns.get(int(cat))
            if col is None:
                dropped += 1
                continue
            points[row, col] = (p.x, p.y)
            has[row, col] = True
    present = set(int(i) for i in image_ids)
    with_record = sum(1 for i in present if i in images)
    join = {
        "images": n,
        "images_with_record": with_record,
        "images_without_record": n - with_record,
        "records_without_image": sum(1 for i in images if i not in present),
        "images_with_z": int(has.any(axis=1).sum()),
        "class_points": int(has.sum()),
        "points_of_unknown_class": dropped,
    }
    return points, has, join


@TRAIN_SOURCES.register("synthetic-coco")
def synthetic_coco_source(req: SourceRequest) -> PreparedSource:
    """Generate (or reuse) the synthetic COCO-AB variant under ``data_dir`` and join its Z_c."""
    from luab_bench.data.coco_ab import DEFAULT_MODE, parse_coco_ab, z_mode
    from luab_bench.data.synthetic_coco import (
        RECORDS_FILE,
        SYNTHETIC_COCO_VARIANTS,
        generate_coco,
        load_coco_split,
    )
    from luab_bench.train.data import TrainData
    from luab_bench.train.heldout import HeldOutSet

    req.check_options("synthetic-coco", ("mode",))
    mode = z_mode(req.options.get("mode", DEFAULT_MODE), "training source 'synthetic-coco'")
    variant = req.variant or "synthetic-coco"
    if variant not in SYNTHETIC_COCO_VARIANTS:
        raise LuabError(unknown_name_message("synthetic-coco variant", variant, SYNTHETIC_COCO_VARIANTS))
    cfg = SYNTHETIC_COCO_VARIANTS[variant]
    directory = generate_coco(cfg, req.data_dir)
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    split = load_coco_split(directory, "train")
    columns = {int(c["category_id"]): int(c["index"]) for c in manifest["classes"]}
    parsed = parse_coco_ab(directory / RECORDS_FILE, mode=mode)  # type: ignore[arg-type]
    points, has, join = class_points(parsed, [int(i) for i in split["image_ids"]], columns)
    req.echo(
        f"Byproducts: {join['images_with_z']}/{join['images']} training images have a Z_c "
        f"({join['class_points']} (image, class) points)"
    )
    labels = np.asarray(split["labels"], dtype=bool)
    data = TrainData(images=split["images"], labels=labels, points=points, has_point=has)
    val = load_coco_split(directory, "val")
    held = HeldOutSet.subset(
        val["images"], val["labels"], objects=val["objects"], max_samples=512, seed=req.seed
    )
    meta = {
        "source": "synthetic-coco",
        "options": {"mode": mode},  # `luab-bench reproduce` passes them again
        "variant": variant,
        "fingerprint": manifest["fingerprint"],
        "config": cfg.model_dump(mode="json"),
        "byproducts": parsed.report.as_dict(),
        "join": join,
        "classes": [c["name"] for c in manifest["classes"]],
    }
    return PreparedSource(
        source="synthetic-coco",
        variant=variant,
        data=data,
        num_classes=len(columns),
        multilabel=True,
        meta=meta,
        default_protocols=MULTI_LABEL_PROTOCOLS,
        held_out=held,
        evaluation_dir=directory,
    )
