"""KAN forecaster: a Kolmogorov–Arnold Network (Liu et al., 2024, "KAN: Kolmogorov-Arnold Networks") in
the "efficient-KAN" formulation: each layer is ``SiLU(x) @ W_base`` plus learnable cubic B-splines on a
fixed uniform grid, evaluated as one matrix product over the B-spline bases (no grid updates, no pruning).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._horizon import LinearBase, network_inputs, network_width

__all__ = ["KANForecaster", "KANLinear"]


class KANLinear(nn.Module):
    """A KAN layer ``in_features -> out_features``: ``y_j = Σ_i w_b[j,i]·silu(x_i) + Σ_i spline_{j,i}(x_i)``.

    Each spline is a combination of ``grid_size + spline_order`` B-spline bases on ``grid_range``; outside
    the range the splines are zero and the SiLU base path carries the signal.
    """

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, spline_order: int = 3,
                 grid_range: tuple[float, float] = (-3.0, 3.0)) -> None:
        super().__init__()
        self.in_features, self.out_features, self.spline_order = in_features, out_features, spline_order
        step = (grid_range[1] - grid_range[0]) / grid_size
        knots = torch.arange(-spline_order, grid_size + spline_order + 1, dtype=torch.float32) * step
        self.register_buffer("grid", (knots + grid_range[0]).expand(in_features, -1).contiguous())
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        self.spline_weight = nn.Parameter(torch.empty(out_features, in_features, grid_size + spline_order))
        self.spline_scaler = nn.Parameter(torch.ones(out_features, in_features))
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5))
        nn.init.normal_(self.spline_weight, std=0.1 / math.sqrt(in_features))

    def b_splines(self, x: torch.Tensor) -> torch.Tensor:
        """B-spline bases of ``x`` ``(N, in)`` by the Cox–de Boor recursion: ``(N, in, grid_size + order)``."""
        grid, x = self.grid, x.unsqueeze(-1)
        bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
        for k in range(1, self.spline_order + 1):
            left = (x - grid[:, : -(k + 1)]) / (grid[:, k:-1] - grid[:, : -(k + 1)]) * bases[..., :-1]
            right = (grid[:, k + 1 :] - x) / (grid[:, k + 1 :] - grid[:, 1:-k]) * bases[..., 1:]
            bases = left + right
        return bases

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = F.linear(F.silu(x), self.base_weight)
        weights = (self.spline_weight * self.spline_scaler.unsqueeze(-1)).reshape(self.out_features, -1)
        return base + F.linear(self.b_splines(x).reshape(x.shape[0], -1), weights)


class KANForecaster(nn.Module):
    """``(x, future) -> (batch, H)``: the flattened window and the horizon's known features (without the
    day of year) through KAN layers ``→ hidden → H``, added to the linear base (``models/_horizon.py``).

    >>> KANForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7), torch.zeros(2, 7, 6)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, hidden: int = 32, grid_size: int = 5,
                 spline_order: int = 3) -> None:
        super().__init__()
        self.base, width = LinearBase(n_features, lookback, horizon), network_width(n_features)
        self.layers = nn.Sequential(
            KANLinear(width * lookback + (width - 1) * horizon, hidden, grid_size, spline_order),
            KANLinear(hidden, horizon, grid_size, spline_order),
        )
        nn.init.zeros_(self.layers[-1].base_weight)  # the model starts as its linear base
        nn.init.zeros_(self.layers[-1].spline_weight)

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        past, ahead = network_inputs(x, future)
        return self.base(x, future) + self.layers(torch.cat([past.flatten(1), ahead.flatten(1)], dim=1))
