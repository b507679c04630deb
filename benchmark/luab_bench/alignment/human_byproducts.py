"""Human maps from annotation byproducts (ImageNet-AB clicks + tracks, COCO-AB icon positions +
tracks), simulated annotators for the embedded evaluation splits, and the per-annotator resampling
behind the paper's error bars (SI §D.2).

**ImageNet-AB** (:func:`byproduct_density_maps`). Every record of an image contributes its clicks
(``selectedRecord`` x/y) with weight ``click_weight`` each and its mouse-track samples
(``mouseTracking`` x/y) with total weight ``track_weight`` spread evenly over the samples; relative
coordinates in [0, 1] are binned into a ``size`` x ``size`` histogram and convolved with an isotropic
Gaussian of std ``sigma_px`` (mass beyond the border is lost, not reflected). Records of the same
image (several annotators) are summed; the map is divided by its sum. This is the kernel density
estimate of SI §C.3 (Gaussian kernels on points, summed, normalised) with the points binned to pixels
first and mouse tracks (which the paper does not have) weighted per record; ``sigma_px`` is ours.

**COCO-AB** (:func:`coco_density_maps`). Each record is replayed by
:func:`luab_bench.data.coco_ab.parse_coco_ab` (the replay that gives LUAB's Z_c); every (image, class)
unit gets the final position of each record's surviving icon of the class (weight ``click_weight``)
plus every record's mouse track (total weight ``track_weight``; tracks are not class-specific, so
all classes of the image share them).

**Human-data bootstrap** (:func:`bootstrap_byproduct_maps`, :func:`bootstrap_coco_maps`). Per unit,
its annotators' (records') contributions are drawn with replacement, as many as it has, and the map
rebuilt with the same kernel and normalisation (drawing every record once gives the map above). For
COCO-AB the annotators of a unit are all records of its image (a record that did not mark the class
still contributes its track), drawn independently per unit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.alignment.human_types import (
    DensityKernel,
    HumanMaps,
    event_map,
    normalize_density,
    point_histogram,
)
from luab_bench.errors import DataError, LuabError


def _click_points(rec: Mapping[str, Any]) -> list[tuple[float, float]]:
    out = []
    for e in rec.get("selectedRecord") or []:
        if isinstance(e, Mapping) and "x" in e and "y" in e:
            try:
                out.append((float(e["x"]), float(e["y"])))
            except (TypeError, ValueError):
                continue
    return out


def _record_points(
    rec: Mapping[str, Any], kernel: DensityKernel
) -> tuple[list[tuple[float, float]], list[float]]:
    pts: list[tuple[float, float]] = []
    ws: list[float] = []
    for key, total, per_point in (
        ("selectedRecord", None, kernel.click_weight),
        ("mouseTracking", kernel.track_weight, None),
    ):
        entries = [e for e in (rec.get(key) or []) if isinstance(e, Mapping) and "x" in e and "y" in e]
        if not entries:
            continue
        w = per_point if per_point is not None else total / len(entries)  # type: ignore[operator]
        for e in entries:
            try:
                pts.append((float(e["x"]), float(e["y"])))
            except (TypeError, ValueError):
                continue
            ws.append(float(w))
    return pts, ws


def imagenet_annotator_histograms(
    records: Iterable[Mapping[str, Any]], ids: Sequence[str], kernel: DensityKernel = DensityKernel()
) -> list[np.ndarray]:
    """Per image of ``ids``: its records' unblurred point histograms stacked (A_i, size, size)."""
    wanted = {i: k for k, i in enumerate(ids)}
    hists: list[list[np.ndarray]] = [[] for _ in ids]
    for rec in records:
        image_id = rec.get("imageID") if isinstance(rec, Mapping) else None
        if image_id not in wanted:
            continue
        pts, ws = _record_points(rec, kernel)
        hists[wanted[image_id]].append(point_histogram(np.array(pts), np.array(ws), kernel.size))  # type: ignore[index]
    missing = [ids[k] for k, h in enumerate(hists) if not h]
    if missing:
        raise DataError(f"no byproduct record for image {missing[0]!r}: cannot resample its annotators")
    return [np.stack(h) for h in hists]


def resample_histograms(
    stacks: Sequence[np.ndarray], kernel: DensityKernel, *, n_boot: int = 100, seed: int = 0
) -> Iterator[np.ndarray]:
    """``n_boot`` map sets (N, size, size) float32: per unit its annotators' histograms (A_i, s, s)
    drawn with replacement (A_i of them), summed, blurred and normalised as the maps themselves; a
    draw with no point gives a zero map (its r is undefined and left out of that resample's mean)."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        sums = np.stack([st[rng.integers(len(st), size=len(st))].sum(0) for st in stacks])
        yield normalize_density(sums, kernel).astype(np.float32)


def byproduct_density_maps(
    records: Iterable[Mapping[str, Any]], ids: Sequence[str], kernel: DensityKernel = DensityKernel()
) -> HumanMaps:
    """One ``clicks`` density map per image of ``ids`` with at least one click/track (others dropped);
    its resampler (SI §D.2) redraws each image's records (:func:`bootstrap_byproduct_maps`)."""
    per_id: dict[str, list[np.ndarray]] = {}
    clicks: dict[str, list] = {}
    wanted = set(ids)
    for rec in records:
        image_id = rec.get("imageID") if isinstance(rec, Mapping) else None
        if image_id not in wanted:
            continue
        pts, ws = _record_points(rec, kernel)
        per_id.setdefault(image_id, []).append(point_histogram(np.array(pts), np.array(ws), kernel.size))  # type: ignore[arg-type]
        clicks.setdefault(image_id, []).extend(_click_points(rec))  # type: ignore[arg-type]
    stacks = {i: np.stack(h) for i, h in per_id.items()}
    keep = [i for i in ids if i in stacks and stacks[i].sum() > 0]
    if not keep:
        raise DataError("no byproduct record has a click or mouse track for the requested images")
    kept = [stacks[i] for i in keep]
    events = np.stack([event_map(np.array(clicks.get(i, [])), kernel.size) for i in keep])
    return HumanMaps(
        keep,
        {"clicks": normalize_density(np.stack([st.sum(0) for st in kept]), kernel).astype(np.float32)},
        {"clicks": False},
        {"clicks": len(ids) - len(keep)},
        {"clicks": events.astype(np.float32)},
        resamplers={"clicks": lambda n, s: resample_histograms(kept, kernel, n_boot=n, seed=s)},
    )


def bootstrap_byproduct_maps(
    records: Iterable[Mapping[str, Any]],
    ids: Sequence[str],
    kernel: DensityKernel = DensityKernel(),
    *,
    n_boot: int = 100,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """SI §D.2 error bars for ImageNet-AB maps: ``n_boot`` map sets rebuilt from each image's records
    drawn with replacement (module doc)."""
    return resample_histograms(
        imagenet_annotator_histograms(records, ids, kernel), kernel, n_boot=n_boot, seed=seed
    )


def simulate_records(
    dataset_dir: Path, split: str, *, annotators: int = 5, seed: int = 0
) -> list[dict[str, Any]]:
    """ImageNet-AB-schema records of ``annotators`` simulated annotators for an evaluation split: the
    generator's :func:`~luab_bench.data.synthetic.simulate_annotator` with every image interacted and
    selected and one seed per annotator (``seed * 1000 + a + 1``), the click model unchanged."""
    from luab_bench.data.synthetic import SyntheticConfig, load_manifest, load_split, simulate_annotator

    if annotators < 1:
        raise LuabError(f"annotators must be >= 1, got {annotators}")
    cfg = SyntheticConfig(**load_manifest(dataset_dir)["config"])
    arrays = load_split(dataset_dir, split)
    labels, boxes, masks = np.asarray(arrays.labels), np.asarray(arrays.boxes), np.asarray(arrays.masks)
    records: list[dict[str, Any]] = []
    for a in range(annotators):
        c = cfg.model_copy(update={"seed": seed * 1000 + a + 1, "p_interacted": 1.0, "p_selected": 1.0})
        records.extend(simulate_annotator(c, labels, boxes, masks, list(arrays.ids)))
    return records


def coco_unit_id(image_id: int, class_name: str) -> str:
    """Id of one (image, class) comparison unit of COCO-AB data: ``"<image_id>/<class name>"``."""
    return f"{int(image_id)}/{class_name}"


def _coco_replay(
    records: Iterable[Mapping[str, Any]], wanted_images: set[int]
) -> tuple[dict[tuple[int, int], list[tuple[int, float, float]]], dict[int, list[tuple[int, list]]]]:
    """Replay COCO-AB records: ``(image, category) -> [(annotator k, x, y)]`` final icon positions and
    ``image -> [(annotator k, track points)]``. Records of one image by several annotators are replayed
    in passes of unique ids (the parser refuses a repeated image_id in one pass); malformed records
    are skipped as :func:`~luab_bench.data.coco_ab.parse_coco_ab` does (non-strict)."""
    from luab_bench.data.coco_ab import parse_coco_ab

    passes: list[list[Mapping[str, Any]]] = []
    seen: dict[int, int] = {}
    pass_tracks: list[dict[int, list[tuple[float, float]]]] = []
    for rec in records:
        image_id = rec.get("image_id") if isinstance(rec, Mapping) else None
        if not isinstance(image_id, int) or image_id not in wanted_images:
            continue
        k = seen.get(image_id, 0)
        seen[image_id] = k + 1
        if k == len(passes):
            passes.append([])
            pass_tracks.append({})
        passes[k].append(rec)
        pts = []
        for e in rec.get("mouseTracking") or []:
            if not isinstance(e, Mapping):
                continue
            try:
                pts.append((float(e["x"]), float(e["y"])))
            except (KeyError, TypeError, ValueError):
                continue
        pass_tracks[k][image_id] = pts
    finals: dict[tuple[int, int], list[tuple[int, float, float]]] = {}
    tracks: dict[int, list[tuple[int, list]]] = {}
    for k, (batch, batch_tracks) in enumerate(zip(passes, pass_tracks, strict=True)):
        for image_id, img in parse_coco_ab(batch, mode="replay").images.items():  # valid records only
            tracks.setdefault(image_id, []).append((k, batch_tracks[image_id]))
            for cat, point in img.points.items():
                finals.setdefault((image_id, cat), []).append((k, point.x, point.y))
    return finals, tracks


def _coco_unit_annotators(
    finals: dict[tuple[int, int], list[tuple[int, float, float]]],
    tracks: dict[int, list[tuple[int, list]]],
    image_id: int,
    cat: int,
    kernel: DensityKernel,
) -> dict[int, tuple[list, list]]:
    """Annotator k -> (points, weights) that annotator contributes to the unit (icon + its track)."""
    out: dict[int, tuple[list, list]] = {}
    for k, x, y in finals.get((image_id, cat), []):
        acc = out.setdefault(k, ([], []))
        acc[0].append((x, y))
        acc[1].append(kernel.click_weight)
    for k, track in tracks.get(image_id, []):
        if track and kernel.track_weight > 0:
            acc = out.setdefault(k, ([], []))
            acc[0].extend(track)
            acc[1].extend([kernel.track_weight / len(track)] * len(track))
    return out


def coco_density_maps(
    records: Iterable[Mapping[str, Any]],
    pairs: Sequence[tuple[int, str]],
    kernel: DensityKernel = DensityKernel(),
) -> HumanMaps:
    """One ``clicks`` map per (image_id, class name) of ``pairs`` from COCO-AB records (module doc);
    pairs whose class no annotator marked are dropped (counted in ``dropped``). The maps' resampler
    (SI §D.2) redraws each unit's annotators (:func:`bootstrap_coco_maps`)."""
    from luab_bench.data.coco_ab import CATEGORY_ID

    records = list(records)
    finals, tracks = _coco_replay(records, {int(i) for i, _ in pairs})
    keep, hists, events, stacks = [], [], [], []
    for image_id, name in pairs:
        icons = [(x, y) for _, x, y in finals.get((int(image_id), CATEGORY_ID[name]), [])]
        if not icons:
            continue
        per = _coco_unit_annotators(finals, tracks, int(image_id), CATEGORY_ID[name], kernel)
        h = [point_histogram(np.array(p), np.array(w), kernel.size) for p, w in per.values()]
        keep.append(coco_unit_id(image_id, name))
        hists.append(np.sum(h, axis=0))
        stacks.append(np.stack(h))
        events.append(event_map(np.array(icons), kernel.size))
    if not keep:
        raise DataError("no COCO-AB record places an icon of the requested classes on the requested images")
    return HumanMaps(
        keep,
        {"clicks": normalize_density(np.stack(hists), kernel).astype(np.float32)},
        {"clicks": False},
        {"clicks": len(pairs) - len(keep)},
        {"clicks": np.stack(events).astype(np.float32)},
        resamplers={"clicks": lambda n, s: resample_histograms(stacks, kernel, n_boot=n, seed=s)},
    )


def bootstrap_coco_maps(
    records: Iterable[Mapping[str, Any]],
    pairs: Sequence[tuple[int, str]],
    kernel: DensityKernel = DensityKernel(),
    *,
    n_boot: int = 100,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """SI §D.2 error bars for COCO-AB (image, class) units: ``n_boot`` map sets, each unit rebuilt from
    its image's records drawn with replacement (module doc); units as :func:`coco_density_maps` keeps."""
    fn = coco_density_maps(records, pairs, kernel).resamplers["clicks"]
    return fn(n_boot, seed)


def simulate_coco_records(
    dataset_dir: Path, split: str, *, annotators: int = 5, seed: int = 0
) -> list[dict[str, Any]]:
    """COCO-AB-schema records of ``annotators`` simulated annotators for a synthetic-coco split (every
    image re-annotated, every present class marked, one seed per annotator; placement model kept)."""
    from luab_bench.data.synthetic_coco import SyntheticCocoConfig, load_coco_split, simulate_coco_annotator

    if annotators < 1:
        raise LuabError(f"annotators must be >= 1, got {annotators}")
    manifest = json.loads((Path(dataset_dir) / "manifest.json").read_text(encoding="utf-8"))
    cfg = SyntheticCocoConfig(**manifest["config"])
    arrays = load_coco_split(dataset_dir, split)
    records: list[dict[str, Any]] = []
    for a in range(annotators):
        c = cfg.model_copy(
            update={"seed": seed * 1000 + a + 1, "p_reannotated": 1.0, "p_icon_per_object": 1.0}
        )
        records.extend(simulate_coco_annotator(c, arrays))
    return records
