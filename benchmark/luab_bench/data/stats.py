"""Counts the paper reports and point-quality figures for byproduct records, plus join reports.

Definitions (each tested against a brute-force count in tests/test_data_joins.py):

* ImageNet-AB ``images``: images with at least one valid record, the paper's "interacted with"
  (LUAB §3.2.2: interacted images are the ones that left byproducts). ``reselected``:
  images with a Z (selected by the annotator). ``click_in_box``: share of images with a Z and at
  least one box whose Z lies inside one of its boxes (borders count as inside).
* COCO-AB ``reannotated``: images with a valid record. ``recall_original``: over re-annotated images
  that have original labels, (image, original class) pairs with a Z_c / all such pairs;
  ``recall_original_per_image``: the mean over those images of each image's share (LUAB §3.3.2 says
  61.9 % "on average" without saying over what, so both readings are printed).
  ``icon_precision``: (image, class) points whose class is an original class of the image / all
  points of images that have original labels. ``icon_in_box``: among points whose class is an
  original class, the share inside a box of that class (borders inside). ``icon_in_mask`` (LUAB §4.1,
  "#correct placement / #all placements" against the ground-truth masks): over all points of images
  with original labels, the share whose pixel lies in an instance mask of the point's class (a point
  of a class the image does not have is a wrong placement; pixel = ``min(floor(x·W), W − 1)``, same
  for y; masks need the instances' segmentations).
* With a local image folder (``--images``): ``train_images`` (images in the folder that the
  instances / ImageFolder list), and the shares of them with a record / with a Z, the denominators the
  paper uses (``interacted_share``, ``reselected_share``; COCO ``reannotated_share``).

:data:`PAPER_FIGURES` holds what the paper reports for each figure (LUAB §3.2-§4.1, cited per entry);
:func:`stats_lines` prints it beside the measured value, :func:`stats_dict` adds it under ``paper``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 relative


@dataclass(frozen=True)
class PaperFigure:
    """A figure as the LUAB paper reports it, with where (section)."""

    text: str
    where: str

    def __str__(self) -> str:
        return f"{self.text} (LUAB {self.where})"


#: What Han et al. (ICCV 2023) report for the figures ``data stats`` measures, keyed like the stats.
PAPER_FIGURES: dict[str, dict[str, PaperFigure]] = {
    "imagenet-ab": {
        "train_images": PaperFigure("1,281,167 ImageNet-1K train images", "§3.2.1"),
        "images": PaperFigure("1,272,225 images interacted with", "§3.2.2"),
        "interacted_share": PaperFigure("99.3% (1,272,225 of 1,281,167)", "§3.2.2"),
        "reselected": PaperFigure("1,110,786 images re-selected", "§3.2.2"),
        "reselected_share": PaperFigure("86.7% (1,110,786 of 1,281,167)", "§3.2.1-3.2.2"),
        "click_in_box": PaperFigure(
            "82.9% of final clicks inside a box, on the images with byproducts and boxes", "§4.1"
        ),
    },
    "coco-ab": {
        "train_images": PaperFigure("82,783 COCO-2014 train images", "§3.3.1"),
        "reannotated": PaperFigure("82,765 images re-annotated", "§3.3.2"),
        "reannotated_share": PaperFigure("99.98% (82,765 of 82,783)", "§3.3.2"),
        "recall_original": PaperFigure("61.9% of class occurrences retrieved on average", "§3.3.2"),
        "recall_original_per_image": PaperFigure("61.9% of class occurrences retrieved on average", "§3.3.2"),
        "icon_in_mask": PaperFigure("92.3% icon-placement precision against masks", "§4.1"),
    },
}


@dataclass
class Mean:
    """A mean of per-item values with the number of items."""

    total: float
    n: int

    @property
    def value(self) -> float | None:
        return self.total / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "value": self.value}

    def __str__(self) -> str:
        return f"{100 * self.value:.2f}% (mean over {self.n:,})" if self.n else "n/a (0 cases)"


@dataclass
class Ratio:
    """A count ratio with its denominator (never a bare percentage)."""

    hits: int
    n: int

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    def as_dict(self) -> dict[str, Any]:
        return {"hits": self.hits, "n": self.n, "value": self.value}

    def __str__(self) -> str:
        return f"{100 * self.value:.2f}% ({self.hits:,}/{self.n:,})" if self.n else "n/a (0 cases)"


@dataclass
class JoinReport:
    """How records and images line up; missing ones are counted and a few are named."""

    images: int
    records: int
    matched: int
    images_without_record: int
    records_without_image: int
    examples: dict[str, list[str]] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        lines = [
            f"images: {self.images:,}; image ids with records: {self.records:,}; matched: {self.matched:,}",
            f"images without a record: {self.images_without_record:,}",
            f"records without an image: {self.records_without_image:,}",
        ]
        for kind, names in self.examples.items():
            if names:
                lines.append(f"  e.g. {kind}: {', '.join(names)}")
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "records": self.records,
            "matched": self.matched,
            "images_without_record": self.images_without_record,
            "records_without_image": self.records_without_image,
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


def join(image_ids: Iterable[Any], record_ids: Iterable[Any], max_examples: int = 3) -> JoinReport:
    """Compare the ids of a local image collection with the ids that have byproduct records."""
    images = list(image_ids)
    image_set, record_set = set(images), set(record_ids)
    no_record = [i for i in images if i not in record_set]
    no_image = sorted((r for r in record_set if r not in image_set), key=str)
    return JoinReport(
        images=len(image_set),
        records=len(record_set),
        matched=len(image_set & record_set),
        images_without_record=len(set(no_record)),
        records_without_image=len(no_image),
        examples={
            "images without a record": [str(i) for i in no_record[:max_examples]],
            "records without an image": [str(r) for r in no_image[:max_examples]],
        },
    )


def _inside(x: float, y: float, box: Sequence[float]) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def click_in_box(points: Mapping[str, tuple[float, float]], boxes: Mapping[str, Sequence[Box]]) -> Ratio:
    """ImageNet-AB: share of images with a Z and boxes whose Z is inside one of their boxes."""
    hits = n = 0
    for image_id, (x, y) in points.items():
        bxs = boxes.get(image_id)
        if not bxs:
            continue
        n += 1
        hits += any(_inside(x, y, b) for b in bxs)
    return Ratio(hits, n)


def imagenet_stats(parsed: Any, boxes: Mapping[str, Sequence[Box]] | None = None) -> dict[str, Any]:
    """Counts for ``luab-bench data stats imagenet-ab`` from a :class:`ByproductPoints`."""
    report = parsed.report
    boxes = boxes if boxes is not None else getattr(report, "boxes", {}) or {}
    box_only = {k: [tuple(b[-4:]) for b in v] for k, v in boxes.items()}
    return {
        "records": report.records,
        "images": report.images,
        "reselected": Ratio(report.with_point, report.images),
        "no_point": dict(report.no_point),
        "malformed": dict(report.malformed),
        "click_in_box": click_in_box(parsed.points, box_only),
    }


@dataclass
class CocoLabels:
    """Original COCO labels of images: category ids and boxes (relative xyxy) per image_id.

    ``segmentations`` (image_id -> category_id -> the instances' ``segmentation`` values) and ``sizes``
    (image_id -> (width, height)) are needed only for ``icon_in_mask``.
    """

    categories: dict[int, set[int]]
    boxes: dict[int, dict[int, list[Box]]]  # image_id -> category_id -> boxes
    segmentations: dict[int, dict[int, list[Any]]] = field(default_factory=dict)
    sizes: dict[int, tuple[int, int]] = field(default_factory=dict)


def _point_in_masks(x: float, y: float, segms: Sequence[Any], size: tuple[int, int]) -> bool:
    """Is the pixel of the relative point (x, y) inside any of the instance segmentations?"""
    from luab_bench.suites.coco_data import segmentation_mask

    w, h = size
    px, py = min(int(x * w), w - 1), min(int(y * h), h - 1)
    return any(bool(segmentation_mask(sg, h, w)[py, px]) for sg in segms)


def coco_stats(parsed: Any, labels: CocoLabels | None = None) -> dict[str, Any]:
    """Counts for ``luab-bench data stats coco-ab`` from a :class:`CocoByproducts`."""
    report = parsed.report
    out: dict[str, Any] = {
        "records": report.records,
        "reannotated": report.images,
        "with_point": Ratio(report.with_point, report.images),
        "class_points": report.class_points,
        "orphan_actions": report.orphan_actions,
        "no_point": dict(report.no_point),
        "malformed": dict(report.malformed),
    }
    if labels is None:
        return out
    rec_hits = rec_n = prec_hits = prec_n = box_hits = box_n = mask_hits = 0
    per_image = Mean(0.0, 0)
    with_masks = bool(labels.segmentations)
    for image_id, image in parsed.images.items():
        orig = labels.categories.get(image_id)
        if orig is None:
            continue
        found = sum(1 for c in orig if c in image.points)
        rec_n += len(orig)
        rec_hits += found
        if orig:
            per_image.total += found / len(orig)
            per_image.n += 1
        prec_n += len(image.points)
        for cat, p in image.points.items():
            if cat not in orig:
                continue
            prec_hits += 1
            bxs = labels.boxes.get(image_id, {}).get(cat)
            if bxs:
                box_n += 1
                box_hits += any(_inside(p.x, p.y, b) for b in bxs)
            segms = labels.segmentations.get(image_id, {}).get(cat)
            if with_masks and segms and image_id in labels.sizes:
                mask_hits += _point_in_masks(p.x, p.y, segms, labels.sizes[image_id])
    out["recall_original"] = Ratio(rec_hits, rec_n)
    out["recall_original_per_image"] = per_image
    out["icon_precision"] = Ratio(prec_hits, prec_n)
    out["icon_in_box"] = Ratio(box_hits, box_n)
    if with_masks:
        out["icon_in_mask"] = Ratio(mask_hits, prec_n)
    return out


def folder_shares(
    dataset: str, folder_ids: Sequence[Any], record_ids: Iterable[Any], point_ids: Iterable[Any]
) -> dict[str, Any]:
    """Figures over the local training images, the paper's denominators (see the module docstring)."""
    folder = set(folder_ids)
    with_record = len(folder & set(record_ids))
    out: dict[str, Any] = {"train_images": len(folder)}
    if dataset == "coco-ab":
        out["reannotated_share"] = Ratio(with_record, len(folder))
    else:
        out["interacted_share"] = Ratio(with_record, len(folder))
        out["reselected_share"] = Ratio(len(folder & set(point_ids)), len(folder))
    return out


def stats_lines(stats: Mapping[str, Any], dataset: str | None = None) -> list[str]:
    """One ``name: value`` line per figure, with ``[paper: …]`` where the paper reports that figure."""
    paper = PAPER_FIGURES.get(dataset or "", {})
    lines = []
    for k, v in stats.items():
        line = f"{k}: {v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}: {v}"
        lines.append(f"{line}  [paper: {paper[k]}]" if k in paper else line)
    return lines


def stats_dict(stats: Mapping[str, Any], dataset: str | None = None) -> dict[str, Any]:
    """JSON-ready form (ratios as {hits, n, value}); ``paper``: the reported figures, where they exist."""
    out = {k: (v.as_dict() if isinstance(v, Ratio | Mean) else v) for k, v in stats.items()}
    paper = PAPER_FIGURES.get(dataset or "", {})
    if dataset is not None:
        out["paper"] = {
            k: {"text": f.text, "where": f"LUAB {f.where}"} for k, f in paper.items() if k in stats
        }
    return out
