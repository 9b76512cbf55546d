"""Validation metrics accumulated on the device: MSE, RMSE, MAE, MAPE (safe for zero sales) and R²."""

from __future__ import annotations

import torch

from ._constants import MAPE_FLOOR

__all__ = ["RegressionSums"]


class RegressionSums:
    """Running sums over batches; ``metrics()`` returns 0-d tensors, with no host sync along the way.

        sums = RegressionSums(device)
        sums.update(prediction, target)          # both in sales units
        sums.metrics()  # {"rmse", "mae", "mape", "r2"}

    MAPE is ``100 · mean(|e| / max(|y|, MAPE_FLOOR))``: a zero-sales day adds its absolute error (in units of
    ``MAPE_FLOOR`` sales) instead of dividing by zero. R² is ``1 - SS_res / SS_tot`` over every target
    value, with ``SS_tot`` floored at a tiny positive number for a constant target.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        zero = torch.zeros((), dtype=torch.float64, device=device)
        self.count = zero.clone()
        self.sq_err = zero.clone()
        self.abs_err = zero.clone()
        self.abs_pct = zero.clone()
        self.y_sum = zero.clone()
        self.y_sq_sum = zero.clone()

    def update(self, prediction: torch.Tensor, target: torch.Tensor) -> None:
        p, y = prediction.detach().double(), target.detach().double()
        err = p - y
        self.count += y.numel()
        self.sq_err += (err * err).sum()
        self.abs_err += err.abs().sum()
        self.abs_pct += (err.abs() / y.abs().clamp_min(MAPE_FLOOR)).sum()
        self.y_sum += y.sum()
        self.y_sq_sum += (y * y).sum()

    def metrics(self) -> dict[str, torch.Tensor]:
        n = self.count.clamp_min(1.0)
        mse = self.sq_err / n
        ss_tot = (self.y_sq_sum - self.y_sum * self.y_sum / n).clamp_min(1e-12)
        return {
            "mse": mse,
            "rmse": mse.sqrt(),
            "mae": self.abs_err / n,
            "mape": 100.0 * self.abs_pct / n,
            "r2": 1.0 - self.sq_err / ss_tot,
        }
