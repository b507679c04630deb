"""Non-model reference maps scored in every alignment table, so a model's r is read against a floor.

* ``centre`` – centre bias: one image-independent map, a unit impulse at the image centre (the 2 x 2
  central pixels for an even size). Smoothed over the same sigma grid as every method, it *is* a
  centred Gaussian whose width is fitted like any method's smoothing (at sigma 0 it is the impulse).
* ``spectral_residual`` – a classical bottom-up saliency model: the spectral residual of Hou & Zhang
  (CVPR 2007) as implemented by OpenCV's ``cv2.saliency.StaticSaliencySpectralResidual``
  (opencv-contrib; ``pip install 'luab-bench[align]'``). OpenCV works on a 64 x 64 grayscale version
  of the image and returns the map at the image size.

The paper's non-ANN references are GBVS (Harel et al. 2006) and BMS (Zhang & Sclaroff 2013) (SI §B,
SI Fig. 4); both are MATLAB code without a maintained Python package, so the spectral residual stands
in for "a classical bottom-up model" here; it is not the paper's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from luab_bench.errors import LuabError
from luab_bench.registry import Registry

BaselineFn = Callable[[np.ndarray], np.ndarray]

#: ``fn(images uint8 (N, H, W, 3)) -> maps (N, H, W) float64``.
BASELINES: Registry[BaselineFn] = Registry("alignment baseline")


@BASELINES.register("centre")
def centre(images: np.ndarray) -> np.ndarray:
    """The same centre impulse for every image (module doc)."""
    n, h, w = np.asarray(images).shape[:3]
    m = np.zeros((h, w))
    rows = [h // 2] if h % 2 else [h // 2 - 1, h // 2]
    cols = [w // 2] if w % 2 else [w // 2 - 1, w // 2]
    m[np.ix_(rows, cols)] = 1.0
    return np.repeat(m[None], n, axis=0)


@BASELINES.register("spectral_residual")
def spectral_residual(images: np.ndarray) -> np.ndarray:
    """OpenCV's spectral-residual saliency of each RGB uint8 image (module doc)."""
    try:
        import cv2

        make = cv2.saliency.StaticSaliencySpectralResidual_create  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        raise LuabError(
            "baseline spectral_residual needs OpenCV's contrib saliency module: "
            "pip install 'luab-bench[align]' (opencv-contrib-python-headless)"
        ) from None
    model = make()
    out = []
    for img in np.asarray(images, dtype=np.uint8):
        ok, sal = model.computeSaliency(np.ascontiguousarray(img[..., ::-1]))  # OpenCV wants BGR
        if not ok:
            raise LuabError("OpenCV spectral residual saliency failed on an image")
        out.append(np.asarray(sal, dtype=np.float64))
    return np.stack(out)
