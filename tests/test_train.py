"""Training data iterator, LR schedule, the training loop (determinism, learning), checkpoints."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from luab_bench.errors import DataError, LuabError
from luab_bench.models import create_model
from luab_bench.protocols.base import load_protocol, load_recipe
from luab_bench.train.checkpoint import load_checkpoint, save_checkpoint
from luab_bench.train.data import TrainData, epoch_order, iter_batches, num_batches
from luab_bench.train.loop import lr_at, train


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def toy_data(n: int = 64, size: int = 32, seed: int = 0) -> TrainData:
    """Two easily separable classes (dark vs bright images); Z on the bright quadrant for 3/4 of them."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 2).astype(np.int64)
    images = rng.integers(0, 60, (n, size, size, 3)).astype(np.uint8)
    images[labels == 1] += 150
    points = np.tile(np.array([[0.25, 0.25]], np.float32), (n, 1, 1))
    has_point = (np.arange(n) % 4 != 0)[:, None]
    return TrainData(images, labels, points, has_point)


def tiny_recipe(**update: object):
    base = load_recipe("synthetic")
    # SGD pinned: these tests were written for it and must not change with the synthetic recipe
    sgd = {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 5e-4}
    return base.model_copy(
        update={"epochs": 2, "batch_size": 16, "image_size": 32, "lr": 0.05, **sgd, **update}
    )


# ----------------------------------------------------------------------------- data
def test_train_data_validation() -> None:
    d = toy_data(8)
    with pytest.raises(DataError, match="uint8"):
        TrainData(d.images.astype(np.float32), d.labels, d.points, d.has_point)
    with pytest.raises(DataError, match="labels"):
        TrainData(d.images, d.labels[:5], d.points, d.has_point)
    with pytest.raises(DataError, match="has_point"):
        TrainData(d.images, d.labels, d.points, d.has_point.astype(np.int64))
    with pytest.raises(DataError, match=r"\(8, P, 2\)"):
        TrainData(d.images, d.labels, d.points[:, :, :1], d.has_point)


def test_epoch_order_is_a_seeded_permutation() -> None:
    a, b, c = epoch_order(50, 1, 0), epoch_order(50, 1, 0), epoch_order(50, 1, 1)
    assert sorted(a.tolist()) == list(range(50))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a, epoch_order(50, 2, 0))
    assert num_batches(33, 16) == 2 and num_batches(34, 16) == 3 and num_batches(32, 16) == 2


def test_iter_batches_normalises_and_keeps_labels_aligned() -> None:
    d = toy_data(20, size=16)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    batches = list(
        iter_batches(d, batch_size=8, seed=3, epoch=0, out_size=16, augmentation=None, mean=mean, std=std)
    )
    assert [b.labels.shape[0] for b in batches] == [8, 8, 4]
    order = epoch_order(20, 3, 0)
    x = batches[0].images
    for j in range(8):
        i = order[j]
        assert int(batches[0].labels[j]) == int(d.labels[i])
        want = (
            torch.from_numpy(d.images[i]).permute(2, 0, 1).float() / 255 - torch.tensor(mean)[:, None, None]
        ) / torch.tensor(std)[:, None, None]
        torch.testing.assert_close(x[j], want)
        assert bool(batches[0].has_point[j, 0]) == bool(d.has_point[i, 0])


def test_iter_batches_augmented_is_deterministic() -> None:
    d = toy_data(20, size=16)
    aug = load_recipe("synthetic").augmentation
    kw = dict(batch_size=8, seed=3, epoch=2, out_size=12, augmentation=aug, mean=(0, 0, 0), std=(1, 1, 1))
    a, b = list(iter_batches(d, **kw)), list(iter_batches(d, **kw))
    for x, y in zip(a, b, strict=True):
        assert all(torch.equal(u, v) for u, v in zip(x, y, strict=True))
    assert a[0].images.shape == (8, 3, 12, 12)
    assert not (a[0].has_point & ~a[0].has_point_before_aug).any()  # augmentation only removes targets


# ----------------------------------------------------------------------------- schedule
def test_lr_schedule_warmup_cosine_and_step() -> None:
    r = tiny_recipe(epochs=4, warmup_epochs=1, lr=0.1)
    spe = 10
    lrs = [lr_at(r, s, spe) for s in range(40)]
    assert lrs[0] == pytest.approx(0.001)
    assert all(a < b for a, b in itertools.pairwise(lrs[:11]))  # warm-up rises
    assert lrs[10] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))  # cosine falls
    assert lrs[39] == pytest.approx(0.05 * (1 + np.cos(np.pi * 29 / 30)))
    s = tiny_recipe(epochs=6, warmup_epochs=0, lr=0.1, schedule="step", step_epochs=2, step_gamma=0.5)
    assert [lr_at(s, e * 10, 10) for e in range(6)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.025])
    one = tiny_recipe(epochs=1, warmup_epochs=3)  # warm-up longer than the run is capped, not an error
    assert lr_at(one, 0, 10) == pytest.approx(one.lr)


# ----------------------------------------------------------------------------- training
def _run(protocol: str, seed: int, data: TrainData, recipe=None):
    proto = load_protocol(protocol)
    net = create_model("resnet10t", 2, num_point_heads=proto.num_point_heads(2), init_seed=seed)
    report = train(net, proto, recipe or tiny_recipe(), data, seed=seed)
    return net, report


def test_training_is_deterministic_for_a_seed() -> None:
    data = toy_data()
    net_a, rep_a = _run("luab", 0, data)
    net_b, rep_b = _run("luab", 0, data)
    _, rep_c = _run("luab", 1, data)
    for k in ("ce", "point", "total", "train_top1", "point_in_view"):
        assert rep_a.curves[k] == rep_b.curves[k], k
    sa, sb = net_a.state_dict(), net_b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert rep_a.curves["total"] != rep_c.curves["total"]
    assert rep_a.steps == 2 * 4 and rep_a.samples_seen == 2 * 64 and rep_a.deterministic
    json.dumps(dataclasses.asdict(rep_a), allow_nan=False)  # JSON-ready


def test_loss_decreases_on_separable_toy_set() -> None:
    data = toy_data()
    seen: list[int] = []
    proto = load_protocol("rand")
    net = create_model("resnet10t", 2, num_point_heads=1)
    rep = train(net, proto, tiny_recipe(epochs=3), data, seed=0, on_epoch_end=lambda e, s: seen.append(e))
    assert seen == [0, 1, 2]
    assert rep.curves["ce"][-1] < rep.curves["ce"][0]
    assert rep.curves["train_top1"][-1] >= 90.0
    assert 0 < rep.curves["point_in_view"][0] <= 100
    assert not net.training  # left in eval mode
    assert torch.are_deterministic_algorithms_enabled() is False  # global flag restored


def test_baseline_curves_and_head_mismatch() -> None:
    data = toy_data(32)
    _, rep = _run("baseline", 0, data, tiny_recipe(epochs=1))
    assert rep.curves["point"] == [0.0] and "point_in_view" not in rep.curves
    net = create_model("resnet10t", 2, num_point_heads=0)
    with pytest.raises(LuabError, match="needs 1 point head"):
        train(net, load_protocol("luab"), tiny_recipe(), data, seed=0)
    with pytest.raises(LuabError, match="labels go up to"):
        train(
            create_model("resnet10t", 1, num_point_heads=0),
            load_protocol("baseline"),
            tiny_recipe(),
            data,
            seed=0,
        )


def test_adamw_and_progress() -> None:
    class Prog:
        def __init__(self) -> None:
            self.advanced = 0

        def add_task(self, description: str, total: float | None = None) -> int:
            self.total = total
            return 1

        def advance(self, task: int, advance: float = 1) -> None:
            self.advanced += 1

        def update(self, task: int, **kw: object) -> None:
            pass

    prog = Prog()
    net = create_model("resnet10t", 2, num_point_heads=1)
    rep = train(
        net,
        load_protocol("luab"),
        tiny_recipe(epochs=1, optimizer="adamw", lr=1e-3),
        toy_data(32),
        seed=0,
        progress=prog,
    )
    assert prog.total == rep.steps == prog.advanced == 2


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip(tmp_path: Path) -> None:
    net, rep = _run("luab", 0, toy_data(32), tiny_recipe(epochs=1))
    meta = {
        "seed": 0,
        "protocol": load_protocol("luab").config.model_dump(mode="json"),
        "training": dataclasses.asdict(rep),
        "model": {"extra": 1},
    }
    save_checkpoint(tmp_path / "ck", net, meta)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["checkpoint.json", "model.safetensors"]
    net2, meta2 = load_checkpoint(tmp_path / "ck", "cpu")
    x = torch.randn(3, 3, 32, 32)
    net.eval()
    with torch.no_grad():
        a, b = net(x), net2(x)
    assert torch.equal(a.logits, b.logits) and torch.equal(a.points, b.points)
    assert meta2["model"]["name"] == "resnet10t" and meta2["model"]["num_point_heads"] == 1
    assert meta2["model"]["extra"] == 1 and meta2["seed"] == 0
    assert meta2["training"]["curves"] == json.loads(json.dumps(dataclasses.asdict(rep)))["curves"]
    assert not net2.training


def test_checkpoint_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_checkpoint(tmp_path / "none")
    net = create_model("resnet10t", 2, num_point_heads=0)
    d = save_checkpoint(tmp_path / "ck", net, {"seed": 1})
    weights, meta_path = d / "model.safetensors", d / "checkpoint.json"
    blob = weights.read_bytes()
    weights.write_bytes(blob[:-10] + b"0123456789")
    with pytest.raises(DataError, match="SHA-256"):
        load_checkpoint(d)
    weights.unlink()
    with pytest.raises(DataError, match=r"model\.safetensors: missing"):
        load_checkpoint(d)
    weights.write_bytes(blob)
    load_checkpoint(d)
    meta_path.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_checkpoint(d)
    meta_path.unlink()
    with pytest.raises(DataError, match=r"checkpoint\.json: missing"):
        load_checkpoint(d)
    with pytest.raises(ValueError):
        save_checkpoint(tmp_path / "nan", net, {"x": float("nan")})
    assert not (tmp_path / "nan").exists()


# ----------------------------------------------------------------------------- DeiT extras (issue 6)
def test_label_smoothing_equals_torch_and_timm_soft_targets() -> None:
    import torch.nn.functional as F
    from timm.data.mixup import mixup_target
    from timm.loss import SoftTargetCrossEntropy

    from luab_bench.models import ModelOutput
    from luab_bench.train.mixing import MixedBatch, MixTargets, mixed_loss
    from luab_bench.train.smoothing import smooth_cross_entropy

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, generator=g, requires_grad=True)
    pts = torch.rand(6, 1, 2, generator=g)
    out = ModelOutput(logits, pts.clone().requires_grad_(True), torch.zeros(6, 4))
    y = torch.tensor([0, 1, 2, 3, 4, 0])
    target_pts = torch.rand(6, 1, 2, generator=g)
    has = torch.tensor([[True], [False], [True], [True], [False], [True]])
    luab = load_protocol("luab")
    loss, terms = luab.loss(out, y, target_pts, has)
    s_loss, s_terms = smooth_cross_entropy(loss, terms, out, [(y, 1.0)], 0.1)
    want_ce = F.cross_entropy(logits, y, label_smoothing=0.1)
    torch.testing.assert_close(s_terms["ce"], want_ce.detach())
    torch.testing.assert_close(s_loss, want_ce + luab.config.loss_weight * terms["point"])
    assert torch.equal(s_terms["point"], terms["point"])  # Z untouched
    # with mixup, = timm's SoftTargetCrossEntropy on mixup_target(..., smoothing) (its partner = flip)
    lam = 0.3
    mixed = MixedBatch(
        torch.zeros(6, 3, 2, 2), MixTargets(y, target_pts, has),
        MixTargets(y.flip(0), target_pts.flip(0), has.flip(0)), lam, "mixup", None,
    )  # fmt: skip
    base = load_protocol("baseline")
    m_loss, m_terms = mixed_loss(base, out, mixed)
    s_loss, _ = smooth_cross_entropy(m_loss, m_terms, out, [(y, lam), (y.flip(0), 1 - lam)], 0.1)
    soft = mixup_target(y, 5, lam=lam, smoothing=0.1)
    torch.testing.assert_close(s_loss, SoftTargetCrossEntropy()(logits, soft))
    assert smooth_cross_entropy(loss, terms, out, [(y, 1.0)], 0.0)[0] is loss


def test_label_smoothing_refuses_a_non_softmax_ce_protocol() -> None:
    from luab_bench.models import ModelOutput
    from luab_bench.train.smoothing import smooth_cross_entropy

    logits = torch.randn(4, 3)
    out = ModelOutput(logits, None, torch.zeros(4, 2))
    y = torch.tensor([0, 1, 2, 0])
    with pytest.raises(LuabError, match="label_smoothing"):
        smooth_cross_entropy(logits.sum(), {"ce": torch.tensor(123.0)}, out, [(y, 1.0)], 0.1)
    multi = TrainData(
        np.zeros((4, 8, 8, 3), np.uint8), np.eye(3, dtype=np.int64)[[0, 1, 2, 0]],
        np.zeros((4, 0, 2), np.float32), np.zeros((4, 0), bool),
    )  # fmt: skip
    net = create_model("resnet10t", 3, num_point_heads=0, init_seed=0)
    with pytest.raises(LuabError, match="multi-label"):
        train(net, load_protocol("coco_baseline"), tiny_recipe(label_smoothing=0.1), multi, seed=0)


def test_repeated_augmentation_order() -> None:
    base = epoch_order(10, 7, 2)
    rep = epoch_order(10, 7, 2, repeats=3)
    assert rep.tolist() == np.repeat(base, 3)[:10].tolist()
    assert len(set(rep.tolist())) == 4  # ceil(10 / 3) distinct images, each up to 3 times


def test_deit_recipes_carry_the_deit_augmentations() -> None:
    from luab_bench.protocols.base import list_recipes

    for name in ("deit_tiny", "deit_small", "deit_base"):
        r = load_recipe(name)
        assert r.rand_augment is not None and r.rand_augment.magnitude == 9
        assert r.rand_augment.magnitude_std == 0.5 and r.rand_augment.increasing
        assert r.random_erasing is not None and r.random_erasing.prob == 0.25
        assert r.label_smoothing == 0.1 and r.repeated_aug == 3 and r.drop_path_rate == 0.1
    for name in list_recipes():  # the older recipes stay valid and keep everything off
        r = load_recipe(name)
        if not name.startswith("deit"):
            assert r.rand_augment is None and r.random_erasing is None
            assert r.label_smoothing == 0 and r.repeated_aug == 1


def test_training_with_deit_augmentations_is_deterministic_and_resumable(tmp_path: Path) -> None:
    from luab_bench.protocols.base import RandAugmentConfig, RandomErasingConfig

    d = toy_data(48, size=24)
    recipe = tiny_recipe(
        image_size=24, rand_augment=RandAugmentConfig(prob=0.8), label_smoothing=0.1,
        random_erasing=RandomErasingConfig(prob=0.5), repeated_aug=2,
    )  # fmt: skip
    proto = load_protocol("luab")

    def run(**kw: object):
        net = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
        return net, train(net, proto, recipe, d, seed=1, **kw)

    net_a, rep_a = run()
    net_b, rep_b = run()
    assert rep_a.curves == {k: v for k, v in rep_b.curves.items() if k != "seconds"} | {
        "seconds": rep_a.curves["seconds"]
    }
    for p, q in zip(net_a.parameters(), net_b.parameters(), strict=True):
        assert torch.equal(p, q)
    # stop in step 5 (epoch 1, after its first batch; an epoch has 3 batches of 16) before its
    # state is written: the state of step 4 (mid-epoch) is resumed, with the same final weights
    net_c = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)

    class Stop(Exception):
        pass

    def stop(step: int) -> None:
        if step == 5:
            raise Stop

    with pytest.raises(Stop):
        train(
            net_c,
            proto,
            recipe,
            d,
            seed=1,
            checkpoint_dir=tmp_path,
            checkpoint_every_steps=1,
            on_step_end=stop,
        )
    net_c = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    rep_c = train(net_c, proto, recipe, d, seed=1, checkpoint_dir=tmp_path, resume=True)
    assert rep_c.resumed_at_step == 4
    for p, q in zip(net_a.parameters(), net_c.parameters(), strict=True):
        assert torch.equal(p, q)


def test_held_out_curves_match_brute_force() -> None:
    from luab_bench.metrics.classification import point_in_box
    from luab_bench.train.heldout import HeldOutSet, evaluate_held_out

    d = toy_data(40, size=24)
    val = toy_data(30, size=24, seed=5)
    boxes = np.tile(np.array([[0.0, 0.0, 0.5, 0.5]], np.float32), (30, 1))
    held = HeldOutSet.subset(val.images, val.labels, boxes, max_samples=20, seed=3)
    assert len(held) == 20 and len(HeldOutSet.subset(val.images, val.labels, max_samples=99)) == 30
    net = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    seen: list[dict[str, float]] = []
    rep = train(
        net, load_protocol("luab"), tiny_recipe(image_size=24), d, seed=0, held_out=held,
        on_epoch_end=lambda e, s: seen.append(dict(s)),
    )  # fmt: skip
    assert len(rep.curves["val_top1"]) == 2 and len(rep.curves["val_point_in_box"]) == 2
    assert seen[-1]["val_top1"] == rep.curves["val_top1"][-1]
    # brute force on the final model, one image at a time
    net.eval()
    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)
    hits = inside = 0
    with torch.no_grad():
        for i in range(len(held)):
            x = torch.from_numpy(held.images[i : i + 1]).permute(0, 3, 1, 2).float() / 255
            out = net((x - mean) / std)
            hits += int(out.logits.argmax(1).item() == held.labels[i])
            inside += bool(point_in_box(out.points[:, 0].numpy(), held.boxes[i : i + 1])[0])
    assert rep.curves["val_top1"][-1] == pytest.approx(100 * hits / len(held))
    assert rep.curves["val_point_in_box"][-1] == pytest.approx(100 * inside / len(held))
    again = evaluate_held_out(net, held, image_size=24, mean=net.input_mean, std=net.input_std)
    assert again["val_top1"] == rep.curves["val_top1"][-1]
    # turning the held-out evaluation on does not change training
    net2 = create_model("resnet10t", 2, num_point_heads=1, init_seed=0)
    train(net2, load_protocol("luab"), tiny_recipe(image_size=24), d, seed=0)
    for p, q in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(p, q)
    with pytest.raises(DataError, match="boxes"):
        HeldOutSet(val.images, val.labels, boxes[:3])


def test_points_in_class_boxes_hand_built() -> None:
    from luab_bench.suites.synthetic_coco import points_in_class_boxes as suite_version
    from luab_bench.train.heldout import points_in_class_boxes

    labels = np.array([[1, 1, 0], [0, 0, 1]], dtype=bool)
    points = np.array([[[0.2, 0.2], [0.9, 0.9], [0.5, 0.5]], [[0.0, 0.0], [0.0, 0.0], [0.5, 0.5]]])
    objects = np.array(
        [
            [0, 0, 0.1, 0.1, 0.2, 0.2],  # border inclusive: (0.2, 0.2) is inside
            [0, 1, 0.0, 0.0, 0.5, 0.5],  # class 1's point (0.9, 0.9) is outside this box …
            [0, 1, 0.8, 0.8, 1.0, 1.0],  # … but inside its second box
            [1, 0, 0.0, 0.0, 1.0, 1.0],  # image 1 class 2 has no box: a miss
        ]
    )
    got = points_in_class_boxes(points, labels, objects)
    assert got.tolist() == [True, True, False]
    assert got.tolist() == suite_version(points, labels, objects).tolist()  # the suite's definition


def test_held_out_subset_renumbers_objects_and_checks_shapes() -> None:
    from luab_bench.train.heldout import HeldOutSet

    images = np.arange(5)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3).astype(np.uint8)
    labels = np.eye(5, 3, dtype=bool)
    objects = np.array([[i, i % 3, 0, 0, 1, 1] for i in range(5)], dtype=np.float32)
    held = HeldOutSet.subset(images, labels, objects=objects, max_samples=3, seed=1)
    kept = held.images[:, 0, 0, 0].tolist()  # image i is filled with value i
    assert held.multilabel and kept == sorted(kept) and len(kept) == 3
    assert held.objects[:, 0].tolist() == [0, 1, 2]
    assert held.objects[:, 1].tolist() == [k % 3 for k in kept]
    with pytest.raises(DataError, match="no positive label"):
        HeldOutSet(images, np.zeros((5, 3), dtype=bool))
    with pytest.raises(DataError, match="objects"):
        HeldOutSet(images, labels, np.zeros((5, 4), np.float32))


def test_multilabel_held_out_curves_match_independent_computation() -> None:
    from sklearn.metrics import average_precision_score

    from luab_bench.train.heldout import HeldOutSet, evaluate_held_out, points_in_class_boxes

    rng = np.random.default_rng(0)
    n, k = 24, 3
    images = (rng.random((n, 24, 24, 3)) * 255).astype(np.uint8)
    labels = rng.random((n, k)) < 0.5
    labels[0] = True
    objects = np.array(
        [[i, c, 0.0, 0.0, 0.6, 0.6] for i, c in zip(*np.nonzero(labels), strict=True)], np.float32
    )
    held = HeldOutSet(images, labels, objects=objects)
    net = create_model("resnet10t", k, num_point_heads=k, init_seed=0)
    train_data = TrainData(images, labels, rng.random((n, k, 2)).astype(np.float32), labels.copy())
    rep = train(
        net, load_protocol("coco_luab"), tiny_recipe(image_size=24), train_data, seed=0, held_out=held
    )
    assert set(rep.curves) >= {"val_map", "val_point_in_box"} and "val_top1" not in rep.curves
    net.eval()
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (net.input_mean, net.input_std))
    with torch.no_grad():
        out = net((torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255 - mean) / std)
    present = labels.any(0)
    expected_map = 100 * average_precision_score(
        labels[:, present], out.logits.numpy()[:, present], average="macro"
    )
    assert rep.curves["val_map"][-1] == pytest.approx(expected_map, abs=1e-6)
    inside = points_in_class_boxes(out.points.numpy(), labels, objects)
    assert rep.curves["val_point_in_box"][-1] == pytest.approx(100 * inside.mean())
    again = evaluate_held_out(net, held, image_size=24, mean=net.input_mean, std=net.input_std, batch_size=5)
    assert again["val_map"] == pytest.approx(rep.curves["val_map"][-1], abs=1e-9)


def test_eval_resize_centre_crop_and_square() -> None:
    from luab_bench.train.heldout import HeldOutFiles, eval_resize

    img = np.zeros((100, 200, 3), dtype=np.uint8)
    img[:, 75:125] = 255  # the centre 100x50 band
    crop = eval_resize(img, 50, 0.5)  # shorter side 100 = size / crop_pct: no resize, centre crop
    assert crop.shape == (50, 50, 3) and (crop == 255).all()
    square = eval_resize(img, 20, None)  # the whole image squashed: the band is the middle quarter
    assert square.shape == (20, 20, 3) and square[:, 9:11].min() == 255 and square[:, :5].max() == 0

    class Reader:
        sizes = np.array([[100, 200]] * 3)

        def __len__(self) -> int:
            return 3

        def read(self, i: int) -> np.ndarray:
            return img // 2 + np.uint8(10 * i)  # the centre crop holds 127 + 10 i

        def describe(self, i: int) -> str:
            return f"img{i}"

    files = HeldOutFiles(Reader(), np.array([2, 0, 1]), max_samples=2, seed=0, crop_pct=0.5)
    said: list[str] = []
    held = files.load(50, said.append)
    assert held.images.shape == (2, 50, 50, 3) and len(said) == 1 and "2 images" in said[0]
    drawn = [(int(v) - 127) // 10 for v in held.images[:, 0, 0, 0]]
    assert drawn == sorted(drawn) and held.labels.tolist() == [[2, 0, 1][i] for i in drawn]
