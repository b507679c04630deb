"""Saliency ("passive attention") maps of a classifier, behind the :data:`SALIENCY_METHODS` registry.

Every method has the signature ``method(net, x, targets, *, seed, batch_size, config) -> Tensor (B, H, W)``:
``net`` is a :class:`~luab_bench.models.LuabNet` in eval mode, ``x`` the *normalised* input batch
(B, 3, H, W) on the net's device, ``targets`` the class index per image (B,), ``config`` a
:class:`SaliencyConfig`. The returned maps are non-negative, finite, on the input's grid and float32
on the CPU. Methods follow Langlois et al., "Passive attention in artificial neural networks predicts
human visual selectivity" (NeurIPS 2021), SI §A.2 (a)-(f), and their released code
(github.com/czhao39/neurips-attention, ``baseline_cnns/``; read for this module, not copied):

* ``gradient`` – Simonyan et al. 2014: the input gradient of the target logit, reduced over colour
  channels (below). Not one of the paper's methods; kept as the plain-gradient reference.
* ``gbp`` – guided backpropagation (Springenberg et al. 2015; SI §A.2(a)) with the paper code's rule at
  every activation (:data:`GBP_RULES`, below).
* ``gbp_x_image`` – GBP gradient times the input (SI §A.2(b): "the (normalized) input image"; their
  code multiplies by the normalised tensor the network sees).
* ``sgbp`` – SmoothGrad of GBP (Smilkov et al. 2017; SI §A.2(c)): 30 noisy copies, noise at "10 %".
* ``gradcam`` / ``scorecam`` – Grad-CAM (Selvaraju et al. 2017) and Score-CAM (Wang et al. 2020) on the
  last convolutional stage (SI §A.2(d, e)).
* ``cameras`` – CAMERAS (Jalwana et al. 2021; SI §A.2(f)): Grad-CAM-style activations x gradients
  averaged over several input resolutions.

Conventions (:class:`SaliencyConfig`; preset ``"langlois2021"`` is the default and follows their code,
preset ``"luab-v1"`` restores this module's earlier choices, kept for comparison with old results):

* ``reduce``: ``sum_abs`` = ``sum_c |g_c|`` (their ``np.sum(np.abs(map), axis=2)`` in
  ``get_passive_attention_unlabeled_*.py``) | luab-v1 ``max_abs`` (Simonyan et al. 2014's reduction).
* ``gbp_rule``: ``langlois2021`` (their ``guided_backprop.py``, below) | luab-v1 ``relu_only``.
* ``noise``: ``langlois2021`` = std ``(0.1 (max - min))**2`` (``smooth_grad.py`` passes ``sigma**2`` as
  ``normal_``'s *std*) | luab-v1 ``fraction`` = std ``0.1 (max - min)`` (the SI's "noise level 10 %",
  Smilkov et al.'s convention).
* ``average``: ``gradients`` = mean raw gradient, then the reduction | luab-v1 ``maps`` = mean of the
  reduced maps.
* ``image_factor`` (GBPxIM): ``normalised`` input tensor | luab-v1 ``unit`` = the image on [0, 1].
* ``cam_style``: ``langlois2021`` = Ozbulak's ``gradcam.py`` / ``scorecam.py`` for CNNs,
  pytorch-grad-cam for ViTs (below) | ``luab-v1`` = textbook Grad-CAM, Score-CAM with a zero baseline.
* ``cam_layer``: ``langlois2021`` = for EfficientNet the output of ``blocks`` (their
  ``last_conv_layer = "blocks"``) | ``features`` = ``forward_features`` (after ``conv_head`` + ``bn2``).

**Guided backprop beyond ReLU** (``gbp_rule``). Their ``guided_backprop.py`` (modified copy, used for
ResNet-101, EfficientNet-B0 and ViT-S/16) registers PyTorch's legacy ``Module.register_backward_hook``
on every ``nn.ReLU``, ``nn.SiLU`` and ``nn.GELU``; the hook receives ``grad_in`` = the ordinary input
gradient ``f'(z) * g_out`` and returns a replacement. With ``z`` the activation's input:

* ReLU: ``(z > 0) * max(grad_in, 0)`` = ``(z > 0) * max(g_out, 0)`` (the classic rule).
* SiLU: ``s'(z) * max(s'(z) * g_out, 0)`` with ``s'(z) = sigmoid(z) (1 + z (1 - sigmoid(z)))``: the
  derivative enters twice (once inside ``grad_in``, once in the hook).
* GELU: ``t'(z) * max(f'(z) * g_out, 0)`` where ``f'`` is the exact derivative of the module's GELU
  (erf form; ``grad_in``) and ``t'`` the derivative of the tanh approximation written out in the hook
  with their constants (0.0356774, 0.797885, 0.0535161, 0.398942).

Every other module (sigmoid gates of squeeze-excitation, softmax attention, LayerNorm, pooling) keeps
its ordinary gradient, as in their code. ``langlois2021`` implements exactly these three rules (one
hook per activation). Caveat found in their script: ``GuidedBackprop(model)`` is constructed once per
*image* inside the loop and its hooks are never removed, so for the k-th image of a run every SiLU /
GELU rule is applied k times in a chain (idempotent for ReLU, not for SiLU / GELU); luab-bench applies
each rule once, i.e. what their code computes for the first image of a run. ``positive_grad``
(``f'(z) * max(g_out, 0)``, the derivative once) is a named alternative; ``relu_only`` refuses models
with non-ReLU activations. Activations their code does not handle (Hardswish, Mish, ELU, LeakyReLU,
ReLU6, ...) make every rule refuse the model, since the paper defines nothing there.

**SmoothGrad** (``sgbp``). ``smooth_grad.py`` (identical in both copies of their code): ``sigma =
0.1 * (max(x) - min(x))`` over the whole normalised input tensor, ``noise = normal_(0, sigma**2)`` –
PyTorch's ``normal_(mean, std)`` takes a *std*, so the noise std is ``sigma**2``; 30 samples, the raw
GBP gradients are summed and divided by 30, the channel reduction comes after
(``average="gradients"``). The SI's "we fixed the SmoothGrad implementation so that sigma is computed
correctly" refers to ``sigma = 0.1 * range`` replacing the original ``0.1 / range``; the ``**2`` stayed.
The target class is the clean image's top prediction for all 30 copies. luab-bench's noisy copies of
one image go through the network as one batch (``samples_per_pass``); see the benchmark.

**CAMs.** The CAM layer: CNNs: the last feature map (``forward_features``; their ResNet-101 layer is
``layer4``, AlexNet/VGG the last ReLU of ``features``); EfficientNet: the output of ``blocks``
(``cam_layer="langlois2021"``); ViTs: the patch tokens entering the last block (``blocks[-1].norm1``
output reshaped to the patch grid, class token dropped), the layer their script gives
pytorch-grad-cam. CNN Grad-CAM (Ozbulak's ``gradcam.py``): ``max(1 + sum_k mean_ij(dy/dA_k) A_k, 0)``
(the map starts at ones), min-max scaled, quantised to uint8 and resized with PIL's antialiasing
(Lanczos) filter. CNN Score-CAM (``scorecam.py``): weight ``softmax(f(x * M_k))_t`` without a baseline,
constant upsampled channels skipped, ``max(1 + sum_k w_k A_k, 0)``, then as Grad-CAM. ViT
(pytorch-grad-cam, read at commit 00711a2; the 2021 release the paper used is not stored): Grad-CAM
``relu(sum_k mean(dy/dA_k) A_k)``; Score-CAM weights ``softmax_k(logit_t(x * M_k))`` with masks
upsampled bilinearly with ``align_corners=True`` and min-max scaled (``+1e-8``); bilinear resize.
CAMERAS (``CAMERAS/CAMERAS.py``): the input at its own size and bicubically resized to the other
resolutions; at each, the CAM layer's activations and the gradient of the target logit, both resized
bilinearly to the input size, averaged over resolutions; map ``relu(sum_k A_k G_k)`` (no spatial
averaging of the gradient), min-max scaled. Resolutions: the SI text says 100, 224 and 1000 px; their
ImageNet/Places script uses the class default ``range(224, 1000, 100)`` (224, 324, ..., 924; the
first is the native input), and that is the default here, scaled by ``input size / 224``
(``cameras_scales``; ``CAMERAS_SCALES_SI_TEXT`` holds the SI's triple). Their script refuses CAMERAS
for ViT ("CAMERAS cannot be applied to ViT": a ViT's position embeddings fix its input grid), and so
does this module.

Why written here rather than taken from captum / pytorch-grad-cam: each method is a few lines on top
of autograd, the paper's conventions differ from those libraries' defaults (the SiLU/GELU rule, the
noise std, Ozbulak's CAM offsets), and the hand-checked tests in ``tests/test_alignment_saliency.py``
pin the definitions (the SGBP benchmark compares with captum's ``NoiseTunnel(GuidedBackprop)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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

SMOOTHGRAD_SAMPLES = 30  # SI §A.2(c)
SMOOTHGRAD_NOISE = 0.10  # "noise level 10 %" (SI §A.2(c)); see SaliencyConfig.noise for the std
# Rows of the noisy stack per forward/backward by default: whole images' sample sets, at most this many
# rows (at least one image's). Measured on the shared 2-core CPU at 64 px (resnet10t, one thread): the
# alignment batch of 32 images x 30 samples took 13.0 s and +342 MiB peak RSS in passes of 60 rows vs
# 23.9 s and +2.9 GiB as one 960-row pass; one image's 30 samples in one pass stay ~4x faster than 30
# passes of one (tests/benchmarks/test_bench_alignment.py).
SMOOTHGRAD_ROWS_PER_PASS = 64
#: CAMERAS resolutions as multiples of the input size: their script's default ``range(224, 1000, 100)``
#: over the native 224 (the first entry is the image as given).
CAMERAS_SCALES: tuple[float, ...] = tuple(r / 224 for r in range(224, 1000, 100))
#: The SI §A.2(f) text's resolutions 100, 224, 1000 px over a 224 input (native first).
CAMERAS_SCALES_SI_TEXT: tuple[float, ...] = (1.0, 100 / 224, 1000 / 224)

#: Activations guided backprop has a rule for in the paper's code.
_GUIDED = ("ReLU", "SiLU", "Swish", "GELU")
#: Element-wise activations the paper's rule does not cover: guided backprop refuses such models.
_UNCOVERED = (
    "Hardswish",
    "HardSwish",
    "Mish",
    "ELU",
    "CELU",
    "SELU",
    "LeakyReLU",
    "PReLU",
    "ReLU6",
    "Softplus",
    "GELUTanh",
    "QuickGELU",
    "HardMish",
)
GBP_RULES = ("langlois2021", "positive_grad", "relu_only")


@dataclass(frozen=True)
class SaliencyConfig:
    """How maps are computed (the table in the module doc; defaults = the paper's code)."""

    reduce: str = "sum_abs"  # "sum_abs" | "max_abs"
    gbp_rule: str = "langlois2021"  # one of GBP_RULES
    noise: str = "langlois2021"  # "langlois2021": std (level*range)**2 | "fraction": std level*range
    noise_level: float = SMOOTHGRAD_NOISE
    samples: int = SMOOTHGRAD_SAMPLES
    average: str = "gradients"  # "gradients" | "maps"
    image_factor: str = "normalised"  # "normalised" | "unit"
    cam_style: str = "langlois2021"  # "langlois2021" | "luab-v1"
    cam_layer: str = "langlois2021"  # "langlois2021" | "features"
    cameras_scales: tuple[float, ...] = CAMERAS_SCALES

    def __post_init__(self) -> None:
        choices = {
            "reduce": ("sum_abs", "max_abs"),
            "gbp_rule": GBP_RULES,
            "noise": ("langlois2021", "fraction"),
            "average": ("gradients", "maps"),
            "image_factor": ("normalised", "unit"),
            "cam_style": ("langlois2021", "luab-v1"),
            "cam_layer": ("langlois2021", "features"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise LuabError(f"saliency {name} {getattr(self, name)!r}: use one of {', '.join(allowed)}")
        if self.samples < 1 or not self.noise_level >= 0 or not self.cameras_scales:
            raise LuabError("saliency config: samples >= 1, noise_level >= 0 and cameras_scales non-empty")

    def describe(self) -> str:
        """One line for task strings: the fields that differ from the default preset."""
        diff = [
            f"{f.name}={getattr(self, f.name)}"
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(PRESETS["langlois2021"], f.name)
        ]
        return "conventions langlois2021" + (f" except {', '.join(diff)}" if diff else "")


#: Named convention sets: ``langlois2021`` (the paper's code, default) and ``luab-v1`` (earlier here).
PRESETS: dict[str, SaliencyConfig] = {}
PRESETS["langlois2021"] = SaliencyConfig()
PRESETS["luab-v1"] = SaliencyConfig(
    reduce="max_abs",
    gbp_rule="relu_only",
    noise="fraction",
    average="maps",
    image_factor="unit",
    cam_style="luab-v1",
    cam_layer="features",
)


def saliency_preset(name: str) -> SaliencyConfig:
    """The :data:`PRESETS` entry ``name`` (a LuabError names the choices)."""
    if name not in PRESETS:
        raise LuabError(f"unknown saliency conventions {name!r}; use one of {', '.join(PRESETS)}")
    return PRESETS[name]


def compute_saliency(
    method: str,
    net: LuabNet,
    x: torch.Tensor,
    targets: torch.Tensor,
    *,
    seed: int = 0,
    batch_size: int = 64,
    config: SaliencyConfig | None = None,
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
    cfg = config or PRESETS["langlois2021"]
    out = []
    for start in range(0, x.shape[0], batch_size):
        sl = slice(start, start + batch_size)
        out.append(
            fn(net, x[sl], targets[sl], seed=seed + start, batch_size=batch_size, config=cfg, **kwargs)
        )
    maps = torch.cat(out).float().cpu()
    return torch.nan_to_num(maps, nan=0.0, posinf=0.0, neginf=0.0)


def top_predictions(net: LuabNet, x: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """The top predicted class of each normalised image (SI §A.2: maps are taken for it), (B,) int64."""
    import torch

    with torch.no_grad():
        return torch.cat(
            [net(x[s : s + batch_size]).logits.argmax(1) for s in range(0, x.shape[0], batch_size)]
        )


def _target_scores(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return logits.gather(1, targets.view(-1, 1).to(logits.device)).sum()


def _input_gradient(net: LuabNet, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    import torch

    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = net(x).logits
        (grad,) = torch.autograd.grad(_target_scores(logits, targets), x)
    return grad


def reduce_channels(t: torch.Tensor, how: str = "sum_abs") -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W): ``sum_c |t_c|`` (the paper's code) or ``max_c |t_c|``."""
    return t.abs().sum(dim=1) if how == "sum_abs" else t.abs().amax(dim=1)


def _config(kw: dict[str, Any]) -> SaliencyConfig:
    cfg = kw.get("config")
    return cfg if isinstance(cfg, SaliencyConfig) else PRESETS["langlois2021"]


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
            if kind == "relu":
                return g.clamp(min=0) * (z > 0).to(g.dtype)
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


def denormalise(net: LuabNet, x: torch.Tensor) -> torch.Tensor:
    """Normalised input -> image on the [0, 1] scale, using the net's own mean/std."""
    import torch

    mean = torch.tensor(net.input_mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    std = torch.tensor(net.input_std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
    return x * std + mean


@SALIENCY_METHODS.register("gbp_x_image")
def gbp_x_image(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """GBP gradient times the input (normalised tensor, or the [0, 1] image), reduced over channels."""
    cfg = _config(kw)
    factor = x if cfg.image_factor == "normalised" else denormalise(net, x)
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


def _is_vit(backbone: nn.Module) -> bool:
    blocks = getattr(backbone, "blocks", None)
    return (
        blocks is not None
        and getattr(backbone, "patch_embed", None) is not None
        and (hasattr(blocks[-1], "norm1"))
    )


def _cam_layer(
    backbone: nn.Module, cam_layer: str = "langlois2021"
) -> tuple[nn.Module | None, tuple[int, int] | None, int]:
    """(module whose output is the CAM feature map or None = forward_features, token grid, prefix tokens)."""
    if _is_vit(backbone):
        grid = tuple(int(g) for g in backbone.patch_embed.grid_size)  # type: ignore[union-attr]
        return backbone.blocks[-1].norm1, grid, int(getattr(backbone, "num_prefix_tokens", 1))  # type: ignore[index,return-value]
    if cam_layer == "langlois2021" and hasattr(backbone, "blocks") and hasattr(backbone, "conv_head"):
        return backbone.blocks, None, 0  # type: ignore[return-value]  # their EfficientNet layer
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
    net: LuabNet, x: torch.Tensor, cam_layer: str = "langlois2021"
) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    """(raw CAM-layer output kept in the graph, logits, function making it (B, K, h, w))."""
    layer, grid, prefix = _cam_layer(net.backbone, cam_layer)
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


def _upsample(cam: torch.Tensor, size: tuple[int, int], align_corners: bool = False) -> torch.Tensor:
    import torch.nn.functional as F

    return F.interpolate(cam.unsqueeze(1), size=size, mode="bilinear", align_corners=align_corners).squeeze(1)


def _minmax(t: torch.Tensor) -> torch.Tensor:
    """Each (h, w) map of (B, h, w) scaled to [0, 1]; constant maps become 0."""
    import torch

    lo = t.flatten(1).amin(1).view(-1, 1, 1)
    hi = t.flatten(1).amax(1).view(-1, 1, 1)
    return torch.where(hi > lo, (t - lo) / (hi - lo).clamp_min(1e-30), torch.zeros_like(t))


def ozbulak_resize(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Ozbulak's CAM output step: min-max to [0, 1], ``uint8(cam * 255)``, PIL resize with the
    antialiasing (Lanczos) filter to ``size``, ``/ 255``. (B, h, w) -> (B, H, W) float32."""
    import numpy as np
    import torch
    from PIL import Image

    scaled = (_minmax(cam.detach().float().cpu()) * 255).numpy().astype(np.uint8)  # np.uint8 truncates
    out = [
        np.asarray(Image.fromarray(m).resize((size[1], size[0]), Image.Resampling.LANCZOS), dtype=np.float32)
        / 255.0
        for m in scaled
    ]
    return torch.from_numpy(np.stack(out)).to(cam.device)


def _style(net: LuabNet, cfg: SaliencyConfig) -> str:
    """``ozbulak`` (CNN, paper code), ``jacobgil`` (ViT, paper code) or ``luab-v1``."""
    if cfg.cam_style == "luab-v1":
        return "luab-v1"
    return "jacobgil" if _is_vit(net.backbone) else "ozbulak"


@SALIENCY_METHODS.register("gradcam")
def gradcam(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """Grad-CAM on the CAM layer (module doc), upsampled to the input size."""
    import torch

    cfg = _config(kw)
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)  # so a frozen backbone still builds a graph
        raw, logits, spatial = _features_and_logits(net, x, cfg.cam_layer)
        (raw_grads,) = torch.autograd.grad(_target_scores(logits, targets), raw)
    acts, grads = spatial(raw.detach()), spatial(raw_grads)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    size = tuple(x.shape[2:])
    style = _style(net, cfg)
    if style == "ozbulak":
        return ozbulak_resize(torch.relu(1.0 + (weights * acts).sum(1)), size)  # type: ignore[arg-type]
    cam = torch.relu((weights * acts).sum(1))
    return _upsample(cam, size)  # type: ignore[arg-type]


@SALIENCY_METHODS.register("scorecam")
def scorecam(
    net: LuabNet, x: torch.Tensor, targets: torch.Tensor, *, batch_size: int = 64, **kw: Any
) -> torch.Tensor:
    """Score-CAM: every channel masks the input once (``batch_size`` masked images per forward)."""
    import torch

    cfg = _config(kw)
    style = _style(net, cfg)
    size = tuple(x.shape[2:])
    with torch.no_grad():
        raw, _, spatial = _features_and_logits(net, x, cfg.cam_layer)
        acts = spatial(raw)
        k = acts.shape[1]
        up = _upsample(acts.flatten(0, 1), size, align_corners=style == "jacobgil").view(  # type: ignore[arg-type]
            acts.shape[0], k, *size
        )
        lo = up.flatten(2).amin(2)[..., None, None]
        hi = up.flatten(2).amax(2)[..., None, None]
        if style == "jacobgil":
            masks = (up - lo) / (hi - lo + 1e-8)
        else:
            masks = torch.where(hi > lo, (up - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(up))
        base = torch.softmax(net(torch.zeros_like(x[:1])).logits, 1) if style == "luab-v1" else None
        cams = []
        for i in range(x.shape[0]):
            t = int(targets[i])
            scores = []
            for start in range(0, k, batch_size):
                m = masks[i, start : start + batch_size].unsqueeze(1)  # (k, 1, H, W)
                logits = net(x[i : i + 1] * m).logits
                if style == "jacobgil":
                    scores.append(logits[:, t])
                else:
                    p = torch.softmax(logits, 1)[:, t]
                    scores.append(p - base[0, t] if base is not None else p)
            w = torch.cat(scores)
            if style == "jacobgil":
                w = torch.softmax(w, 0)
            if style == "ozbulak":  # their loop skips channels whose upsampled map is constant
                w = torch.where((hi[i, :, 0, 0] > lo[i, :, 0, 0]), w, torch.zeros_like(w))
                cams.append(torch.relu(1.0 + (w.view(-1, 1, 1) * acts[i]).sum(0)))
            else:
                cams.append(torch.relu((w.view(-1, 1, 1) * acts[i]).sum(0)))
        cam = torch.stack(cams)
    if style == "ozbulak":
        return ozbulak_resize(cam, size)  # type: ignore[arg-type]
    return _upsample(cam, size)  # type: ignore[arg-type]


@SALIENCY_METHODS.register("cameras")
def cameras(net: LuabNet, x: torch.Tensor, targets: torch.Tensor, **kw: Any) -> torch.Tensor:
    """CAMERAS: activations x gradients of the CAM layer averaged over input resolutions (module doc)."""
    import torch
    import torch.nn.functional as F

    cfg = _config(kw)
    if _is_vit(net.backbone):
        raise LuabError(
            "cameras does not apply to ViTs: the paper's code refuses it ('CAMERAS cannot be applied "
            "to ViT'; the position embeddings fix the input grid). Use gradcam or scorecam"
        )
    size = tuple(int(s) for s in x.shape[2:])
    feats = grads = None
    for i, scale in enumerate(cfg.cameras_scales):
        xi = x
        if i > 0:
            res = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
            xi = F.interpolate(x, size=res, mode="bicubic", align_corners=False)
        with torch.enable_grad():
            xi = xi.detach().requires_grad_(True)
            raw, logits, spatial = _features_and_logits(net, xi, cfg.cam_layer)
            (g,) = torch.autograd.grad(_target_scores(logits, targets), raw)
        a = F.interpolate(spatial(raw.detach()), size=size, mode="bilinear", align_corners=False)
        gg = F.interpolate(spatial(g), size=size, mode="bilinear", align_corners=False)
        feats = a if feats is None else feats + a
        grads = gg if grads is None else grads + gg
    n = len(cfg.cameras_scales)
    cam = torch.relu(((feats / n) * (grads / n)).sum(1))  # type: ignore[operator]
    return _minmax(cam)


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
