"""Synthetic training curves for the demo and the benchmarks (deterministic for a seed).

Shapes a real run has: a decaying noisy loss with rare 5-20x spikes, a validation loss that
overfits, learning-rate drops, a divergence to inf then NaN, and a quantised accuracy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["synthetic_run"]


def synthetic_run(n: int, *, seed: int = 0, val_every: int = 100, diverge: bool = True) -> dict[str, np.ndarray]:
    """Columns ``step``, ``train_loss``, ``lr``, ``val_step``, ``val_loss``, ``val_acc``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    frac = t / max(n - 1, 1)
    lr = 0.1 * np.where(frac < 0.5, 1.0, np.where(frac < 0.8, 0.1, 0.01))
    train = 0.05 + 2.0 / np.sqrt(1.0 + t / max(n / 2000, 1)) + 0.03 * rng.standard_normal(n)
    train = np.abs(train)
    n_spikes = max(3, n // 20_000)
    spikes = rng.choice(n, size=n_spikes, replace=False)
    train[spikes] *= rng.uniform(5, 20, size=n_spikes)
    if diverge and n >= 100:
        start = int(n * 0.97)
        train[start:start + 5] = train[start] * np.array([10, 100, 1e4, 1e8, 1e30])[: n - start]
        train[start + 5:] = np.nan
        if start + 5 < n:
            train[start + 5] = np.inf
    val_steps = np.arange(0, n, val_every, dtype=np.int64)
    vf = val_steps / max(n - 1, 1)
    val = 0.15 + 2.0 / np.sqrt(1.0 + val_steps / max(n / 2000, 1)) + 0.3 * np.maximum(vf - 0.6, 0) ** 2
    val += 0.01 * rng.standard_normal(val_steps.size)
    acc = np.round(np.clip(1.0 - val / 2.5, 0, 1) * 100) / 100  # quantised to 1%
    return {
        "step": t.astype(np.int64),
        "train_loss": train,
        "lr": lr,
        "val_step": val_steps,
        "val_loss": val,
        "val_acc": acc,
    }
