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

from typing import TYPE_CHECKING, Any

# the method families register themselves in SALIENCY_METHODS on import
from luab_bench.alignment import saliency_cams, saliency_gradients  # noqa: F401
from luab_bench.alignment.saliency_base import (
    _GUIDED,
    _UNCOVERED,
    CAMERAS_SCALES,
    CAMERAS_SCALES_SI_TEXT,
    GBP_RULES,
    PRESETS,
    SALIENCY_METHODS,
    SMOOTHGRAD_NOISE,
    SMOOTHGRAD_ROWS_PER_PASS,
    SMOOTHGRAD_SAMPLES,
    SaliencyConfig,
    SaliencyFn,
    _config,
    _input_gradient,
    _target_scores,
    reduce_channels,
    saliency_preset,
    top_predictions,
)
from luab_bench.alignment.saliency_cams import (
    _cam_layer,
    _is_vit,
    cameras,
    gradcam,
    ozbulak_resize,
    scorecam,
)
from luab_bench.alignment.saliency_gradients import (
    _gbp_gradient,
    _gelu_grad,
    _gelu_tanh_grad_langlois,
    _guided_fn,
    _silu_grad,
    denormalize,
    gbp,
    gbp_x_image,
    gradient,
    guided_relus,
    sgbp,
    smoothgrad_noise,
)
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch

    from luab_bench.models import LuabNet

__all__ = [
    "CAMERAS_SCALES",
    "CAMERAS_SCALES_SI_TEXT",
    "GBP_RULES",
    "PRESETS",
    "SALIENCY_METHODS",
    "SMOOTHGRAD_NOISE",
    "SMOOTHGRAD_ROWS_PER_PASS",
    "SMOOTHGRAD_SAMPLES",
    "_GUIDED",
    "_UNCOVERED",
    "SaliencyConfig",
    "SaliencyFn",
    "_cam_layer",
    "_config",
    "_gbp_gradient",
    "_gelu_grad",
    "_gelu_tanh_grad_langlois",
    "_guided_fn",
    "_input_gradient",
    "_is_vit",
    "_silu_grad",
    "_target_scores",
    "cameras",
    "compute_saliency",
    "denormalize",
    "gbp",
    "gbp_x_image",
    "gradcam",
    "gradient",
    "guided_relus",
    "method_names",
    "ozbulak_resize",
    "reduce_channels",
    "saliency_preset",
    "scorecam",
    "sgbp",
    "smoothgrad_noise",
    "top_predictions",
]


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
