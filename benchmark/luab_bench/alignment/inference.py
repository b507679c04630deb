"""Model inference for the alignment test: logits of uint8/[0, 1] images, saliency maps of a batch,
the top predicted class (SI §A.2: the class the maps explain)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from luab_bench.alignment.saliency_base import SaliencyConfig
    from luab_bench.models import LuabNet


def make_predict(net: LuabNet, device: Any, batch_size: int = 256) -> Callable[[np.ndarray], np.ndarray]:
    """``images (N, H, W, 3) on [0, 1] -> logits (N, K)`` for ``net`` (normalised with its mean/std)."""
    import torch

    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)

    def predict(images: np.ndarray) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                x = torch.as_tensor(np.asarray(images[start : start + batch_size]), dtype=torch.float32)
                x = ((x.permute(0, 3, 1, 2) - mean) / std).to(device)
                out.append(net(x).logits.float().cpu().numpy())
        return np.concatenate(out)

    return predict


def model_saliency(
    net: LuabNet,
    images: np.ndarray,
    labels: np.ndarray,
    method: str,
    *,
    device: Any,
    seed: int = 0,
    batch_size: int = 32,
    config: SaliencyConfig | None = None,
) -> np.ndarray:
    """Saliency maps (N, H, W) float32 of uint8 ``images`` (N, H, W, 3) for the classes ``labels``."""
    import torch

    from luab_bench.alignment.saliency import compute_saliency

    mean = torch.tensor(net.input_mean).view(1, 3, 1, 1)
    std = torch.tensor(net.input_std).view(1, 3, 1, 1)
    x = (torch.as_tensor(np.asarray(images), dtype=torch.float32).permute(0, 3, 1, 2) / 255.0 - mean) / std
    t = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    return compute_saliency(
        method, net, x.to(device), t.to(device), seed=seed, batch_size=batch_size, config=config
    ).numpy()


def top_classes(net: LuabNet, images: np.ndarray, *, device: Any, batch_size: int = 64) -> np.ndarray:
    """The model's top predicted class of each uint8 image (SI §A.2: the class the maps explain)."""
    return make_predict(net, device, batch_size)(np.asarray(images, dtype=np.float64) / 255.0).argmax(1)
