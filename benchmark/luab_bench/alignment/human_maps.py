"""Human visual-selectivity maps: from annotation byproducts, from a folder of measured maps, Human PC.

**Byproduct maps** (:func:`byproduct_density_maps`). Every record of an image contributes its clicks
(``selectedRecord`` x/y) with weight ``click_weight`` each and its mouse-track samples
(``mouseTracking`` x/y) with total weight ``track_weight`` spread evenly over the samples; relative
coordinates in [0, 1] are binned into a ``size`` x ``size`` histogram (pixel ``floor(v * size)``,
clipped) and convolved with an isotropic Gaussian of std ``sigma_px`` pixels (scipy
``gaussian_filter``, ``mode="constant"``: mass beyond the border is lost, not reflected). Records of
the same image (several annotators) are summed. The map is then divided by its sum (a density).
This is the kernel density estimate used for click/fixation maps; ``sigma_px`` is documented in
docs/alignment.md. With ImageNet-AB or COCO-AB records this turns every annotated image into
human-selectivity data.

**Simulated annotators on evaluation images** (:func:`simulate_records`). The embedded benchmark
ships records for the *train* split only; alignment is measured on held-out images, so this module
calls the generator's public :func:`luab_bench.data.synthetic.simulate_annotator` on an evaluation
split with ``p_interacted = p_selected = 1`` (every image gets a final click) and one seed per
simulated annotator (``seed * 1000 + annotator + 1``), leaving the click model itself (83% on the
object, near misses, mouse tracks) as generated for train.

**Folder format** (:func:`load_map_folder`)::

    DIR/measures.json      {"measures": {"<name>": {"fixation_like": false}, ...}}
    DIR/<name>/<key>.npy   one 2-D float map per image and measure (any size; resized later)

``<key>`` is the image id with ``/`` replaced by ``__`` (``n99000003__n99000003_417``). Images missing
from a measure are dropped from the comparison (reported), so measures need not cover the same images.

**Human PC** (:func:`human_pc`): Langlois et al. 2021 summarise their 6 measures by the first principal
component of the z-scored maps. Here each map is z-scored over its own pixels, fixation-like measures
are multiplied by sqrt(1/3) when flagged (the paper down-weights its three fixation measures so they do
not dominate the component), the (pixels of all images) x (measures) matrix is decomposed by SVD and
the maps are projected on the first right singular vector, signed so its loadings sum to >= 0.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench.errors import DataError, LuabError

FIXATION_WEIGHT = math.sqrt(1.0 / 3.0)
MEASURES_FILE = "measures.json"


@dataclass(frozen=True)
class DensityKernel:
    """How byproducts become a density map (see module doc)."""

    size: int = 100
    sigma_px: float = 3.0
    click_weight: float = 1.0
    track_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.size < 2 or self.sigma_px < 0 or self.click_weight < 0 or self.track_weight < 0:
            raise ValueError(f"invalid density kernel {self}")
        if self.click_weight == 0 and self.track_weight == 0:
            raise ValueError("click_weight and track_weight cannot both be 0")


@dataclass
class HumanMaps:
    """Maps per measure, aligned to ``ids``: ``maps[measure]`` is float32 (N, H, W)."""

    ids: list[str]
    maps: dict[str, np.ndarray]
    fixation_like: dict[str, bool] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)

    def measure(self, name: str) -> np.ndarray:
        """The maps of one measure (``human_pc`` gives the first principal component of all)."""
        if name == "human_pc":
            return human_pc(
                np.stack([self.maps[m] for m in self.maps]),
                [self.fixation_like.get(m, False) for m in self.maps],
            )
        if name not in self.maps:
            from luab_bench.registry import unknown_name_message

            raise LuabError(unknown_name_message("human measure", name, [*self.maps, "human_pc"]))
        return self.maps[name]


def density_map(points: np.ndarray, weights: np.ndarray, kernel: DensityKernel) -> np.ndarray:
    """(size, size) float64 density of relative ``points`` (M, 2) x/y with ``weights`` (M,)."""
    from scipy.ndimage import gaussian_filter

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    s = kernel.size
    hist = np.zeros((s, s), dtype=np.float64)
    ok = np.isfinite(pts).all(1) & (w > 0)
    if ok.any():
        col = np.clip((pts[ok, 0] * s).astype(np.int64), 0, s - 1)
        row = np.clip((pts[ok, 1] * s).astype(np.int64), 0, s - 1)
        np.add.at(hist, (row, col), w[ok])
    out = gaussian_filter(hist, kernel.sigma_px, mode="constant") if kernel.sigma_px > 0 else hist
    total = out.sum()
    return out / total if total > 0 else out


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


def byproduct_density_maps(
    records: Iterable[Mapping[str, Any]], ids: Sequence[str], kernel: DensityKernel = DensityKernel()
) -> HumanMaps:
    """One ``clicks`` density map per image of ``ids`` with at least one click/track (others dropped)."""
    per_id: dict[str, tuple[list, list]] = {}
    wanted = set(ids)
    for rec in records:
        image_id = rec.get("imageID") if isinstance(rec, Mapping) else None
        if image_id not in wanted:
            continue
        pts, ws = _record_points(rec, kernel)
        acc = per_id.setdefault(image_id, ([], []))  # type: ignore[arg-type]
        acc[0].extend(pts)
        acc[1].extend(ws)
    keep = [i for i in ids if i in per_id and sum(per_id[i][1]) > 0]
    if not keep:
        raise DataError("no byproduct record has a click or mouse track for the requested images")
    maps = np.stack([density_map(np.array(per_id[i][0]), np.array(per_id[i][1]), kernel) for i in keep])
    return HumanMaps(
        keep, {"clicks": maps.astype(np.float32)}, {"clicks": False}, {"clicks": len(ids) - len(keep)}
    )


def simulate_records(
    dataset_dir: Path, split: str, *, annotators: int = 5, seed: int = 0
) -> list[dict[str, Any]]:
    """ImageNet-AB-schema records of ``annotators`` simulated annotators for an evaluation split."""
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


def id_to_key(image_id: str) -> str:
    """File-name key of an image id (``/`` -> ``__``)."""
    return image_id.replace("/", "__")


def load_map_folder(directory: Path, ids: Sequence[str]) -> HumanMaps:
    """Load the maps of ``ids`` from a folder in the documented format (see module doc)."""
    directory = Path(directory)
    spec_path = directory / MEASURES_FILE
    if not spec_path.is_file():
        raise DataError(
            f"{spec_path}: missing; a human-map folder needs measures.json "
            '({"measures": {"<name>": {"fixation_like": false}}}) and <name>/<image key>.npy files'
        )
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
        measures = spec["measures"]
        flags = {str(k): bool((v or {}).get("fixation_like", False)) for k, v in measures.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(
            f"{spec_path}: malformed ({err!r}); expected {{'measures': {{name: {{'fixation_like': bool}}}}}}"
        ) from None
    if not flags:
        raise DataError(f"{spec_path}: lists no measures")
    present = {m: {p.stem for p in (directory / m).glob("*.npy")} for m in flags}
    keep = [i for i in ids if all(id_to_key(i) in present[m] for m in flags)]
    if not keep:
        raise DataError(
            f"{directory}: no image has a map in every measure ({', '.join(flags)}); "
            "file keys are image ids with '/' -> '__'"
        )
    maps: dict[str, np.ndarray] = {}
    for m in flags:
        arrs = []
        for i in keep:
            path = directory / m / f"{id_to_key(i)}.npy"
            try:
                arr = np.load(path, allow_pickle=False)
            except (OSError, ValueError) as err:
                raise DataError(f"{path}: unreadable .npy ({err})") from None
            if arr.ndim != 2 or not np.all(np.isfinite(arr)):
                raise DataError(f"{path}: a map must be a finite 2-D array, got shape {arr.shape}")
            arrs.append(resize_map(arr.astype(np.float64), 100))
        maps[m] = np.stack(arrs).astype(np.float32)
    return HumanMaps(keep, maps, flags, {m: len(ids) - len(keep) for m in flags})


def resize_map(arr: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (antialiased) resize of one 2-D map to (size, size)."""
    from luab_bench.alignment.correlate import resize_maps

    return resize_maps(arr[None], size)[0]


def zscore_maps(maps: np.ndarray) -> np.ndarray:
    """Each map (last two axes) minus its mean over pixels, divided by its std (constant maps -> 0)."""
    m = np.asarray(maps, dtype=np.float64)
    mu = m.mean(axis=(-2, -1), keepdims=True)
    sd = m.std(axis=(-2, -1), keepdims=True)
    return np.where(sd > 0, (m - mu) / np.where(sd > 0, sd, 1.0), 0.0)


def human_pc(maps: np.ndarray, fixation_like: Sequence[bool] | None = None) -> np.ndarray:
    """First principal component of z-scored maps (M measures, N, H, W) -> (N, H, W) float32.

    See the module doc for the weighting and sign convention.
    """
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"maps must be (measures, images, H, W), got {arr.shape}")
    z = zscore_maps(arr)
    flags = list(fixation_like) if fixation_like is not None else [False] * arr.shape[0]
    if len(flags) != arr.shape[0]:
        raise ValueError(f"{len(flags)} fixation flags for {arr.shape[0]} measures")
    w = np.array([FIXATION_WEIGHT if f else 1.0 for f in flags])
    x = (z * w[:, None, None, None]).reshape(arr.shape[0], -1).T  # (pixels, measures)
    x = x - x.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    v = vt[0]
    if v.sum() < 0:
        v = -v
    return (x @ v).reshape(arr.shape[1:]).astype(np.float32)
