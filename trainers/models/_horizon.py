"""What the four forecasters share: the horizon's known inputs and the seasonal skip they all correct.

Every model is ``(x, future) -> (batch, H)``: ``x`` is the look-back window ``(batch, L, F)`` (column 0:
scaled sales) and ``future`` the forecast days' known columns ``(batch, H, F - 1)`` (holiday and
promotion flags, CSV features, calendar; see ``trainers.data.make_windows``).

``SeasonalSkip`` is the mean of the same weekday over the last ``BASELINE_WEEKS`` weeks of the look-back
(the ``weekday_mean_4w`` baseline, in scaled units). ``LinearBase`` adds to it a linear map of the whole
look-back and of the horizon's known features (a holiday or promotion flag of day ``h`` shifts day ``h``:
with the log1p target, a multiplicative effect). Each network predicts a correction to that base; the
base's linear map and each network's output layer start at zero, so an untrained model is exactly the
4-week weekday mean, and training moves it away only where the data pays for it. Measured
(``bench/bench_trainers.py``): the base alone beats that baseline; each network's correction is what
distinguishes the four models. The networks get ``network_inputs``: every column but the day of the
year (``DAY_OF_YEAR_COLUMNS``, the last ones), which only the linear base sees.
``join_known_future`` lays the horizon after the look-back as one sequence of ``L + H`` steps for the
sequence models: look-back rows ``[x, 0]``, horizon rows ``[0, future, 1]`` (sales unknown, flag set).
"""

from __future__ import annotations

import torch
from torch import nn

from .._constants import BASELINE_WEEKS, DAY_OF_YEAR_COLUMNS
from ..baselines import same_weekday_lags

__all__ = ["LinearBase", "SeasonalSkip", "join_known_future", "network_inputs", "network_width", "zero_init"]


class SeasonalSkip(nn.Module):
    """``(batch, L, F) -> (batch, H)``: per horizon day, the mean of its latest same weekdays in the window.

    A day with no same weekday inside the look-back (``L < 7``) takes the window's last value.
    """

    def __init__(self, lookback: int, horizon: int, weeks: int = BASELINE_WEEKS) -> None:
        super().__init__()
        weights = torch.zeros(horizon, lookback)
        for h, lags in enumerate(same_weekday_lags(horizon, weeks)):
            positions = [lookback - lag for lag in lags if lag <= lookback] or [lookback - 1]
            weights[h, positions] = 1.0 / len(positions)
        self.register_buffer("weights", weights, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 0] @ self.weights.T


class LinearBase(nn.Module):
    """``(x, future) -> (batch, H)``: the seasonal skip plus a linear map of ``x`` and ``future`` (zero at start)."""

    def __init__(self, n_features: int, lookback: int, horizon: int) -> None:
        super().__init__()
        self.skip = SeasonalSkip(lookback, horizon)
        self.linear = zero_init(nn.Linear(n_features * lookback + (n_features - 1) * horizon, horizon))

    def forward(self, x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.linear(torch.cat([x.flatten(1), future.flatten(1)], dim=1))


def network_width(n_features: int) -> int:
    """Columns per look-back step that a network sees (``network_inputs``)."""
    return n_features - DAY_OF_YEAR_COLUMNS


def network_inputs(x: torch.Tensor, future: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``future`` without their day-of-year columns."""
    return x[..., :-DAY_OF_YEAR_COLUMNS], future[..., :-DAY_OF_YEAR_COLUMNS]


def join_known_future(x: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """``(batch, L + H, F - 1)``: look-back rows ``[x, 0]`` then horizon rows ``[0, future, 1]``, without
    the day-of-year columns (``network_inputs``)."""
    x, future = network_inputs(x, future)
    batch, horizon = future.shape[0], future.shape[1]
    past = torch.cat([x, x.new_zeros(batch, x.shape[1], 1)], dim=2)
    ahead = torch.cat([future.new_zeros(batch, horizon, 1), future, future.new_ones(batch, horizon, 1)], dim=2)
    return torch.cat([past, ahead], dim=1)


def zero_init(layer: nn.Linear) -> nn.Linear:
    """``layer`` with zero weights and bias: the model starts as its seasonal skip."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer
