"""Counts the paper reports and point-quality figures for byproduct records, plus join reports.

Definitions (each tested against a brute-force count in tests/test_data_joins.py):

* ImageNet-AB ``images``: images with at least one valid record ("interacted with" in the paper's
  sense only if every record means an interaction, which holds for the released file: a record is
  written when an image is shown *and* hovered; not confirmed for every record). ``reselected``:
  images with a Z (selected by the annotator). ``click_in_box``: share of images with a Z and at
  least one box whose Z lies inside one of its boxes (borders count as inside).
* COCO-AB ``reannotated``: images with a valid record. ``recall_original``: over re-annotated images
  that have original labels, (image, original class) pairs with a Z_c / all such pairs.
  ``icon_precision``: (image, class) points whose class is an original class of the image / all
  points of images that have original labels. ``icon_in_box``: among points whose class is an
  original class, the share inside a box of that class (borders inside).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 relative


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
    """Original COCO labels of images: category ids and boxes (relative xyxy) per image_id."""

    categories: dict[int, set[int]]
    boxes: dict[int, dict[int, list[Box]]]  # image_id -> category_id -> boxes


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
    rec_hits = rec_n = prec_hits = prec_n = box_hits = box_n = 0
    for image_id, image in parsed.images.items():
        orig = labels.categories.get(image_id)
        if orig is None:
            continue
        rec_n += len(orig)
        rec_hits += sum(1 for c in orig if c in image.points)
        prec_n += len(image.points)
        for cat, p in image.points.items():
            if cat not in orig:
                continue
            prec_hits += 1
            bxs = labels.boxes.get(image_id, {}).get(cat)
            if bxs:
                box_n += 1
                box_hits += any(_inside(p.x, p.y, b) for b in bxs)
    out["recall_original"] = Ratio(rec_hits, rec_n)
    out["icon_precision"] = Ratio(prec_hits, prec_n)
    out["icon_in_box"] = Ratio(box_hits, box_n)
    return out


def stats_lines(stats: Mapping[str, Any]) -> list[str]:
    """One ``name: value`` line per figure."""
    return [f"{k}: {v}" for k, v in stats.items()]


def stats_dict(stats: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-ready form (ratios as {hits, n, value})."""
    return {k: (v.as_dict() if isinstance(v, Ratio) else v) for k, v in stats.items()}
