"""COCO-2014 val loader, mask decoding, the coco and synthetic-coco suites on tiny fixtures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from luab_bench.errors import DataError
from luab_bench.suites import coco_data
from luab_bench.suites.coco import CocoSuite
from luab_bench.suites.coco_data import (
    class_masks,
    load_coco,
    polygon_mask,
    rle_decode,
    rle_string_to_counts,
    segmentation_mask,
)

mu = pytest.importorskip("pycocotools.mask")


def _coco(root, red):
    """Images with red level ``red[i]``; class person (id 1) where red > 100, else dog (id 18)."""
    (root / "val2014").mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    for i, r in enumerate(red):
        name = f"COCO_val2014_{i + 1:012d}.jpg"
        Image.fromarray(np.full((20, 30, 3), r, np.uint8)).save(root / "val2014" / name)
        images.append({"id": i + 1, "file_name": name, "height": 20, "width": 30})
        cat = 1 if r > 100 else 18
        anns.append(
            {"id": 100 + i, "image_id": i + 1, "category_id": cat, "iscrowd": 0, "bbox": [2, 2, 10, 8],
             "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10]]}
        )  # fmt: skip
    images.append({"id": 999, "file_name": "COCO_val2014_000000000999.jpg", "height": 5, "width": 5})
    cats = [{"id": 18, "name": "dog"}, {"id": 1, "name": "person"}, {"id": 3, "name": "car"}]
    (root / "annotations" / "instances_val2014.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )


def test_loader_orders_categories_by_id_and_skips_absent_images(tmp_path):
    _coco(tmp_path, [200, 10, 150])
    s = load_coco(tmp_path)
    assert s.category_ids == [1, 3, 18] and s.category_names == ["person", "car", "dog"]
    assert s.image_ids == [1, 2, 3] and len(s) == 3  # image 999 is not on disk
    np.testing.assert_array_equal(s.targets, [[1, 0, 0], [0, 0, 1], [1, 0, 0]])
    m = class_masks(s, 0)
    assert set(m) == {0} and m[0].shape == (20, 30)


def test_loader_errors_name_the_fix(tmp_path):
    with pytest.raises(DataError, match="val2014"):
        load_coco(tmp_path)
    (tmp_path / "val2014").mkdir()
    with pytest.raises(DataError, match="annotations"):
        load_coco(tmp_path)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 30), st.integers(1, 30))
def test_rle_decoding_matches_pycocotools(seed, h, w):
    rng = np.random.default_rng(seed)
    m = np.asfortranarray(rng.random((h, w)) < rng.random())
    rle = mu.encode(m.astype(np.uint8))
    counts = rle_string_to_counts(rle["counts"].decode())
    np.testing.assert_array_equal(rle_decode(counts, h, w), m)
    got = segmentation_mask({"size": [h, w], "counts": rle["counts"].decode()}, h, w, use_pycocotools=False)
    np.testing.assert_array_equal(got, m)
    uncompressed = {"size": [h, w], "counts": counts}
    np.testing.assert_array_equal(segmentation_mask(uncompressed, h, w, use_pycocotools=False), m)
    np.testing.assert_array_equal(segmentation_mask(uncompressed, h, w, use_pycocotools=True), m)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
@example(7890)
@example(5281)
@example(1614)
def test_polygon_fallback_close_to_pycocotools(seed):
    rng = np.random.default_rng(seed)
    h, w = 40, 50
    cx, cy, r = rng.uniform(15, 35), rng.uniform(15, 25), rng.uniform(6, 12)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
    poly = np.c_[cx + r * np.cos(ang), cy + r * np.sin(ang)].ravel().tolist()
    ref = segmentation_mask([poly], h, w, use_pycocotools=True)
    ours = polygon_mask([poly], h, w)
    # only pixels near the boundary may differ
    diff = ref ^ ours
    from scipy import ndimage

    k = np.ones((5, 5), bool)  # within 2 px of the reference boundary (sharp corners)
    band = ndimage.binary_dilation(ref, k) & ~ndimage.binary_erosion(ref, k)
    assert not (diff & ~band).any()
    # Overlap is only a meaningful check for polygons large against their 2-px boundary band: seven
    # sorted random angles can fall in a narrow arc and give a sliver of ~40 px (seed 7890: 21/39),
    # where every pixel is a boundary pixel and the band check above is the whole claim.
    x, y = np.asarray(poly[0::2]), np.asarray(poly[1::2])
    area = 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))
    if area >= 150:
        assert (ref & ours).sum() / max((ref | ours).sum(), 1) > 0.6


def test_hand_built_polygon_square():
    m = polygon_mask([[2, 2, 12, 2, 12, 10, 2, 10]], 20, 30)
    assert m[5, 5] and not m[15, 20] and m.sum() > 60


class _RedModel(torch.nn.Module):
    """logits over (person, car, dog) = (+red, 0, -red): ranks person/dog perfectly."""

    def forward(self, x):
        r = x[:, 0].mean(dim=(1, 2))
        return torch.stack([r, torch.zeros_like(r), -r], dim=1)


def test_coco_suite_map_on_fixture(tmp_path, monkeypatch):
    _coco(tmp_path, [200, 10, 150, 30])
    monkeypatch.setattr(
        "luab_bench.suites.image_files.default_data_config",
        lambda m: {"input_size": (3, 16, 16), "mean": (0, 0, 0), "std": (1, 1, 1)},
    )
    res = CocoSuite().evaluate(_RedModel(), dataset_dir=tmp_path, n_boot=30)
    m = res.metrics["coco_map"]
    assert m["value"] == pytest.approx(100.0) and m["n"] == 4 and "1 classes without a positive" in m["task"]


def test_coco_suite_missing_data(tmp_path, monkeypatch):
    monkeypatch.delenv("LUAB_BENCH_COCO_ROOT", raising=False)
    with pytest.raises(DataError, match=r"cocodataset\.org"):
        CocoSuite().evaluate(_RedModel(), dataset_dir=tmp_path / "nope")


def test_synthetic_coco_suite_on_generated_split(tmp_path):
    from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, load_coco_split
    from luab_bench.models import create_model
    from luab_bench.suites.synthetic_coco import SyntheticCocoSuite, points_in_class_boxes

    cfg = SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"]
    d = generate_coco(cfg, tmp_path)
    torch.manual_seed(0)
    model = create_model("resnet10t", cfg.num_classes, num_point_heads=cfg.num_classes)
    res = SyntheticCocoSuite().evaluate(model, dataset_dir=d, n_boot=20).metrics
    assert 0 <= res["synthetic_coco_map"]["value"] <= 100 and res["synthetic_coco_map"]["n"] == cfg.n_val
    split = load_coco_split(d, "val")
    labels = np.asarray(split["labels"])
    assert res["synthetic_coco_point_loc_acc"]["n"] == int(labels.sum())
    # hand check of the point rule: the centre of every visible box is inside it
    obj = np.asarray(split["objects"])
    pts = np.zeros((*labels.shape, 2), np.float32)
    for row in obj:
        pts[int(row[0]), int(row[1])] = [(row[2] + row[4]) / 2, (row[3] + row[5]) / 2]
    assert points_in_class_boxes(pts, labels, obj).all()
    assert not points_in_class_boxes(pts + 5.0, labels, obj).any()


def test_module_documents_layout():
    assert "instances_val2014.json" in coco_data.__doc__
