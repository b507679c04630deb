"""Batched, seeded, point-aware RandAugment (timm ``rand_augment_transform`` semantics).

What is drawn, per image, for each of ``num_layers`` layers (as timm's ``RandAugment`` +
``AugmentOp`` do, one image at a time with Python's ``random``): an op uniformly from timm's 15-op
list (with replacement), whether it is applied (probability ``prob``), a magnitude ~ N(m, mstd²)
clipped to [0, mmax], and a sign (each signed level is negated with probability 1/2). The draws
come from a ``torch.Generator`` for the whole batch at once (:func:`sample_randaug_params`), so a
batch is fixed by (seed, epoch, batch index) and can be sliced across DDP ranks.

How it is applied (:func:`apply_photometric`, :func:`geometric_matrices`):

- Geometric ops (Rotate, ShearX/Y, TranslateX/YRel) become 3×3 output -> input matrices in output
  pixel coordinates, exactly PIL's ``Image.transform(AFFINE)`` / ``Image.rotate`` maps that timm
  uses. They are composed with the random-resized crop into *one* ``grid_sample``
  (``train.transforms.crop_images``), and Z is carried forward through the inverted matrices
  (``train.transforms.warp_points``): image and Z share the same matrix. Pixels uncovered by a
  layer get the fill colour (timm: ``img_mean``); a Z that leaves the frame loses its target.
- Photometric ops (AutoContrast, Equalize, Invert, Posterize, Solarize, SolarizeAdd, Color,
  Contrast, Brightness, Sharpness) are vectorised over the images that drew them and never move Z.
  The histogram/LUT ops work on the image quantised to 0..255 as PIL does; the blends in float.

Differences from timm, all deliberate: (1) all geometric layers are resampled together before the
photometric ones, so a photometric op drawn *before* a rotate also acts on the rotate's fill
(timm: only when drawn after); (2) one bilinear resampling instead of timm's crop + op resamplings
(DeiT: bicubic); (3) images stay float between ops (PIL rounds to uint8 after each op).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import torch

    from luab_bench.protocols.base import RandAugmentConfig

#: timm's ``_RAND_TRANSFORMS`` / ``_RAND_INCREASING_TRANSFORMS`` (same positions, different levels).
OPS: tuple[str, ...] = (
    "AutoContrast",
    "Equalize",
    "Invert",
    "Rotate",
    "Posterize",
    "Solarize",
    "SolarizeAdd",
    "Color",
    "Contrast",
    "Brightness",
    "Sharpness",
    "ShearX",
    "ShearY",
    "TranslateXRel",
    "TranslateYRel",
)
GEOMETRIC_OPS = frozenset({"Rotate", "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"})
_LEVEL_DENOM = 10.0


def timm_op_name(op: str, increasing: bool) -> str:
    """The timm ``NAME_TO_OP`` key of ``op`` in the increasing (``inc1``) or standard op set."""
    if increasing and op in {"Posterize", "Solarize", "Color", "Contrast", "Brightness", "Sharpness"}:
        return op + "Increasing"
    return op


class RandAugParams(NamedTuple):
    """Per-image, per-layer draws: op index (B, L) into :data:`OPS`, applied (B, L), magnitude
    (B, L) float64 after clipping, sign (B, L) float64 ±1."""

    op: torch.Tensor
    applied: torch.Tensor
    magnitude: torch.Tensor
    sign: torch.Tensor


def sample_randaug_params(
    batch: int, cfg: RandAugmentConfig, *, generator: torch.Generator | None = None
) -> RandAugParams:
    """Draw the RandAugment choices of ``batch`` images (a fixed number of draws per image)."""
    import torch

    shape = (batch, cfg.num_layers)
    op = torch.randint(0, len(OPS), shape, generator=generator)
    applied = torch.rand(shape, generator=generator, dtype=torch.float64) < cfg.prob
    noise = torch.randn(shape, generator=generator, dtype=torch.float64)
    magnitude = (cfg.magnitude + cfg.magnitude_std * noise).clamp(0.0, cfg.magnitude_max)
    sign = torch.where(torch.rand(shape, generator=generator, dtype=torch.float64) > 0.5, -1.0, 1.0)
    return RandAugParams(op, applied, magnitude, sign.to(torch.float64))


def _is(params: RandAugParams, name: str) -> torch.Tensor:
    return params.applied & (params.op == OPS.index(name))


def geometric_matrices(
    params: RandAugParams, cfg: RandAugmentConfig, out_size: int | tuple[int, int]
) -> torch.Tensor | None:
    """(B, L, 3, 3) float64 output -> input maps (output pixel coordinates) of the geometric layers.

    Identity for layers that drew a photometric op or were not applied; None when no image in the
    batch has a geometric layer (then the crop is resampled as without RandAugment). PIL's maps:
    ShearX ``x_in = x + f·y`` (f = 0.3·m/10, signed), ShearY ``y_in = y + f·x``, TranslateXRel
    ``x_in = x + t·W`` (t = translate_pct·m/10, signed), TranslateYRel ``y_in = y + t·H``, Rotate by
    d = 30·m/10 degrees (signed, counter-clockwise on screen) about the image centre.
    """
    import torch

    oh, ow = (out_size, out_size) if isinstance(out_size, int) else out_size
    geo = torch.zeros_like(params.applied)
    for name in GEOMETRIC_OPS:
        geo |= _is(params, name)
    if not bool(geo.any()):
        return None
    b, layers = params.op.shape
    level = params.magnitude / _LEVEL_DENOM * params.sign
    m = torch.eye(3, dtype=torch.float64).repeat(b, layers, 1, 1)
    shear = 0.3 * level
    m[..., 0, 1] = torch.where(_is(params, "ShearX"), shear, m[..., 0, 1])
    m[..., 1, 0] = torch.where(_is(params, "ShearY"), shear, m[..., 1, 0])
    shift = cfg.translate_pct * level
    m[..., 0, 2] = torch.where(_is(params, "TranslateXRel"), shift * ow, m[..., 0, 2])
    m[..., 1, 2] = torch.where(_is(params, "TranslateYRel"), shift * oh, m[..., 1, 2])
    rot = _is(params, "Rotate")
    a = -torch.deg2rad(30.0 * level)  # PIL: angle = -radians(degrees)
    cos, sin = torch.cos(a), torch.sin(a)
    cx, cy = ow / 2.0, oh / 2.0
    r = torch.stack(
        [
            torch.stack([cos, sin, cx - cos * cx - sin * cy], dim=-1),
            torch.stack([-sin, cos, cy + sin * cx - cos * cy], dim=-1),
            torch.stack([torch.zeros_like(cos), torch.zeros_like(cos), torch.ones_like(cos)], dim=-1),
        ],
        dim=-2,
    )
    return torch.where(rot[..., None, None], r, m)


# ----------------------------------------------------------------------------- photometric ops
# Each takes x (n, 3, H, W) float in [0, 1], the clipped magnitude (n,) and sign (n,) float64, and
# whether the increasing op set is used; returns the new images.
def _quantise(x: torch.Tensor) -> torch.Tensor:
    return (x * 255.0).round().clamp(0, 255)


def _bc(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return v.to(x.dtype).view(-1, 1, 1, 1)


def _auto_contrast(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """PIL ``ImageOps.autocontrast`` (cutoff 0): each channel's [lo, hi] stretched to [0, 255]."""
    import torch

    q = _quantise(x).to(torch.float64)  # float64 as PIL's lut arithmetic (Python floats)
    lo, hi = q.amin(dim=(2, 3), keepdim=True), q.amax(dim=(2, 3), keepdim=True)
    scale = 255.0 / (hi - lo).clamp(min=1)
    out = (q * scale + (-lo * scale)).floor().clamp(0, 255)
    return (torch.where(hi > lo, out, q) / 255.0).to(x.dtype)


def _equalize(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """PIL ``ImageOps.equalize``: per channel, lut[i] = (step//2 + #pixels below i) // step with
    step = (#pixels − count of the highest occupied level) // 255; identity if step is 0."""
    import torch

    q = _quantise(x).to(torch.int64)
    n, c, h, w = q.shape
    flat = q.view(n, c, h * w)
    counts = torch.zeros((n, c, 256), dtype=torch.int64, device=x.device)
    counts.scatter_add_(2, flat, torch.ones_like(flat))
    occupied = counts > 0
    last = 255 - occupied.flip(-1).to(torch.int64).argmax(dim=-1, keepdim=True)
    step = (h * w - counts.gather(2, last)) // 255  # (n, c, 1)
    below = counts.cumsum(-1) - counts
    lut = ((step // 2 + below) // step.clamp(min=1)).clamp(0, 255)
    out = lut.gather(2, flat).view(n, c, h, w)
    ok = (step > 0) & (occupied.sum(-1, keepdim=True) > 1)
    return torch.where(ok[..., None], out, q).to(x.dtype) / 255.0


def _invert(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    return 1.0 - x


def _posterize(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """Keep the top ``bits`` bits (inc: 4 − int(4·m/10); standard: int(4·m/10))."""
    import torch

    bits = (mag / _LEVEL_DENOM * 4).floor()
    bits = (4 - bits) if inc else bits
    bucket = _bc(torch.pow(2.0, 8 - bits.clamp(0, 8)), x)
    out = (_quantise(x) / bucket).floor() * bucket
    return torch.where(_bc(bits, x) >= 8, x, out / 255.0)


def _solarize(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """Invert levels >= thresh (standard: min(256, int(256·m/10)); inc: 256 minus that)."""
    import torch

    t = (mag / _LEVEL_DENOM * 256).floor().clamp(max=256)
    t = _bc((256 - t) if inc else t, x)
    q = _quantise(x)
    return torch.where(q < t, q, 255 - q) / 255.0


def _solarize_add(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """Add min(128, int(110·m/10)) to levels below 128 (saturating)."""
    import torch

    add = _bc((mag / _LEVEL_DENOM * 110).floor().clamp(max=128), x)
    q = _quantise(x)
    return torch.where(q < 128, (q + add).clamp(max=255), q) / 255.0


def _enhance_factor(mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    if inc:  # timm _enhance_increasing_level_to_arg
        return (1.0 + sign * mag / _LEVEL_DENOM * 0.9).clamp(min=0.1)
    return mag / _LEVEL_DENOM * 1.8 + 0.1


def _grey(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601-2 luma, PIL's ``convert('L')``."""
    return 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def _blend(degenerate: torch.Tensor, x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """PIL ``ImageEnhance``: degenerate + f·(x − degenerate), clipped."""
    return (degenerate + _bc(factor, x) * (x - degenerate)).clamp(0, 1)


def _color(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    return _blend(_grey(x).expand_as(x), x, _enhance_factor(mag, sign, inc))


def _contrast(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    mean = (_grey(x).mean(dim=(1, 2, 3), keepdim=True) * 255 + 0.5).floor() / 255.0
    return _blend(mean.expand_as(x), x, _enhance_factor(mag, sign, inc))


def _brightness(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    import torch

    return _blend(torch.zeros_like(x), x, _enhance_factor(mag, sign, inc))


def _sharpness(x: torch.Tensor, mag: torch.Tensor, sign: torch.Tensor, inc: bool) -> torch.Tensor:
    """Blend with PIL's SMOOTH filter (3×3, centre 5, others 1, /13; border pixels unfiltered)."""
    import torch
    import torch.nn.functional as F

    k = torch.ones((3, 1, 3, 3), dtype=x.dtype, device=x.device)
    k[:, :, 1, 1] = 5.0
    smooth = x.clone()
    smooth[:, :, 1:-1, 1:-1] = F.conv2d(x, k / 13.0, groups=3)
    return _blend(smooth, x, _enhance_factor(mag, sign, inc))


_PHOTOMETRIC: dict[str, Callable[..., torch.Tensor]] = {
    "AutoContrast": _auto_contrast,
    "Equalize": _equalize,
    "Invert": _invert,
    "Posterize": _posterize,
    "Solarize": _solarize,
    "SolarizeAdd": _solarize_add,
    "Color": _color,
    "Contrast": _contrast,
    "Brightness": _brightness,
    "Sharpness": _sharpness,
}


def apply_photometric(x: torch.Tensor, params: RandAugParams, cfg: RandAugmentConfig) -> torch.Tensor:
    """Apply each image's photometric layers in layer order to a float batch in [0, 1]."""
    out = x.clone()
    for layer in range(params.op.shape[1]):
        for name, fn in _PHOTOMETRIC.items():
            idx = _is(params, name)[:, layer].nonzero().flatten()
            if idx.numel() == 0:
                continue
            idx = idx.to(x.device)
            mag = params.magnitude[:, layer].to(x.device)[idx]
            sign = params.sign[:, layer].to(x.device)[idx]
            out[idx] = fn(out[idx], mag, sign, cfg.increasing)
    return out


def rotate_degrees(magnitude: float, sign: float = 1.0) -> float:
    """timm's Rotate level: 30·m/10 degrees, signed (for tests and docs)."""
    return 30.0 * magnitude / _LEVEL_DENOM * sign
