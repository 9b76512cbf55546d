"""``curvewatch train`` | ``predict`` | ``models``: train forecasters into the archive, forecast, list models."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from curvewatch.archive.settings import DB_URL_ENV, ROOT_ENV, default_db_url, default_root
from curvewatch.trainers._constants import (
    DEFAULT_EPOCHS,
    DEFAULT_TARGET_TRANSFORM,
    MODEL_TYPES,
    QUICK_EPOCHS,
    QUICK_TRAIN,
    TARGET_TRANSFORMS,
    TRAIN_DEFAULTS,
)

__all__ = ["register"]

_DEFAULT_MODEL = MODEL_TYPES[0]
_DEFAULT_EXPERIMENT = "default"
# --all-models trains every model type on one series; these options name one run and cannot apply.
_NOT_WITH_ALL_MODELS = {
    "model": "--model is not used with --all-models, which trains every model type; drop one of the two",
    "resume": "--resume is not supported with --all-models; resume one model with --model",
}


def _count(minimum: int):
    """An argparse type for a whole number >= ``minimum``: ``--epochs 0`` is refused with a sentence."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}, got {text!r}")
        return value
    parse.__name__ = f"count>={minimum}"
    return parse


_POSITIVE, _NON_NEGATIVE = _count(1), _count(0)
# TrainConfig options: (flag, type, help); each defaults to None so that a left-out option is known
_HOW_OPTIONS = (
    ("--batch-size", _POSITIVE, "batch size"),
    ("--lr", float, "learning rate"),
    ("--optimizer", str, "adam, adamw or sgd"),
    ("--scheduler", str, "none, cosine, step or plateau"),
    ("--grad-clip", float, "max gradient norm (0: off)"),
    ("--patience", _NON_NEGATIVE, "early-stopping patience in epochs (0: off)"),
    ("--min-delta", float, "smallest val_loss improvement that resets patience"),
    ("--checkpoint-every", _NON_NEGATIVE, "checkpoint_epoch_N.pth every K epochs (0: never)"),
    ("--seed", int, "random seed"),
    ("--device", str, "auto (cuda when available), cpu or cuda[:N]"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "train", help="train a sales forecaster (or --all-models) into a new archive version, exposed live",
        description="Train a model on sales data into a new version of the archive, with a Prometheus "
        "endpoint up while it trains. Example: curvewatch train --mode product --product P001 --scope all "
        "--model mlstm --epochs 50. The README's first command: curvewatch train --all-models --quick.",
    )
    what = train.add_argument_group("what to train")
    what.add_argument("--model", default=None,
                      help=f"{', '.join(MODEL_TYPES)} (default: {_DEFAULT_MODEL}); not with --all-models")
    what.add_argument("--all-models", action="store_true",
                      help="train all four models (the main job); with --quick, training options left out "
                           f"take the quick job's own values ({QUICK_TRAIN})")
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
    how.add_argument("--epochs", type=_POSITIVE, default=None,
                     help=f"epochs (default: {DEFAULT_EPOCHS}; {QUICK_EPOCHS} with --quick)")
    # an option left out takes TrainConfig's default (with --all-models --quick: the main job's quick one)
    for flag, kind, text in _HOW_OPTIONS:
        how.add_argument(flag, type=kind, default=None, help=f"{text} (default: {TRAIN_DEFAULTS[_dest(flag)]})")
    how.add_argument("--lookback", type=_POSITIVE, default=28)
    how.add_argument("--horizon", type=_POSITIVE, default=7)
    how.add_argument("--target-transform", choices=TARGET_TRANSFORMS, default=DEFAULT_TARGET_TRANSFORM,
                     help=f"train on log(1 + sales) or on sales as they are (default: {DEFAULT_TARGET_TRANSFORM})")
    how.add_argument("--resume", help="checkpoint_*.pth to continue from (same options as that run; "
                     "not with --all-models)")
    how.add_argument("--no-verify", action="store_true", help="resume from a checkpoint even if it differs "
                     "from its version's manifest (experts only)")
    where = train.add_argument_group("where")
    where.add_argument("--root", default=default_root(),
                       help=f"archive root (default: ${ROOT_ENV} or saved_models)")
    where.add_argument("--db-url", default=default_db_url(),
                       help=f"SQLAlchemy URL of the model_versions table (default: ${DB_URL_ENV} or a SQLite "
                            "file next to the root)")
    where.add_argument("--port", type=int, default=0, help="metrics port (default: a free one)")
    where.add_argument("--addr", default="127.0.0.1", help="metrics listen address (default: 127.0.0.1)")
    where.add_argument("--sd-file", type=Path, default=None,
                       help="register the endpoint for Prometheus file_sd while it is up: a targets folder "
                            "(e.g. prometheus/targets) or a .json file")
    where.add_argument("--sd-address", default=None, metavar="HOST:PORT",
                       help="the address written to --sd-file (default: --addr:port, or this host's name "
                            "when --addr is 0.0.0.0)")
    where.add_argument("--no-serve", action="store_true", help="no Prometheus endpoint")
    where.add_argument("--linger", type=float, default=0.0, help="--all-models: keep serving N s at the end")
    where.add_argument("--experiment", default=None,
                       help=f"experiment label of the run (default: {_DEFAULT_EXPERIMENT}; main-job with "
                            "--all-models)")
    where.add_argument("--quiet", action="store_true", help="log lines instead of a progress bar")
    train.set_defaults(func=_train)

    predict = subparsers.add_parser("predict", help="forecast the next days with an archived version")
    predict.add_argument("--version-path", required=True, help="a version directory, e.g. saved_models/.../v1")
    predict.add_argument("--days", type=_POSITIVE, default=14)
    predict.add_argument("--data", help="sales CSV to forecast from (default: the data the version was trained "
                         "on; a CSV must be unchanged since then)")
    predict.add_argument("--future", help="CSV of the forecast days' known features: date, store_id, product_id "
                         "and the data's feature columns (planned promotions ...); without it, built-in "
                         "holidays and the calendar only, with a note on stderr")
    predict.add_argument("--json", action="store_true", help="print JSON instead of a table")
    predict.add_argument("--no-verify", action="store_true", help="load model.pth even if it differs from the "
                         "version's manifest (experts only)")
    predict.set_defaults(func=_predict)

    models = subparsers.add_parser("models", help="list the model types curvewatch can train")
    models.set_defaults(func=_models)


def _fail(command: str, exc: Exception) -> int:
    print(f"curvewatch {command}: error: {exc}", file=sys.stderr)
    return 2


def _dest(flag: str) -> str:
    """``--batch-size`` -> ``batch_size`` (argparse's attribute, TrainConfig's field)."""
    return flag[2:].replace("-", "_")


def _how(args: argparse.Namespace) -> dict[str, object]:
    """The TrainConfig options given on the command line (``--grad-clip 0`` means no clipping)."""
    names = [_dest(flag) for flag, _, _ in _HOW_OPTIONS]
    given = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if "grad_clip" in given:
        given["grad_clip"] = given["grad_clip"] or None
    return given


def _all_models_conflicts(args: argparse.Namespace) -> str | None:
    """The first option given that --all-models cannot honour, as the error to print (None: none)."""
    for option, message in _NOT_WITH_ALL_MODELS.items():
        if getattr(args, option) is not None:
            return message + "."
    return None


def _train(args: argparse.Namespace) -> int:
    from curvewatch.trainers import TrainConfig, TrainerInputError, TrainingManager, TrainRequest, main_job
    from curvewatch.trainers.data import SeriesSpec

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.all_models and (conflict := _all_models_conflicts(args)):
        return _fail("train", ValueError(conflict))
    try:
        epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else DEFAULT_EPOCHS)
        if args.all_models and args.mode == "product" and args.product is None:
            args.product = "P001"  # the main job's default series
        series = SeriesSpec(args.mode, product=args.product, store=args.store, scope=args.scope,
                            aggregation=args.aggregation)
        given = _how(args)
        config = TrainConfig(epochs=epochs, **given)
        if args.all_models:
            main_job.run(args.root, series=series, epochs=epochs, quick=args.quick,
                         config=None if args.quick else config, overrides=given, port=args.port, addr=args.addr,
                         db_url=args.db_url, linger=args.linger, quiet=args.quiet, sd_file=args.sd_file,
                         sd_address=args.sd_address,
                         data_csv=args.data, lookback=args.lookback, horizon=args.horizon,
                         target_transform=args.target_transform,
                         experiment=args.experiment or main_job.MAIN_JOB_EXPERIMENT, serve=not args.no_serve)
            return 0
        model = args.model or _DEFAULT_MODEL
        request = TrainRequest(model, series, config, lookback=args.lookback, horizon=args.horizon,
                               data_csv=args.data, experiment=args.experiment or _DEFAULT_EXPERIMENT,
                               target_transform=args.target_transform,
                               resume_from=args.resume, verify=not args.no_verify,
                               builtin=dict(main_job.QUICK_DATA) if args.quick else {},
                               model_params=main_job.QUICK_MODEL_PARAMS.get(model, {}) if args.quick else {})
        manager = TrainingManager(args.root, args.db_url, serve=not args.no_serve, port=args.port,
                                  addr=args.addr, quiet=args.quiet, announce=print, sd_file=args.sd_file,
                                  sd_address=args.sd_address)
        try:
            outcome = manager.train(request)
        finally:
            if manager._archive is not None:  # its registry connections (PostgreSQL's would leak)
                manager._archive.close()
    except TrainerInputError as exc:
        return _fail("train", exc)
    print(f"{outcome.handle.run_id}: {outcome.fit.stop_reason}; {main_job.best_text(outcome.fit)}")
    print(main_job.baseline_text(outcome.record.metrics_summary))
    print(f"version: {outcome.version_path}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from curvewatch.archive import ArchiveError, local_copy
    from curvewatch.trainers import TrainerInputError, forecast

    try:
        version_path = local_copy(args.version_path)  # a version's URL (s3://...): this host's copy of it
        result = forecast(version_path, days=args.days, data_csv=args.data,
                          future_csv=args.future, verify=not args.no_verify)
    except (TrainerInputError, ArchiveError) as exc:
        return _fail("predict", exc)
    for note in result.notes:
        print(f"curvewatch predict: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for date, value in zip(result.dates, result.sales, strict=True):
            print(f"{date}  {value:10.2f}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from curvewatch.trainers import describe_models

    for name, summary in describe_models():
        print(f"{name:12s} {summary}")
    return 0
