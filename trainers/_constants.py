"""Names and defaults of the trainers area, in one place: model types, modes, scopes, metric names, charts."""

from __future__ import annotations

MODEL_TYPES = ("mlstm", "kan", "tcn", "transformer")
MODES = ("product", "store", "global")
SCOPE_ALL = "all"
GLOBAL_SCOPES = ("all", "stores", "products", "custom")
AGGREGATIONS = ("sum", "mean")

# Epochs when none are given: a normal run, and ``--quick`` / the main job (README's first command).
DEFAULT_EPOCHS = 50
QUICK_EPOCHS = 8

# TrainConfig's defaults (trainers/config.py), here so the CLI shows them without importing torch.
TRAIN_DEFAULTS = {"batch_size": 32, "lr": 1e-3, "optimizer": "adamw", "scheduler": "cosine", "grad_clip": 1.0,
                  "patience": 10, "min_delta": 0.0, "checkpoint_every": 10, "seed": 0, "device": "auto"}
# ... and the quick main job's own (--all-models --quick), where an option is not given
QUICK_TRAIN = {"batch_size": 64, "lr": 3e-3}

# CSV layout of real sales data; any further column is a numeric feature.
CSV_REQUIRED_COLUMNS = ("date", "store_id", "product_id", "sales")

# Calendar features appended to every series (known in advance, so usable when forecasting).
CALENDAR_FEATURES = ("dow_sin", "dow_cos", "doy_sin", "doy_cos")

# Trainer metric names (docs/ARCHITECTURE.md, "Trainer metric names"); dashboards and alerts read these.
STEP_METRICS = ("train_loss", "lr")
EPOCH_METRICS = ("train_mse", "val_loss", "val_rmse", "val_mae", "val_mape", "val_r2")
BEST_METRIC = "val_loss"
BEST_MODE = "min"
CHARTS = (
    # (name, metrics, title, ylabel, yscale, labels)
    ("loss", ("train_loss", "train_mse", "val_loss"), "Loss (scaled MSE)", "MSE", "log",
     {"train_loss": "train (batch)", "train_mse": "train (epoch mean)", "val_loss": "validation"}),
    ("errors", ("val_rmse", "val_mae"), "Validation errors (sales units)", "sales", "linear",
     {"val_rmse": "RMSE", "val_mae": "MAE"}),
    ("mape", ("val_mape",), "Validation MAPE", "%", "linear", {"val_mape": "MAPE"}),
    ("r2", ("val_r2",), "Validation R²", "R²", "linear", {"val_r2": "R²"}),
    ("lr", ("lr",), "Learning rate", "lr", "log", {"lr": "learning rate"}),
)

# File names used when the loop runs without an archive (the archive names its own files).
MODEL_FILE = "model.pth"
BEST_CHECKPOINT_FILE = "checkpoint_best.pth"
EPOCH_CHECKPOINT_FORMAT = "checkpoint_epoch_{epoch}.pth"

# Checkpoint format: bump when the dict layout changes.
CHECKPOINT_FORMAT_VERSION = 1

# MAPE denominator floor, in sales units: a zero-sales day contributes its absolute error instead of inf.
MAPE_FLOOR = 1.0
