"""The saliency-method contract: a map of where a classifier "looks", for the human-alignment test.

A saliency method (``luab_bench.alignment.saliency``: gradient, gbp, gbp_x_image, sgbp, gradcam,
scorecam, cameras) is a callable :class:`SaliencyMethod`::

    method(net, x, targets, *, seed, batch_size, config, **options) -> Tensor (B, H, W)

``net`` is a :class:`~luab_bench.models.LuabNet` in eval mode, ``x`` the *normalised* input batch
(B, 3, H, W) on the net's device, ``targets`` the class index per image (B,), ``config`` the
method conventions (``alignment.saliency.SaliencyConfig``); the maps are non-negative, finite, on
the input's grid, float32 on the CPU, and the same for the same ``seed`` (random methods). The core
calls methods only by name, through ``alignment.saliency.compute_saliency``.

The registry of methods is ``alignment.saliency.SALIENCY_METHODS`` (a ``Registry[SaliencyMethod]``,
typed by this contract; see docs/ARCHITECTURE.md, "Contracts").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import torch


class SaliencyMethod(Protocol):
    """``method(net, x, targets, *, seed, batch_size, config, **options) -> (B, H, W)`` maps (module doc)."""

    def __call__(
        self,
        net: Any,
        x: torch.Tensor,
        targets: torch.Tensor,
        /,
        *,
        seed: int = 0,
        batch_size: int = 64,
        config: Any = None,
        **options: Any,
    ) -> torch.Tensor: ...
