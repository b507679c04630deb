"""The gradient family of saliency methods: ``gradient``, ``gbp`` (guided backprop with the paper
code's rules at ReLU / SiLU / GELU), ``gbp_x_image`` and ``sgbp`` (SmoothGrad-GBP); definitions in
:mod:`luab_bench.alignment.saliency` (Langlois et al. SI §A.2 (a)-(c))."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from luab_bench.alignment.saliency_base import (
    _UNCOVERED,
    GBP_RULES,
    SALIENCY_METHODS,
    SMOOTHGRAD_ROWS_PER_PASS,
    _config,
    _input_gradient,
    reduce_channels,
)
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from luab_bench.models import LuabNet


@SALIENCY_METHODS.register("gradient")
def gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """Plain input gradient of the target logit, reduced over channels."""
    return reduce_channels(_input_gradient(net, x, targets), _config(kw).reduce)


def _silu_grad(z: torch.Tensor) -> torch.Tensor:
    import torch

    s = torch.sigmoid(z)
    return s * (1 + z * (1 - s))


def _gelu_tanh_grad_langlois(z: torch.Tensor) -> torch.Tensor:
    """Derivative of the tanh-approximated GELU with the constants written in their hook."""
    import torch

    u = 0.0356774 * z**3 + 0.797885 * z
    return 0.5 * torch.tanh(u) + (0.0535161 * z**3 + 0.398942 * z) / torch.cosh(u) ** 2 + 0.5


def _gelu_grad(z: torch.Tensor, approximate: str) -> torch.Tensor:
    """Exact derivative of ``F.gelu(z, approximate=...)`` (what autograd puts into ``grad_in``)."""
    import torch

    if approximate == "tanh":
        k = math.sqrt(2.0 / math.pi)
        u = k * (z + 0.044715 * z**3)
        t = torch.tanh(u)
        return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * k * (1 + 3 * 0.044715 * z * z)
    return 0.5 * (1 + torch.erf(z / math.sqrt(2.0))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _guided_fn(kind: str, rule: str, approximate: str = "none") -> Any:
    """An autograd Function: the module's forward, the guided backward of ``rule`` (module doc)."""
    import torch
    import torch.nn.functional as F

    class Guided(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(inp)
            if kind == "relu":
                return inp.clamp(min=0)
            if kind == "silu":
                return F.silu(inp)
            return F.gelu(inp, approximate=approximate)

        @staticmethod
        def backward(ctx: Any, g: torch.Tensor) -> torch.Tensor:
            (z,) = ctx.saved_tensors
            if kind == "relu":  # (z > 0) * max(g, 0) in one fused kernel (bit-identical)
                return torch.ops.aten.threshold_backward(g.clamp(min=0), z, 0.0)
            exact = _silu_grad(z) if kind == "silu" else _gelu_grad(z, approximate)
            if rule == "positive_grad":
                return exact * g.clamp(min=0)
            outer = exact if kind == "silu" else _gelu_tanh_grad_langlois(z)
            return outer * (exact * g).clamp(min=0)

    return Guided


def _activation_kind(m: nn.Module) -> str | None:
    from torch import nn

    if isinstance(m, nn.ReLU):
        return "relu"
    if isinstance(m, nn.SiLU) or type(m).__name__ in ("SiLU", "Swish"):
        return "silu"
    if isinstance(m, nn.GELU) or type(m).__name__ == "GELU":
        return "gelu"
    return None


@contextlib.contextmanager
def guided_relus(net: nn.Module, rule: str = "langlois2021") -> Iterator[int]:
    """Within the block every ReLU / SiLU / GELU of ``net`` back-propagates with ``rule``; yields their
    count. Raises :class:`LuabError` when the rule does not cover the model (module doc)."""
    name = getattr(net, "model_name", "") or type(net).__name__
    acts = [(m, _activation_kind(m)) for m in net.modules()]
    acts = [(m, k) for m, k in acts if k is not None]
    uncovered = sorted({type(m).__name__ for m in net.modules() if type(m).__name__ in _UNCOVERED})
    non_relu = sorted({type(m).__name__ for m, k in acts if k != "relu"})
    if rule not in GBP_RULES:
        raise LuabError(f"unknown guided-backprop rule {rule!r}; use one of {', '.join(GBP_RULES)}")
    if uncovered:
        raise LuabError(
            f"guided backprop: model {name!r} uses {', '.join(uncovered)}, which the paper's rule "
            "(Langlois et al. 2021 code: ReLU, SiLU, GELU only) does not cover. Use --method gradient, "
            "gradcam or scorecam for it"
        )
    if rule == "relu_only" and (non_relu or not acts):
        raise LuabError(
            f"guided backprop (rule relu_only) needs a ReLU network; model {name!r} uses "
            f"{', '.join(non_relu) or 'no ReLU'}. Use the langlois2021 rule or --method gradient/gradcam"
        )
    if not acts:
        raise LuabError(f"guided backprop: model {name!r} has no ReLU, SiLU or GELU to guide")
    patched = []
    for m, kind in acts:
        fn = _guided_fn(kind, rule, str(getattr(m, "approximate", "none")))  # type: ignore[arg-type]
        m.forward = fn.apply  # instance attribute shadows the class method; removed below
        patched.append(m)
    try:
        yield len(patched)
    finally:
        for m in patched:
            del m.forward


def _gbp_gradient(
    net: LuabNet, x: torch.Tensor, targets: torch.Tensor, rule: str = "langlois2021"
) -> torch.Tensor:
    with guided_relus(net, rule):
        return _input_gradient(net, x, targets)


@SALIENCY_METHODS.register("gbp")
def gbp(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """Guided backpropagation, reduced over channels."""
    cfg = _config(kw)
    return reduce_channels(_gbp_gradient(net, x, targets, cfg.gbp_rule), cfg.reduce)


def denormalize(net: LuabNet, x: torch.Tensor) -> torch.Tensor:
    """Normalised input -> image on the [0, 1] scale, using the net's own mean/std."""
    import torch

    mean = torch.tensor(net.input_mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(net.input_std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return x * std + mean


@SALIENCY_METHODS.register("gbp_x_image")
def gbp_x_image(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """GBP gradient times the input (normalised tensor, or the [0, 1] image), reduced over channels."""
    cfg = _config(kw)
    factor = x if cfg.image_factor == "normalised" else denormalize(net, x)
    return reduce_channels(_gbp_gradient(net, x, targets, cfg.gbp_rule) * factor, cfg.reduce)


def smoothgrad_noise(
    x: torch.Tensor, samples: int, noise: float, seed: int, convention: str = "langlois2021"
) -> torch.Tensor:
    """(B*samples, C, H, W) noisy copies (image-major). Per image ``sigma = noise * (max - min)``; the
    noise std is ``sigma**2`` (``langlois2021``, their code) or ``sigma`` (``fraction``)."""
    import torch

    b = x.shape[0]
    rng = torch.Generator().manual_seed(int(seed))
    eps = torch.randn((b, samples, *x.shape[1:]), generator=rng, dtype=torch.float32).to(x.device, x.dtype)
    sigma = noise * (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(b, 1, 1, 1, 1)
    std = sigma**2 if convention == "langlois2021" else sigma
    return (x.unsqueeze(1) + std * eps).flatten(0, 1)


@SALIENCY_METHODS.register("sgbp")
def sgbp(
    net: LuabNet,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int = 0,
    samples: int | None = None,
    noise: float | None = None,
    samples_per_pass: int | None = None,
    **kw: Any,
) -> torch.Tensor:
    """SmoothGrad-GBP over ``samples`` noisy copies (module doc for the noise and averaging order).

    ``samples_per_pass`` rows of the (B*samples) noisy stack go through the net at once (default: the
    samples of as many whole images as fit in :data:`SMOOTHGRAD_ROWS_PER_PASS` rows, at least one
    image's); ``1`` runs the samples one by one (same result up to float rounding, for the benchmark).
    """
    import torch

    cfg = _config(kw)
    samples = samples or cfg.samples
    noise = cfg.noise_level if noise is None else noise
    b = x.shape[0]
    noisy = smoothgrad_noise(x, samples, noise, seed, cfg.noise)
    rep_targets = targets.repeat_interleave(samples)
    step = samples_per_pass or max(samples, (SMOOTHGRAD_ROWS_PER_PASS // samples) * samples)
    parts = []
    with guided_relus(net, cfg.gbp_rule):
        for start in range(0, noisy.shape[0], step):
            sl = slice(start, start + step)
            g = _input_gradient(net, noisy[sl], rep_targets[sl])
            parts.append(g if cfg.average == "gradients" else reduce_channels(g, cfg.reduce))
    stacked = torch.cat(parts)
    if cfg.average == "gradients":
        mean_grad = stacked.view(b, samples, *x.shape[1:]).mean(1)
        return reduce_channels(mean_grad, cfg.reduce)
    return stacked.view(b, samples, *x.shape[2:]).mean(1)
