"""COCO-2014 train images and instances joined with COCO-AB records.

:func:`load_instances` reads ``instances_train2014.json`` (images, categories, boxes, segmentations) into the
:class:`~luab_bench.data.stats.CocoLabels` used by ``data stats``; :func:`folder_image_ids` lists the
image files present in a local ``train2014/`` folder (by the instances' ``file_name``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from luab_bench.data.stats import CocoLabels
from luab_bench.errors import DataError


class CocoInstances:
    """``images``: image_id -> (file_name, width, height); ``labels``: original classes and boxes."""

    def __init__(
        self, images: dict[int, tuple[str, int, int]], labels: CocoLabels, categories: dict[int, str]
    ):
        self.images = images
        self.labels = labels
        self.categories = categories


def parse_instances(data: dict[str, Any], where: str = "instances") -> CocoInstances:
    """Build :class:`CocoInstances` from a loaded COCO instances dict."""
    try:
        images = {
            int(im["id"]): (str(im["file_name"]), int(im["width"]), int(im["height"]))
            for im in data["images"]
        }
        categories = {int(c["id"]): str(c["name"]) for c in data["categories"]}
        cats: dict[int, set[int]] = {i: set() for i in images}
        boxes: dict[int, dict[int, list]] = {}
        segms: dict[int, dict[int, list]] = {}
        for ann in data["annotations"]:
            image_id, cat = int(ann["image_id"]), int(ann["category_id"])
            if image_id not in images:
                continue
            _, w, h = images[image_id]
            x, y, bw, bh = (float(v) for v in ann["bbox"])
            cats[image_id].add(cat)
            if ann.get("segmentation"):
                segms.setdefault(image_id, {}).setdefault(cat, []).append(ann["segmentation"])
            if w > 0 and h > 0:
                boxes.setdefault(image_id, {}).setdefault(cat, []).append(
                    (x / w, y / h, (x + bw) / w, (y + bh) / h)
                )
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{where}: not a COCO instances file ({type(err).__name__}: {err})") from None
    sizes = {i: (w, h) for i, (_, w, h) in images.items() if w > 0 and h > 0}
    return CocoInstances(images, CocoLabels(cats, boxes, segms, sizes), categories)


def load_instances(path: str | Path) -> CocoInstances:
    """Read a COCO instances json (e.g. ``annotations/instances_train2014.json``)."""
    from luab_bench import safe_json

    path = Path(path).expanduser()
    try:
        data = safe_json.read_json_file(path, max_bytes=None, max_depth=None, reject_duplicates=False)
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ({err.strerror or err}); give instances_train2014.json"
        ) from None
    except safe_json.InputProblem as err:
        raise DataError(f"{path}: not valid JSON ({err}); re-download the COCO annotations") from None
    return parse_instances(data, str(path))


def folder_image_ids(image_dir: str | Path, instances: CocoInstances) -> list[int]:
    """image_ids of the instances whose ``file_name`` exists in ``image_dir`` (sorted by id)."""
    image_dir = Path(image_dir).expanduser()
    if not image_dir.is_dir():
        raise DataError(f"{image_dir}: not a directory; give the COCO train2014 image folder")
    present = {p.name for p in image_dir.iterdir()}
    return sorted(i for i, (name, _, _) in instances.images.items() if name in present)
