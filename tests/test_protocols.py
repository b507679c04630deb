"""Protocols: YAML loading/validation, targets (byproduct / Rand / none), the masked point loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from luab_bench.errors import ConfigError, DataError, LuabError
from luab_bench.models import ModelOutput
from luab_bench.protocols.base import (
    PROTOCOL_FAMILIES,
    PointRegressionProtocol,
    RecipeConfig,
    list_protocols,
    list_recipes,
    load_protocol,
    load_recipe,
    masked_smooth_l1,
)
from luab_bench.protocols.targets import uniform_random_targets


# ----------------------------------------------------------------------------- loading
def test_builtin_protocols_load() -> None:
    assert list_protocols() == [
        "baseline",
        "coco_baseline",
        "coco_luab",
        "coco_rand",
        "luab",
        "oracle_background",
        "oracle_point",
        "rand",
    ]
    base, luab, rand = (load_protocol(n) for n in ("baseline", "luab", "rand"))
    assert base.config.family == "plain" and base.num_point_heads(10) == 0
    assert luab.config.target == "byproduct" and luab.num_point_heads(10) == 1
    assert rand.config.target == "uniform_random" and rand.source == "rand"
    assert luab.config.loss_weight == rand.config.loss_weight  # same λ: they differ only in Z
    assert set(PROTOCOL_FAMILIES.names()) >= {"plain", "point_regression"}


def test_unknown_protocol_name_did_you_mean() -> None:
    with pytest.raises(LuabError, match=r"unknown protocol 'lub'; did you mean 'luab'\?"):
        load_protocol("lub")


def _write(tmp_path: Path, text: str, name: str = "p.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """name: mine
version: 2
family: point_regression
description: custom
target: byproduct
loss_weight: 0.5
smooth_l1_beta: 0.1
"""


def test_user_yaml_loads_and_is_reloadable_by_source(tmp_path: Path) -> None:
    p = load_protocol(_write(tmp_path, GOOD))
    assert isinstance(p, PointRegressionProtocol)
    assert p.config.version == "2" and p.config.loss_weight == 0.5
    again = load_protocol(p.source)
    assert again.config == p.config


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (GOOD + "lamda: 1\n", r"p\.yaml: lamda: unknown key"),
        (GOOD.replace("target: byproduct", "target: clicks"), r"p\.yaml: target"),
        (GOOD.replace("loss_weight: 0.5", "loss_weight: -1"), r"p\.yaml: loss_weight"),
        (
            GOOD.replace("family: point_regression", "family: point_regresion"),
            r"did you mean 'point_regression'",
        ),
        (GOOD.replace("family: point_regression\n", ""), r"p\.yaml: family: missing"),
        ("- a\n- b\n", r"p\.yaml: a protocol file must be a mapping"),
        ("name: [unclosed\n", r"p\.yaml: not valid YAML"),
        ("name: b\nversion: 1\nfamily: plain\ndescription: x\ntarget: byproduct\n", r"target: unknown key"),
    ],
)
def test_bad_protocol_yaml_names_file_and_key(tmp_path: Path, text: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_protocol(_write(tmp_path, text))


def test_missing_protocol_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_protocol(tmp_path / "nope.yaml")


def test_recipes() -> None:
    assert "synthetic" in list_recipes()
    r = load_recipe("synthetic")
    assert isinstance(r, RecipeConfig)
    assert r.batch_size == 128 and r.image_size == 64 and 1 <= r.epochs <= 8
    with pytest.raises(LuabError, match="did you mean 'synthetic'"):
        load_recipe("synthetc")


def test_bad_recipe(tmp_path: Path) -> None:
    text = Path(load_recipe.__globals__["RECIPE_DIR"] / "synthetic.yaml").read_text()
    with pytest.raises(ConfigError, match=r"r\.yaml: augmentation\.rrc_scale"):
        bad = text.replace("rrc_scale: [0.7, 1.0]", "rrc_scale: [0.9, 0.2]")
        load_recipe(_write(tmp_path, bad, "r.yaml"))
    with pytest.raises(ConfigError, match=r"r\.yaml: optimizer"):
        load_recipe(_write(tmp_path, text.replace("optimizer: adamw", "optimizer: lion"), "r.yaml"))
    with pytest.raises(ConfigError, match=r"r\.yaml: epochz: unknown key"):
        load_recipe(_write(tmp_path, text + "epochz: 3\n", "r.yaml"))


# ----------------------------------------------------------------------------- targets
def _pts(n: int, p: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, p, 2), dtype=np.float32), rng.random((n, p)) < 0.7


def test_baseline_targets_are_empty() -> None:
    pts, has = _pts(5)
    t, m = load_protocol("baseline").make_targets(pts, has, 0)
    assert t.shape == (5, 0, 2) and m.shape == (5, 0)


def test_luab_targets_are_the_byproducts() -> None:
    pts, has = _pts(50)
    t, m = load_protocol("luab").make_targets(pts, has, 3)
    np.testing.assert_array_equal(m, has)
    np.testing.assert_array_equal(t[has], pts[has])
    assert (t[~has] == 0).all()
    t2, _ = load_protocol("luab").make_targets(t, m, 99)  # idempotent
    np.testing.assert_array_equal(t2, t)


def _protocol_with(protocol, **changes):
    """The same protocol family with some config values changed (validated again)."""
    cfg = protocol.config.model_dump()
    cfg.update(changes)
    return type(protocol)(type(protocol.config).model_validate(cfg))


def test_rand_targets_deterministic_same_mask_and_prefix_stable() -> None:
    pts, has = _pts(200)
    rand = load_protocol("rand")
    a, ma = rand.make_targets(pts, has, 7)
    b, _ = rand.make_targets(pts * 0, has, 7)  # the byproduct values do not matter
    c, _ = rand.make_targets(pts, has, 8)
    np.testing.assert_array_equal(a, b)
    assert ma.all()  # v1.1: a random Z for each image (LUAB §5.1), with or without a byproduct
    legacy = _protocol_with(rand, random_slots="with_byproduct")
    _, mb = legacy.make_targets(pts, has, 7)
    np.testing.assert_array_equal(mb, has)  # v1.0: exactly the samples that have a Z
    assert not np.array_equal(a[has], c[has])
    assert not np.allclose(a[has], pts[has])
    # fixed per sample index: a shuffled/shorter view of the data gets the same first rows
    short, _ = uniform_random_targets(np.ones((50, 1), bool), 7)
    full, _ = uniform_random_targets(np.ones((200, 1), bool), 7)
    np.testing.assert_array_equal(short, full[:50])


def test_rand_targets_uniform() -> None:
    t, _ = uniform_random_targets(np.ones((4000, 1), bool), 0)
    for k in range(2):
        res = stats.kstest(t[:, 0, k], "uniform")
        assert res.pvalue > 1e-3
    assert t.min() >= 0 and t.max() < 1
    assert abs(np.corrcoef(t[:, 0, 0], t[:, 0, 1])[0, 1]) < 0.1


def test_target_shape_errors() -> None:
    with pytest.raises(DataError, match=r"\(N, P, 2\)"):
        load_protocol("luab").make_targets(np.zeros((3, 2)), np.ones((3, 1), bool), 0)
    with pytest.raises(DataError, match="has_point"):
        load_protocol("rand").make_targets(np.zeros((3, 1, 2)), np.ones((3, 2), bool), 0)


# ----------------------------------------------------------------------------- loss
def _out(b: int, k: int = 4, p: int = 1, seed: int = 0) -> ModelOutput:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(b, k, generator=g, requires_grad=True)
    points = torch.rand(b, p, 2, generator=g, requires_grad=True)
    return ModelOutput(logits, points, torch.zeros(b, 3))


def test_point_loss_matches_independent_computation() -> None:
    out = _out(6)
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    target = torch.rand(6, 1, 2, generator=torch.Generator().manual_seed(1)) * 1.5 - 0.25
    mask = torch.tensor([[True], [False], [True], [True], [False], [True]])
    proto = load_protocol("luab")
    loss, terms = proto.loss(out, labels, target, mask)
    # independent: plain python smooth-L1 with beta over the kept samples, mean over coords
    beta = proto.config.smooth_l1_beta
    vals = []
    for i in range(6):
        if mask[i, 0]:
            for c in range(2):
                d = abs(float(out.points[i, 0, c].detach()) - float(target[i, 0, c]))
                vals.append(0.5 * d * d / beta if d < beta else d - 0.5 * beta)
    point = sum(vals) / len(vals)
    ce = F.cross_entropy(out.logits, labels)
    assert float(terms["point"]) == pytest.approx(point, rel=1e-5)
    assert float(terms["ce"]) == pytest.approx(float(ce.detach()), rel=1e-6)
    assert float(loss.detach()) == pytest.approx(
        float(ce.detach()) + proto.config.loss_weight * point, rel=1e-5
    )


def test_masked_sample_contributes_no_value_or_gradient() -> None:
    out = _out(4)
    labels = torch.tensor([0, 1, 2, 3])
    target = torch.rand(4, 1, 2)
    target[2] = float("nan")  # whatever a masked slot holds
    mask = torch.tensor([[True], [True], [False], [True]])
    loss, _ = load_protocol("luab").loss(out, labels, target, mask)
    loss.backward()
    assert torch.isfinite(loss)
    assert out.points.grad is not None
    assert (out.points.grad[2] == 0).all()
    assert (out.points.grad[[0, 1, 3]] != 0).any()
    # changing the masked target changes nothing
    out2 = _out(4)
    target2 = target.clone()
    target2[2] = 123.0
    loss2, _ = load_protocol("luab").loss(out2, labels, target2, mask)
    assert float(loss2.detach()) == float(loss.detach())


def test_all_masked_batch_is_exactly_ce() -> None:
    out = _out(5)
    labels = torch.tensor([0, 1, 2, 3, 0])
    target = torch.full((5, 1, 2), float("nan"))
    loss, terms = load_protocol("rand").loss(out, labels, target, torch.zeros(5, 1, dtype=torch.bool))
    ce = F.cross_entropy(out.logits, labels)
    assert torch.equal(loss, ce)
    assert float(terms["point"]) == 0.0
    loss.backward()
    assert out.points.grad is None or (out.points.grad == 0).all()


def test_baseline_loss_is_ce_and_point_protocol_needs_head() -> None:
    out = _out(3)
    labels = torch.tensor([1, 2, 3])
    loss, _ = load_protocol("baseline").loss(
        out._replace(points=None), labels, torch.zeros(3, 0, 2), torch.zeros(3, 0, dtype=torch.bool)
    )
    assert torch.equal(loss, F.cross_entropy(out.logits, labels))
    with pytest.raises(LuabError, match="num_point_heads=1"):
        load_protocol("luab").loss(
            out._replace(points=None), labels, torch.zeros(3, 1, 2), torch.ones(3, 1, dtype=torch.bool)
        )


@settings(max_examples=40, deadline=None)
@given(
    b=st.integers(1, 6),
    p=st.integers(1, 3),
    beta=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**16),
)
def test_masked_smooth_l1_equals_loss_on_selected_rows(b: int, p: int, beta: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    pred = torch.rand(b, p, 2, generator=g) * 2 - 0.5
    target = torch.rand(b, p, 2, generator=g)
    mask = torch.rand(b, p, generator=g) < 0.5
    got = masked_smooth_l1(pred, target, mask, beta)
    if mask.any():
        want = F.smooth_l1_loss(pred[mask], target[mask], beta=beta)
        torch.testing.assert_close(got, want)
    else:
        assert float(got) == 0.0
