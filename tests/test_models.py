"""LuabNet: features -> classifier equals the timm backbone, point head shapes, name errors."""

from __future__ import annotations

import pytest
import torch

from luab_bench.errors import LuabError
from luab_bench.models import MODELS, LuabNet, ModelOutput, check_model_name, create_model


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.mark.parametrize(
    ("name", "kwargs", "size"),
    [
        ("resnet10t", {}, 32),
        ("test_vit", {"img_size": 32}, 32),
        ("vit_tiny_patch16_224", {"img_size": 32}, 32),
    ],
)
def test_logits_equal_backbone_forward(name: str, kwargs: dict, size: int) -> None:
    net = create_model(name, 7, num_point_heads=1, **kwargs).eval()
    x = torch.randn(3, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = net(x)
        ref = net.backbone(x)
    assert isinstance(out, ModelOutput)
    assert out._fields == ("logits", "points", "features")
    assert out.logits.shape == (3, 7)
    assert out.features.shape == (3, net.num_features)
    assert out.points is not None and out.points.shape == (3, 1, 2)
    torch.testing.assert_close(out.logits, ref, rtol=1e-5, atol=1e-5)
    # the point head reads the same features: recompute it by hand
    assert net.point_head is not None
    manual = (out.features @ net.point_head.fc.weight.T + net.point_head.fc.bias).view(3, 1, 2)
    torch.testing.assert_close(out.points, manual)


def test_no_point_head_when_zero() -> None:
    net = create_model("resnet10t", 3, num_point_heads=0).eval()
    assert net.point_head is None
    with torch.no_grad():
        out = net(torch.zeros(2, 3, 32, 32))
    assert out.points is None
    assert not any(k.startswith("point_head") for k in net.state_dict())


def test_multiple_point_heads_and_untrained_centre() -> None:
    net = create_model("resnet10t", 4, num_point_heads=4).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32))
    assert out.points is not None and out.points.shape == (2, 4, 2)
    # an untrained head predicts roughly the image centre (bias 0.5, small weights)
    assert (out.points - 0.5).abs().max() < 0.5


def test_init_seed_gives_same_backbone_across_point_heads() -> None:
    a = create_model("resnet10t", 3, num_point_heads=0, init_seed=5)
    torch.rand(100)  # global RNG use in between must not matter
    b = create_model("resnet10t", 3, num_point_heads=1, init_seed=5)
    c = create_model("resnet10t", 3, num_point_heads=0, init_seed=6)
    sa, sb, sc = a.backbone.state_dict(), b.backbone.state_dict(), c.backbone.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_input_normalisation_from_timm_cfg() -> None:
    net = create_model("resnet10t", 3, num_point_heads=0)
    assert net.input_mean == pytest.approx((0.485, 0.456, 0.406))
    assert net.input_std == pytest.approx((0.229, 0.224, 0.225))


def test_unknown_model_did_you_mean() -> None:
    with pytest.raises(LuabError, match=r"unknown model 'resnet10'; did you mean 'resnet10t'\?"):
        create_model("resnet10", 3, num_point_heads=0)
    with pytest.raises(LuabError, match="unknown model"):
        check_model_name("no_such_model_anywhere")


def resnet_factory(num_classes: int, pretrained: bool = False) -> torch.nn.Module:
    """A submission-style ``module:callable`` factory (used by name below)."""
    import timm

    return timm.create_model("resnet10t", num_classes=num_classes, pretrained=pretrained)


def test_factory_spec_and_registry() -> None:
    from luab_bench.code_trust import UntrustedCodeError, allow_code

    with pytest.raises(UntrustedCodeError, match="--allow-code"):  # importing code needs the opt-in
        create_model(f"{__name__}:resnet_factory", 5, num_point_heads=1)
    with allow_code():
        net = create_model(f"{__name__}:resnet_factory", 5, num_point_heads=1)
    assert isinstance(net, LuabNet) and net.num_classes == 5 and net.num_point_heads == 1
    assert net.model_name == f"{__name__}:resnet_factory"

    MODELS.register("tiny_registered_net")(resnet_factory)
    check_model_name("tiny_registered_net")
    assert create_model("tiny_registered_net", 4, num_point_heads=0).num_classes == 4

    with allow_code(), pytest.raises(LuabError, match="cannot import"):
        create_model("no_such_pkg_xyz.mod:fn", 3, num_point_heads=0)
    with allow_code(), pytest.raises(LuabError, match="has no attribute"):
        create_model("luab_bench.models:nope", 3, num_point_heads=0)
    with pytest.raises(LuabError, match=r"package\.module:callable"):
        check_model_name(":fn")


def test_backbone_without_timm_interface_is_rejected() -> None:
    with pytest.raises(LuabError, match="forward_features"):
        LuabNet(torch.nn.Linear(3, 3), num_point_heads=0, name="linear")
