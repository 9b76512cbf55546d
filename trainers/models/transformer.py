"""Transformer forecaster: an encoder-only Transformer (Vaswani et al., 2017, "Attention Is All You Need")
over the look-back window, with sinusoidal positions and pre-norm layers, from ``torch.nn``."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._horizon import LinearBase, join_known_future, network_width, zero_init

__all__ = ["TransformerForecaster"]


class TransformerForecaster(nn.Module):
    """``(x, future) -> (batch, H)``: look-back tokens and one decoder token per horizon day (its known
    features, ``join_known_future``), input projection + positions, encoder attending over all of them,
    a linear head on each horizon token, added to the linear base.

    >>> TransformerForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7), torch.zeros(2, 7, 6)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, d_model: int = 32, num_heads: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 64, dropout: float = 0.2) -> None:
        super().__init__()
        self.horizon, self.base = horizon, LinearBase(n_features, lookback, horizon)
        self.input = nn.Linear(network_width(n_features) + 1, d_model)
        self.register_buffer("positions", _sinusoidal(lookback + horizon, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout, batch_first=True,
                                           norm_first=True)
        # Nested tensors only help with padding masks, which windows never have.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = zero_init(nn.Linear(d_model, 1))

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        tokens = join_known_future(x, future)
        h = self.encoder(self.input(tokens) + self.positions[: tokens.shape[1]])
        return self.base(x, future) + self.head(self.norm(h[:, -self.horizon :])).squeeze(-1)


def _sinusoidal(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table
