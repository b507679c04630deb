"""Batched point-aware random-resized-crop + horizontal flip: the image and its Z move together.

Crop boxes follow ``torchvision.transforms.RandomResizedCrop.get_params`` exactly (area fraction
uniform in ``scale``, log-uniform aspect ``ratio``, 10 attempts, then the centre-crop fallback; integer
pixel boxes), drawn for the whole batch at once from a ``torch.Generator``. The crops are applied
with one ``affine_grid`` + ``grid_sample`` (bilinear, ``align_corners=False``, border padding), which
equals torchvision's ``resized_crop(..., antialias=False)`` except in the outermost output pixels,
where we interpolate with the true neighbour outside the crop instead of clamping to the crop edge.

Coordinates: a point z = (x, y) is relative to the image, x to the right and y down, (0, 0) the
top-left *corner* and (1, 1) the bottom-right corner (pixel k spans [k, k+1) / W). A crop with
origin (left, top) and size (w, h) in pixels maps z to ``((x·W − left)/w, (y·H − top)/h)``; a flip maps
x' to 1 − x'. A point outside [0, 1]² after the crop has no target any more (mask False).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F


class CropParams(NamedTuple):
    """Per-sample crop boxes in pixels (int64 (B,)) and flips (bool (B,))."""

    top: torch.Tensor
    left: torch.Tensor
    height: torch.Tensor
    width: torch.Tensor
    flip: torch.Tensor


def sample_crop_params(
    batch: int,
    height: int,
    width: int,
    *,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    hflip_prob: float,
    generator: torch.Generator | None = None,
) -> CropParams:
    """Draw ``batch`` RandomResizedCrop boxes (torchvision semantics) and flip decisions."""
    attempts = 10
    area = float(height * width)
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    u_area = torch.rand((batch, attempts), generator=generator, dtype=torch.float64)
    u_ratio = torch.rand((batch, attempts), generator=generator, dtype=torch.float64)
    u_top = torch.rand(batch, generator=generator, dtype=torch.float64)
    u_left = torch.rand(batch, generator=generator, dtype=torch.float64)
    flip = torch.rand(batch, generator=generator) < hflip_prob

    target_area = area * (scale[0] + (scale[1] - scale[0]) * u_area)
    aspect = torch.exp(log_r[0] + (log_r[1] - log_r[0]) * u_ratio)
    w = torch.round(torch.sqrt(target_area * aspect)).to(torch.int64)
    h = torch.round(torch.sqrt(target_area / aspect)).to(torch.int64)
    ok = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    any_ok = ok.any(dim=1)
    first = ok.to(torch.int64).argmax(dim=1)  # index of the first valid attempt (0 if none)
    rows = torch.arange(batch)
    w, h = w[rows, first], h[rows, first]

    # Fallback: the whole image cropped to the nearest allowed aspect ratio, centred.
    in_ratio = width / height
    if in_ratio < min(ratio):
        fw, fh = width, round(width / min(ratio))
    elif in_ratio > max(ratio):
        fw, fh = round(height * max(ratio)), height
    else:
        fw, fh = width, height
    w = torch.where(any_ok, w, torch.full_like(w, fw))
    h = torch.where(any_ok, h, torch.full_like(h, fh))
    top = torch.floor(u_top * (height - h + 1).to(torch.float64)).to(torch.int64)
    left = torch.floor(u_left * (width - w + 1).to(torch.float64)).to(torch.int64)
    top = torch.where(any_ok, top, torch.full_like(top, 0) + (height - fh) // 2)
    left = torch.where(any_ok, left, torch.full_like(left, 0) + (width - fw) // 2)
    return CropParams(top, left, h, w, flip)


def crop_theta(
    params: CropParams, height: int, width: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """The (B, 2, 3) ``affine_grid`` matrix of each crop (+ flip): output -> input, normalised coords."""
    b = params.top.shape[0]
    top, left = params.top.to(device, dtype), params.left.to(device, dtype)
    h, w = params.height.to(device, dtype), params.width.to(device, dtype)
    sx = w / width
    sx = torch.where(params.flip.to(device), -sx, sx)
    theta = torch.zeros((b, 2, 3), device=device, dtype=dtype)
    theta[:, 0, 0] = sx
    theta[:, 0, 2] = (2 * left + w) / width - 1
    theta[:, 1, 1] = h / height
    theta[:, 1, 2] = (2 * top + h) / height - 1
    return theta


def crop_images(
    images: torch.Tensor,
    params: CropParams,
    out_size: int | tuple[int, int],
    *,
    geometric: torch.Tensor | None = None,
    fill: Sequence[float] | None = None,
) -> torch.Tensor:
    """Resample each image (B, C, H, W) float to its crop box, resized to ``out_size``, then flip.

    ``geometric`` (B, L, 3, 3): optional further affine layers applied *after* the crop, each an
    output -> input map in output pixel coordinates (PIL's ``Image.transform(AFFINE)`` convention;
    see ``train.randaug``), layer 0 first. All of it is one resampling of the source image. A pixel
    whose sample point leaves the frame at any layer is set to ``fill`` (C values, image units), as
    PIL fills what a rotate/shear/translate of the cropped image uncovers.
    """
    if not images.is_floating_point():
        raise TypeError(f"crop_images needs a float batch, got {images.dtype}")
    b, c, height, width = images.shape
    oh, ow = (out_size, out_size) if isinstance(out_size, int) else out_size
    dev, dt = images.device, images.dtype
    theta = crop_theta(params, height, width, dev, dt)
    if geometric is None:
        grid = F.affine_grid(theta, [b, c, oh, ow], align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Sample points in output pixel coordinates (pixel centres), carried back layer by layer; like
    # PIL, a sample is inside the frame when 0 <= x < W and 0 <= y < H (half-open).
    ys = torch.arange(oh, dtype=torch.float64, device=dev) + 0.5
    xs = torch.arange(ow, dtype=torch.float64, device=dev) + 0.5
    p = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).expand(b, oh, ow, 2)
    size = torch.tensor([ow, oh], dtype=torch.float64, device=dev)
    keep = torch.ones((b, oh, ow), dtype=torch.bool, device=dev)
    for layer in reversed(range(geometric.shape[1])):
        a = geometric[:, layer].to(dev, torch.float64)
        p = torch.einsum("bij,bhwj->bhwi", a[:, :2, :2], p) + a[:, None, None, :2, 2]
        keep &= ((p >= 0) & (p < size)).all(dim=-1)
    u = 2 * p / size - 1  # affine_grid's normalised coordinates of the cropped image
    theta64 = theta.to(torch.float64)
    u = torch.einsum("bij,bhwj->bhwi", theta64[:, :, :2], u) + theta64[:, None, None, :, 2]
    out = F.grid_sample(images, u.to(dt), mode="bilinear", padding_mode="border", align_corners=False)
    fill_t = torch.as_tensor(fill if fill is not None else [0.0] * c, dtype=dt, device=dev).view(1, c, 1, 1)
    return torch.where(keep[:, None], out, fill_t)


def crop_points(
    points: torch.Tensor, has_point: torch.Tensor, params: CropParams, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Map relative points (B, P, 2) through the same crops/flips; out-of-view points lose their mask."""
    dev = points.device
    dt = points.dtype if points.is_floating_point() else torch.float32
    top = params.top.to(dev, dt)[:, None]
    left = params.left.to(dev, dt)[:, None]
    h = params.height.to(dev, dt)[:, None]
    w = params.width.to(dev, dt)[:, None]
    x = (points[..., 0].to(dt) * width - left) / w
    y = (points[..., 1].to(dt) * height - top) / h
    x = torch.where(params.flip.to(dev)[:, None], 1 - x, x)
    out = torch.stack([x, y], dim=-1)
    in_view = (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
    return out, has_point.to(torch.bool) & in_view


def warp_points(
    points: torch.Tensor,
    has_point: torch.Tensor,
    geometric: torch.Tensor,
    out_size: int | tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Move relative points (B, P, 2) of the cropped image through the ``geometric`` layers.

    Each layer's output -> input matrix is inverted (the layers are rotations, shears and
    translations, all invertible) to carry a point forward. A point that leaves the frame at any
    layer loses its target, like a pixel that is filled (see :func:`crop_images`).
    """
    oh, ow = (out_size, out_size) if isinstance(out_size, int) else out_size
    dev, dt = points.device, points.dtype if points.is_floating_point() else torch.float32
    scale = torch.tensor([ow, oh], dtype=torch.float64, device=dev)
    p = points.to(torch.float64) * scale
    mask = has_point.to(torch.bool)
    fwd = torch.linalg.inv(geometric.to(dev, torch.float64))  # (B, L, 3, 3) input -> output
    for layer in range(geometric.shape[1]):
        m = fwd[:, layer]
        p = torch.einsum("bij,bpj->bpi", m[:, :2, :2], p) + m[:, None, :2, 2]
        mask &= (p >= 0).all(dim=-1) & (p <= scale).all(dim=-1)
    return (p / scale).to(dt), mask


def random_resized_crop_flip(
    images: torch.Tensor,
    points: torch.Tensor,
    has_point: torch.Tensor,
    *,
    out_size: int | tuple[int, int],
    scale: tuple[float, float],
    ratio: tuple[float, float],
    hflip_prob: float,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Augment a float batch and its points together; returns (images, points, has_point)."""
    _, _, height, width = images.shape
    params = sample_crop_params(
        images.shape[0],
        height,
        width,
        scale=scale,
        ratio=ratio,
        hflip_prob=hflip_prob,
        generator=generator,
    )
    new_points, new_mask = crop_points(points, has_point, params, height, width)
    return crop_images(images, params, out_size), new_points, new_mask
