"""Saliency ("passive attention") maps of a classifier, behind the :data:`SALIENCY_METHODS` registry.

Every method has the signature ``method(net, x, targets, *, seed, batch_size) -> Tensor (B, H, W)``:
``net`` is a :class:`~luab_bench.models.LuabNet` in eval mode, ``x`` the *normalised* input batch
(B, 3, H, W) on the net's device, ``targets`` the class index per image (B,). The returned maps are
non-negative, finite, on the input's grid and float32 on the CPU. Methods follow Langlois et al.,
"Passive attention in artificial neural networks predicts human visual selectivity" (NeurIPS 2021),
which compares exactly these families (plain gradients, guided backprop and its variants, CAMs):

* ``gradient`` – Simonyan et al. 2014: ``max_c |d y_t / d x_c|`` (max over colour channels).
* ``gbp`` – guided backpropagation (Springenberg et al. 2015): the backward pass of every ReLU passes
  only positive gradients at positive inputs (``g_in = (x > 0) * max(g_out, 0)``); map as above.
* ``gbp_x_image`` – GBP gradient times the de-normalised image in [0, 1]: ``max_c |g_c * img_c|``.
* ``sgbp`` – SmoothGrad (Smilkov et al. 2017) of GBP: the mean of the GBP maps of 30 copies of the
  input with i.i.d. Gaussian noise of std 10% of that image's (normalised) value range. All 30
  samples go through the network as one batch (``samples_per_pass``); see the benchmark.
* ``gradcam`` – Grad-CAM (Selvaraju et al. 2017): ``relu(sum_k mean_ij(dy_t/dA_k) * A_k)`` on the last
  feature map, bilinearly upsampled.
* ``scorecam`` – Score-CAM (Wang et al. 2020): channel weights ``softmax(f(x * M_k))_t -
  softmax(f(x_b))_t`` where ``M_k`` is channel k upsampled and min-max scaled to [0, 1] and the
  baseline ``x_b`` is the all-zero (= dataset-mean) normalised image; ``relu(sum_k w_k A_k)``.

Which models: the gradient methods work for any differentiable timm model. Guided backprop is only
defined for ReLU networks: models whose activations include GELU/SiLU/... (ViTs, EfficientNets,
ConvNeXt) raise :class:`LuabError` for ``gbp``, ``gbp_x_image`` and ``sgbp``. The CAMs use the last
feature map of a CNN (``forward_features``) and, for ViT-style models (``blocks`` + ``patch_embed``),
the patch tokens entering the last block's attention (the output of ``blocks[-1].norm1``) reshaped
to the patch grid, because tokens after the last block get no gradient under class-token pooling.

Why written here rather than taken from captum / pytorch-grad-cam: each method is a few lines on top
of autograd; the libraries would add dependencies (pytorch-grad-cam pulls OpenCV) for no speed gain,
and the hand-checked tests in ``tests/test_alignment_saliency.py`` pin the definitions.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from luab_bench.errors import LuabError
from luab_bench.registry import Registry

if TYPE_CHECKING:
    import torch
    from torch import nn

    from luab_bench.models import LuabNet

SaliencyFn = Callable[..., "torch.Tensor"]

#: Saliency methods by name; ``@SALIENCY_METHODS.register("name")`` adds one.
SALIENCY_METHODS: Registry[SaliencyFn] = Registry("saliency method")

SMOOTHGRAD_SAMPLES = 30
SMOOTHGRAD_NOISE = 0.10  # noise std as a fraction of the input's value range (Smilkov et al.: 10-20%)
# Rows of the noisy stack per forward/backward by default: whole images' sample sets, at most this many
# rows (at least one image's). Measured on the shared 2-core CPU at 64 px (resnet10t, one thread): the
# alignment batch of 32 images x 30 samples took 13.0 s and +342 MiB peak RSS in passes of 60 rows vs
# 23.9 s and +2.9 GiB as one 960-row pass; one image's 30 samples in one pass stay ~4x faster than 30
# passes of one (tests/benchmarks/test_bench_alignment.py).
SMOOTHGRAD_ROWS_PER_PASS = 64
_NON_RELU_ACTIVATIONS = (
    "GELU",
    "SiLU",
    "Hardswish",
    "Mish",
    "ELU",
    "LeakyReLU",
    "Tanh",
    "Sigmoid",
    "Softplus",
)


def compute_saliency(
    method: str,
    net: LuabNet,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int = 0,
    batch_size: int = 64,
    **kwargs: Any,
) -> torch.Tensor:
    """Maps (B, H, W) of ``method`` for normalised images ``x`` and class ``targets`` (see module doc).

    Images go through in chunks of ``batch_size``; chunk ``i`` gets seed ``seed + i * batch_size``,
    so random methods (``sgbp``) are reproducible for a given seed and batch size.
    """
    import torch

    fn = SALIENCY_METHODS.get(method)
    if x.ndim != 4 or targets.shape != (x.shape[0],):
        raise ValueError(
            f"x must be (B, C, H, W) and targets (B,), got {tuple(x.shape)} / {tuple(targets.shape)}"
        )
    if net.training:
        raise ValueError("saliency needs the net in eval mode (batch norm must not use batch statistics)")
    out = []
    for start in range(0, x.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        out.append(fn(net, x[sl], targets[sl], seed=seed + start, batch_size=batch_size, **kwargs))
    maps = torch.cat(out).float().cpu()
    return torch.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)


def _target_scores(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, targets.view(-1, 1).to(logits.device)).sum()


def _input_gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    import torch

    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = net(x).logits
        (grad,) = torch.autograd.grad(_target_scores(logits, targets), x)
    return grad


def _channel_max_abs(t: torch.Tensor) -> torch.Tensor:
    return t.abs().amax(dim=1)


@SALIENCY_METHODS.register("gradient")
def gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **_: Any) -> torch.Tensor:
    """Plain input gradient of the target logit, ``max_c |grad_c|``."""
    return _channel_max_abs(_input_gradient(net, x, targets))


def _guided_relu_fn() -> Any:
    import torch

    class GuidedReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:
            ctx.save_for_backward(inp)
            return inp.clamp(min=0)

        @staticmethod
        def backward(ctx: Any, grad_out: torch.Tensor) -> torch.Tensor:
            (inp,) = ctx.saved_tensors
            return grad_out.clamp(min=0) * (inp > 0).to(grad_out.dtype)

    return GuidedReLU


@contextlib.contextmanager
def guided_relus(net: nn.Module) -> Iterator[int]:
    """Within the block every ``nn.ReLU`` of ``net`` back-propagates guided gradients; yields their count.

    Raises :class:`LuabError` when ``net`` has no ReLU or uses other activations (GBP is undefined there).
    """
    from torch import nn

    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    others = sorted({type(m).__name__ for m in net.modules() if type(m).__name__ in _NON_RELU_ACTIVATIONS})
    name = getattr(net, "model_name", "") or type(net).__name__
    if others or not relus:
        raise LuabError(
            f"guided backprop needs a ReLU network; model {name!r} uses {', '.join(others) or 'no ReLU'}. "
            "Use --method gradient, gradcam or scorecam for it"
        )
    fn = _guided_relu_fn()
    for m in relus:
        m.forward = fn.apply  # instance attribute shadows the class method; removed below
    try:
        yield len(relus)
    finally:
        for m in relus:
            del m.forward


def _gbp_gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    with guided_relus(net):
        return _input_gradient(net, x, targets)


@SALIENCY_METHODS.register("gbp")
def gbp(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **_: Any) -> torch.Tensor:
    """Guided backpropagation, ``max_c |g_c|``."""
    return _channel_max_abs(_gbp_gradient(net, x, targets))


def denormalise(net: LuabNet, x: torch.Tensor) -> torch.Tensor:
    """Normalised input -> image on the [0, 1] scale, using the net's own mean/std."""
    import torch

    mean = torch.tensor(net.input_mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(net.input_std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return x * std + mean


@SALIENCY_METHODS.register("gbp_x_image")
def gbp_x_image(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **_: Any) -> torch.Tensor:
    """GBP gradient times the [0, 1] image, ``max_c |g_c * img_c|``."""
    return _channel_max_abs(_gbp_gradient(net, x, targets) * denormalise(net, x))


def smoothgrad_noise(x: torch.Tensor, samples: int, noise: float, seed: int) -> torch.Tensor:
    """(B*samples, C, H, W) noisy copies (image-major): std = ``noise`` * (max - min) of each image."""
    import torch

    b = x.shape[0]
    rng = torch.Generator().manual_seed(int(seed))
    eps = torch.randn((b, samples, *x.shape[1:]), generator=rng, dtype=torch.float32).to(x.device, x.dtype)
    span = (x.flatten(1).amax(1) - x.flatten(1).amin(1)).view(b, 1, 1, 1, 1)
    return (x.unsqueeze(1) + noise * span * eps).flatten(0, 1)


@SALIENCY_METHODS.register("sgbp")
def sgbp(
    net: LuabNet,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int = 0,
    samples: int = SMOOTHGRAD_SAMPLES,
    noise: float = SMOOTHGRAD_NOISE,
    samples_per_pass: int | None = None,
    **_: Any,
) -> torch.Tensor:
    """SmoothGrad-GBP: mean GBP map over ``samples`` noisy copies.

    ``samples_per_pass`` rows of the (B*samples) noisy stack go through the net at once (default: the
    samples of as many whole images as fit in :data:`SMOOTHGRAD_ROWS_PER_PASS` rows, at least one
    image's); ``1`` runs the samples one by one (same result up to float rounding, for the benchmark).
    """
    b = x.shape[0]
    noisy = smoothgrad_noise(x, samples, noise, seed)
    rep_targets = targets.repeat_interleave(samples)
    step = samples_per_pass or max(samples, (SMOOTHGRAD_ROWS_PER_PASS // samples) * samples)
    maps = []
    with guided_relus(net):
        for start in range(0, noisy.shape[0], step):
            sl = slice(start, start + step)
            maps.append(_channel_max_abs(_input_gradient(net, noisy[sl], rep_targets[sl])))
    import torch

    return torch.cat(maps).view(b, samples, *x.shape[2:]).mean(1)


def _cam_layer(backbone: nn.Module) -> tuple[nn.Module | None, tuple[int, int] | None, int]:
    """(module whose output is the CAM feature map or None = forward_features, token grid, prefix tokens)."""
    blocks = getattr(backbone, "blocks", None)
    patch_embed = getattr(backbone, "patch_embed", None)
    if blocks is not None and patch_embed is not None and hasattr(blocks[-1], "norm1"):
        grid = tuple(int(g) for g in patch_embed.grid_size)
        return blocks[-1].norm1, grid, int(getattr(backbone, "num_prefix_tokens", 1))  # type: ignore[return-value]
    return None, None, 0


def _to_spatial(act: torch.Tensor, grid: tuple[int, int] | None, prefix: int) -> torch.Tensor:
    """Feature map (B, K, h, w): CNN maps pass through, ViT tokens (B, N, D) are reshaped to the grid."""
    if act.ndim == 4:
        return act
    if act.ndim == 3 and grid is not None:
        tokens = act[:, prefix:, :]
        if tokens.shape[1] != grid[0] * grid[1]:
            raise LuabError(f"cannot reshape {tokens.shape[1]} tokens to the patch grid {grid} for a CAM")
        return tokens.transpose(1, 2).reshape(act.shape[0], act.shape[2], *grid)
    raise LuabError(
        f"CAM methods need a (B, C, h, w) feature map or ViT tokens; got shape {tuple(act.shape)}"
    )


def _features_and_logits(
    net: LuabNet, x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """(raw CAM-layer output kept in the graph, logits, function making it (B, K, h, w))."""
    layer, grid, prefix = _cam_layer(net.backbone)
    if layer is None:
        feats = net.backbone.forward_features(x)
        logits = net.backbone.get_classifier()(net.backbone.forward_head(feats, pre_logits=True))
        return feats, logits, lambda a: _to_spatial(a, None, 0)
    captured: list[Any] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        logits = net(x).logits
    finally:
        handle.remove()
    return captured[-1], logits, lambda a: _to_spatial(a, grid, prefix)


def _upsample(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    import torch.nn.functional as F

    return F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


@SALIENCY_METHODS.register("gradcam")
def gradcam(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **_: Any) -> torch.Tensor:
    """Grad-CAM on the last feature map (see module doc), upsampled to the input size."""
    import torch

    with torch.enable_grad():
        x = x.detach().requires_grad_(True)  # so a frozen backbone still builds a graph
        raw, logits, spatial = _features_and_logits(net, x)
        (raw_grads,) = torch.autograd.grad(_target_scores(logits, targets), raw)
    acts, grads = spatial(raw.detach()), spatial(raw_grads)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * acts).sum(1))
    return _upsample(cam, tuple(x.shape[2:]))  # type: ignore[arg-type]


@SALIENCY_METHODS.register("scorecam")
def scorecam(
    net: LuabNet, x: torch.Tensor, targets: torch.Tensor, *, batch_size: int = 64, **_: Any
) -> torch.Tensor:
    """Score-CAM: every channel masks the input once (``batch_size`` masked images per forward)."""
    import torch

    size = tuple(x.shape[2:])
    with torch.no_grad():
        raw, _, spatial = _features_and_logits(net, x)
        acts = spatial(raw)
        base = torch.softmax(net(torch.zeros_like(x[:1])).logits, 1)  # (1, classes)
        up = _upsample(acts.flatten(0, 1), size).view(acts.shape[0], acts.shape[1], *size)  # type: ignore[arg-type]
        lo = up.flatten(2).amin(2)[..., None, None]
        hi = up.flatten(2).amax(2)[..., None, None]
        masks = torch.where(hi > lo, (up - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(up))
        cams = []
        for i in range(x.shape[0]):
            t = int(targets[i])
            scores = []
            for start in range(0, masks.shape[1], batch_size):
                m = masks[i, start : start + batch_size].unsqueeze(1)  # (k, 1, H, W)
                p = torch.softmax(net(x[i : i + 1] * m).logits, 1)[:, t]
                scores.append(p - base[0, t])
            w = torch.cat(scores).view(-1, 1, 1)
            cams.append(torch.relu((w * acts[i]).sum(0)))
        cam = torch.stack(cams)
    return _upsample(cam, size)  # type: ignore[arg-type]


def method_names(spec: str) -> list[str]:
    """``"sgbp,gradcam"`` or ``"all"`` -> validated method names (unknown ones raise with a did-you-mean)."""
    names = (
        SALIENCY_METHODS.names()
        if spec.strip() == "all"
        else [s.strip() for s in spec.split(",") if s.strip()]
    )
    if not names:
        raise LuabError("no saliency method given; e.g. --method sgbp,gradcam (or 'all')")
    for n in names:
        SALIENCY_METHODS.get(n)
    return names
