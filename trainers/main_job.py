"""The main job (README's first command): all four models, briefly, on built-in data, live and archived.

``run()`` starts one Prometheus endpoint for the whole job, trains each model type on the same built-in
series through the ``TrainingManager`` (one new archive version each), and says where every curves.json,
PNG and model file is and how to see the gauges. ``quick`` keeps it to well under a few minutes on 2 CPU
cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._constants import BASELINES, DEFAULT_TARGET_TRANSFORM, MODEL_TYPES, QUICK_EPOCHS, QUICK_TRAIN
from .config import TrainConfig
from .data import SeriesSpec, generate_sales, load_sales_csv
from .loop import FitResult
from .manager import TrainingManager, TrainOutcome
from .production import PRODUCTION_DAYS, simulate
from .request import BUILTIN_DATA, TrainRequest, prepare

__all__ = ["QUICK_DATA", "QUICK_EPOCHS", "baseline_text", "best_text", "run"]

QUICK_DATA = {"stores": 2, "products": 3, "days": 365, "seed": 0}
QUICK_MODEL_PARAMS = {"mlstm": {"d_model": 16, "num_blocks": 1}, "kan": {"hidden": 16},
                      "tcn": {"channels": 16, "levels": 2}, "transformer": {"d_model": 16, "num_layers": 1}}
MAIN_JOB_EXPERIMENT = "main-job"


def run(root: str | Path = "saved_models", *, models: Sequence[str] = MODEL_TYPES,
        series: SeriesSpec | None = None, epochs: int | None = None, quick: bool = True,
        config: TrainConfig | None = None, port: int = 0, addr: str = "127.0.0.1", db_url: str | None = None,
        linger: float = 0.0, quiet: bool = False, out: Callable[[str], None] = print,
        sd_file: str | Path | None = None, sd_address: str | None = None,
        data_csv: str | Path | None = None, lookback: int = 28,
        horizon: int = 7, experiment: str = MAIN_JOB_EXPERIMENT, serve: bool = True,
        overrides: dict[str, Any] | None = None,
        target_transform: str = DEFAULT_TARGET_TRANSFORM, production_days: int = PRODUCTION_DAYS) -> list[TrainOutcome]:
    """Train each of ``models`` once; return their outcomes. ``linger`` keeps the endpoint up that many
    seconds after the last run (Ctrl-C ends it early) so Prometheus can scrape the finished runs;
    ``sd_file`` registers the endpoint for Prometheus' file-based discovery while it is up. ``data_csv``
    trains on a sales CSV instead of the built-in data; ``serve=False`` runs without an endpoint.
    Without ``config``, the job's own one is used with ``overrides`` (TrainConfig fields) applied.
    ``target_transform`` is the requests' (``log1p`` or ``none``). On built-in data, ``production_days``
    simulated days of production follow (``trainers/production.py``; 0: none)."""
    from curvewatch.prom import Exporter

    series = series or SeriesSpec("product", product="P001", scope="all")
    builtin = dict(QUICK_DATA if quick else BUILTIN_DATA)
    epochs = epochs or (QUICK_EPOCHS if quick else 30)
    if config is None:
        own = {**(QUICK_TRAIN if quick else {}), "checkpoint_every": max(1, epochs // 2),
               "patience": max(3, epochs // 3)}
        config = TrainConfig(epochs=epochs, **{**own, **(overrides or {})})
    data_csv = None if data_csv is None else str(data_csv)
    data = generate_sales(**builtin) if data_csv is None else load_sales_csv(data_csv)
    requests = [TrainRequest(m, series, config, lookback=lookback, horizon=horizon, data_csv=data_csv,
                             model_params=QUICK_MODEL_PARAMS[m] if quick else {}, builtin=builtin,
                             experiment=experiment, target_transform=target_transform) for m in models]
    for request in requests:  # every check before the archive and the endpoint exist
        prepare(request, data)
    exporter = bound = None
    if serve:
        exporter = Exporter()
        bound = exporter.start(port=port, addr=addr, sd_file=sd_file, sd_address=sd_address)
        out(f"curvewatch: Prometheus endpoint at {exporter.url} (every run of this job, live)")
    manager = TrainingManager(root, db_url, exporter=exporter, serve=False, quiet=quiet,
                              announce=lambda _msg: None)
    outcomes = []
    try:
        for request in requests:
            outcome = manager.train(request, data)
            outcomes.append(outcome)
            _report(outcome, out)
        if production_days > 0 and data_csv is None and outcomes:
            simulate([o.version_path for o in outcomes[:2]], series, builtin, days=production_days, out=out,
                     registry=exporter.registry if exporter is not None else None)
        if exporter is None:
            return outcomes
        out(_how_to_watch(exporter.url, bound, addr))
        if linger > 0:
            out(f"curvewatch: serving the finished runs for {linger:.0f} s (Ctrl-C to stop).")
            try:
                time.sleep(linger)
            except KeyboardInterrupt:
                pass
    finally:
        if exporter is not None:
            exporter.stop()
    return outcomes


def best_text(fit: FitResult) -> str:
    """``best val_loss 0.0123 at epoch 4``, or ``no finite val_loss`` when no epoch had one."""
    if fit.best_val_loss is None:
        return "no finite val_loss"
    return f"best val_loss {fit.best_val_loss:.4g} at epoch {fit.best_epoch}"


def baseline_text(summary: dict) -> str:
    """``validation MAE 4.1 (MASE 0.62); last week's value: MAE 6.6 (model 0.62×); ...``: the model's
    validation MAE next to each baseline's, on the same windows (from a ``metrics_summary``)."""
    mae, mase = summary.get("val_mae"), summary.get("val_mase")
    parts = [f"validation MAE {mae:.3g} (MASE {mase:.2f})" if isinstance(mae, float) and isinstance(mase, float)
             else "no validation MAE"]
    for name, description in BASELINES.items():
        ratio = summary.get(f"mae_vs_{name}")
        shown = f" (model {ratio:.2f}×)" if isinstance(ratio, float) else ""
        parts.append(f"{description}: MAE {summary[f'baseline_{name}_mae']:.3g}{shown}")
    return "; ".join(parts)


def _report(outcome: TrainOutcome, out: Callable[[str], None]) -> None:
    path, fit = outcome.version_path, outcome.fit
    out(f"  {outcome.handle.run_id}: {fit.epochs_run} epochs, {best_text(fit)}")
    out(f"    {baseline_text(outcome.record.metrics_summary)}")
    out(f"    curves: {path / 'curves.json'}")
    out(f"    plot:   {path / 'loss_curve.png'}")
    out(f"    model:  {path / 'model.pth'} (+ checkpoint_best.pth, metadata.json, manifest.json)")


def _how_to_watch(url: str | None, port: int | None, addr: str) -> str:
    return (
        "curvewatch: to see the gauges:\n"
        f"  curl -s {url} | grep '^curvewatch_'          (while the endpoint is up; --linger keeps it up)\n"
        f"  or scrape {addr}:{port} from Prometheus (static_configs targets), then query curvewatch_value\n"
        "  list and verify the versions: curvewatch versions list / curvewatch versions verify ID"
    )
