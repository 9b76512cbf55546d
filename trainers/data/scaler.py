"""``Scaler``: per-column standardisation fitted on the training rows, with an optional log1p sales target."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._constants import TARGET_TRANSFORMS
from ..errors import TrainerInputError

__all__ = ["Scaler"]


@dataclass(frozen=True)
class Scaler:
    """Per-column standardisation ``(x - mean) / std``, stored as plain numbers (JSON-safe).

    Column 0 is the sales target. With ``target_transform="log1p"`` it is ``log(1 + max(sales, 0))``
    before standardising, and ``inverse_target`` maps back with ``expm1`` (never below 0), so scaled
    forecasts come back in sales units either way. A version saved before transforms existed reads as
    ``"none"``.
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    target_transform: str = "none"

    def __post_init__(self) -> None:
        if self.target_transform not in TARGET_TRANSFORMS:
            raise TrainerInputError(f"Unknown target transform {self.target_transform!r}; use one of "
                                    f"{', '.join(TARGET_TRANSFORMS)}.")

    @classmethod
    def fit(cls, matrix: np.ndarray, columns: tuple[str, ...], target_transform: str = "none") -> Scaler:
        matrix = _forward(matrix, target_transform)
        std = matrix.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)  # a constant column is left unscaled instead of divided by 0
        return cls(tuple(columns), tuple(float(v) for v in matrix.mean(axis=0)), tuple(float(v) for v in std),
                   target_transform)

    def transform(self, matrix: np.ndarray) -> np.ndarray:
        return (_forward(matrix, self.target_transform) - np.asarray(self.mean)) / np.asarray(self.std)

    def inverse_target(self, values):
        """Scaled sales (numpy array or tensor) back to sales units."""
        values = values * self.std[0] + self.mean[0]
        if self.target_transform == "log1p":
            if isinstance(values, torch.Tensor):
                return torch.expm1(values).clamp_min(0.0)
            return np.maximum(np.expm1(values), 0.0)
        return values

    def to_dict(self) -> dict:
        return {"columns": list(self.columns), "mean": list(self.mean), "std": list(self.std),
                "target_transform": self.target_transform}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(tuple(d["columns"]), tuple(float(v) for v in d["mean"]), tuple(float(v) for v in d["std"]),
                   d.get("target_transform", "none"))


def _forward(matrix: np.ndarray, target_transform: str) -> np.ndarray:
    if target_transform != "log1p":
        return matrix
    out = np.array(matrix, dtype=np.float64, copy=True)
    out[:, 0] = np.log1p(np.maximum(out[:, 0], 0.0))
    return out
