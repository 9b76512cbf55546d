"""The main job's simulated production period: a version served on days it never saw, actuals a day later.

``simulate(outcomes, ...)`` serves the first trained version (``primary``, healthy) and, as the injected
case, the second one as a ``shadow`` that sees every request with its sales inputs scaled by
``DRIFT_FACTOR`` (an upstream unit change: drift) and whose answers are scaled by ``DEGRADE_FACTOR``
(a broken version: degradation). For each of ``days`` simulated days after the training data, both
forecast the next days from the look-back before it; the day's actual sales arrive one simulated day
later and are joined with that day's first forecast day. The monitors' series join the job's endpoint
(``registry``), so a scraping Prometheus sees the live error, the degradation ratio and the drift, and
``CurvewatchModelDegraded``/``CurvewatchFeatureDrift`` have something real to fire on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .data import SeriesSpec, feature_matrix, generate_sales, select_series
from .serving import ForecasterModel

__all__ = ["DEGRADE_FACTOR", "DRIFT_FACTOR", "PRODUCTION_DAYS", "ProductionSummary", "simulate"]

PRODUCTION_DAYS = 28  # simulated days: enough joined predictions (28) and input rows for the alerts' minimums
DRIFT_FACTOR = 2.5
DEGRADE_FACTOR = 1.8
_DAY_S = 86400.0


@dataclass(frozen=True)
class ProductionSummary:
    """Per served version: role, live MAE, validation MAE, their ratio, the largest PSI and its feature."""

    name: str
    role: str
    live_mae: float
    validation_mae: float
    ratio: float
    max_psi: float
    psi_feature: str

    def text(self) -> str:
        return (f"  {self.name} ({self.role}): live MAE {self.live_mae:.3g} vs validation {self.validation_mae:.3g} "
                f"({self.ratio:.2f}x), largest PSI {self.max_psi:.2f} ({self.psi_feature})")


class _Injected:
    """The injected case: a version whose answers are ``DEGRADE_FACTOR`` times what the model says."""

    def __init__(self, model: ForecasterModel) -> None:
        self.model, self.version_path, self.metadata = model, model.version_path, model.metadata

    def __call__(self, inputs: tuple) -> list[float]:
        return [DEGRADE_FACTOR * v for v in self.model(inputs)]


def simulate(version_paths: Sequence, series: SeriesSpec, builtin: dict, *, registry=None,
             days: int = PRODUCTION_DAYS, out: Callable[[str], None] = print) -> list[ProductionSummary]:
    """Serve ``version_paths[0]`` (healthy) and ``version_paths[1]`` (injected, if given) for ``days``."""
    from curvewatch.serving import ModelMonitor, ServingCollector

    clock = [0.0]
    options = {"clock": lambda: clock[0], "window_s": (days + 1) * _DAY_S}
    primary = ForecasterModel(version_paths[0])
    served = [(primary, ModelMonitor.from_version(primary.version_path, primary, primary.metadata, **options), 1.0)]
    if len(version_paths) > 1:
        injected = _Injected(ForecasterModel(version_paths[1]))
        served.append((injected.model, ModelMonitor.from_version(injected.version_path, injected, injected.metadata,
                                                                 role="shadow", **options), DRIFT_FACTOR))
    if registry is not None:
        registry.register(ServingCollector(lambda: [m for _, m, _ in served]))
    lookback = primary.lookback
    total = int(builtin["days"]) + days
    data = generate_sales(**{**builtin, "days": total})  # same generator, days after the training data's end
    matrix, _ = feature_matrix(select_series(data, series))
    sales, dates = matrix[:, 0], data.dates
    for day in range(int(builtin["days"]), total):
        clock[0] = day * _DAY_S
        if day > int(builtin["days"]):  # yesterday's sales arrive today
            for _, monitor, _ in served:
                monitor.record_actuals([f"day-{day - 1}"], [float(sales[day - 1])])
        for model, monitor, factor in served:
            rows = matrix[day - lookback:day]
            history = {"last_date": str(dates[day - 1]), "sales": list(rows[:, 0] * factor)}
            history.update({name: list(rows[:, 1 + i]) for i, name in enumerate(model.features)})
            prepared = model.prepare({"history": history})
            monitor.predict(prepared.inputs, f"day-{day}", features=prepared.features, naive=prepared.naive)
    clock[0] = total * _DAY_S
    summaries = []
    for _, monitor, _ in served:
        live, _count = monitor.live_errors()
        scores = monitor.drift_scores()
        feature = max(scores, key=lambda f: scores[f].psi) if scores else "unavailable"
        summaries.append(ProductionSummary(
            f"{monitor.identifier}/v{monitor.model_version}", monitor.role, live["mae"],
            monitor.validation.get("mae", math.nan), monitor.degradation_ratio(live),
            scores[feature].psi if scores else math.nan, feature))
    out(f"curvewatch: simulated production, {days} days after the training data (actuals a day later; the "
        f"shadow is the injected case: inputs' sales x{DRIFT_FACTOR:g}, answers x{DEGRADE_FACTOR:g}):")
    for summary in summaries:
        out(summary.text())
    return summaries
