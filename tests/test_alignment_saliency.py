"""Saliency methods: shapes, finiteness, determinism, a hand-checked GBP case, batched SGBP, ViT support."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from luab_bench.alignment.saliency import (
    SALIENCY_METHODS,
    _gbp_gradient,
    _input_gradient,
    compute_saliency,
    method_names,
    smoothgrad_noise,
)
from luab_bench.errors import LuabError
from luab_bench.models import LuabNet, create_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_cnn() -> LuabNet:
    return create_model("resnet10t", 3, num_point_heads=0, init_seed=0).eval()


def _batch(seed: int = 0, n: int = 2, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.tensor([0, 2][:n])


@pytest.mark.parametrize("method", ["gradient", "gbp", "gbp_x_image", "sgbp", "gradcam", "scorecam"])
def test_each_method_shape_finite_deterministic(tiny_cnn: LuabNet, method: str) -> None:
    x, t = _batch()
    kw = {"samples": 4} if method == "sgbp" else {}
    a = compute_saliency(method, tiny_cnn, x, t, seed=3, **kw)
    b = compute_saliency(method, tiny_cnn, x, t, seed=3, **kw)
    assert a.shape == (2, 32, 32)
    assert torch.isfinite(a).all() and (a >= 0).all()
    assert torch.equal(a, b)
    assert a.abs().sum() > 0
    # the model's ReLUs are restored after guided backprop
    assert all("forward" not in vars(m) for m in tiny_cnn.modules() if isinstance(m, nn.ReLU))


def test_registry_lists_all_methods_and_suggests() -> None:
    assert set(SALIENCY_METHODS.names()) >= {"gradient", "gbp", "gbp_x_image", "sgbp", "gradcam", "scorecam"}
    assert method_names("sgbp, gradcam") == ["sgbp", "gradcam"]
    with pytest.raises(LuabError, match="did you mean 'gradcam'"):
        method_names("gradcan")


class _TwoLayer(nn.Module):
    """x (B, 3, 1, 1) -> ReLU(W1 x) -> W2: a hand-checkable net with timm's interface."""

    num_features = 3

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 3, bias=False)
        self.act = nn.ReLU()
        self.head = nn.Linear(3, 2, bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.25]]))
            self.head.weight.copy_(torch.tensor([[-2.0, 5.0, 1.0], [0.0, 0.0, 0.0]]))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc1(x.flatten(1)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.head(x)

    def get_classifier(self) -> nn.Module:
        return self.head


def test_gbp_hand_checked_two_layer_net() -> None:
    net = LuabNet(_TwoLayer(), num_point_heads=0, name="two").eval()
    x = torch.tensor([1.0, -1.0, 2.0]).view(1, 3, 1, 1)
    t = torch.tensor([0])
    # pre-activations W1 x = [3, -1, 0.5] -> ReLU passes units 0 and 2; dy/dh = W2[0] = [-2, 5, 1]
    # plain: W1^T [-2, 0, 1] = [-1, 1, -1.75]; guided also drops the negative -2: W1^T [0, 0, 1]
    plain = _input_gradient(net, x, t).flatten()
    guided = _gbp_gradient(net, x, t).flatten()
    assert torch.allclose(plain, torch.tensor([-1.0, 1.0, -1.75]))
    assert torch.allclose(guided, torch.tensor([1.0, 1.0, 0.25]))
    assert compute_saliency("gbp", net, x, t).item() == pytest.approx(1.0)
    assert compute_saliency("gradient", net, x, t).item() == pytest.approx(1.75)


def test_sgbp_batched_equals_one_by_one(tiny_cnn: LuabNet) -> None:
    x, t = _batch(1)
    fn = SALIENCY_METHODS.get("sgbp")
    batched = fn(tiny_cnn, x, t, seed=5, samples=6)
    single = fn(tiny_cnn, x, t, seed=5, samples=6, samples_per_pass=1)
    assert torch.allclose(batched, single, rtol=1e-4, atol=1e-6)
    other_seed = fn(tiny_cnn, x, t, seed=6, samples=6)
    assert not torch.allclose(batched, other_seed)


def test_sgbp_pass_size_does_not_change_the_maps(tiny_cnn: LuabNet) -> None:
    """The default (whole images, <= 64 rows per pass), all 90 rows at once and one by one agree."""
    x, _ = _batch(2, n=3, size=16)
    t = torch.tensor([0, 2, 1])
    fn = SALIENCY_METHODS.get("sgbp")
    default = fn(tiny_cnn, x, t, seed=1)  # 30 samples: passes of 60 + 30 rows
    for rows in (90, 1, 7):
        other = fn(tiny_cnn, x, t, seed=1, samples_per_pass=rows)
        assert torch.allclose(default, other, rtol=1e-4, atol=1e-6), rows


def test_smoothgrad_noise_is_ten_percent_of_each_images_range() -> None:
    x = torch.zeros(2, 3, 4, 4)
    x[0, 0, 0, 0], x[1, 1, 1, 1] = 2.0, -8.0  # ranges 2 and 8
    noisy = smoothgrad_noise(x, 30, 0.1, seed=0)
    assert noisy.shape == (60, 3, 4, 4)
    eps = torch.randn((2, 30, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    expected = x.unsqueeze(1) + torch.tensor([0.2, 0.8]).view(2, 1, 1, 1, 1) * eps
    assert torch.allclose(noisy, expected.flatten(0, 1))


def test_gradcam_equals_manual_computation(tiny_cnn: LuabNet) -> None:
    x, t = _batch(2, n=1)
    feats = tiny_cnn.backbone.forward_features(x)
    feats.retain_grad()
    logits = tiny_cnn.backbone.forward_head(feats)
    logits[0, int(t[0])].backward()
    w = feats.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((w * feats).sum(1, keepdim=True)).detach()
    expected = nn.functional.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(compute_saliency("gradcam", tiny_cnn, x, t), expected, atol=1e-6)


def test_vit_supports_gradient_and_cams_but_not_gbp() -> None:
    net = create_model("vit_tiny_patch16_224", 3, num_point_heads=0, img_size=32, depth=2).eval()
    x, t = _batch(0)
    for method in ("gradient", "gradcam", "scorecam"):
        m = compute_saliency(method, net, x, t)
        assert m.shape == (2, 32, 32) and torch.isfinite(m).all()
    for method in ("gbp", "gbp_x_image", "sgbp"):
        with pytest.raises(LuabError, match=r"guided backprop needs a ReLU network.*GELU"):
            compute_saliency(method, net, x, t)


def test_training_mode_is_refused(tiny_cnn: LuabNet) -> None:
    x, t = _batch()
    tiny_cnn.train()
    try:
        with pytest.raises(ValueError, match="eval mode"):
            compute_saliency("gradient", tiny_cnn, x, t)
    finally:
        tiny_cnn.eval()
