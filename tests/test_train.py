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
    return base.model_copy(update={"epochs": 2, "batch_size": 16, "image_size": 32, "lr": 0.05, **update})


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
