"""The reference input profile of a version: per feature, quantile bins, mean, std and missing share.

Computed from the training inputs and stored at commit as ``reference_profile.json`` beside
``metadata.json`` (so the manifest lists it and ``versions verify`` checks it); the monitor compares the
recent inputs with it (``drift.py``).

    profile = compute_profile(train_matrix, ("sales", "promotion"))
    write_profile(handle.path, profile)          # before ModelArchive.commit(handle, ...)
    read_profile(version_path)                   # None for an older version without one

Guarantees (tests named after them in ``tests/test_serving_drift.py``):
- profile_size_is_bounded: at most ``PROFILE_BINS - 1`` edges and ``PROFILE_BINS`` fractions per feature,
  whatever the number of rows.
- missing_values_are_counted_not_binned: NaN/inf rows count in ``missing_share`` and not in the bins.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._names import PROFILE_BINS, PROFILE_FILE, PROFILE_SCHEMA_VERSION, PSI_SMOOTHING
from .errors import ServingError

__all__ = ["FeatureProfile", "ReferenceProfile", "compute_profile", "read_profile", "write_profile"]


@dataclass(frozen=True)
class FeatureProfile:
    """One feature: ``edges`` split values into ``len(edges) + 1`` bins holding ``fractions`` of the rows."""

    name: str
    edges: tuple[float, ...]
    fractions: tuple[float, ...]
    mean: float
    std: float
    missing_share: float
    count: int

    def bin_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts of finite ``values`` in this feature's bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``: a value on
        an edge goes to the bin it closes, so a 0/1 flag (one edge, 0) is split into its zeros and its ones."""
        return np.bincount(np.searchsorted(self.edges, values, side="left"), minlength=len(self.edges) + 1)

    def to_dict(self) -> dict:
        return {"name": self.name, "edges": list(self.edges), "fractions": list(self.fractions), "mean": self.mean,
                "std": self.std, "missing_share": self.missing_share, "count": self.count}


@dataclass(frozen=True)
class ReferenceProfile:
    """Every profiled feature of a version, by name, in input column order."""

    features: tuple[FeatureProfile, ...]
    columns: tuple[int, ...]  # index of each profiled feature in the model's input rows

    def to_dict(self) -> dict:
        return {"schema_version": PROFILE_SCHEMA_VERSION, "columns": list(self.columns),
                "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict) -> ReferenceProfile:
        features = tuple(FeatureProfile(f["name"], tuple(map(float, f["edges"])), tuple(map(float, f["fractions"])),
                                        float(f["mean"]), float(f["std"]), float(f["missing_share"]), int(f["count"]))
                         for f in data["features"])
        return cls(features, tuple(int(c) for c in data["columns"]))


def _feature(name: str, column: np.ndarray, bins: int) -> FeatureProfile:
    finite = column[np.isfinite(column)]
    missing = 1.0 - len(finite) / len(column) if len(column) else 0.0
    if not len(finite):
        return FeatureProfile(name, (), (1.0,), math.nan, math.nan, missing, 0)
    inner = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    edges = np.unique(inner)  # a flag or a constant has fewer distinct edges: fewer bins
    counts = np.bincount(np.searchsorted(edges, finite, side="left"), minlength=len(edges) + 1)  # as bin_counts
    return FeatureProfile(name, tuple(float(e) for e in edges), tuple(float(c) for c in counts / len(finite)),
                          float(finite.mean()), float(finite.std()), float(missing), int(len(finite)))


def compute_profile(matrix: np.ndarray, names: Sequence[str], columns: Sequence[int] | None = None,
                    bins: int = PROFILE_BINS) -> ReferenceProfile:
    """The profile of ``matrix``'s ``columns`` (``(rows, features)``; default: every column), named ``names``."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"The training inputs must be a (rows, features) matrix, got shape {matrix.shape}.")
    columns = tuple(range(matrix.shape[1])) if columns is None else tuple(columns)
    if len(names) != len(columns):
        raise ValueError(f"{len(names)} names for {len(columns)} profiled columns; give one name per column.")
    return ReferenceProfile(tuple(_feature(n, matrix[:, c], bins) for n, c in zip(names, columns)), columns)


def write_profile(version_dir: str | os.PathLike[str], profile: ReferenceProfile) -> Path:
    """Write ``reference_profile.json`` into a reserved version directory (before commit lists it)."""
    from curvewatch.archive.atomic import atomic_write_json

    path = Path(version_dir) / PROFILE_FILE
    atomic_write_json(path, profile.to_dict())
    return path


def read_profile(version_dir: str | os.PathLike[str]) -> ReferenceProfile | None:
    """The version's profile, or ``None`` when it has none (committed before profiles existed)."""
    path = Path(version_dir) / PROFILE_FILE
    if not path.is_file():
        return None
    try:
        return ReferenceProfile.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ServingError(f"{path} is not a reference profile ({exc}); run `curvewatch versions verify` on the "
                           "version, or delete the file to serve it without drift.") from None


def smoothed_fractions(counts: np.ndarray) -> np.ndarray:
    """Bin shares with ``PSI_SMOOTHING`` pseudo-counts (an empty bin is small, never 0)."""
    return (counts + PSI_SMOOTHING) / (counts.sum() + PSI_SMOOTHING * len(counts))
