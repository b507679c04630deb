"""Batched, seeded random erasing (timm ``RandomErasing``, ``max_count=1``), applied after normalisation.

Per image, as timm's ``_erase``: with probability ``prob`` try up to 10 boxes with area fraction
uniform in [min_area, max_area] and aspect ratio log-uniform in [min_aspect, 1/min_aspect],
``h = round(sqrt(area·ratio))``, ``w = round(sqrt(area/ratio))``; the first with ``w < W`` and
``h < H`` is placed uniformly (``top`` in [0, H − h]) and filled with N(0, 1) noise per pixel
(``pixel``), per channel (``rand``) or zeros (``const``) — normalised units, so ``const`` is the
dataset mean. If no attempt fits, nothing is erased (as in timm).

Z is kept, also when it lies inside the erased box. The box is an occlusion of the image's *own*
content: the object is still where the annotator clicked, unlike CutMix, which pastes *another*
image's object there (a competing, visible target). The class label is kept under erasing for the
same reason (timm/DeiT), and regressing Z from the visible context is exactly what a localisation
head should learn; dropping the target would also make erasing change the point-loss weight.

All draws (including a per-image noise seed) come from the batch generator, so a batch is fixed by
(seed, epoch, batch index), replayable on resume and sliceable across DDP ranks; the noise of each
image comes from its own generator seeded with its drawn seed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import RandomErasingConfig


class ErasingParams(NamedTuple):
    """Per-image draws: erase (B,) bool, box top/left/height/width (B,) int64, noise seed (B,) int64."""

    erase: torch.Tensor
    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    noise_seed: torch.Tensor


def sample_erasing_params(
    batch: int,
    height: int,
    width: int,
    cfg: RandomErasingConfig,
    *,
    generator: torch.Generator | None = None,
) -> ErasingParams:
    """Draw ``batch`` erasing decisions and boxes (a fixed number of draws per image)."""
    import torch

    attempts = 10
    area = float(height * width)
    log_lo, log_hi = math.log(cfg.min_aspect), math.log(1.0 / cfg.min_aspect)
    u_apply = torch.rand(batch, generator=generator, dtype=torch.float64)
    u_area = torch.rand((batch, attempts), generator=generator, dtype=torch.float64)
    u_ratio = torch.rand((batch, attempts), generator=generator, dtype=torch.float64)
    u_top = torch.rand(batch, generator=generator, dtype=torch.float64)
    u_left = torch.rand(batch, generator=generator, dtype=torch.float64)
    noise_seed = torch.randint(0, 2**62, (batch,), generator=generator)

    target = area * (cfg.min_area + (cfg.max_area - cfg.min_area) * u_area)
    ratio = torch.exp(log_lo + (log_hi - log_lo) * u_ratio)
    h = torch.round(torch.sqrt(target * ratio)).to(torch.int64)
    w = torch.round(torch.sqrt(target / ratio)).to(torch.int64)
    ok = (w < width) & (h < height) & (w > 0) & (h > 0)
    first = ok.to(torch.int64).argmax(dim=1)
    rows = torch.arange(batch)
    h, w = h[rows, first], w[rows, first]
    erase = (u_apply < cfg.prob) & ok.any(dim=1)
    top = torch.floor(u_top * (height - h + 1).to(torch.float64)).to(torch.int64)
    left = torch.floor(u_left * (width - w + 1).to(torch.float64)).to(torch.int64)
    return ErasingParams(erase, top, left, h, w, noise_seed)


def apply_erasing(x: torch.Tensor, params: ErasingParams, cfg: RandomErasingConfig) -> torch.Tensor:
    """Erase the drawn boxes of a normalised batch (B, C, H, W) in place; returns it."""
    import torch

    c = x.shape[1]
    for i in params.erase.nonzero().flatten().tolist():
        t, le = int(params.top[i]), int(params.left[i])
        h, w = int(params.height[i]), int(params.width[i])
        if cfg.mode == "const":
            x[i, :, t : t + h, le : le + w] = 0.0
            continue
        g = torch.Generator().manual_seed(int(params.noise_seed[i]))
        shape = (c, h, w) if cfg.mode == "pixel" else (c, 1, 1)
        noise = torch.randn(shape, generator=g, dtype=torch.float32).to(x.device, x.dtype)
        x[i, :, t : t + h, le : le + w] = noise
    return x
