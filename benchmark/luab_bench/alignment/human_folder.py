"""Human maps from a folder of measured maps, optionally with the per-annotator points behind them.

Format (:func:`load_map_folder`)::

    DIR/measures.json             {"measures": {"<name>": {"fixation_like": false,
                                                           "kernel_sigma_px": 3.0}, ...}}
    DIR/<name>/<key>.png          one map per image and measure: 8- or 16-bit grayscale PNG
    DIR/<name>/<key>.npy          ... or a 2-D float array (not both for one key)
    DIR/<name>/<key>.points.json  optional: {"annotators": [[[x, y], [x, y, w], ...], ...]}

``<key>`` is the image id with ``/`` replaced by ``__`` (``n99000003__n99000003_417``). An image takes
part when it has a map in at least one measure; it must then have one in *every* measure (a gap is
an error naming the missing file). A map must be finite, at least 2 x 2, and have the image's aspect
ratio (any resolution: maps are resized to 100 x 100); PNG values are used as they are.

**Per-annotator points** make the paper's error bars possible (SI §D.2: the human data resampled
with replacement, the maps rebuilt): one list of points per annotator (participant), relative x/y in
[0, 1] (x to the right, y down), an optional weight (default 1). When every image of a measure has a
points file, that measure's resampler draws each image's annotators with replacement and rebuilds
the map as a kernel density (Gaussian of std ``kernel_sigma_px`` at 100 x 100, default 3, as for
byproducts, SI §C.3), the finished map remaining the point estimate; a measure with no points file
has finished maps only, so its human data cannot be resampled (``HumanMaps.no_resample_reason``) and
the error bars fall back to the image bootstrap. Some images with points and others without is an
error naming the first missing file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from luab_bench import safe_json
from luab_bench.alignment.human_types import DensityKernel, HumanMaps, Resampler, point_histogram
from luab_bench.errors import DataError

MEASURES_FILE = "measures.json"
MAP_SUFFIXES = (".png", ".npy")
POINTS_SUFFIX = ".points.json"


def id_to_key(image_id: str) -> str:
    """File-name key of an image id (``/`` -> ``__``)."""
    return image_id.replace("/", "__")


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


def read_points_file(path: Path, size: int = 100) -> np.ndarray:
    """One ``<key>.points.json`` -> (annotators, size, size) unblurred point histograms."""
    fix = 'expected {"annotators": [[[x, y] or [x, y, weight], ...], ...]} with x, y in [0, 1]'
    try:
        doc = safe_json.read_json_file(path)
        annotators = doc["annotators"]
        if not isinstance(annotators, list) or not annotators:
            raise ValueError("no annotator")
        hists = []
        for pts in annotators:
            if not isinstance(pts, list):
                raise ValueError("an annotator is not a list of points")
            xy, w = [], []
            for p in pts:
                if not isinstance(p, list) or len(p) not in (2, 3) or isinstance(p[0], bool):
                    raise ValueError(f"point {p!r}")
                vals = [float(v) for v in p]
                if not all(math.isfinite(v) for v in vals) or not (0 <= vals[0] <= 1 and 0 <= vals[1] <= 1):
                    raise ValueError(f"point {p!r} outside [0, 1] or not finite")
                if len(vals) == 3 and vals[2] <= 0:
                    raise ValueError(f"point {p!r}: weight must be > 0")
                xy.append(vals[:2])
                w.append(vals[2] if len(vals) == 3 else 1.0)
            hists.append(point_histogram(np.array(xy).reshape(-1, 2), np.array(w), size))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"{path}: malformed per-annotator points ({err}); {fix}") from None
    return np.stack(hists)


def _measure_spec(spec_path: Path) -> tuple[dict[str, bool], dict[str, float]]:
    try:
        spec = safe_json.read_json_file(spec_path)  # a user's folder: bounded, strict, no FIFO
        measures = spec["measures"]
        flags = {str(k): bool((v or {}).get("fixation_like", False)) for k, v in measures.items()}
        sigmas = {str(k): float((v or {}).get("kernel_sigma_px", 3.0)) for k, v in measures.items()}
        if any(not math.isfinite(s) or s < 0 for s in sigmas.values()):
            raise ValueError("kernel_sigma_px must be a finite number >= 0")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise DataError(
            f"{spec_path}: malformed ({err!r}); expected {{'measures': {{name: {{'fixation_like': bool, "
            "'kernel_sigma_px': float (optional)}}}}}}"
        ) from None
    if not flags:
        raise DataError(f"{spec_path}: lists no measures")
    return flags, sigmas


def load_map_folder(
    directory: Path, ids: Sequence[str], *, image_shape: tuple[int, int] | None = None
) -> HumanMaps:
    """Load the maps of ``ids`` from a folder in the documented format (module doc).

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
    flags, sigmas = _measure_spec(spec_path)
    files: dict[str, dict[str, Path]] = {}
    points: dict[str, dict[str, Path]] = {}
    for m in flags:
        folder = directory / m
        if not folder.is_dir():
            raise DataError(f"{folder}: missing folder for measure {m!r} listed in {spec_path}")
        found: dict[str, Path] = {}
        pts: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.name.endswith(POINTS_SUFFIX):
                pts[path.name[: -len(POINTS_SUFFIX)]] = path
                continue
            if path.suffix not in MAP_SUFFIXES:
                continue
            if path.stem in found:
                raise DataError(f"{path}: {found[path.stem].name} has the same key; keep one map per image")
            found[path.stem] = path
        files[m], points[m] = found, pts
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
    out = HumanMaps(keep, maps, flags, {m: len(ids) - len(keep) for m in flags})
    finished_only = []
    for m in flags:
        have = [i for i in keep if id_to_key(i) in points[m]]
        if not have:
            finished_only.append(m)
            continue
        if len(have) < len(keep):
            gap = next(i for i in keep if id_to_key(i) not in points[m])
            raise DataError(
                f"{directory / m / id_to_key(gap)}{POINTS_SUFFIX}: missing; other images of {m!r} have "
                "per-annotator points, so every image needs them (or remove them all)"
            )
        stacks = [read_points_file(points[m][id_to_key(i)]) for i in keep]
        kernel = DensityKernel(size=100, sigma_px=sigmas[m])
        out.resamplers[m] = _stack_resampler(stacks, kernel)
    if finished_only:
        out.no_resample_reason = (
            f"{directory} holds finished maps only for {', '.join(finished_only)} "
            f"(no per-annotator <key>{POINTS_SUFFIX})"
        )
    return out


def _stack_resampler(stacks: list[np.ndarray], kernel: DensityKernel) -> Resampler:
    from luab_bench.alignment.human_byproducts import resample_histograms

    return lambda n, s: resample_histograms(stacks, kernel, n_boot=n, seed=s)


def resize_map(arr: np.ndarray, size: int) -> np.ndarray:
    """Bilinear (antialiased) resize of one 2-D map to (size, size)."""
    from luab_bench.alignment.correlate import resize_maps

    return resize_maps(arr[None], size)[0]
