"""COCO WSOL (LUAB Table 5): class-averaged mPxAP of per-class CAMs, against sklearn and a perfect CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from luab_bench.suites.base import predict
from luab_bench.suites.class_pxap import ClassPxap, resize_masks, supports_cam
from test_context_metrics import COLOURS, _coco_two_classes, scene


class ColourCamNet(torch.nn.Module):
    """timm-style: the feature map's channel k marks the pixels of colour k (pooled to ``pool``)."""

    def __init__(self, weight: torch.Tensor, pool: int = 1) -> None:
        super().__init__()
        k = weight.shape[0]
        self.colours = torch.tensor(COLOURS[:k], dtype=torch.float32) / 255.0
        self.pool = pool
        self.fc = torch.nn.Linear(k, k)
        with torch.no_grad():
            self.fc.weight.copy_(weight)
            self.fc.bias.zero_()

    def forward_features(self, x):
        maps = [((x - c.view(1, 3, 1, 1)).abs() < 0.02).all(dim=1).float() for c in self.colours]
        f = torch.stack(maps, dim=1)
        return F.avg_pool2d(f, self.pool) if self.pool > 1 else f

    def get_classifier(self):
        return self.fc

    def forward(self, x):
        return self.fc(self.forward_features(x).mean(dim=(2, 3)))


def _run(model, images, labels, masks):
    cp = ClassPxap(model, labels, lambda i: {k: masks[i, k] for k in np.nonzero(labels[i])[0]})
    predict(model, images, batch_size=5, outputs=("logits",), hooks={"cam": cp.hook})
    return cp.metric("t")


def test_perfect_class_cams_give_100():
    images, labels, masks = scene(7)
    m = _run(ColourCamNet(torch.eye(4)), images, labels, masks)
    assert m["value"] == pytest.approx(100.0) and m["ci_low"] is None
    assert m["n"] == int((labels.sum(axis=0) > 0).sum())


def test_matches_an_independent_per_class_ap():
    images, labels, masks = scene(8)
    torch.manual_seed(0)
    model = ColourCamNet(torch.randn(4, 4), pool=3)
    got = _run(model, images, labels, masks)["value"]
    aps = []
    for k in range(4):
        scores, truth = [], []
        for i in np.nonzero(labels[:, k])[0]:
            x = torch.from_numpy(images[i : i + 1].astype(np.float32) / 255.0).permute(0, 3, 1, 2)
            with torch.no_grad():
                cam = torch.einsum("c,chw->hw", model.fc.weight[k], model.forward_features(x)[0])
                up = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bicubic", align_corners=False)
            c = up[0, 0].numpy().astype(np.float32)
            c = c - c.min()
            c = c / c.max() if c.max() > 0 else np.zeros_like(c)
            scores.append(np.minimum(np.floor(c.ravel() * 1000), 1000))  # the 0.001 bins; 1.0 -> [1, 2)
            truth.append(masks[i, k].ravel())
        if truth and np.concatenate(truth).any():
            aps.append(100 * average_precision_score(np.concatenate(truth), np.concatenate(scores)))
    assert got == pytest.approx(np.mean(aps), rel=1e-6)


def test_cam_support_and_mask_resizing():
    assert supports_cam(ColourCamNet(torch.eye(4)))
    assert not supports_cam(torch.nn.Linear(3, 2))
    m = np.zeros((4, 6), bool)
    m[:2, :3] = True
    r = resize_masks({2: m}, (8, 12))[2]
    assert r.shape == (8, 12) and r[:4, :6].all() and not r[4:].any() and not r[:, 6:].any()


def test_coco_suite_reports_mpxap(tmp_path, monkeypatch):
    from luab_bench.suites.coco import CocoSuite

    pytest.importorskip("pycocotools")  # the fixture's polygons are exact under pycocotools' rasteriser
    _coco_two_classes(tmp_path)
    monkeypatch.setattr(
        "luab_bench.suites.image_files.default_data_config",
        lambda m: {"input_size": (3, 30, 40), "mean": (0, 0, 0), "std": (1, 1, 1)},
    )
    res = CocoSuite().evaluate(ColourCamNet(torch.eye(2)), dataset_dir=tmp_path, n_boot=20).metrics
    assert res["coco_mpxap"]["value"] == pytest.approx(100.0) and res["coco_mpxap"]["n"] == 2
    assert "Table 5" in res["coco_mpxap"]["task"]


def test_class_count_mismatch_is_a_clear_error():
    from luab_bench.errors import LuabError

    images, labels, masks = scene(9)
    with pytest.raises(LuabError, match="num_classes=4"):
        _run(ColourCamNet(torch.eye(3)), images, labels, masks)
