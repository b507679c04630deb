"""Definitions pinned to the LUAB text (§4-5): Z_c default, Rand slots, per-image COCO term, reproduce."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from luab_bench.errors import ConfigError
from luab_bench.protocols.base import load_protocol
from luab_bench.protocols.multilabel import per_image_smooth_l1
from luab_bench.train.reproduce import legacy_source_options


def test_protocol_versions_and_values_follow_the_text():
    luab, rand = load_protocol("luab").config, load_protocol("rand").config
    assert luab.smooth_l1_beta == 1.0 and rand.smooth_l1_beta == 1.0  # Fast R-CNN smooth-l1 [29]
    assert rand.version == "1.1" and rand.random_slots == "every_sample"  # §5.1: for each image
    coco_luab, coco_rand = load_protocol("coco_luab").config, load_protocol("coco_rand").config
    assert coco_luab.version == coco_rand.version == "1.1"
    assert coco_luab.point_reduction == coco_rand.point_reduction == "per_image"  # §4.2
    assert coco_rand.random_slots == "every_sample"


def test_random_slots_only_for_rand(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text(
        "name: p\nversion: '1'\nfamily: point_regression\ndescription: d\ntarget: byproduct\n"
        "random_slots: every_sample\nloss_weight: 1\nsmooth_l1_beta: 1\n"
    )
    with pytest.raises(ConfigError, match="random_slots applies to target: uniform_random only"):
        load_protocol(bad)


def test_coco_rand_every_present_class_gets_a_point():
    proto = load_protocol("coco_rand")
    has = np.zeros((6, 4), bool)
    has[0, 1] = True
    t, m = proto.make_targets(np.zeros((6, 4, 2), np.float32), has, 0)
    assert m.all() and (t >= 0).all() and (t < 1).all()  # the loss keeps the present classes (labels)


def test_per_image_term_ignores_masked_slots_and_is_zero_without_any():
    pred = torch.rand(3, 4, 2, requires_grad=True)
    target = torch.full((3, 4, 2), float("nan"))
    target[0, 0] = 0.5
    mask = torch.zeros(3, 4, dtype=torch.bool)
    mask[0, 0] = True
    loss = per_image_smooth_l1(pred, target, mask, 1.0)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pred.grad).all()
    assert (pred.grad[1:] == 0).all() and (pred.grad[0, 1:] == 0).all()
    empty = per_image_smooth_l1(pred, target, torch.zeros_like(mask), 1.0)
    assert float(empty.detach()) == 0.0 and empty.requires_grad


def test_each_image_weighs_the_same_whatever_its_number_of_classes():
    pred = torch.zeros(2, 3, 2)
    target = torch.zeros(2, 3, 2)
    target[0, :, :] = 0.2  # image 0: three classes with error 0.2
    target[1, 0, :] = 0.6  # image 1: one class with error 0.6
    mask = torch.tensor([[True, True, True], [True, False, False]])
    got = float(per_image_smooth_l1(pred, target, mask, 1.0))
    assert got == pytest.approx((0.5 * 0.2**2 + 0.5 * 0.6**2) / 2)


def test_reproduce_passes_the_replay_mode_to_older_coco_results():
    assert legacy_source_options("synthetic-coco", {"options": {}}) == {"mode": "replay"}
    old_real = {"options": {"images": "x"}, "config": {"mode": "replay"}}
    assert legacy_source_options("coco-ab", old_real) == {"images": "x", "mode": "replay"}
    assert legacy_source_options("coco-ab", {"options": {"mode": "last_add"}}) == {"mode": "last_add"}
    assert legacy_source_options("imagenet-ab", {"options": {"click": "first"}}) == {"click": "first"}


def test_an_ingested_table_with_another_z_rule_is_refused(tmp_path):
    from luab_bench.data.point_table import default_table_dir, ingest_coco_ab
    from luab_bench.train.sources import prepare_source
    from test_train_sources import _coco, _request

    root, ab = _coco(tmp_path)
    req = _request(tmp_path, data_root=root)
    ingest_coco_ab(ab, default_table_dir(req.data_dir, "coco-ab"), mode="replay")  # the old default
    with pytest.raises(ConfigError, match=r"built with mode='replay'.*--mode last_add"):
        prepare_source("coco-ab", req)
    prep = prepare_source("coco-ab", _request(tmp_path, data_root=root, options={"mode": "replay"}))
    assert prep.meta["config"]["mode"] == "replay"


def test_point_heads_sit_on_the_penultimate_features_and_do_not_change_the_logits():
    from luab_bench.models import create_model

    torch.manual_seed(0)
    net = create_model("resnet10t", 5, num_point_heads=5).eval()  # COCO style: one head per class
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = net(x)
        net.point_head.fc.weight.add_(1.0)  # §5.1: the head is not used at inference
        b = net(x)
        feats = net.backbone.forward_head(net.backbone.forward_features(x), pre_logits=True)
    assert torch.equal(a.logits, b.logits) and not torch.equal(a.points, b.points)
    assert a.points.shape == (2, 5, 2) and torch.equal(a.features, feats)
