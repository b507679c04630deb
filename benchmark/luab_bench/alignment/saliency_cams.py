"""The CAM family of saliency methods: ``gradcam``, ``scorecam`` and ``cameras`` on the last
convolutional layer (ViTs: the patch tokens entering the last block); definitions in
:mod:`luab_bench.alignment.saliency` (Langlois et al. SI §A.2 (d)-(f))."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from luab_bench.alignment.saliency_base import SALIENCY_METHODS, SaliencyConfig, _config, _target_scores
from luab_bench.errors import LuabError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from luab_bench.models import LuabNet


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
