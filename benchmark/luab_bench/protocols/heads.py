"""Point heads: regress annotation-byproduct points Z from the penultimate features.

The LUAB multitask model of Han et al. (ICCV 2023) adds an extra head ``h`` next to the classifier
``g`` on the shared features ``f(X)``: ``g(f(X))`` predicts Y, ``h(f(X))`` regresses Z. Here ``h`` is a
single linear layer, so the point supervision can only act through the backbone's features.
"""

from __future__ import annotations

import torch
from torch import nn


class PointHead(nn.Module):
    """Linear map from ``num_features`` to ``num_points`` (x, y) pairs in relative image coordinates.

    Outputs are **unbounded** (no sigmoid): targets live in [0, 1]², but a sigmoid saturates and
    kills the gradient for confident wrong predictions near the border, while smooth-L1 on a linear
    output keeps a constant-magnitude gradient there. Evaluation treats a prediction outside [0, 1]²
    simply as a point outside every box. The weights start small and the bias at 0.5, so an untrained
    head predicts the image centre and the initial point loss is small next to the cross-entropy.
    """

    def __init__(self, num_features: int, num_points: int) -> None:
        super().__init__()
        if num_points < 1:
            raise ValueError(f"a point head needs num_points >= 1, got {num_points}")
        self.num_points = num_points
        self.fc = nn.Linear(num_features, 2 * num_points)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.constant_(self.fc.bias, 0.5)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D) features -> (B, P, 2) points, (x, y) with x to the right and y down, in [0, 1] units."""
        return self.fc(features).view(features.shape[0], self.num_points, 2)
