"""Transformer forecaster: an encoder-only Transformer (Vaswani et al., 2017, "Attention Is All You Need")
over the look-back window, with sinusoidal positions and pre-norm layers, from ``torch.nn``."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["TransformerForecaster"]


class TransformerForecaster(nn.Module):
    """``(batch, L, features) -> (batch, H)``: input projection + positions, encoder, head on the last token.

    >>> TransformerForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, d_model: int = 32, num_heads: int = 4,
                 num_layers: int = 2, dim_feedforward: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        self.input = nn.Linear(n_features, d_model)
        self.register_buffer("positions", _sinusoidal(lookback, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout, batch_first=True,
                                           norm_first=True)
        # Nested tensors only help with padding masks, which windows never have.
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(self.input(x) + self.positions[: x.shape[1]])
        return self.head(self.norm(h[:, -1]))


def _sinusoidal(length: int, d_model: int) -> torch.Tensor:
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(length, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: d_model // 2])
    return table
