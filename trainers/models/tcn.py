"""TCN forecaster: the temporal convolutional network of Bai, Kolter & Koltun (2018), "An Empirical
Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling", from ``pytorch-tcn``
(causal dilated residual blocks, dilations 1, 2, 4, …)."""

from __future__ import annotations

import torch
from pytorch_tcn import TCN
from torch import nn

from ._horizon import LinearBase, join_known_future, network_width, zero_init

__all__ = ["TCNForecaster"]


class TCNForecaster(nn.Module):
    """``(x, future) -> (batch, H)``: a causal TCN over the look-back followed by the horizon's known
    features (``join_known_future``), a linear head on each horizon step, added to the linear base.

    >>> TCNForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7), torch.zeros(2, 7, 6)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, channels: int = 32, levels: int = 3,
                 kernel_size: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        self.horizon, self.base = horizon, LinearBase(n_features, lookback, horizon)
        self.tcn = TCN(num_inputs=network_width(n_features) + 1, num_channels=[channels] * levels,
                       kernel_size=kernel_size, dropout=dropout, causal=True, input_shape="NLC")
        self.head = zero_init(nn.Linear(channels, 1))

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        steps = self.tcn(join_known_future(x, future))[:, -self.horizon :]
        return self.base(x, future) + self.head(steps).squeeze(-1)
