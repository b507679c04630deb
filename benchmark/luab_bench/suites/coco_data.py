"""COCO-2014 val as a multi-label test set: images, 80-way multi-hot targets and per-class masks.

Released layout (cocodataset.org): ``<root>/val2014/COCO_val2014_XXXXXXXXXXXX.jpg`` and
``<root>/annotations/instances_val2014.json`` (``images``, ``annotations``, ``categories``).
Classes are the file's ``categories`` sorted by COCO id (1..90 with gaps, 80 used) mapped to
contiguous indices 0..79, the order of multi-label COCO work (ML-GCN, ASL). An image is positive for
a class when it has at least one annotation of it (crowd annotations included). Images listed in the
file but absent from the folder are skipped; images without annotations stay (all-negative rows).

Masks (:func:`class_masks`): the union of a class's instance segmentations. Polygons and RLE are
decoded with ``pycocotools`` when it is installed (the reference implementation); otherwise polygons
are filled with PIL (outline pixels included; differs from pycocotools only within 2 px of the boundary,
``tests/test_loaders_coco.py`` bounds the difference) and RLE (uncompressed lists or compressed
strings, COCO's ``rleFrString`` encoding) is decoded in numpy exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError

INSTANCES_FILE = "annotations/instances_val2014.json"
IMAGE_DIR = "val2014"


@dataclass(frozen=True)
class CocoSet:
    """Images present on disk with multi-hot targets (N, C); ``annotations[i]`` = raw annotations."""

    paths: list[Path]
    image_ids: list[int]
    sizes: list[tuple[int, int]]  # (height, width)
    targets: np.ndarray
    category_ids: list[int]
    category_names: list[str]
    annotations: list[list[dict[str, Any]]]

    def __len__(self) -> int:
        return len(self.paths)


def load_coco(root: str | Path, *, instances: str = INSTANCES_FILE, image_dir: str = IMAGE_DIR) -> CocoSet:
    """Read the instances file and the image folder under ``root`` (see module docstring)."""
    import orjson

    root = Path(root)
    ann_path, img_root = root / instances, root / image_dir
    if not img_root.is_dir():
        raise DataError(f"coco: image folder {img_root} not found; unpack val2014.zip under {root}")
    try:
        raw = orjson.loads(ann_path.read_bytes())
    except OSError as e:
        raise DataError(f"coco: cannot read {ann_path} ({e.strerror or e}); unpack annotations") from None
    except orjson.JSONDecodeError as e:
        raise DataError(f"coco: {ann_path} is not valid JSON ({e}); re-download it") from None
    try:
        cats = sorted((int(c["id"]), str(c["name"])) for c in raw["categories"])
        col = {cid: k for k, (cid, _) in enumerate(cats)}
        present = {p.name for p in img_root.iterdir()}
        images = sorted(
            (int(im["id"]), str(im["file_name"]), int(im["height"]), int(im["width"]))
            for im in raw["images"]
            if str(im["file_name"]) in present
        )
        row = {iid: i for i, (iid, *_) in enumerate(images)}
        targets = np.zeros((len(images), len(cats)), dtype=bool)
        anns: list[list[dict[str, Any]]] = [[] for _ in images]
        for a in raw["annotations"]:
            i = row.get(int(a["image_id"]))
            if i is None:
                continue
            cid = int(a["category_id"])
            if cid not in col:
                raise DataError(f"coco: {ann_path}: annotation {a.get('id')} has unknown category {cid}")
            targets[i, col[cid]] = True
            anns[i].append(a)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(f"coco: {ann_path} is not a COCO instances file ({type(e).__name__}: {e})") from None
    if not images:
        raise DataError(f"coco: none of the images in {ann_path} is in {img_root}")
    return CocoSet(
        [img_root / f for _, f, _, _ in images],
        [i for i, *_ in images],
        [(h, w) for _, _, h, w in images],
        targets,
        [c for c, _ in cats],
        [n for _, n in cats],
        anns,
    )


def rle_string_to_counts(s: str) -> list[int]:
    """Decode COCO's compressed RLE string (``rleFrString`` in pycocotools' maskApi.c) to run lengths."""
    counts: list[int] = []
    p = 0
    while p < len(s):
        x, k, more = 0, 0, True
        while more:
            c = ord(s[p]) - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def rle_decode(counts: list[int], height: int, width: int) -> np.ndarray:
    """Run lengths (alternating 0/1 runs, column-major, starting with 0) to a bool (H, W) mask."""
    total = height * width
    if sum(counts) != total or any(c < 0 for c in counts):
        raise DataError(f"coco: RLE counts sum to {sum(counts)}, expected {total} pixels")
    flat = np.repeat(np.arange(len(counts)) % 2 == 1, counts)
    return flat.reshape(width, height).T


def polygon_mask(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Fill COCO polygons (flat ``[x0, y0, x1, y1, ...]`` lists) with PIL: bool (H, W)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(im)
    for poly in polygons:
        if len(poly) >= 6:
            draw.polygon([(float(poly[i]), float(poly[i + 1])) for i in range(0, len(poly) - 1, 2)], fill=1)
    return np.asarray(im, dtype=bool)


def segmentation_mask(
    segm: Any, height: int, width: int, *, use_pycocotools: bool | None = None
) -> np.ndarray:
    """One annotation's ``segmentation`` (polygons, RLE dict with list or string counts) -> bool (H, W)."""
    if use_pycocotools is None:
        try:
            import pycocotools.mask  # noqa: F401

            use_pycocotools = True
        except ImportError:
            use_pycocotools = False
    if use_pycocotools:
        from pycocotools import mask as mu

        if isinstance(segm, list):
            rle = mu.merge(mu.frPyObjects(segm, height, width))
        elif isinstance(segm.get("counts"), list):
            rle = mu.frPyObjects(segm, height, width)
        else:
            rle = segm
        return mu.decode(rle).astype(bool)
    if isinstance(segm, list):
        return polygon_mask(segm, height, width)
    counts = segm["counts"]
    if isinstance(counts, str | bytes):
        counts = rle_string_to_counts(counts.decode() if isinstance(counts, bytes) else counts)
    h, w = (int(v) for v in segm.get("size", (height, width)))
    return rle_decode(list(counts), h, w)


def class_masks(cset: CocoSet, i: int, *, use_pycocotools: bool | None = None) -> dict[int, np.ndarray]:
    """Per-class union masks of image ``i``: ``{class index: bool (H, W)}``."""
    h, w = cset.sizes[i]
    col = {cid: k for k, cid in enumerate(cset.category_ids)}
    out: dict[int, np.ndarray] = {}
    for a in cset.annotations[i]:
        k = col[int(a["category_id"])]
        m = segmentation_mask(a["segmentation"], h, w, use_pycocotools=use_pycocotools)
        out[k] = out[k] | m if k in out else m
    return out
