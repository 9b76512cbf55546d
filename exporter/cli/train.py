"""``curvewatch train`` | ``predict`` | ``models``: train forecasters into the archive, forecast, list models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train a sales forecaster (or --all-models) into a new archive version, exposed live",
        description="Train a model on sales data into a new version of the archive, with a Prometheus "
        "endpoint up while it trains. Example: curvewatch train --mode product --product P001 --scope all "
        "--model mlstm --epochs 50. The README's first command: curvewatch train --all-models --quick.",
    )
    what = train.add_argument_group("what to train")
    what.add_argument("--model", default="mlstm", help="mlstm, kan, tcn or transformer (default: mlstm)")
    what.add_argument("--all-models", action="store_true", help="train all four models (the main job)")
    what.add_argument("--mode", default="product", help="product, store or global (default: product)")
    what.add_argument("--product", help="product id (product mode; global scopes products/custom)")
    what.add_argument("--store", help="store id (store mode; global scopes stores/custom)")
    what.add_argument("--scope", default="all",
                      help="all or an id (product/store modes); all, stores, products or custom (global)")
    what.add_argument("--aggregation", default="sum", help="sum or mean (global mode)")
    what.add_argument("--data", help="sales CSV: date, store_id, product_id, sales [, features] "
                      "(default: built-in generated data)")
    what.add_argument("--quick", action="store_true", help="small built-in data, few epochs, tiny models")
    how = train.add_argument_group("how to train")
    how.add_argument("--epochs", type=int, default=None, help="epochs (default: 50; 4 with --quick)")
    how.add_argument("--batch-size", type=int, default=32)
    how.add_argument("--lr", type=float, default=1e-3)
    how.add_argument("--optimizer", default="adamw", help="adam, adamw or sgd")
    how.add_argument("--scheduler", default="cosine", help="none, cosine, step or plateau")
    how.add_argument("--grad-clip", type=float, default=1.0, help="max gradient norm (0: off)")
    how.add_argument("--patience", type=int, default=10, help="early-stopping patience in epochs (0: off)")
    how.add_argument("--min-delta", type=float, default=0.0)
    how.add_argument("--checkpoint-every", type=int, default=10, help="checkpoint_epoch_N.pth every K epochs")
    how.add_argument("--lookback", type=int, default=28)
    how.add_argument("--horizon", type=int, default=7)
    how.add_argument("--seed", type=int, default=0)
    how.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda[:N]")
    how.add_argument("--resume", help="checkpoint_*.pth to continue from (same options as that run)")
    where = train.add_argument_group("where")
    where.add_argument("--root", default="saved_models", help="archive root (default: saved_models)")
    where.add_argument("--db-url", help="SQLAlchemy URL of the model_versions table (default: SQLite)")
    where.add_argument("--port", type=int, default=0, help="metrics port (default: a free one)")
    where.add_argument("--addr", default="127.0.0.1", help="metrics listen address (default: 127.0.0.1)")
    where.add_argument("--sd-file", type=Path, default=None,
                       help="register the endpoint for Prometheus file_sd while it is up: a targets folder "
                            "(e.g. prometheus/targets) or a .json file")
    where.add_argument("--no-serve", action="store_true", help="no Prometheus endpoint")
    where.add_argument("--linger", type=float, default=0.0, help="--all-models: keep serving N s at the end")
    where.add_argument("--experiment", default="default")
    where.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    train.set_defaults(func=_train)

    predict = subparsers.add_parser("predict", help="forecast the next days with an archived version")
    predict.add_argument("--version-path", required=True, help="a version directory, e.g. saved_models/.../v1")
    predict.add_argument("--days", type=int, default=14)
    predict.add_argument("--data", help="sales CSV to forecast from (default: the version's own data)")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.set_defaults(func=_predict)

    models = subparsers.add_parser("models", help="list the model types curvewatch can train")
    models.set_defaults(func=_models)


def _fail(command: str, exc: Exception) -> int:
    print(f"curvewatch {command}: error: {exc}", file=sys.stderr)
    return 2


def _train(args: argparse.Namespace) -> int:
    from trainers import TrainConfig, TrainerInputError, TrainingManager, TrainRequest, main_job
    from trainers.data import SeriesSpec

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        epochs = args.epochs or (main_job.QUICK_EPOCHS if args.quick else 50)
        if args.all_models and args.mode == "product" and args.product is None:
            args.product = "P001"  # the main job's default series
        series = SeriesSpec(args.mode, product=args.product, store=args.store, scope=args.scope,
                            aggregation=args.aggregation)
        config = TrainConfig(epochs=epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                             scheduler=args.scheduler, grad_clip=args.grad_clip or None, patience=args.patience,
                             min_delta=args.min_delta, checkpoint_every=args.checkpoint_every, seed=args.seed,
                             device=args.device)
        if args.all_models:
            main_job.run(args.root, series=series, epochs=epochs, quick=args.quick,
                         config=None if args.quick else config, port=args.port, addr=args.addr,
                         db_url=args.db_url, linger=args.linger, quiet=args.quiet, sd_file=args.sd_file)
            return 0
        request = TrainRequest(args.model, series, config, lookback=args.lookback, horizon=args.horizon,
                               data_csv=args.data, experiment=args.experiment, resume_from=args.resume,
                               builtin=dict(main_job.QUICK_DATA) if args.quick else {},
                               model_params=main_job.QUICK_MODEL_PARAMS.get(args.model, {}) if args.quick else {})
        manager = TrainingManager(args.root, args.db_url, serve=not args.no_serve, port=args.port,
                                  addr=args.addr, quiet=args.quiet, announce=print, sd_file=args.sd_file)
        outcome = manager.train(request)
    except TrainerInputError as exc:
        return _fail("train", exc)
    fit = outcome.fit
    print(f"{outcome.handle.run_id}: {fit.stop_reason}; best val_loss {fit.best_val_loss:.4g} "
          f"at epoch {fit.best_epoch}")
    print(f"version: {outcome.version_path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from trainers import TrainerInputError, forecast

    try:
        result = forecast(args.version_path, days=args.days, data_csv=args.data)
    except TrainerInputError as exc:
        return _fail("predict", exc)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for date, value in zip(result.dates, result.sales, strict=True):
            print(f"{date}  {value:10.2f}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from trainers import describe_models

    for name, summary in describe_models():
        print(f"{name:12s} {summary}")
    return 0
