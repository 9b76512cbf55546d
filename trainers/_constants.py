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
# The last calendar columns (every model input ends with them): the day of the year. Only each model's
# linear base sees them; its network does not (with under two years of data, the network memorised last
# year's noise by date: bench/bench_trainers.py, MLSTM 0.95 -> 0.87 of the 4-week mean on P002).
DAY_OF_YEAR_COLUMNS = 2

# Trainer metric names (docs/ARCHITECTURE.md, "Trainer metric names"); dashboards and alerts read these.
STEP_METRICS = ("train_loss", "lr")
EPOCH_METRICS = ("train_mse", "val_loss", "val_rmse", "val_mae", "val_mape", "val_r2", "val_mase")
# Baselines scored on the same validation windows as every model (trainers/baselines.py): name -> what it is.
BASELINES = {"seasonal_naive": "last week's value (seasonal naive)",
             "weekday_mean_4w": "mean of the same weekday over the last 4 weeks"}
BASELINE_WEEKS = 4  # weeks averaged by the weekday_mean_4w baseline and by each model's seasonal skip
# The baselines' validation MAE, logged every epoch as flat reference lines of the ``errors`` chart.
BASELINE_METRICS = {"seasonal_naive": "baseline_naive_mae", "weekday_mean_4w": "baseline_4w_mean_mae"}
BEST_METRIC = "val_loss"
BEST_MODE = "min"
CHARTS = (
    # (name, metrics, title, ylabel, yscale, labels)
    ("loss", ("train_loss", "train_mse", "val_loss"), "Loss (scaled MSE)", "MSE", "log",
     {"train_loss": "train (batch)", "train_mse": "train (epoch mean)", "val_loss": "validation"}),
    ("errors", ("val_rmse", "val_mae", "baseline_naive_mae", "baseline_4w_mean_mae"),
     "Validation errors (sales units)", "sales", "linear",
     {"val_rmse": "RMSE", "val_mae": "MAE", "baseline_naive_mae": "MAE of last week's value",
      "baseline_4w_mean_mae": "MAE of the 4-week weekday mean"}),
    ("mase", ("val_mase",), "Validation MASE (MAE ÷ seasonal-naive MAE; < 1 beats it)", "MASE", "linear",
     {"val_mase": "MASE"}),
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

# Target transforms: "log1p" trains on log(1 + sales) (count data: multiplicative effects become additive),
# "none" on sales as they are. bench/bench_trainers.py --target-transform measures the difference (README:
# small; it helps KAN, TCN and the Transformer on the product series, not MLSTM).
TARGET_TRANSFORMS = ("log1p", "none")
DEFAULT_TARGET_TRANSFORM = "log1p"

# MAPE denominator floor, in sales units: a zero-sales day contributes its absolute error instead of inf.
MAPE_FLOOR = 1.0
