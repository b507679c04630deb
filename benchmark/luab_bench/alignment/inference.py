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
    """``images (N, H, W, 3) on [0, 1] -> logits (N, K)`` for ``net`` (normalised with its mean/std),
    through the package's one inference loop (:func:`luab_bench.inference.predict`, this process
    only: every rank of a distributed run aligns on its own)."""
    import torch

    from luab_bench.inference import predict

    def logits(images: np.ndarray) -> np.ndarray:
        arr = np.asarray(images)
        batches = (
            torch.as_tensor(arr[s : s + batch_size], dtype=torch.float32).permute(0, 3, 1, 2)
            for s in range(0, len(arr), batch_size)
        )
        out = predict(
            net,
            batches,
            device=device,
            normalize=(tuple(net.input_mean), tuple(net.input_std)),
            batch_size=batch_size,
            outputs=("logits",),
            description="alignment",
            distributed=False,
        ).logits
        return out if out is not None else np.zeros((0, int(net.num_classes)), dtype=np.float32)

    return logits


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
