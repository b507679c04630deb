"""COCO-style multi-label families: BCE, one point head per class, mean smooth-L1 over present classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from luab_bench.errors import DataError, LuabError
from luab_bench.models import ModelOutput, create_model
from luab_bench.protocols.base import load_protocol, load_recipe
from luab_bench.train.data import TrainData
from luab_bench.train.loop import train


def test_coco_protocols_load() -> None:
    assert load_protocol("coco_baseline").num_point_heads(80) == 0
    assert load_protocol("coco_luab").num_point_heads(80) == 80
    assert load_protocol("coco_rand").config.target == "uniform_random"


def test_loss_matches_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    b, k = 5, 4
    logits = torch.randn((b, k), generator=g)
    labels = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1]])
    preds = torch.rand((b, k, 2), generator=g) * 3 - 1  # some errors beyond beta: both smooth-L1 branches
    targets = torch.rand((b, k, 2), generator=g)
    has = torch.rand((b, k), generator=g) > 0.3
    out = ModelOutput(logits, preds, torch.zeros(b, 1))
    proto = load_protocol("coco_luab")
    total, terms = proto.loss(out, labels, targets, has)

    probs = torch.sigmoid(logits).numpy().ravel()
    want_bce = log_loss(labels.numpy().ravel(), probs, labels=[0, 1])  # independent BCE
    assert float(terms["ce"]) == pytest.approx(want_bce, rel=1e-5)
    vals, per_image = [], []  # LUAB §4.2: per image, the mean over its present classes with a Z_c
    for i in range(b):
        mine = []
        for c in range(k):
            if labels[i, c] == 1 and has[i, c]:
                d = (preds[i, c] - targets[i, c]).abs().numpy()
                mine.append(np.mean(np.where(d < 1.0, 0.5 * d**2, d - 0.5)))
        vals += mine
        if mine:
            per_image.append(np.mean(mine))
    assert len(per_image) >= 2 and len(vals) > len(per_image), "need images with several classes"
    assert proto.config.point_reduction == "per_image" and proto.config.version == "1.1"
    assert float(terms["point"]) == pytest.approx(np.mean(per_image), rel=1e-5)
    assert float(total) == pytest.approx(want_bce + proto.config.loss_weight * np.mean(per_image), rel=1e-5)
    # v1.0's pooled reduction (the value when the key is absent): one mean over all slots
    cfg = {k_: v for k_, v in proto.config.model_dump().items() if k_ != "point_reduction"}
    pooled = type(proto)(type(proto.config).model_validate(cfg))
    assert pooled.config.point_reduction == "pooled"
    assert float(pooled.loss(out, labels, targets, has)[1]["point"]) == pytest.approx(np.mean(vals), rel=1e-5)
    # absent classes never contribute, even if they carry a (bogus) point
    has_all = torch.ones((b, k), dtype=torch.bool)
    _, t2 = proto.loss(out, labels, targets, has_all & (labels > 0) | (labels == 0))
    _, t3 = proto.loss(out, labels, targets, has_all)
    assert float(t2["point"]) == float(t3["point"])


def test_wrong_labels_and_heads_are_errors() -> None:
    proto = load_protocol("coco_luab")
    out = ModelOutput(torch.zeros(2, 3), torch.zeros(2, 1, 2), torch.zeros(2, 1))
    with pytest.raises(LuabError, match="needs 3 point head"):
        proto.loss(out, torch.zeros(2, 3), torch.zeros(2, 3, 2), torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(LuabError, match="multi-hot"):
        load_protocol("coco_baseline").loss(
            out, torch.tensor([0, 1]), torch.zeros(2, 0, 2), torch.zeros(2, 0)
        )
    with pytest.raises(DataError, match="multi-hot"):
        TrainData(np.zeros((2, 8, 8, 3), np.uint8), np.full((2, 3), 2), np.zeros((2, 3, 2), np.float32),
                  np.zeros((2, 3), bool))  # fmt: skip


def test_train_multilabel_luab_end_to_end() -> None:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, k = 24, 3
    labels = (rng.random((n, k)) < 0.5).astype(np.int64)
    images = rng.integers(0, 255, (n, 24, 24, 3)).astype(np.uint8)
    points = rng.random((n, k, 2)).astype(np.float32)
    data = TrainData(images, labels, points, labels.astype(bool))
    rec = load_recipe("synthetic").model_copy(update={"epochs": 2, "batch_size": 8, "image_size": 24})
    for name, heads in (("coco_luab", k), ("coco_baseline", 0)):
        net = create_model("resnet10t", k, num_point_heads=heads, init_seed=0)
        report = train(net, load_protocol(name), rec, data, seed=0)
        assert report.steps == 6 and all(np.isfinite(report.curves["total"]))
        assert (report.curves["point"][0] > 0) == (heads > 0)
    with pytest.raises(LuabError, match="multi-label training labels have 3 classes"):
        train(create_model("resnet10t", 4, num_point_heads=4), load_protocol("coco_luab"), rec, data, seed=0)
