"""MLSTM forecaster: a stack of mLSTM blocks from the ``xlstm`` package (Beck et al., 2024, "xLSTM:
Extended Long Short-Term Memory", NeurIPS 2024), matrix-memory LSTM in its parallel, stabilised form.

Only mLSTM blocks are used (``slstm_at=[]``): they run in plain PyTorch on CPU and GPU, while xLSTM's sLSTM
block needs a compiled CUDA kernel.
"""

from __future__ import annotations

import torch
from torch import nn
from xlstm import mLSTMBlockConfig, mLSTMLayerConfig, xLSTMBlockStack, xLSTMBlockStackConfig

__all__ = ["MLSTMForecaster"]


class MLSTMForecaster(nn.Module):
    """``(batch, L, features) -> (batch, H)``: input projection, mLSTM blocks, a linear head on the last step.

    >>> MLSTMForecaster(n_features=7, lookback=28, horizon=7)(torch.zeros(2, 28, 7)).shape
    torch.Size([2, 7])
    """

    def __init__(self, n_features: int, lookback: int, horizon: int, d_model: int = 32, num_blocks: int = 2,
                 num_heads: int = 2, conv_kernel: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.input = nn.Linear(n_features, d_model)
        config = xLSTMBlockStackConfig(
            mlstm_block=mLSTMBlockConfig(
                mlstm=mLSTMLayerConfig(conv1d_kernel_size=conv_kernel, qkv_proj_blocksize=4, num_heads=num_heads)
            ),
            context_length=lookback,
            num_blocks=num_blocks,
            embedding_dim=d_model,
            dropout=dropout,
            slstm_at=[],
        )
        self.blocks = xLSTMBlockStack(config)
        self.head = nn.Linear(d_model, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.input(x))[:, -1])
