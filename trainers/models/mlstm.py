"""MLSTM forecaster: a stack of mLSTM blocks from the ``xlstm`` package (Beck et al., 2024, "xLSTM:
Extended Long Short-Term Memory", NeurIPS 2024), matrix-memory LSTM in its parallel, stabilised form.

Only mLSTM blocks are used (``slstm_at=[]``): they run in plain PyTorch on CPU and GPU, while xLSTM's sLSTM
block needs a compiled CUDA kernel.
"""

from __future__ import annotations

import torch
from torch import nn
from xlstm import mLSTMBlockConfig, mLSTMLayerConfig, xLSTMBlockStack, xLSTMBlockStackConfig

from ._horizon import LinearBase, join_known_future, network_width, zero_init

__all__ = ["MLSTMForecaster"]


class MLSTMForecaster(nn.Module):
    """``(x, future) -> (batch, H)``: the look-back followed by the horizon's known features
    (``join_known_future``) through an input projection and mLSTM blocks, a linear head on each horizon
    step, added to the linear base.

    >>> MLSTMForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7), torch.zeros(2, 7, 6)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, d_model: int = 32, num_blocks: int = 2,
                 num_heads: int = 2, conv_kernel: int = 4, dropout: float = 0.2) -> None:
        super().__init__()
        self.horizon, self.base = horizon, LinearBase(n_features, lookback, horizon)
        self.input = nn.Linear(network_width(n_features) + 1, d_model)
        config = xLSTMBlockStackConfig(
            mlstm_block=mLSTMBlockConfig(
                mlstm=mLSTMLayerConfig(conv1d_kernel_size=conv_kernel, qkv_proj_blocksize=4, num_heads=num_heads)
            ),
            context_length=lookback + horizon,
            num_blocks=num_blocks,
            embedding_dim=d_model,
            dropout=dropout,
            slstm_at=[],
        )
        self.blocks = xLSTMBlockStack(config)
        self.head = zero_init(nn.Linear(d_model, 1))

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        steps = self.blocks(self.input(join_known_future(x, future)))[:, -self.horizon :]
        return self.base(x, future) + self.head(steps).squeeze(-1)
