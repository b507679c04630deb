"""Image corruptions of the ImageNet-C analogue: a registry, severities 1-5 (Tiny-ImageNet-C's).

Severity parameters are those of Tiny-ImageNet-C (64 px; hendrycks/robustness
``ImageNet-C/create_c/make_tinyimagenet_c.py``), reimplemented vectorised in numpy/scipy/Pillow;
``gaussian_blur`` sigma scales up with ``image_size / 64`` for images larger than 64 px. A new
corruption is one function decorated with ``@CORRUPTIONS.register(name)``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from luab_bench.registry import Registry

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

#: A corruption maps float32 images (N, H, W, 3) in [0, 1], a severity 1..5, the image side the
#: parameters are scaled for, and a seeded generator, to float images (clipped to [0, 1] afterwards).
Corruption = Callable[[np.ndarray, int, int, np.random.Generator], np.ndarray]
CORRUPTIONS: Registry[Corruption] = Registry("corruption")


# ---------------------------------------------------------------------------------------- corruptions
@CORRUPTIONS.register("gaussian_noise")
def gaussian_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Additive N(0, c^2) noise per element, c = .04 .08 .12 .15 .18."""
    c = (0.04, 0.08, 0.12, 0.15, 0.18)[severity - 1]
    return x + rng.normal(0.0, c, x.shape).astype(np.float32)


@CORRUPTIONS.register("shot_noise")
def shot_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Poisson photon noise: ``Poisson(x * c) / c``, c = 250 100 50 30 15."""
    c = (250, 100, 50, 30, 15)[severity - 1]
    return (rng.poisson(x * c) / c).astype(np.float32)


@CORRUPTIONS.register("impulse_noise")
def impulse_noise(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Salt-and-pepper: a fraction c (= .01 .02 .05 .08 .14) of elements set to 0 or 1 (50/50)."""
    c = (0.01, 0.02, 0.05, 0.08, 0.14)[severity - 1]
    hit = rng.random(x.shape) < c
    salt = rng.random(x.shape) < 0.5
    out = x.copy()
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return out


@CORRUPTIONS.register("gaussian_blur")
def gaussian_blur(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur, sigma = (.5 .75 1 1.25 1.5) * max(size, 64) / 64 px, 'nearest' borders, truncate 4.

    The sigmas are Tiny-ImageNet-C's (64 px); they scale up for larger images but not down (at 32 px
    a halved sigma of .25 px changes no uint8 pixel, so severity 1 would be a no-op).
    """
    from scipy.ndimage import gaussian_filter

    sigma = (0.5, 0.75, 1.0, 1.25, 1.5)[severity - 1] * max(size, 64) / 64.0
    return gaussian_filter(x, sigma=(0, sigma, sigma, 0), mode="nearest", truncate=4.0)


@CORRUPTIONS.register("contrast")
def contrast(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Shrink towards each image's per-channel mean by c = .4 .3 .2 .1 .05."""
    c = np.float32((0.4, 0.3, 0.2, 0.1, 0.05)[severity - 1])
    mean = x.mean(axis=(1, 2), keepdims=True)
    return (x - mean) * c + mean


@CORRUPTIONS.register("brightness")
def brightness(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """HSV value + c (= .1 .2 .3 .4 .5), clipped to 1, hue and saturation kept.

    With V = max(r, g, b), scaling all channels by V'/V changes V to V' and keeps H and S; a black
    pixel (V = 0, S = 0 by convention) becomes grey V'.
    """
    c = np.float32((0.1, 0.2, 0.3, 0.4, 0.5)[severity - 1])
    v = x.max(axis=-1, keepdims=True)
    v_new = np.minimum(v + c, np.float32(1.0))
    scale = np.divide(v_new, v, out=np.zeros_like(v), where=v > 0)
    return np.where(v > 0, x * scale, v_new)


def _per_image_pil(x: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    from PIL import Image

    u8 = np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)
    out = np.empty(x.shape, dtype=np.float32)
    for i in range(len(u8)):
        out[i] = np.asarray(fn(Image.fromarray(u8[i])).convert("RGB"), dtype=np.float32) / 255.0
    return out


@CORRUPTIONS.register("pixelate")
def pixelate(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Box-downsample to ``int(side * c)`` (c = .9 .8 .7 .6 .5) and box-upsample back (Pillow)."""
    from PIL import Image

    c = (0.9, 0.8, 0.7, 0.6, 0.5)[severity - 1]
    h, w = x.shape[1:3]
    small = (max(1, int(w * c)), max(1, int(h * c)))
    return _per_image_pil(x, lambda im: im.resize(small, Image.BOX).resize((w, h), Image.BOX))


@CORRUPTIONS.register("jpeg_compression")
def jpeg_compression(x: np.ndarray, severity: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """JPEG round trip through Pillow at quality 65 58 50 40 25 (bytes depend on Pillow's libjpeg)."""
    from PIL import Image

    q = (65, 58, 50, 40, 25)[severity - 1]

    def roundtrip(im: Any) -> Any:
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=q)
        buf.seek(0)
        return Image.open(buf)

    return _per_image_pil(x, roundtrip)


DEFAULT_CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "gaussian_blur",
    "brightness",
    "contrast",
    "pixelate",
    "jpeg_compression",
)


def corrupt(images: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """uint8 (N, H, W, 3) images under corruption ``name`` at ``severity`` (1..5), as uint8."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity}")
    fn = CORRUPTIONS.get(name)
    x = np.asarray(images, dtype=np.float32) / np.float32(255.0)
    y = fn(x, severity, images.shape[1], rng) * np.float32(255.0)
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)
