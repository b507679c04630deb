"""WSOL task on a tiny wsolevaluation-layout fixture: a CAM that exactly covers the box scores 100."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image

from luab_bench.errors import DataError
from luab_bench.suites.wsol import evaluate_wsol, load_wsol_metadata, scale_boxes

CFG = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}


class _Out(NamedTuple):
    logits: torch.Tensor
    points: torch.Tensor


class _RedCam(torch.nn.Module):
    """CAM = the red channel (feature map = red channel, classifier weight 1); fixed point head."""

    def __init__(self, point: tuple[float, float]):
        super().__init__()
        self.head = torch.nn.Linear(1, 3, bias=False)
        torch.nn.init.ones_(self.head.weight)
        self.point = torch.tensor(point)

    def forward_features(self, x):
        return x[:, :1]

    def get_classifier(self):
        return self.head

    def forward(self, x):
        logits = self.head(x[:, :1].mean(dim=(2, 3)))
        return _Out(logits, self.point.expand(x.shape[0], 1, 2))


def _layout(root, boxes, *, size=(112, 112), masks=False):
    meta = root / "metadata" / "ILSVRC" / "test"
    meta.mkdir(parents=True)
    ids, labels, loc = [], [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        name = f"val/img{i}.png"
        arr = np.zeros((size[1], size[0], 3), np.uint8)
        arr[y0 : y1 + 1, x0 : x1 + 1, 0] = 255
        (root / "dataset" / "ILSVRC" / "val").mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(root / "dataset" / "ILSVRC" / name)
        ids.append(name)
        labels.append(f"{name},{i % 3}")
        if masks:
            Image.fromarray(arr[..., 0]).save(root / "dataset" / "ILSVRC" / f"val/mask{i}.png")
            loc.append(f"{name},val/mask{i}.png,")
        else:
            loc.append(f"{name},{x0},{y0},{x1},{y1}")
    (meta / "image_ids.txt").write_text("\n".join(ids) + "\n")
    (meta / "class_labels.txt").write_text("\n".join(labels) + "\n")
    (meta / "localization.txt").write_text("\n".join(loc) + "\n")


def test_metadata_parsing_and_box_scaling(tmp_path):
    _layout(tmp_path, [(10, 20, 50, 60), (0, 0, 111, 111)])
    meta = load_wsol_metadata(tmp_path / "metadata" / "ILSVRC" / "test")
    assert meta.paths == ["val/img0.png", "val/img1.png"] and meta.labels.tolist() == [0, 1]
    assert meta.boxes["val/img0.png"] == [(10.0, 20.0, 50.0, 60.0)]
    np.testing.assert_array_equal(scale_boxes([[10, 20, 50, 60]], 112, 56), [[20, 80, 100, 240]])


def test_cam_covering_the_box_gives_maxboxacc_100_and_point_metric(tmp_path):
    _layout(tmp_path, [(20, 30, 70, 90), (5, 5, 40, 100), (60, 10, 100, 50)])
    # point (0.3, 0.5) = pixel (33.6, 56) on 112 px: inside boxes 0 and 1, outside box 2
    res = evaluate_wsol(_RedCam((0.3, 0.5)), tmp_path, data_config=CFG, n_boot=20, cam_curve_interval=0.01)
    assert res["wsol_maxboxacc_v2"]["value"] == pytest.approx(100.0)
    assert all(res[f"wsol_boxacc_iou{d}"]["value"] == pytest.approx(100.0) for d in (30, 50, 70))
    assert (
        res["wsol_point_loc_acc"]["value"] == pytest.approx(200 / 3) and res["wsol_point_loc_acc"]["n"] == 3
    )
    assert "wsol_pxap" not in res


def test_point_metric_records_its_per_image_vector_and_nothing_else(tmp_path):
    from luab_bench.suites.wsol import score_wsol

    _layout(tmp_path, [(20, 30, 70, 90), (5, 5, 40, 100), (60, 10, 100, 50)])
    res, per_image = score_wsol(
        _RedCam((0.3, 0.5)), tmp_path, data_config=CFG, n_boot=20, cam_curve_interval=0.01
    )
    # inside boxes 0 and 1, outside box 2 (image_ids order); BoxAcc / MaxBoxAccV2 are not per-image means
    assert {k: v.tolist() for k, v in per_image.items()} == {"wsol_point_loc_acc": [True, True, False]}
    point = per_image["wsol_point_loc_acc"]
    assert res["wsol_point_loc_acc"]["value"] == pytest.approx(100.0 * np.mean(point))


def test_cam_away_from_the_box_fails(tmp_path):
    _layout(tmp_path, [(0, 0, 20, 20)])
    meta = tmp_path / "metadata" / "ILSVRC" / "test" / "localization.txt"
    meta.write_text("val/img0.png,80,80,110,110\n")  # ground truth elsewhere than the red square
    res = evaluate_wsol(_RedCam((0.1, 0.1)), tmp_path, data_config=CFG, n_boot=20, cam_curve_interval=0.01)
    assert res["wsol_boxacc_iou30"]["value"] == 0.0 and res["wsol_point_loc_acc"]["value"] == 0.0


def test_pxap_with_masks(tmp_path):
    _layout(tmp_path, [(20, 30, 70, 90), (5, 5, 40, 100)], masks=True)
    res = evaluate_wsol(_RedCam((0.5, 0.5)), tmp_path, data_config=CFG, n_boot=20)
    assert res["wsol_pxap"]["value"] > 99.0 and "wsol_maxboxacc_v2" not in res


def test_missing_metadata_names_the_source(tmp_path):
    with pytest.raises(DataError, match="wsolevaluation"):
        load_wsol_metadata(tmp_path)
