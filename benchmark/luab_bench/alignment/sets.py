"""What the alignment test compares on: images, the class to explain, and human maps (an AlignmentSet).

Two embedded sources, chosen by the dataset variant (a checkpoint's ``meta["data"]``):

* ``synthetic`` (ImageNet-AB-like, single label): one unit per image of the split; the model map is
  taken for the true class; human maps from simulated annotators' clicks + mouse tracks
  (:func:`~luab_bench.alignment.human_maps.simulate_records`) or from a map folder.
* ``synthetic-coco`` (COCO-AB-like, multi-label): one unit per (image, present class); the model map
  is taken for *that* class (Grad-CAM of the class logit, etc.), the human map is the COCO-AB density
  of that class's final icon positions plus the mouse tracks
  (:func:`~luab_bench.alignment.human_maps.coco_density_maps`). Unit ids are ``"<image_id>/<class>"``.

``limit`` keeps that many images evenly spaced over the split (the splits are in class order); for
``synthetic-coco`` it keeps evenly spaced *images* with all their classes, as many images as give about
``limit`` units (every class of a chosen image is a unit, so classes of one image can be compared).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from luab_bench.alignment import human_maps as hm
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    from luab_bench.alignment.human_maps import HumanMaps

#: Data sources with human maps here, by ``meta["data"]["source"]``.
ALIGNABLE_SOURCES = ("synthetic", "synthetic-coco")


@dataclass
class AlignmentSet:
    """Units to compare: ``images`` uint8 (N, H, W, 3), ``targets`` (N,) class to explain, ``ids`` (N,).

    ``human`` holds maps for a subset of ``ids`` (units without human data are left out by
    :func:`~luab_bench.alignment.report.align_model`). ``label`` says what the data are.
    """

    images: np.ndarray
    targets: np.ndarray
    ids: list[str]
    human: HumanMaps
    label: str
    num_classes: int
    variant: str
    fingerprint: str
    groups: np.ndarray | None = None  # source image per unit for (image, class) units; None: one per image


def source_of_variant(variant: str) -> str:
    """``synthetic`` or ``synthetic-coco`` for a known embedded variant, else a LuabError."""
    from luab_bench.data.synthetic import SYNTHETIC_VARIANTS
    from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS
    from luab_bench.registry import unknown_name_message

    if variant in SYNTHETIC_VARIANTS:
        return "synthetic"
    if variant in SYNTHETIC_COCO_VARIANTS:
        return "synthetic-coco"
    raise LuabError(
        unknown_name_message("embedded variant", variant, [*SYNTHETIC_VARIANTS, *SYNTHETIC_COCO_VARIANTS])
    )


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """Indices of ``min(n, k)`` items spread evenly over ``0..n-1`` (``floor(i * n / k)``)."""
    k = min(n, k)
    return (np.arange(k) * n) // k


def load_alignment_set(
    variant: str,
    data_dir: Path,
    *,
    split: str = "val",
    limit: int = 200,
    maps: str | Path = "byproducts",
    annotators: int = 5,
    kernel_sigma: float = 3.0,
    seed: int = 0,
    progress: bool = False,
) -> AlignmentSet:
    """Generate (or reuse) the embedded ``variant`` under ``data_dir`` and build its alignment set."""
    kernel = hm.DensityKernel(sigma_px=kernel_sigma)
    source = source_of_variant(variant)
    if source == "synthetic":
        from luab_bench.data.prepare import prepare_synthetic
        from luab_bench.data.synthetic import load_split

        dataset = prepare_synthetic(variant, Path(data_dir).expanduser(), progress=progress)
        arrays = load_split(dataset.directory, split)
        pick = evenly_spaced(len(arrays), limit)
        ids = [arrays.ids[i] for i in pick]
        images = np.asarray(arrays.images[pick])
        targets = np.asarray(arrays.labels[pick], dtype=np.int64)
        num_classes = int(dataset.config["num_classes"])
        directory, fingerprint = dataset.directory, dataset.fingerprint
        groups = None
        if maps == "byproducts":
            records = hm.simulate_records(directory, split, annotators=annotators, seed=seed)
            human = hm.byproduct_density_maps(records, ids, kernel)  # with its annotator resampler
    else:
        from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, load_coco_split

        directory = generate_coco(SYNTHETIC_COCO_VARIANTS[variant], Path(data_dir).expanduser())
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        names = [c["name"] for c in sorted(manifest["classes"], key=lambda c: c["index"])]
        arrays = load_coco_split(directory, split)
        labels = np.asarray(arrays["labels"], dtype=bool)
        # whole images, so that every class of an image is a unit (the class-specificity control
        # compares classes of the same image): evenly spaced images, as many as give ~limit units
        per_image = labels.sum(1)
        with_any = np.flatnonzero(per_image > 0)
        k = int(np.ceil(limit * len(with_any) / max(1, int(per_image.sum()))))
        chosen = np.zeros(len(labels), dtype=bool)
        chosen[with_any[evenly_spaced(len(with_any), max(1, k))]] = True
        rows, classes = np.nonzero(labels & chosen[:, None])  # (image, present class) units
        image_ids = [int(arrays["image_ids"][r]) for r in rows]
        ids = [hm.coco_unit_id(i, names[c]) for i, c in zip(image_ids, classes, strict=True)]
        images = np.asarray(arrays["images"])[rows]
        targets = classes.astype(np.int64)
        num_classes, fingerprint = len(names), str(manifest["fingerprint"])
        groups = rows
        if maps == "byproducts":
            records = hm.simulate_coco_records(directory, split, annotators=annotators, seed=seed)
            pairs = [(i, names[c]) for i, c in zip(image_ids, classes, strict=True)]
            human = hm.coco_density_maps(records, pairs, kernel)
    if maps == "byproducts":
        what = f"{annotators} simulated annotators' " + (
            "clicks+tracks" if source == "synthetic" else "final icon positions+tracks"
        )
    else:
        human = hm.load_map_folder(Path(maps), ids, image_shape=images.shape[1:3])
        what = f"maps from {maps}"
    if source == "synthetic":
        unit = f"{len(ids)} evenly spaced images"
    else:
        unit = f"{len(ids)} (image, class) pairs of {len(set(image_ids))} evenly spaced images"
    label = f"{variant}/{split} ({unit}), {what}"
    return AlignmentSet(images, targets, ids, human, label, num_classes, variant, fingerprint, groups)
