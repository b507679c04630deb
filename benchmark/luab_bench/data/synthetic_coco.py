"""Synthetic COCO-AB: a seeded multi-label split with COCO-AB-schema records from a simulated annotator.

Each image holds 1..``max_objects`` objects (the shapes of :mod:`luab_bench.data.synthetic`) of
*different* classes on a noisy background; class ``k`` co-occurs with its partner ``(k + 1) % K``
with probability ``p_cooccur`` (the multi-label analogue of a spurious context). Later objects
occlude earlier ones; masks and boxes are of the *visible* pixels. A simulated annotator drags class
icons as the COCO-AB front end logs them (``actionHistories`` with add/move/remove, ``categoryHistories``,
``mouseTracking``, ``timeSpent``), and the records are read back by the same
:func:`luab_bench.data.coco_ab.parse_coco_ab` as the real file.

On-disk layout (``<root>/<variant>-s<seed>-<hash8>/``; see docs/data.md):

* ``manifest.json``: config, classes (``index``, ``category_id``, ``name``), per-split ``n`` and file
  sha256s, records sha256, fingerprint.
* ``<split>/images.npy`` uint8 (N, H, W, 3); ``labels.npy`` bool (N, K) multi-hot;
  ``masks.npy`` bool (N, K, H, W) visible pixels of class k; ``objects.npy`` float32 (M, 6) one row
  per visible object ``[image_index, class_index, x0, y0, x1, y1]`` (box relative, xyxy, x1/y1
  exclusive pixel edges); ``image_ids.json`` list of N int ``image_id``.
* ``coco_ab.json``: the COCO-AB records of the ``train`` split (real schema; ``iconType`` = the class
  name, which is also its ``CATEGORY_ID`` key via ``category_ids``).

Class names are COCO names (``person``, ``bicycle``, …: the first K of ``COCO_CLASS_NAMES`` that
instances files use) so the records are valid COCO-AB; ``category_id`` is the real COCO id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from luab_bench.config import StrictModel
from luab_bench.data.coco_ab import CATEGORY_ID, COCO_CLASS_NAMES
from luab_bench.data.manifest import (
    build_directory,
    canonical_json,
    check_file_hashes,
    npy_bytes,
    read_manifest,
    write_hashed,
)
from luab_bench.data.synthetic_config import SHAPE_NAMES
from luab_bench.data.synthetic_shapes import _hsv_to_rgb, _shape_mask
from luab_bench.errors import DataError
from luab_bench.hashing import sha256_hex
from luab_bench.io import atomic_write_bytes
from luab_bench.seeds import seeded_generator

GENERATOR_VERSION = "1.0.0"
SPLITS: tuple[str, ...] = ("train", "val")
ARRAY_FILES: tuple[str, ...] = ("images.npy", "labels.npy", "masks.npy", "objects.npy")
RECORDS_FILE, MANIFEST_FILE = "coco_ab.json", "manifest.json"
FIX_HINT = "delete the directory and re-run `luab-bench data generate --variant <its variant>`"
# COCO names absent from instances_*.json (the official list has 91 names, 80 are used)
_UNUSED = {
    "street sign",
    "hat",
    "shoe",
    "eye glasses",
    "plate",
    "mirror",
    "window",
    "desk",
    "door",
    "blender",
}
USED_CLASS_NAMES: tuple[str, ...] = tuple(
    n for n in COCO_CLASS_NAMES if n not in _UNUSED and n != "hair brush"
)
_DISPLAY = 450  # the COCO-AB front end displays images at ~450 px


class SyntheticCocoConfig(StrictModel):
    """Everything that determines a synthetic COCO-AB dataset."""

    variant: str = "synthetic-coco"
    seed: int = Field(0, ge=0)
    num_classes: int = Field(8, ge=2, le=len(SHAPE_NAMES))
    image_size: int = Field(64, ge=32, le=256)
    n_train: int = Field(800, ge=1)
    n_val: int = Field(200, ge=1)
    max_objects: int = Field(3, ge=1, le=4)
    p_cooccur: float = Field(0.7, ge=0.0, le=1.0)
    fg_scale: tuple[float, float] = (0.3, 0.5)
    p_reannotated: float = Field(82_765 / 82_783, ge=0.0, le=1.0)  # COCO-AB card: re-annotated share
    p_icon_per_object: float = Field(0.9, ge=0.0, le=1.0)  # recall of the simulated annotator
    p_icon_on_object: float = Field(0.85, ge=0.0, le=1.0)
    p_move: float = Field(0.2, ge=0.0, le=1.0)
    p_false_icon: float = Field(0.1, ge=0.0, le=1.0)  # a wrong-class icon, removed again half the time
    mouse_samples: tuple[int, int] = (0, 40)


SYNTHETIC_COCO_VARIANTS: dict[str, SyntheticCocoConfig] = {
    "synthetic-coco": SyntheticCocoConfig(),
    "synthetic-coco-tiny": SyntheticCocoConfig(
        variant="synthetic-coco-tiny", image_size=32, n_train=40, n_val=20
    ),
}


def config_hash(cfg: SyntheticCocoConfig) -> str:
    payload = {"config": cfg.model_dump(mode="json"), "generator_version": GENERATOR_VERSION}
    return sha256_hex(canonical_json(payload))


def class_table(num_classes: int) -> list[dict[str, Any]]:
    """``[{"index", "category_id", "name", "shape"}]``: COCO names, synthetic shapes."""
    return [
        {
            "index": k,
            "category_id": CATEGORY_ID[USED_CLASS_NAMES[k]],
            "name": USED_CLASS_NAMES[k],
            "shape": SHAPE_NAMES[k],
        }
        for k in range(num_classes)
    ]


def _object_mask(k: int, size: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    xs = (np.arange(size) + 0.5) / size
    dx, dy = xs[None, :] - cx, xs[:, None] - cy
    c, s = np.cos(angle), np.sin(angle)
    u, v = (dx * c + dy * s) / r, -(-dx * s + dy * c) / r
    return _shape_mask(k, u, v)


def render_split(cfg: SyntheticCocoConfig, n: int, stream: int) -> dict[str, Any]:
    """Images, multi-hot labels, class masks and per-object boxes of one split."""
    rng = seeded_generator(cfg.seed, stream)
    k_all, s = cfg.num_classes, cfg.image_size
    images = np.empty((n, s, s, 3), dtype=np.uint8)
    labels = np.zeros((n, k_all), dtype=bool)
    masks = np.zeros((n, k_all, s, s), dtype=bool)
    objects: list[list[float]] = []
    for i in range(n):
        n_obj = int(rng.integers(1, cfg.max_objects + 1))
        first = int(rng.integers(0, k_all))
        classes = [first]
        if n_obj > 1 and rng.random() < cfg.p_cooccur:
            classes.append((first + 1) % k_all)
        others = [k for k in rng.permutation(k_all).tolist() if k not in classes]
        classes += others[: n_obj - len(classes)]
        hue = rng.uniform(0, 1)
        base = _hsv_to_rgb(np.array(hue), np.array(0.2), np.array(0.5)).astype(np.float32)
        img = np.broadcast_to(base, (s, s, 3)) + 0.08 * rng.standard_normal((s, s, 3)).astype(np.float32)
        owner = np.full((s, s), -1, dtype=np.int64)
        for k in classes:
            r = rng.uniform(*cfg.fg_scale) / 2
            cx, cy = rng.uniform(r, 1 - r, 2)
            m = _object_mask(k, s, cx, cy, r, rng.uniform(-0.3, 0.3))
            rgb = _hsv_to_rgb(
                np.array(rng.uniform(0, 1)), np.array(rng.uniform(0.5, 1)), np.array(rng.uniform(0.6, 1))
            )
            img = np.where(m[..., None], rgb.astype(np.float32), img)
            owner[m] = k
        for k in classes:
            vis = owner == k
            if vis.sum() < 4:  # fully (or almost) occluded: not a label
                continue
            labels[i, k] = True
            masks[i, k] = vis
            ys, xs = np.nonzero(vis)
            objects.append([i, k, xs.min() / s, ys.min() / s, (xs.max() + 1) / s, (ys.max() + 1) / s])
        images[i] = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    obj = np.asarray(objects, dtype=np.float32).reshape(-1, 6)
    image_ids = [int(1_000_000 * (stream + 1) + i) for i in range(n)]
    return {"images": images, "labels": labels, "masks": masks, "objects": obj, "image_ids": image_ids}


def _q(p: np.ndarray) -> dict[str, float]:
    """A point as the front end reports it: relative to the displayed image, quantised to its pixels."""
    q = np.clip(np.floor(np.clip(p, 0, 1 - 1e-9) * _DISPLAY), 0, _DISPLAY - 1) / _DISPLAY
    return {"x": float(q[0]), "y": float(q[1])}


def _action(kind: str, icon: str, src: dict | None, dst: dict | None, t: int) -> dict[str, Any]:
    """One ``actionHistories`` entry as the COCO-AB front end logs it."""
    return {"actionType": kind, "iconType": icon, "pointFrom": src, "pointTo": dst, "timeAt": t}


def simulate_coco_annotator(
    cfg: SyntheticCocoConfig, split: dict[str, Any], stream: int = 99
) -> list[dict[str, Any]]:
    """COCO-AB-schema records for a rendered split (one per re-annotated image)."""
    rng = seeded_generator(cfg.seed, stream)
    names = USED_CLASS_NAMES[: cfg.num_classes]
    s = cfg.image_size
    records = []
    for i, image_id in enumerate(split["image_ids"]):
        if rng.random() >= cfg.p_reannotated:
            continue
        t = int(rng.integers(1_000, 20_000))
        cats = []
        for c in range(1, 11):  # categoryIndex 1..10 as in the viewer rows
            t += int(rng.integers(20, 400))
            cats.append(
                {"categoryIndex": c, "categoryName": f"Category{c}", "timeAt": t, "usingKeyboard": False}
            )
        actions: list[dict[str, Any]] = []
        for k in np.flatnonzero(split["labels"][i]).tolist():
            if rng.random() >= cfg.p_icon_per_object:
                continue
            ys, xs = np.nonzero(split["masks"][i, k])
            if rng.random() < cfg.p_icon_on_object:
                j = int(rng.integers(0, len(xs)))
                p = np.array([(xs[j] + 0.5) / s, (ys[j] + 0.5) / s])
            else:
                p = rng.uniform(0, 1, 2)
            if rng.random() < cfg.p_move:  # first dropped elsewhere, then moved to p
                first = rng.uniform(0, 1, 2)
                t += int(rng.integers(500, 4_000))
                actions.append(_action("add", names[k], None, _q(first), t))
                t += int(rng.integers(300, 3_000))
                actions.append(_action("move", names[k], _q(first), _q(p), t))
            else:
                t += int(rng.integers(500, 4_000))
                actions.append(_action("add", names[k], None, _q(p), t))
        if rng.random() < cfg.p_false_icon:
            absent = np.flatnonzero(~split["labels"][i])
            if len(absent):
                k = int(rng.choice(absent))
                p = _q(rng.uniform(0, 1, 2))
                t += int(rng.integers(500, 4_000))
                actions.append(_action("add", names[k], None, p, t))
                if rng.random() < 0.5:
                    t += int(rng.integers(300, 3_000))
                    actions.append(_action("remove", names[k], p, None, t))
        n_mouse = int(rng.integers(cfg.mouse_samples[0], cfg.mouse_samples[1] + 1))
        mt0 = int(rng.integers(0, 5_000))
        mouse = [
            {"x": float(x), "y": float(y), "timeAt": mt0 + 20 * j}
            for j, (x, y) in enumerate(np.round(rng.uniform(0, 1, (n_mouse, 2)), 4).tolist())
        ]
        records.append(
            {
                "worker_id": "".join(rng.choice(list("0123456789ABCDEF"), 10).tolist()),
                "hit_id": "".join(rng.choice(list("0123456789abcdef"), 32).tolist()),
                "page_id": int(rng.integers(0, 20)),
                "image_id": int(image_id),
                "imageWidth": _DISPLAY,
                "imageHeight": _DISPLAY,
                "originalImageWidth": s,
                "originalImageHeight": s,
                "actionHistories": actions,
                "categoryHistories": cats,
                "mouseTracking": mouse,
                "timeSpent": t + int(rng.integers(100, 2_000)),
            }
        )
    return records


def dataset_dirname(cfg: SyntheticCocoConfig) -> str:
    return f"{cfg.variant}-s{cfg.seed}-{config_hash(cfg)[:8]}"


def _fingerprint(split_hashes: dict[str, dict[str, str]], records_hash: str) -> str:
    return sha256_hex(canonical_json({"splits": split_hashes, "records": records_hash}))


def load_coco_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    """The split's ``manifest.json``; a missing or malformed one is a :class:`DataError`."""
    return read_manifest(
        Path(dataset_dir) / MANIFEST_FILE,
        required=("splits", "records", "fingerprint"),
        incomplete="incomplete dataset",
        kind="a synthetic-coco manifest",
        fix=FIX_HINT,
    )


def verify_coco(dataset_dir: str | Path, cfg: SyntheticCocoConfig | None = None) -> str | None:
    """None if the directory is complete, matches ``cfg`` and every hash verifies; else the reason."""
    dataset_dir = Path(dataset_dir)
    try:
        manifest = load_coco_manifest(dataset_dir)
    except DataError as err:
        return str(err)
    try:
        split_hashes = {s: dict(manifest["splits"][s]["files"]) for s in SPLITS}
        records_hash = str(manifest["records"][RECORDS_FILE])
    except (KeyError, TypeError):
        return "manifest lacks split or record hashes"
    if cfg is not None and manifest.get("config_hash") != config_hash(cfg):
        return "manifest config differs from the requested config"
    expected = (*ARRAY_FILES, "image_ids.json")
    problem = check_file_hashes(dataset_dir, split_hashes, expected, {RECORDS_FILE: records_hash})
    if problem is not None:
        return problem
    if manifest.get("fingerprint") != _fingerprint(split_hashes, records_hash):
        return "manifest fingerprint does not match its file hashes"
    return None


def _write_coco(cfg: SyntheticCocoConfig, tmp: Path) -> None:
    splits: dict[str, Any] = {}
    hashes: dict[str, dict[str, str]] = {}
    train = None
    for stream, name in enumerate(SPLITS):
        n = cfg.n_train if name == "train" else cfg.n_val
        data = render_split(cfg, n, stream)
        files = {}
        for fname in ARRAY_FILES:
            files[fname] = write_hashed(tmp / name / fname, npy_bytes(data[fname[:-4]]))
        files["image_ids.json"] = write_hashed(
            tmp / name / "image_ids.json", canonical_json(data["image_ids"])
        )
        splits[name] = {"n": n, "files": files}
        hashes[name] = files
        if name == "train":
            train = data
    records_blob = canonical_json(simulate_coco_annotator(cfg, train))  # type: ignore[arg-type]
    records_hash = write_hashed(tmp / RECORDS_FILE, records_blob)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "config": cfg.model_dump(mode="json"),
        "config_hash": config_hash(cfg),
        "classes": class_table(cfg.num_classes),
        "splits": splits,
        "records": {RECORDS_FILE: records_hash},
        "fingerprint": _fingerprint(hashes, records_hash),
    }
    atomic_write_bytes(tmp / MANIFEST_FILE, canonical_json(manifest))  # last: marks a complete copy


def generate_coco(cfg: SyntheticCocoConfig, root: str | Path) -> Path:
    """Write (or reuse, if complete, matching the config and hash-verified) the dataset; return it."""
    out = Path(root).expanduser() / dataset_dirname(cfg)
    if out.exists() and verify_coco(out, cfg) is None:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    return build_directory(out, lambda tmp: _write_coco(cfg, tmp), lambda: verify_coco(out, cfg))


def load_coco_split(dataset_dir: str | Path, split: str) -> dict[str, Any]:
    """Arrays of one split (memory-mapped) plus ``image_ids``."""
    d = Path(dataset_dir) / split
    if not d.is_dir():
        raise DataError(f"{d}: no such split; known splits: {', '.join(SPLITS)}")
    out: dict[str, Any] = {f[:-4]: np.load(d / f, mmap_mode="r") for f in ARRAY_FILES}
    out["image_ids"] = json.loads((d / "image_ids.json").read_text(encoding="utf-8"))
    return out


# --------------------------------------------------------------------------- big fixture (benchmarks)


def fake_coco_ab_record(rng: np.random.Generator, image_id: int, mouse_points: int) -> dict[str, Any]:
    """One random, schema-valid COCO-AB record (no image behind it) for fixtures and benchmarks."""
    t = int(rng.integers(1_000, 100_000))
    actions = []
    for _ in range(int(rng.integers(0, 5))):
        t += int(rng.integers(100, 5_000))
        name = USED_CLASS_NAMES[int(rng.integers(0, len(USED_CLASS_NAMES)))]
        p = {"x": float(rng.random()), "y": float(rng.random())}
        actions.append(_action("add", name, None, p, t))
        if rng.random() < 0.2:
            t += int(rng.integers(100, 5_000))
            q = {"x": float(rng.random()), "y": float(rng.random())}
            actions.append(_action("move", name, p, q, t))
    xy = rng.random((mouse_points, 2))
    return {
        "worker_id": "6BD0D119F0",
        "hit_id": "7b1f14f23d8b4a59a37e9d28943c10a3",
        "page_id": int(rng.integers(0, 20)),
        "image_id": image_id,
        "imageWidth": 450,
        "imageHeight": 450,
        "originalImageWidth": 640,
        "originalImageHeight": 480,
        "actionHistories": actions,
        "categoryHistories": [
            {"categoryIndex": c, "categoryName": f"Category{c}", "timeAt": t + c, "usingKeyboard": False}
            for c in range(1, 11)
        ],
        "mouseTracking": [{"x": x, "y": y, "timeAt": t + 16 * j} for j, (x, y) in enumerate(xy.tolist())],
        "timeSpent": t,
    }


def write_fake_coco_ab(path: str | Path, n_records: int, *, seed: int = 0, mouse_points: int = 40) -> Path:
    """Write a COCO-AB-shaped JSON list (streamed, atomic) of ``n_records`` random records."""
    import orjson

    from luab_bench.io import atomic_open

    rng = seeded_generator(seed, 7)
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fh.write(b"[")
        for i in range(n_records):
            if i:
                fh.write(b",")
            fh.write(orjson.dumps(fake_coco_ab_record(rng, 9 + i, mouse_points)))
        fh.write(b"]")
    return path
