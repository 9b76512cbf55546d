"""TCN forecaster: the temporal convolutional network of Bai, Kolter & Koltun (2018), "An Empirical
Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling", from ``pytorch-tcn``
(causal dilated residual blocks, dilations 1, 2, 4, …)."""

from __future__ import annotations

import torch
from pytorch_tcn import TCN
from torch import nn

__all__ = ["TCNForecaster"]


class TCNForecaster(nn.Module):
    """``(batch, L, features) -> (batch, H)``: a causal TCN, then a linear head on the last time step.

    >>> TCNForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, channels: int = 32, levels: int = 3,
                 kernel_size: int = 3, dropout: float = 0.0) -> None:
        super().__init__()
        self.tcn = TCN(num_inputs=n_features, num_channels=[channels] * levels, kernel_size=kernel_size,
                       dropout=dropout, causal=True, input_shape="NLC")
        self.head = nn.Linear(channels, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tcn(x)[:, -1])
