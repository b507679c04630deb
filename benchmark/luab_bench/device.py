"""Device names: ``auto`` / ``cpu`` / ``cuda[:N]`` -> a torch device string, checked once.

Below the pipeline so training, evaluation and alignment resolve devices without importing it
(issue 15: pipeline <-> alignment import cycle). torch is imported only when a device is resolved.
"""

from __future__ import annotations

from luab_bench.errors import LuabError


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; a CUDA request without CUDA is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise LuabError(f"--device {device}: no CUDA device is available here; use --device cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise LuabError(f"--device {device!r} is not a torch device; use auto, cpu or cuda[:N]") from None
    return device
