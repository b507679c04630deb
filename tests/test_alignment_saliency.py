"""Saliency methods: shapes, finiteness, determinism, a hand-checked GBP case, batched SGBP, ViT support."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from luab_bench.alignment.saliency import (
    CAMERAS_SCALES,
    SALIENCY_METHODS,
    SaliencyConfig,
    _cam_layer,
    _gbp_gradient,
    _gelu_tanh_grad_langlois,
    _input_gradient,
    compute_saliency,
    method_names,
    saliency_preset,
    smoothgrad_noise,
    top_predictions,
)
from luab_bench.errors import LuabError
from luab_bench.models import LuabNet, create_model

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny_cnn() -> LuabNet:
    return create_model("resnet10t", 3, num_point_heads=0, init_seed=0).eval()


def _batch(seed: int = 0, n: int = 2, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.tensor([0, 2][:n])


@pytest.mark.parametrize(
    "method", ["gradient", "gbp", "gbp_x_image", "sgbp", "gradcam", "scorecam", "cameras"]
)
def test_each_method_shape_finite_deterministic(tiny_cnn: LuabNet, method: str) -> None:
    n = 1 if method in ("scorecam", "cameras") else 2  # 512 masked forwards per image for Score-CAM
    x, t = _batch(n=n)
    kw = {"samples": 4} if method == "sgbp" else {}
    a = compute_saliency(method, tiny_cnn, x, t, seed=3, **kw)
    b = compute_saliency(method, tiny_cnn, x, t, seed=3, **kw)
    assert a.shape == (n, 64, 64)
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
    # langlois2021 reduces with sum_c |g_c| (their code); luab-v1 with max_c |g_c|
    assert compute_saliency("gbp", net, x, t).item() == pytest.approx(2.25)
    assert compute_saliency("gradient", net, x, t).item() == pytest.approx(3.75)
    old = saliency_preset("luab-v1")
    assert compute_saliency("gbp", net, x, t, config=old).item() == pytest.approx(1.0)
    assert compute_saliency("gradient", net, x, t, config=old).item() == pytest.approx(1.75)


class _TwoLayerAct(_TwoLayer):
    def __init__(self, act: nn.Module) -> None:
        super().__init__()
        self.act = act


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _Phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def _tanh_gelu_grad(z: float) -> float:
    """d/dz of 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), written out by hand."""
    k = math.sqrt(2 / math.pi)
    u = k * (z + 0.044715 * z**3)
    return 0.5 * (1 + math.tanh(u)) + 0.5 * z * (1 - math.tanh(u) ** 2) * k * (1 + 3 * 0.044715 * z * z)


@pytest.mark.parametrize("act", ["silu", "gelu"])
def test_gbp_rule_at_silu_and_gelu_hand_computed(act: str) -> None:
    """Their hook (guided_backprop.py): grad_in = f'(z) g_out arrives, the hook returns
    outer(z) * max(grad_in, 0), with outer = SiLU' (SiLU) or the tanh-GELU derivative (GELU)."""
    module = nn.SiLU() if act == "silu" else nn.GELU()
    net = LuabNet(_TwoLayerAct(module), num_point_heads=0, name="two").eval()
    x = torch.tensor([1.0, -1.0, 2.0]).view(1, 3, 1, 1)
    t = torch.tensor([0])
    w1 = [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.25]]
    w2 = [-2.0, 5.0, 1.0]
    z = [sum(w1[i][j] * [1.0, -1.0, 2.0][j] for j in range(3)) for i in range(3)]  # [3, -1, 0.5]
    g_z = []
    for zi, gi in zip(z, w2, strict=True):
        if act == "silu":
            sig = 1 / (1 + math.exp(-zi))
            d = sig * (1 + zi * (1 - sig))
            g_z.append(d * max(d * gi, 0.0))
        else:
            g_z.append(_tanh_gelu_grad(zi) * max((_Phi(zi) + zi * _phi(zi)) * gi, 0.0))
    expected = [sum(w1[i][j] * g_z[i] for i in range(3)) for j in range(3)]
    got = _gbp_gradient(net, x, t).flatten().tolist()
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-7)
    # unit 0 (upstream -2) is cut; unit 1 (z = -1, upstream +5): SiLU'(-1) = +0.072 lets it pass,
    # GELU'(-1) = -0.083 makes grad_in negative, so the clamp cuts it
    assert g_z[0] == 0.0 and g_z[2] > 0
    assert (g_z[1] > 0) if act == "silu" else (g_z[1] == 0.0)
    # the positive_grad alternative applies the derivative once
    once = _gbp_gradient(net, x, t, rule="positive_grad").flatten()
    assert not torch.allclose(once, torch.tensor(got))
    with pytest.raises(LuabError, match="needs a ReLU network"):
        _gbp_gradient(net, x, t, rule="relu_only")


def test_their_gelu_constants_are_the_tanh_gelu_derivative() -> None:
    z = torch.linspace(-4, 4, 81, dtype=torch.float64)
    ref = torch.tensor([_tanh_gelu_grad(float(v)) for v in z], dtype=torch.float64)
    assert torch.allclose(_gelu_tanh_grad_langlois(z), ref, atol=2e-6)


def test_gbp_refuses_activations_the_paper_does_not_cover() -> None:
    net = LuabNet(_TwoLayerAct(nn.Hardswish()), num_point_heads=0, name="hs").eval()
    with pytest.raises(LuabError, match=r"Hardswish.*does not cover"):
        compute_saliency("gbp", net, torch.ones(1, 3, 1, 1), torch.tensor([0]))


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


def test_smoothgrad_noise_std_their_code_and_the_fraction_convention() -> None:
    x = torch.zeros(2, 3, 4, 4)
    x[0, 0, 0, 0], x[1, 1, 1, 1] = 2.0, -8.0  # ranges 2 and 8: sigma = 0.2 and 0.8
    eps = torch.randn((2, 30, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    # their smooth_grad.py: normal_(0, sigma**2) -> std sigma**2 = 0.04 and 0.64
    noisy = smoothgrad_noise(x, 30, 0.1, seed=0)
    assert noisy.shape == (60, 3, 4, 4)
    expected = x.unsqueeze(1) + torch.tensor([0.04, 0.64]).view(2, 1, 1, 1, 1) * eps
    assert torch.allclose(noisy, expected.flatten(0, 1))
    frac = smoothgrad_noise(x, 30, 0.1, seed=0, convention="fraction")
    expected = x.unsqueeze(1) + torch.tensor([0.2, 0.8]).view(2, 1, 1, 1, 1) * eps
    assert torch.allclose(frac, expected.flatten(0, 1))


def test_sgbp_averages_raw_gradients_then_reduces(tiny_cnn: LuabNet) -> None:
    """Their order: sum the 30 raw GBP gradients, divide, then sum_c |.|; luab-v1 averages the maps."""
    x, t = _batch(3, n=1, size=16)
    noisy = smoothgrad_noise(x, 5, 0.1, seed=2)
    grads = [_gbp_gradient(tiny_cnn, noisy[i : i + 1], t) for i in range(5)]
    ref = (sum(grads) / 5).abs().sum(1)
    got = SALIENCY_METHODS.get("sgbp")(tiny_cnn, x, t, seed=2, samples=5)
    assert torch.allclose(got, ref, rtol=1e-4, atol=1e-7)
    old = SALIENCY_METHODS.get("sgbp")(tiny_cnn, x, t, seed=2, samples=5, config=_maps_mean())
    ref_old = sum(g.abs().sum(1) for g in grads) / 5
    assert torch.allclose(old, ref_old, rtol=1e-4, atol=1e-7) and not torch.allclose(old, ref)


def _maps_mean() -> SaliencyConfig:
    return SaliencyConfig(average="maps")


def test_gradcam_equals_manual_computation(tiny_cnn: LuabNet) -> None:
    x, t = _batch(2, n=1, size=96)  # resnet10t: a 3 x 3 last feature map
    feats = tiny_cnn.backbone.forward_features(x)
    feats.retain_grad()
    logits = tiny_cnn.backbone.forward_head(feats)
    logits[0, int(t[0])].backward()
    w = feats.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((w * feats).sum(1, keepdim=True)).detach()
    expected = nn.functional.interpolate(cam, size=(96, 96), mode="bilinear", align_corners=False)[:, 0]
    old = saliency_preset("luab-v1")
    assert torch.allclose(compute_saliency("gradcam", tiny_cnn, x, t, config=old), expected, atol=1e-6)
    # Ozbulak's gradcam.py (the paper's CNN code): cam starts at ones, relu, min-max, uint8, PIL Lanczos
    from PIL import Image

    c = np.maximum(1.0 + (w * feats).sum(1)[0].detach().numpy(), 0)
    c = np.uint8((c - c.min()) / (c.max() - c.min()) * 255)
    ref = np.asarray(Image.fromarray(c).resize((96, 96), Image.LANCZOS), dtype=np.float32) / 255
    got = compute_saliency("gradcam", tiny_cnn, x, t)[0].numpy()
    assert np.allclose(got, ref, atol=1e-6)


def test_cameras_equals_manual_multi_resolution_computation(tiny_cnn: LuabNet) -> None:
    """CAMERAS.py: features and gradients at each resolution, bilinearly resized to the input size,
    averaged, relu(sum_k A_k G_k), min-max; the input bicubically resized for resolutions > 0."""
    x, t = _batch(4, n=1, size=40)
    scales = (1.0, 1.5, 2.0)
    fs, gs = [], []
    for i, s in enumerate(scales):
        xi = x if i == 0 else nn.functional.interpolate(x, size=(round(40 * s),) * 2, mode="bicubic")
        f = tiny_cnn.backbone.forward_features(xi)
        f.retain_grad()
        tiny_cnn.backbone.forward_head(f)[0, int(t[0])].backward()
        up = lambda a: nn.functional.interpolate(a, size=(40, 40), mode="bilinear")  # noqa: E731
        fs.append(up(f.detach()))
        gs.append(up(f.grad))
    cam = torch.relu((sum(fs) / 3 * (sum(gs) / 3)).sum(1))
    cam = (cam - cam.min()) / (cam.max() - cam.min())
    got = compute_saliency("cameras", tiny_cnn, x, t, config=SaliencyConfig(cameras_scales=scales))
    assert torch.allclose(got, cam, atol=1e-5)
    assert CAMERAS_SCALES[0] == 1.0 and CAMERAS_SCALES[-1] == pytest.approx(924 / 224)


def test_efficientnet_cam_layer_is_the_blocks_output() -> None:
    net = create_model("efficientnet_b0", 3, num_point_heads=0).eval()
    layer, _, _ = _cam_layer(net.backbone)
    assert layer is net.backbone.blocks  # their last_conv_layer = "blocks"
    assert _cam_layer(net.backbone, "features")[0] is None  # forward_features: after conv_head


def test_vit_supports_gbp_with_the_paper_rule_and_refuses_cameras() -> None:
    net = create_model("vit_tiny_patch16_224", 3, num_point_heads=0, img_size=32, depth=2).eval()
    x, t = _batch(0, size=32)
    for method in ("gradient", "gradcam", "scorecam", "gbp", "gbp_x_image"):
        m = compute_saliency(method, net, x, t)
        assert m.shape == (2, 32, 32) and torch.isfinite(m).all() and m.abs().sum() > 0
    m = compute_saliency("sgbp", net, x, t, samples=3)
    assert m.shape == (2, 32, 32) and torch.isfinite(m).all()
    assert all("forward" not in vars(mod) for mod in net.modules() if isinstance(mod, nn.GELU))
    with pytest.raises(LuabError, match="CAMERAS cannot be applied to ViT"):
        compute_saliency("cameras", net, x, t)
    for method in ("gbp", "gbp_x_image", "sgbp"):
        with pytest.raises(LuabError, match=r"needs a ReLU network.*GELU"):
            compute_saliency(method, net, x, t, config=saliency_preset("luab-v1"))


def test_top_predictions_are_the_argmax(tiny_cnn: LuabNet) -> None:
    x, _ = _batch(5, n=2)
    with torch.no_grad():
        assert torch.equal(top_predictions(tiny_cnn, x), tiny_cnn(x).logits.argmax(1))


def test_training_mode_is_refused(tiny_cnn: LuabNet) -> None:
    x, t = _batch()
    tiny_cnn.train()
    try:
        with pytest.raises(ValueError, match="eval mode"):
            compute_saliency("gradient", tiny_cnn, x, t)
    finally:
        tiny_cnn.eval()


def test_sgbp_equals_captum_noise_tunnel_guided_backprop(tiny_cnn: LuabNet) -> None:
    """Independent implementation: captum's NoiseTunnel(GuidedBackprop) (smoothgrad, 30 samples) with
    the paper's noise std and the same draws gives our map after the same normalisation."""
    import warnings

    from captum.attr import GuidedBackprop, NoiseTunnel

    class Logits(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x).logits

    x, _ = _batch(6, n=1, size=32)
    std = float((0.1 * (x.max() - x.min())) ** 2)
    torch.manual_seed(11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        attr = NoiseTunnel(GuidedBackprop(Logits(tiny_cnn))).attribute(
            x, nt_type="smoothgrad", nt_samples=30, stdevs=std, target=2
        )
    theirs = attr.abs().sum(1)
    ours = compute_saliency("sgbp", tiny_cnn, x, torch.tensor([2]), seed=11)
    assert torch.allclose(ours / ours.max(), theirs / theirs.max(), atol=1e-5)
