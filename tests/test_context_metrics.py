"""COCO V^avg / V^min (LUAB §5.2; operational definition ours): metric, erasure, suites, property tests."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from luab_bench.metrics.context import (
    CONTEXT_DEFINITION,
    ErasureScores,
    context_metrics,
    context_pairs,
    sigmoid_score,
)
from luab_bench.suites.base import EvalSettings
from luab_bench.suites.context import dilate, erasure_stack, mean_colour, score_array_erasures

COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]], dtype=np.uint8)
K = len(COLOURS)
SETTINGS = EvalSettings(device="cpu", progress=None, seed=3, batch_size=7, normalize=None, n_boot=50)


class ColourModel(torch.nn.Module):
    """logit_k = 1000 · (share of pixels of colour ``reads[k]``) − 10: reads one class's pixels only."""

    def __init__(self, reads: list[int]) -> None:
        super().__init__()
        self.reads = reads
        self.colours = torch.tensor(COLOURS, dtype=torch.float32) / 255.0

    def forward(self, x):
        share = []
        for k in self.reads:
            hit = ((x - self.colours[k].view(1, 3, 1, 1)).abs() < 0.02).all(dim=1)
            share.append(hit.float().mean(dim=(1, 2)))
        return 1000.0 * torch.stack(share, dim=1) - 10.0


FOREGROUND = ColourModel(list(range(K)))  # class k's score from class k's own pixels: ignores context
CONTEXT = ColourModel([(k + 1) % K for k in range(K)])  # class k's score from its partner's pixels only


def scene(seed: int, n: int = 12, size: int = 24):
    """Grey images with 1..3 disjoint coloured squares of distinct classes; exact masks (N, K, H, W)."""
    rng = np.random.default_rng(seed)
    images = np.full((n, size, size, 3), 128, np.uint8)
    labels = np.zeros((n, K), bool)
    masks = np.zeros((n, K, size, size), bool)
    slots = [(0, 0), (0, 12), (12, 0), (12, 12)]
    for i in range(n):
        m = int(rng.integers(1, 4))
        classes = rng.choice(K, m, replace=False)
        for (y, x), k in zip(rng.permutation(slots)[:m], classes, strict=False):
            s = int(rng.integers(5, 11))
            masks[i, k, y : y + s, x : x + s] = True
            images[i, y : y + s, x : x + s] = COLOURS[k]
            labels[i, k] = True
    return images, labels, masks


# --------------------------------------------------------------------------- independent loop oracle


def loop_dilate(mask: np.ndarray, r: int) -> np.ndarray:
    h, w = mask.shape
    out = np.zeros_like(mask)
    for y in range(h):
        for x in range(w):
            out[y, x] = any(
                mask[yy, xx]
                for yy in range(max(0, y - r), min(h, y + r + 1))
                for xx in range(max(0, x - r), min(w, x + r + 1))
            )
    return out


def loop_context(model, images, labels, masks, seed, dilate_px=0):
    """V^avg, V^min and self drop by direct loops: one image at a time, per-pixel erasure, python means."""
    rng = np.random.default_rng(seed)

    def score(img):
        with torch.no_grad():
            z = model(torch.from_numpy(img[None].astype(np.float32) / 255.0).permute(0, 3, 1, 2))[0]
        return [100.0 / (1.0 + math.exp(-float(v))) for v in z]

    v_avg, v_min, self_drop = [], [], []
    for i in range(images.shape[0]):
        present = [k for k in range(labels.shape[1]) if labels[i, k]]
        if len(present) < 2:
            continue
        img = images[i]
        npix = img.shape[0] * img.shape[1]
        fill = [round(float(img[..., ch].astype(np.float64).sum()) / npix) for ch in range(3)]
        erased = {}
        for d in present:
            m = loop_dilate(masks[i, d], dilate_px) if dilate_px else masks[i, d]
            e = img.copy()
            for y in range(img.shape[0]):
                for x in range(img.shape[1]):
                    if m[y, x]:
                        e[y, x] = fill
            erased[d] = score(e)
        clean = score(img)
        for c in present:
            others = [d for d in present if d != c]
            drops = [clean[c] - erased[d][c] for d in others]
            v_avg.append(drops[int(rng.integers(len(others)))])
            v_min.append(max(drops))
            self_drop.append(clean[c] - erased[c][c])
    return sum(v_avg) / len(v_avg), sum(v_min) / len(v_min), sum(self_drop) / len(self_drop), len(v_avg)


@pytest.mark.parametrize("model", [FOREGROUND, CONTEXT], ids=["foreground", "context"])
def test_metrics_equal_a_direct_loop_implementation(model):
    images, labels, masks = scene(1)
    items = score_array_erasures(model, images, labels, masks, SETTINGS)
    got = context_metrics(items, prefix="x", dataset="t", seed=11, n_boot=40, erasure="e")
    v_avg, v_min, drop, n = loop_context(model, images, labels, masks, seed=11)
    assert got["x_vavg"]["value"] == pytest.approx(v_avg, abs=1e-4)
    assert got["x_vmin"]["value"] == pytest.approx(v_min, abs=1e-4)
    assert got["x_self_drop"]["value"] == pytest.approx(drop, abs=1e-4)
    assert got["x_vavg"]["n"] == got["x_vmin"]["n"] == n
    assert not got["x_vavg"]["higher_is_better"] and not got["x_vmin"]["higher_is_better"]
    assert CONTEXT_DEFINITION in got["x_vmin"]["task"] and "ours" in got["x_vmin"]["task"]


def test_model_ignoring_context_has_v_zero_and_large_self_drop():
    images, labels, masks = scene(2)
    got = context_metrics(
        score_array_erasures(FOREGROUND, images, labels, masks, SETTINGS),
        prefix="x", dataset="t", seed=0, n_boot=40, erasure="e",
    )  # fmt: skip
    assert abs(got["x_vavg"]["value"]) < 1e-6 and abs(got["x_vmin"]["value"]) < 1e-6
    assert got["x_self_drop"]["value"] > 99.0


def test_model_reading_only_context_has_v_min_equal_to_the_full_score():
    images, labels, masks = scene(3, n=16)
    items = score_array_erasures(CONTEXT, images, labels, masks, SETTINGS)
    got = context_metrics(items, prefix="x", dataset="t", seed=0, n_boot=40, erasure="e")
    full = np.mean([it.clean[c] for it in items for c in it.classes])  # mean s_c(x) over the pairs
    assert full > 10.0  # some classes do have their partner in the image
    assert got["x_vmin"]["value"] == pytest.approx(full, abs=0.1)
    assert abs(got["x_self_drop"]["value"]) < 0.1  # its own pixels carry nothing


def test_seeded_and_intervals_contain_the_value():
    images, labels, masks = scene(4)
    items = score_array_erasures(CONTEXT, images, labels, masks, SETTINGS)
    a = context_metrics(items, prefix="x", dataset="t", seed=5, n_boot=60, erasure="e")
    b = context_metrics(items, prefix="x", dataset="t", seed=5, n_boot=60, erasure="e")
    assert a == b
    for m in a.values():
        assert m["ci_low"] <= m["value"] <= m["ci_high"]


def test_no_eligible_image_gives_no_metric():
    images, labels, masks = scene(5)
    labels[:] = False
    labels[:, 0] = True
    assert score_array_erasures(FOREGROUND, images, labels, masks, SETTINGS) == []
    assert context_metrics([], prefix="x", dataset="t", seed=0, n_boot=10, erasure="e") == {}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_pair_rules(seed, n_images):
    """V^min >= V^avg per pair; V^avg is one of the other-class drops; with two classes they coincide."""
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n_images):
        k = int(rng.integers(2, 6))
        classes = np.sort(rng.choice(8, k, replace=False))
        items.append(ErasureScores(classes, rng.uniform(0, 100, 8), rng.uniform(0, 100, (k, 8))))
    p = context_pairs(items, seed)
    assert (p.v_min >= p.v_avg - 1e-12).all()
    row = 0
    for it in items:
        for j, c in enumerate(it.classes):
            drops = [it.clean[c] - it.erased[i, c] for i in range(len(it.classes)) if i != j]
            assert any(np.isclose(p.v_avg[row], d) for d in drops)
            assert np.isclose(p.v_min[row], max(drops))
            assert np.isclose(p.self_drop[row], it.clean[c] - it.erased[j, c])
            if len(it.classes) == 2:
                assert p.v_avg[row] == p.v_min[row]
            row += 1
    assert row == p.v_avg.size


def test_bad_scores_are_refused():
    with pytest.raises(ValueError, match="ascending"):
        ErasureScores(np.array([2]), np.zeros(4), np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r"\(L, K\)"):
        ErasureScores(np.array([0, 1]), np.zeros(4), np.zeros((3, 4)))


def test_sigmoid_score_is_stable():
    s = sigmoid_score([-1000.0, 0.0, 1000.0])
    np.testing.assert_allclose(s, [0.0, 50.0, 100.0])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(0, 3))
def test_dilation_matches_a_chebyshev_loop(seed, r):
    m = np.random.default_rng(seed).random((9, 11)) < 0.1
    np.testing.assert_array_equal(dilate(m, r), loop_dilate(m, r) if r else m)


def test_erasure_stack_fills_with_the_mean_colour():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2] = 200
    masks = {0: np.zeros((4, 4), bool), 3: np.zeros((4, 4), bool)}
    masks[0][0, 0] = True
    masks[3][3, 3] = True
    out = erasure_stack(img, masks, np.array([0, 3]), 0)
    assert out.shape == (3, 4, 4, 3)
    np.testing.assert_array_equal(mean_colour(img), [100, 100, 100])
    np.testing.assert_array_equal(out[0], img)
    assert (out[1][0, 0] == 100).all() and (out[1][3, 3] == 0).all()
    assert (out[2][3, 3] == 100).all() and (out[2][0, 0] == 200).all()


# --------------------------------------------------------------------------- the two suites


def _coco_two_classes(root):
    """COCO fixture: each image a red and a green square (person id 1, dog id 18); a third image has one.

    Polygons are pixel-edge outlines (pycocotools fills exactly the squares' pixels)."""
    (root / "val2014").mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    for i in range(3):
        name = f"COCO_val2014_{i + 1:012d}.png"
        arr = np.full((30, 40, 3), 128, np.uint8)
        arr[2:10, 2:12] = COLOURS[0]
        if i < 2:
            arr[15:27, 20:36] = COLOURS[1]
        Image.fromarray(arr).save(root / "val2014" / name)
        images.append({"id": i + 1, "file_name": name, "height": 30, "width": 40})
        anns.append({"id": 10 * i, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "segmentation": [[2, 2, 12, 2, 12, 10, 2, 10]]})  # fmt: skip
        if i < 2:
            anns.append({"id": 10 * i + 1, "image_id": i + 1, "category_id": 18, "iscrowd": 0,
                         "segmentation": [[20, 15, 36, 15, 36, 27, 20, 27]]})  # fmt: skip
    cats = [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]
    (root / "annotations" / "instances_val2014.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )


def test_coco_suite_reports_context_metrics(tmp_path, monkeypatch):
    from luab_bench.suites.coco import CocoSuite

    _coco_two_classes(tmp_path)
    monkeypatch.setattr(
        "luab_bench.suites.image_files.default_data_config",
        lambda m: {"input_size": (3, 30, 40), "mean": (0, 0, 0), "std": (1, 1, 1)},
    )
    res = CocoSuite().evaluate(ColourModel([0, 1]), dataset_dir=tmp_path, n_boot=20).metrics
    assert {"coco_map", "coco_vavg", "coco_vmin", "coco_self_drop"} <= set(res)
    assert res["coco_vmin"]["n"] == 4  # 2 eligible images x 2 classes; image 3 has one class
    assert abs(res["coco_vmin"]["value"]) < 1e-6  # the model reads each class's own pixels only
    assert res["coco_self_drop"]["value"] > 99.0  # the dilated masks cover the squares
    assert "dilated by 4 px" in res["coco_vavg"]["task"] and "ours" in res["coco_vavg"]["task"]


def test_synthetic_coco_suite_reports_context_metrics(tmp_path):
    from luab_bench.data.synthetic_coco import SYNTHETIC_COCO_VARIANTS, generate_coco, load_coco_split
    from luab_bench.suites.synthetic_coco import SyntheticCocoSuite

    cfg = SYNTHETIC_COCO_VARIANTS["synthetic-coco-tiny"]
    d = generate_coco(cfg, tmp_path)
    labels = np.asarray(load_coco_split(d, "val")["labels"])
    pairs = int(labels[labels.sum(axis=1) >= 2].sum())
    torch.manual_seed(0)
    nn = torch.nn
    k = cfg.num_classes
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, k))
    res = SyntheticCocoSuite().evaluate(model, dataset_dir=d, n_boot=20).metrics
    assert pairs > 0 and res["synthetic_coco_vmin"]["n"] == pairs
    assert res["synthetic_coco_vmin"]["value"] >= res["synthetic_coco_vavg"]["value"] - 1e-9
    assert "exact masks" in res["synthetic_coco_vmin"]["task"]
