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

**COCO-AB maps** (:func:`coco_density_maps`). COCO-AB logs icon drags, not clicks: each record is
replayed by :func:`luab_bench.data.coco_ab.parse_coco_ab` (the same replay that gives LUAB's Z_c), and
every (image, class) pair gets one map: the final position of that record's surviving icon of the
class (weight ``click_weight``) plus the record's mouse track (total weight ``track_weight``; tracks
are not class-specific, so they are shared by all classes of the image), binned and blurred with the
same :class:`DensityKernel`. The unit of comparison is then (image, class): the model map is taken for
that class (e.g. Grad-CAM of the class logit). :func:`simulate_coco_records` makes simulated
annotators for the embedded ``synthetic-coco`` evaluation split, as :func:`simulate_records` does for
ImageNet-AB-style data (``p_reannotated = p_icon_per_object = 1``, the icon-placement model unchanged).

**Fixation maps** (``HumanMaps.fixations``): for NSS, the unblurred histogram of the discrete events
(clicks / final icon positions, weight 1 each); only byproduct maps have them. Folder measures flagged
``fixation_like`` use their own map as the fixation weights.

**Folder format** (:func:`load_map_folder`)::

    DIR/measures.json          {"measures": {"<name>": {"fixation_like": false}, ...}}
    DIR/<name>/<key>.png       one map per image and measure: 8- or 16-bit grayscale PNG
    DIR/<name>/<key>.npy       ... or a 2-D float array (not both for one key)

``<key>`` is the image id with ``/`` replaced by ``__`` (``n99000003__n99000003_417``). An image takes
part when it has a map in at least one measure; it must then have one in *every* measure (a gap is
an error naming the missing file). A map must be finite, at least 2 x 2, and have the image's aspect
ratio (any resolution: maps are resized to 100 x 100); PNG values are used as they are (0..255 or
0..65535; the correlations do not depend on the scale).

**Human PC** (:func:`human_pc_fit`, SI §D.1). Convention ``langlois2021`` (default): each measure's maps
of *all* images are z-scored together (the paper z-scores each "2,500 x 100" concatenation of the 25
maps of one measure), MATLAB ``pca`` (columns centred) of the (pixels of all images) x (measures)
matrix gives the loadings of the first component (signed so they sum to >= 0), and the Human PC is
``sum_m w_m l_m z_m`` with ``w_m = sqrt(1/3)`` for the measures flagged ``fixation_like`` (the paper's
three fixation maps) and 1 otherwise; each image's PC map is then centred (the released PC maps
have mean 0 per image; the centring does not change any per-image correlation). Checked against
the paper's released maps (github czhao39/neurips-attention ``human-maps/img*_{patchRate, discr,
chainKDE, freeFIX, salFIX, objFIX, humanPC}.mat``, 25 images, maps resized to 100 x 100 bilinearly):
this reproduces their ``humanPC`` maps at mean per-image r = 0.9997, first component 53.1 % of the
variance (SI: 53.3 %), loadings 0.37, 0.36, 0.20, 0.49, 0.49, 0.45; the earlier luab-v1 convention
(each map z-scored over its own pixels, the sqrt(1/3) weights applied *before* the PCA) gives r =
0.94. ``luab-v1`` stays available as a named convention.

**Relation to the paper's KDE maps** (SI §C.3): the paper's spatial-memory and fixation maps are
kernel density estimates: a Gaussian kernel (diagonal covariance) centred at every point, summed and
normalised. Byproduct maps here are the same construction on the 100 x 100 grid, with two stated
differences: points are first binned to pixels (at most half a pixel of displacement) and mouse-track
samples get a total weight per record (the paper has no tracks). The paper does not give its kernel
bandwidth; ``sigma_px`` (default 3 px at 100 x 100) is our choice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from luab_bench import safe_json
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
    fixations: dict[str, np.ndarray] = field(default_factory=dict)  # unblurred event maps (for NSS)
    pc_convention: str = "langlois2021"  # how ``measure("human_pc")`` is built (PC_CONVENTIONS)
    # ``resampler(n_boot, seed)`` yields human-map sets (N, H, W) rebuilt from annotators drawn with
    # replacement (SI §D.2 error bars); None where the per-annotator data are not available (folders)
    resampler: Callable[[int, int], Iterator[np.ndarray]] | None = field(default=None, repr=False)

    def pc_fit(self) -> HumanPC:
        """The Human PC of all measures with its loadings (SI §D.1)."""
        return human_pc_fit(
            np.stack([self.maps[m] for m in self.maps]),
            [self.fixation_like.get(m, False) for m in self.maps],
            list(self.maps),
            self.pc_convention,
        )

    def fixation_map(self, name: str) -> np.ndarray | None:
        """Fixation weights for NSS: the event histogram if kept, the map of a fixation-like measure,
        else None (NSS is not reported for measures that are not fixation-like)."""
        if name in self.fixations:
            return self.fixations[name]
        if self.fixation_like.get(name, False):
            return self.maps[name]
        return None

    def measure(self, name: str) -> np.ndarray:
        """The maps of one measure (``human_pc`` gives the first principal component of all)."""
        if name == "human_pc":
            return self.pc_fit().maps
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


def event_map(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) float64 count histogram of relative ``points`` (M, 2) x/y, no blur (NSS weights)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(1)]
    hist = np.zeros((size, size), dtype=np.float64)
    col = np.clip((pts[:, 0] * size).astype(np.int64), 0, size - 1)
    row = np.clip((pts[:, 1] * size).astype(np.int64), 0, size - 1)
    np.add.at(hist, (row, col), 1.0)
    return hist


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


def byproduct_density_maps(
    records: Iterable[Mapping[str, Any]], ids: Sequence[str], kernel: DensityKernel = DensityKernel()
) -> HumanMaps:
    """One ``clicks`` density map per image of ``ids`` with at least one click/track (others dropped)."""
    per_id: dict[str, tuple[list, list]] = {}
    clicks: dict[str, list] = {}
    wanted = set(ids)
    for rec in records:
        image_id = rec.get("imageID") if isinstance(rec, Mapping) else None
        if image_id not in wanted:
            continue
        pts, ws = _record_points(rec, kernel)
        acc = per_id.setdefault(image_id, ([], []))  # type: ignore[arg-type]
        acc[0].extend(pts)
        acc[1].extend(ws)
        clicks.setdefault(image_id, []).extend(_click_points(rec))  # type: ignore[arg-type]
    keep = [i for i in ids if i in per_id and sum(per_id[i][1]) > 0]
    if not keep:
        raise DataError("no byproduct record has a click or mouse track for the requested images")
    maps = np.stack([density_map(np.array(per_id[i][0]), np.array(per_id[i][1]), kernel) for i in keep])
    events = np.stack([event_map(np.array(clicks.get(i, [])), kernel.size) for i in keep])
    return HumanMaps(
        keep,
        {"clicks": maps.astype(np.float32)},
        {"clicks": False},
        {"clicks": len(ids) - len(keep)},
        {"clicks": events.astype(np.float32)},
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


def coco_unit_id(image_id: int, class_name: str) -> str:
    """Id of one (image, class) comparison unit of COCO-AB data: ``"<image_id>/<class name>"``."""
    return f"{int(image_id)}/{class_name}"


def coco_density_maps(
    records: Iterable[Mapping[str, Any]],
    pairs: Sequence[tuple[int, str]],
    kernel: DensityKernel = DensityKernel(),
) -> HumanMaps:
    """One ``clicks`` map per (image_id, class name) of ``pairs`` from COCO-AB records (module doc).

    Records of the same image by several annotators are replayed one by one (the parser refuses a
    repeated image_id within one pass, so the records are split into passes of unique ids) and summed.
    Pairs whose class no annotator marked are dropped (counted in ``dropped``); malformed records are
    skipped as :func:`~luab_bench.data.coco_ab.parse_coco_ab` does (non-strict).
    """
    from luab_bench.data.coco_ab import CATEGORY_ID, parse_coco_ab

    wanted_images = {int(i) for i, _ in pairs}
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
        track = [e for e in (rec.get("mouseTracking") or []) if isinstance(e, Mapping)]
        pts = []
        for e in track:
            try:
                pts.append((float(e["x"]), float(e["y"])))
            except (KeyError, TypeError, ValueError):
                continue
        pass_tracks[k][image_id] = pts
    finals: dict[tuple[int, int], list[tuple[float, float]]] = {}
    tracks: dict[int, list[list[tuple[float, float]]]] = {}
    for batch, batch_tracks in zip(passes, pass_tracks, strict=True):
        for image_id, img in parse_coco_ab(batch, mode="replay").images.items():  # valid records only
            tracks.setdefault(image_id, []).append(batch_tracks[image_id])
            for cat, point in img.points.items():
                finals.setdefault((image_id, cat), []).append((point.x, point.y))
    keep, maps, events = [], [], []
    for image_id, name in pairs:
        icons = finals.get((int(image_id), CATEGORY_ID[name]), [])
        if not icons:
            continue
        pts: list[tuple[float, float]] = list(icons)
        ws = [kernel.click_weight] * len(icons)
        for track in tracks.get(int(image_id), []):
            if track and kernel.track_weight > 0:
                pts.extend(track)
                ws.extend([kernel.track_weight / len(track)] * len(track))
        keep.append(coco_unit_id(image_id, name))
        maps.append(density_map(np.array(pts), np.array(ws), kernel))
        events.append(event_map(np.array(icons), kernel.size))
    if not keep:
        raise DataError("no COCO-AB record places an icon of the requested classes on the requested images")
    return HumanMaps(
        keep,
        {"clicks": np.stack(maps).astype(np.float32)},
        {"clicks": False},
        {"clicks": len(pairs) - len(keep)},
        {"clicks": np.stack(events).astype(np.float32)},
    )


def simulate_coco_records(
    dataset_dir: Path, split: str, *, annotators: int = 5, seed: int = 0
) -> list[dict[str, Any]]:
    """COCO-AB-schema records of ``annotators`` simulated annotators for a synthetic-coco split."""
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


def id_to_key(image_id: str) -> str:
    """File-name key of an image id (``/`` -> ``__``)."""
    return image_id.replace("/", "__")


MAP_SUFFIXES = (".png", ".npy")


def read_map_file(path: Path) -> np.ndarray:
    """One map file -> float64 (H, W): ``.npy`` (2-D numeric) or 8/16-bit grayscale ``.png``."""
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}: unreadable .npy ({err}); save maps with numpy.save") from None
        if arr.dtype.kind not in "biuf":
            raise DataError(f"{path}: dtype {arr.dtype} is not numeric; save a float or integer array")
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                mode = im.mode
                if mode not in ("L", "I;16", "I;16B", "I;16L", "I"):
                    raise DataError(
                        f"{path}: PNG mode {mode} is not 8/16-bit grayscale; save the map as one "
                        "channel (e.g. Image.fromarray(uint8_or_uint16_array))"
                    )
                arr = np.array(im)
        except (OSError, UnidentifiedImageError) as err:
            raise DataError(f"{path}: unreadable PNG ({err})") from None
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise DataError(f"{path}: a map must be a 2-D array of at least 2 x 2, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int((~np.isfinite(arr)).sum())
        raise DataError(f"{path}: map has {bad} NaN/inf values; maps must be finite")
    return arr


def load_map_folder(
    directory: Path, ids: Sequence[str], *, image_shape: tuple[int, int] | None = None
) -> HumanMaps:
    """Load the maps of ``ids`` from a folder in the documented format (see module doc).

    ``image_shape`` (H, W) of the dataset images, when given, is checked against each map's aspect
    ratio (1% tolerance).
    """
    directory = Path(directory)
    spec_path = directory / MEASURES_FILE
    if not spec_path.is_file():
        raise DataError(
            f"{spec_path}: missing; a human-map folder needs measures.json "
            '({"measures": {"<name>": {"fixation_like": false}}}) and <name>/<image key>.png|.npy files'
        )
    try:
        spec = safe_json.read_json_file(spec_path)  # a user's folder: bounded, strict, no FIFO
        measures = spec["measures"]
        flags = {str(k): bool((v or {}).get("fixation_like", False)) for k, v in measures.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(
            f"{spec_path}: malformed ({err!r}); expected {{'measures': {{name: {{'fixation_like': bool}}}}}}"
        ) from None
    if not flags:
        raise DataError(f"{spec_path}: lists no measures")
    files: dict[str, dict[str, Path]] = {}
    for m in flags:
        folder = directory / m
        if not folder.is_dir():
            raise DataError(f"{folder}: missing folder for measure {m!r} listed in {spec_path}")
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix not in MAP_SUFFIXES:
                continue
            if path.stem in found:
                raise DataError(f"{path}: {found[path.stem].name} has the same key; keep one map per image")
            found[path.stem] = path
        files[m] = found
    keep = [i for i in ids if any(id_to_key(i) in files[m] for m in flags)]
    if not keep:
        raise DataError(
            f"{directory}: no map names an image of the split ({', '.join(flags)}); "
            "file names are image ids with '/' -> '__' plus .png or .npy"
        )
    maps: dict[str, np.ndarray] = {}
    for m in flags:
        arrs = []
        for i in keep:
            path = files[m].get(id_to_key(i))
            if path is None:
                raise DataError(
                    f"{directory / m / id_to_key(i)}.png: missing; image {i!r} has maps in other measures, "
                    f"so it needs one for {m!r} too (or remove its other maps)"
                )
            arr = read_map_file(path)
            if image_shape is not None:
                want, got = image_shape[0] / image_shape[1], arr.shape[0] / arr.shape[1]
                if abs(got / want - 1.0) > 0.01:
                    raise DataError(
                        f"{path}: map is {arr.shape[0]}x{arr.shape[1]} (HxW) but the image is "
                        f"{image_shape[0]}x{image_shape[1]}; give the map the image's aspect ratio"
                    )
            arrs.append(resize_map(arr, 100))
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


PC_CONVENTIONS = ("langlois2021", "luab-v1")


@dataclass(frozen=True)
class HumanPC:
    """The Human PC maps and how they were made (SI §D.1)."""

    maps: np.ndarray  # (N, H, W) float32
    measures: list[str]
    loadings: np.ndarray  # (M,) first-component coefficients (sum >= 0)
    weights: np.ndarray  # (M,) sqrt(1/3) for fixation-like measures, else 1
    explained: float  # fraction of variance of the first component
    convention: str


def human_pc_fit(
    maps: np.ndarray,
    fixation_like: Sequence[bool] | None = None,
    measures: Sequence[str] | None = None,
    convention: str = "langlois2021",
) -> HumanPC:
    """First principal component of M measures' maps (M, N, H, W), by ``convention`` (module doc)."""
    arr = np.asarray(maps, dtype=np.float64)
    if arr.ndim != 4 or arr.shape[0] < 1:
        raise ValueError(f"maps must be (measures, images, H, W), got {arr.shape}")
    if convention not in PC_CONVENTIONS:
        raise LuabError(f"unknown Human PC convention {convention!r}; use one of {', '.join(PC_CONVENTIONS)}")
    flags = list(fixation_like) if fixation_like is not None else [False] * arr.shape[0]
    if len(flags) != arr.shape[0]:
        raise ValueError(f"{len(flags)} fixation flags for {arr.shape[0]} measures")
    names = list(measures) if measures is not None else [f"m{k}" for k in range(arr.shape[0])]
    w = np.array([FIXATION_WEIGHT if f else 1.0 for f in flags])
    if convention == "langlois2021":
        flat = arr.reshape(arr.shape[0], -1)
        sd = flat.std(axis=1, keepdims=True)
        z = np.where(sd > 0, (flat - flat.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)
        x = z.T  # (pixels of all images, measures)
    else:
        x = (zscore_maps(arr) * w[:, None, None, None]).reshape(arr.shape[0], -1).T
    xc = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    v = vt[0]
    if v.sum() < 0:
        v = -v
    explained = float(s[0] ** 2 / np.sum(s**2)) if np.sum(s**2) > 0 else float("nan")
    if convention == "langlois2021":
        pc = (x @ (v * w)).reshape(arr.shape[1:])
        pc = pc - pc.mean(axis=(-2, -1), keepdims=True)
    else:
        pc = (xc @ v).reshape(arr.shape[1:])
    return HumanPC(pc.astype(np.float32), names, v, w, explained, convention)


def human_pc(
    maps: np.ndarray, fixation_like: Sequence[bool] | None = None, convention: str = "langlois2021"
) -> np.ndarray:
    """First principal component of z-scored maps (M measures, N, H, W) -> (N, H, W) float32."""
    return human_pc_fit(maps, fixation_like, convention=convention).maps


def bootstrap_byproduct_maps(
    records: Iterable[Mapping[str, Any]],
    ids: Sequence[str],
    kernel: DensityKernel = DensityKernel(),
    *,
    n_boot: int = 100,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """SI §D.2 error bars for byproduct maps: ``n_boot`` human-map sets (N, size, size), each rebuilt
    from the image's records (annotators) drawn with replacement, as many as it has. Same kernel and
    normalisation as :func:`byproduct_density_maps`; an image whose draw has no point gets a zero map
    (its r is undefined and left out of that resample's mean)."""
    from scipy.ndimage import gaussian_filter

    wanted = {i: k for k, i in enumerate(ids)}
    hists: list[list[np.ndarray]] = [[] for _ in ids]
    s = kernel.size
    for rec in records:
        image_id = rec.get("imageID") if isinstance(rec, Mapping) else None
        if image_id not in wanted:
            continue
        pts, ws = _record_points(rec, kernel)
        h = np.zeros((s, s), dtype=np.float64)
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        wt = np.asarray(ws, dtype=np.float64)
        ok = np.isfinite(p).all(1) & (wt > 0)
        if ok.any():
            rows = np.clip((p[ok, 1] * s).astype(np.int64), 0, s - 1)
            cols = np.clip((p[ok, 0] * s).astype(np.int64), 0, s - 1)
            np.add.at(h, (rows, cols), wt[ok])
        hists[wanted[image_id]].append(h)  # type: ignore[index]
    missing = [ids[k] for k, h in enumerate(hists) if not h]
    if missing:
        raise DataError(f"no byproduct record for image {missing[0]!r}: cannot resample its annotators")
    stacks = [np.stack(h) for h in hists]
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        sums = np.stack([st[rng.integers(len(st), size=len(st))].sum(0) for st in stacks])
        if kernel.sigma_px > 0:
            sums = gaussian_filter(sums, kernel.sigma_px, mode="constant", axes=(1, 2))
        tot = sums.sum(axis=(1, 2), keepdims=True)
        yield np.where(tot > 0, sums / np.where(tot > 0, tot, 1.0), 0.0).astype(np.float32)
