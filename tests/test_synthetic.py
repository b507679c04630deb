"""Tests for the embedded synthetic benchmark generator (luab_bench.data.synthetic)."""

from __future__ import annotations

import colorsys
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from pydantic import ValidationError

from luab_bench.data import synthetic as syn
from luab_bench.errors import DataError, LuabError

TINY = syn.SYNTHETIC_VARIANTS["synthetic-tiny"]
ID_RE = re.compile(r"^(n99\d{6})/\1_\d+$")


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return syn.generate(TINY, tmp_path_factory.mktemp("data"))


def _all_files(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def _mask_boxes(masks: np.ndarray) -> np.ndarray:
    """Independent tight-box computation: min/max of the mask's nonzero pixel indices."""
    n, h, w = masks.shape
    out = np.zeros((n, 4), dtype=np.float32)
    for i in range(n):
        ys, xs = np.nonzero(masks[i])
        out[i] = [xs.min() / w, ys.min() / h, (xs.max() + 1) / w, (ys.max() + 1) / h]
    return out


# ----------------------------------------------------------------------------------- config
def test_variants_and_config_validation() -> None:
    for name in ("synthetic", "synthetic-tiny", "synthetic-corr50", "synthetic-corr99"):
        assert syn.SYNTHETIC_VARIANTS[name].variant == name
    corr = [syn.SYNTHETIC_VARIANTS[f"synthetic-corr{c}"].bg_correlation for c in (50, 75, 90, 99)]
    assert corr == [0.5, 0.75, 0.9, 0.99]
    with pytest.raises(ValidationError, match=r"unknown|extra"):
        syn.SyntheticConfig(colour="red")
    with pytest.raises(ValidationError):
        syn.SyntheticConfig(num_classes=11)  # only 10 shapes exist
    with pytest.raises(ValidationError):
        syn.SyntheticConfig(image_size=16, fg_scale=(0.2, 0.5))  # objects too small to be drawn
    a, b = TINY, TINY.model_copy(update={"seed": 1})
    assert syn.dataset_dirname(a).startswith("synthetic-tiny-s0-")
    assert syn.config_hash(a) != syn.config_hash(b)


# ----------------------------------------------------------------------------------- arrays
def test_shapes_dtypes_ranges(tiny_dir: Path) -> None:
    k, s = TINY.num_classes, TINY.image_size
    for split in syn.SPLITS:
        arr = syn.load_split(tiny_dir, split)
        n = k * (TINY.train_per_class if split == "train" else TINY.eval_per_class)
        assert len(arr) == n
        assert arr.images.shape == (n, s, s, 3) and arr.images.dtype == np.uint8
        assert arr.labels.dtype == np.int64 and set(np.unique(arr.labels)) == set(range(k))
        assert np.bincount(arr.labels, minlength=k).tolist() == [n // k] * k
        assert arr.boxes.shape == (n, 4) and arr.boxes.dtype == np.float32
        assert arr.masks.shape == (n, s, s) and arr.masks.dtype == np.bool_
        assert arr.bg_labels.dtype == np.int64 and arr.bg_labels.min() >= -1 and arr.bg_labels.max() < k
        assert len(arr.ids) == n and len(set(arr.ids)) == n
        for i, y in zip(arr.ids, arr.labels.tolist(), strict=True):
            assert ID_RE.match(i) and i.startswith(syn.class_wnid(y))
        if split == "no_fg":
            assert not arr.masks.any() and not arr.boxes.any()
        else:
            assert arr.masks.reshape(n, -1).any(axis=1).all()
            assert ((arr.boxes >= 0) & (arr.boxes <= 1)).all()
            np.testing.assert_array_equal(arr.boxes, _mask_boxes(np.asarray(arr.masks)))
        assert arr.images.std() > 10  # not blank


def test_manifest_contents(tiny_dir: Path) -> None:
    m = syn.load_manifest(tiny_dir)
    assert m["config"] == TINY.model_dump(mode="json")
    assert m["generator_version"] == syn.GENERATOR_VERSION
    assert [c["wnid"] for c in m["classes"]] == [syn.class_wnid(k) for k in range(TINY.num_classes)]
    assert set(m["splits"]) == set(syn.SPLITS)
    for split, meta in m["splits"].items():
        assert set(meta["files"]) == set(syn.SPLIT_FILES)
        assert meta["n"] == len(syn.load_split(tiny_dir, split))
    assert set(m["records"]) == {syn.RECORDS_FILE}
    assert re.fullmatch(r"[0-9a-f]{64}", m["fingerprint"])
    assert syn.verify_dataset(tiny_dir, TINY) is None


def test_split_relations(tiny_dir: Path) -> None:
    sp = {s: syn.load_split(tiny_dir, s) for s in syn.EVAL_SPLITS}
    y = sp["val"].labels
    # the evaluation splits are variants of the same images: same ids, labels and foregrounds
    for name in ("only_fg", "no_fg", "mixed_same", "mixed_rand"):
        assert sp[name].ids == sp["val"].ids
        np.testing.assert_array_equal(sp[name].labels, y)
    for name in ("only_fg", "mixed_same", "mixed_rand"):
        np.testing.assert_array_equal(sp[name].masks, sp["val"].masks)
    assert (sp["only_fg"].bg_labels == -1).all()
    assert (sp["no_fg"].bg_labels == y).all()
    assert (sp["mixed_same"].bg_labels == y).all()
    assert (sp["mixed_rand"].bg_labels != y).all()
    assert (sp["mixed_rand"].bg_labels >= 0).all()
    # only_fg background is flat neutral grey up to sensor noise
    bg = np.asarray(sp["only_fg"].images)[~np.asarray(sp["only_fg"].masks)]
    assert abs(bg.mean() - 255 * syn._NEUTRAL_GREY) < 2 and bg.std() < 15
    # train / eval ids never collide
    assert not set(syn.load_split(tiny_dir, "train").ids) & set(sp["val"].ids)


def test_bg_correlation_realised() -> None:
    cfg = TINY.model_copy(update={"train_per_class": 150, "eval_per_class": 100, "bg_correlation": 0.8})
    data = syn.render_splits(cfg, splits=("train", "val", "mixed_rand"))
    for split in ("train", "val"):
        d = data[split]
        rate = (d["bg_labels"] == d["labels"]).mean()
        assert abs(rate - 0.8) < 0.035, (split, rate)
    mr = data["mixed_rand"]
    assert (mr["bg_labels"] != mr["labels"]).all()
    # off-class backgrounds are spread over the other classes, not one neighbour
    off = mr["bg_labels"][mr["labels"] == 0]
    assert len(np.unique(off)) >= 6


# ----------------------------------------------------------------------------------- determinism
def test_same_seed_identical_bytes_different_seed_differs(tmp_path: Path, tiny_dir: Path) -> None:
    again = syn.generate(TINY, tmp_path / "a")
    assert again.name == tiny_dir.name
    assert _all_files(again) == _all_files(tiny_dir)
    other = syn.generate(TINY.model_copy(update={"seed": 1}), tmp_path / "b")
    a, b = _all_files(tiny_dir), _all_files(other)
    for split in syn.SPLITS:
        assert a[f"{split}/images.npy"] != b[f"{split}/images.npy"]
    assert a[syn.RECORDS_FILE] != b[syn.RECORDS_FILE]


def test_reuse_does_not_rewrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = syn.generate(TINY, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in d.rglob("*")}

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("a complete dataset must be reused, not regenerated")

    monkeypatch.setattr(syn, "_write_dataset", boom)
    assert syn.generate(TINY, tmp_path) == d
    assert {p: p.stat().st_mtime_ns for p in d.rglob("*")} == before


@pytest.mark.parametrize("damage", ["flip_byte", "delete_file", "delete_manifest", "bad_manifest"])
def test_corrupted_dataset_is_regenerated(tmp_path: Path, tiny_dir: Path, damage: str) -> None:
    d = syn.generate(TINY, tmp_path)
    if damage == "flip_byte":
        p = d / "mixed_rand" / "images.npy"
        raw = bytearray(p.read_bytes())
        raw[-1] ^= 0xFF
        p.write_bytes(bytes(raw))
    elif damage == "delete_file":
        (d / "train" / "masks.npy").unlink()
    elif damage == "delete_manifest":
        (d / syn.MANIFEST_FILE).unlink()
    else:
        (d / syn.MANIFEST_FILE).write_text("{not json")
    assert syn.verify_dataset(d, TINY) is not None
    assert syn.generate(TINY, tmp_path) == d
    assert syn.verify_dataset(d, TINY) is None
    assert _all_files(d) == _all_files(tiny_dir)
    assert [p.name for p in tmp_path.iterdir()] == [d.name]  # no temp dirs left behind


def test_progress_is_advanced(tmp_path: Path) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.total = 0.0
            self.done = 0.0

        def add_task(self, description: str, total: float | None = None, **_: object) -> int:
            self.total = total or 0
            return 7

        def advance(self, task_id: int, advance: float = 1) -> None:
            assert task_id == 7
            self.done += advance

    rec = Recorder()
    syn.generate(TINY, tmp_path, progress=rec)
    n = TINY.num_classes * (TINY.train_per_class + 5 * TINY.eval_per_class)
    assert rec.total == rec.done == n


# ----------------------------------------------------------------------------------- records
RECORD_KEYS = {
    "imageID",
    "selected",
    "selectedCount",
    "selectedRecord",
    "hoveredCount",
    "hoveredRecord",
    "imagePosition",
    "imageWidth",
    "imageHeight",
    "originalImageWidth",
    "originalImageHeight",
    "estimateTime",
    "mouseTracking",
    "worker_id",
    "assignment_id",
}


def _check_record_schema(r: dict, valid_ids: set[str], size: int) -> None:
    assert set(r) == RECORD_KEYS
    assert r["imageID"] in valid_ids
    assert isinstance(r["selected"], bool)
    assert r["selectedCount"] == len(r["selectedRecord"])
    if r["selected"]:
        assert r["selectedCount"] >= 1
    for key in ("selectedRecord", "mouseTracking"):
        for p in r[key]:
            assert set(p) == {"x", "y", "time"}
            assert 0.0 <= p["x"] <= 1.0 and 0.0 <= p["y"] <= 1.0
            assert isinstance(p["time"], int)
    times = [p["time"] for p in r["selectedRecord"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    mt = [p["time"] for p in r["mouseTracking"]]
    assert mt == sorted(mt)
    enter, leave = r["hoveredRecord"]
    assert enter["action"] == "enter" and leave["action"] == "leave"
    assert enter["time"] <= min(mt + times, default=enter["time"])
    assert leave["time"] >= max(mt + times, default=leave["time"])
    assert 0 <= r["estimateTime"] <= leave["time"] - enter["time"]
    assert r["originalImageWidth"] == r["originalImageHeight"] == size
    assert re.fullmatch(r"[0-9A-F]{10}", r["worker_id"])
    assert re.fullmatch(r"[0-9A-Z]{30}", r["assignment_id"])


def test_records_schema(tiny_dir: Path) -> None:
    records = json.loads((tiny_dir / syn.RECORDS_FILE).read_text())
    train = syn.load_split(tiny_dir, "train")
    ids = set(train.ids)
    assert 0 < len(records) <= len(train)
    assert len({r["imageID"] for r in records}) == len(records)
    for r in records:
        _check_record_schema(r, ids, TINY.image_size)
    # the file is the canonical serialisation (sorted keys, compact)
    raw = (tiny_dir / syn.RECORDS_FILE).read_bytes()
    assert raw == json.dumps(records, sort_keys=True, separators=(",", ":")).encode()


def test_annotator_rates_match_config() -> None:
    cfg = TINY.model_copy(update={"train_per_class": 400, "p_extra_toggle": 0.2})
    d = syn.render_splits(cfg, splits=("train",))["train"]
    records = syn.simulate_annotator(cfg, d["labels"], d["boxes"], d["masks"], d["ids"])
    n = len(d["labels"])
    assert abs(len(records) / n - cfg.p_interacted) < 0.01
    sel = [r for r in records if r["selected"]]
    assert abs(len(sel) / len(records) - cfg.p_selected) < 0.03
    box = dict(zip(d["ids"], d["boxes"].tolist(), strict=True))
    in_box = []
    for r in sel:
        z = max(r["selectedRecord"], key=lambda p: p["time"])  # final click, by time
        assert z is r["selectedRecord"][-1]
        x0, y0, x1, y1 = box[r["imageID"]]
        in_box.append(x0 <= z["x"] <= x1 and y0 <= z["y"] <= y1)
    assert abs(np.mean(in_box) - cfg.p_click_in_box) < 0.03
    # re-selections happen: some selected images have several select clicks, some unselected ones one
    assert any(r["selectedCount"] > 1 for r in sel)
    assert any(not r["selected"] and r["selectedCount"] >= 1 for r in records)
    assert any(not r["selected"] and r["selectedCount"] == 0 for r in records)


@pytest.mark.parametrize("p_in", [0.0, 1.0])
def test_click_in_box_extremes(p_in: float) -> None:
    cfg = TINY.model_copy(update={"p_click_in_box": p_in, "p_interacted": 1.0, "p_selected": 1.0})
    d = syn.render_splits(cfg, splits=("train",))["train"]
    records = syn.simulate_annotator(cfg, d["labels"], d["boxes"], d["masks"], d["ids"])
    box = dict(zip(d["ids"], d["boxes"].tolist(), strict=True))
    hits = []
    for r in records:
        z = r["selectedRecord"][-1]
        x0, y0, x1, y1 = box[r["imageID"]]
        hits.append(x0 <= z["x"] <= x1 and y0 <= z["y"] <= y1)
    assert len(records) == len(d["labels"])
    assert np.mean(hits) == p_in


# ----------------------------------------------------------------------------------- load errors
def _copy(tiny_dir: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / tiny_dir.name
    shutil.copytree(tiny_dir, dst)
    return dst


def test_load_split_errors(tmp_path: Path, tiny_dir: Path) -> None:
    d = _copy(tiny_dir, tmp_path)
    with pytest.raises(LuabError, match="did you mean 'mixed_rand'"):
        syn.load_split(d, "mixed_rnd")

    (d / "val" / "labels.npy").unlink()
    with pytest.raises(DataError, match=r"val/labels\.npy: missing.*luab-bench data generate"):
        syn.load_split(d, "val")

    np.save(d / "only_fg" / "labels.npy", np.zeros(3, dtype=np.int32))
    with pytest.raises(DataError, match=r"only_fg/labels\.npy: expected int64"):
        syn.load_split(d, "only_fg")

    np.save(d / "no_fg" / "boxes.npy", np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(DataError, match=r"no_fg/boxes\.npy: expected shape"):
        syn.load_split(d, "no_fg")

    (d / "mixed_same" / "images.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DataError, match=r"mixed_same/images\.npy: unreadable"):
        syn.load_split(d, "mixed_same")

    (d / "train" / "ids.json").write_text('["a", 1]')
    with pytest.raises(DataError, match=r"train/ids\.json: expected a JSON list"):
        syn.load_split(d, "train")

    ids = json.loads((d / "mixed_rand" / "ids.json").read_text())
    (d / "mixed_rand" / "ids.json").write_text(json.dumps(ids[:-1]))
    with pytest.raises(DataError, match=r"mixed_rand/ids\.json: expected shape"):
        syn.load_split(d, "mixed_rand")


def test_load_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"manifest\.json: missing.*luab-bench data generate"):
        syn.load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a synthetic-dataset manifest"):
        syn.load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(DataError, match="not valid JSON"):
        syn.load_manifest(tmp_path)


def test_loaded_arrays_are_memory_mapped_and_read_only(tiny_dir: Path) -> None:
    arr = syn.load_split(tiny_dir, "val")
    assert isinstance(arr.images, np.memmap)
    with pytest.raises(ValueError):
        arr.images[0, 0, 0, 0] = 1


# ----------------------------------------------------------------------------------- properties
@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 20), st.just(3)),
        elements=st.floats(0, 1, allow_nan=False, allow_infinity=False),
    )
)
def test_hsv_to_rgb_matches_colorsys(hsv: np.ndarray) -> None:
    got = syn._hsv_to_rgb(hsv[:, 0], hsv[:, 1], hsv[:, 2])
    want = np.array([colorsys.hsv_to_rgb(*row) for row in hsv])
    np.testing.assert_allclose(got, want, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.bool_, st.tuples(st.integers(1, 5), st.integers(1, 12), st.integers(1, 12))))
def test_boxes_from_masks_matches_independent(masks: np.ndarray) -> None:
    nonempty = masks.reshape(len(masks), -1).any(axis=1)
    if not nonempty.all():
        with pytest.raises(RuntimeError):
            syn._boxes_from_masks(masks)
        masks = masks[nonempty]
        if not len(masks):
            return
    np.testing.assert_array_equal(syn._boxes_from_masks(masks), _mask_boxes(masks))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=2, max_size=40).filter(
        lambda ls: all(ls.count(v) >= 2 for v in set(ls))
    ),
    st.integers(0, 2**32 - 1),
)
def test_index_of_class(labels: list[int], seed: int) -> None:
    y = np.array(labels)
    rng = np.random.default_rng(seed)
    same = syn._index_of_class(y, y, rng, exclude_self=True)
    assert (y[same] == y).all() and (same != np.arange(len(y))).all()
    if len(set(labels)) > 1:
        want = np.array([sorted(set(labels) - {v})[0] for v in labels])
        other = syn._index_of_class(y, want, rng, exclude_self=False)
        assert (y[other] == want).all()
