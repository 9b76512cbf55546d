"""``TrainConfig``: every knob of the training loop, validated once, stored in metadata.json as plain JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch

from ._constants import DEFAULT_EPOCHS, TRAIN_DEFAULTS
from .errors import TrainerInputError

__all__ = ["OPTIMIZERS", "SCHEDULERS", "TrainConfig", "build_optimizer", "build_scheduler", "resolve_device"]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine", "step", "plateau")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: ``TrainConfig(epochs=50, lr=1e-3, scheduler="cosine", grad_clip=1.0, patience=10)``.

    Schedulers step once per epoch (``plateau`` on ``val_loss``). ``grad_clip`` is a max gradient norm
    (``None`` or 0: no clipping). ``checkpoint_every=K`` writes ``checkpoint_epoch_N.pth`` every K epochs
    (0: never). ``patience=0`` disables early stopping. ``device="auto"`` picks ``cuda`` when available.
    ``restore_best`` ends training with the weights of the best validation epoch.
    """

    epochs: int = DEFAULT_EPOCHS
    batch_size: int = TRAIN_DEFAULTS["batch_size"]
    lr: float = TRAIN_DEFAULTS["lr"]
    optimizer: str = TRAIN_DEFAULTS["optimizer"]
    weight_decay: float = 0.0
    scheduler: str = TRAIN_DEFAULTS["scheduler"]
    step_size: int = 10
    gamma: float = 0.5
    grad_clip: float | None = TRAIN_DEFAULTS["grad_clip"]
    patience: int = TRAIN_DEFAULTS["patience"]
    min_delta: float = TRAIN_DEFAULTS["min_delta"]
    checkpoint_every: int = TRAIN_DEFAULTS["checkpoint_every"]
    seed: int = TRAIN_DEFAULTS["seed"]
    device: str = TRAIN_DEFAULTS["device"]
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise TrainerInputError(f"Unknown optimizer {self.optimizer!r}; use one of {', '.join(OPTIMIZERS)}.")
        if self.scheduler not in SCHEDULERS:
            raise TrainerInputError(f"Unknown scheduler {self.scheduler!r}; use one of {', '.join(SCHEDULERS)}.")
        for name in ("epochs", "batch_size", "step_size"):
            if getattr(self, name) < 1:
                raise TrainerInputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("patience", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise TrainerInputError(f"{name} must be 0 or more, got {getattr(self, name)}.")
        if not self.lr > 0:
            raise TrainerInputError(f"The learning rate must be positive, got {self.lr}.")
        if self.min_delta < 0:
            raise TrainerInputError(f"min_delta must be 0 or more, got {self.min_delta}.")
        if self.device not in ("auto", "cpu") and not self.device.startswith("cuda"):
            raise TrainerInputError(f"Unknown device {self.device!r}; use auto, cpu or cuda[:N].")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def resolve_device(name: str) -> torch.device:
    """``auto`` → ``cuda`` when available, else ``cpu``; an unavailable ``cuda`` raises clearly."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TrainerInputError(f"Device {name!r} was asked for but CUDA is not available; use --device cpu.")
    return torch.device(name)


def build_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    cls = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=config.lr, weight_decay=config.weight_decay)


def build_scheduler(config: TrainConfig, optimizer: torch.optim.Optimizer):
    """The epoch-level LR scheduler, or None for ``scheduler="none"``."""
    if config.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma)
    if config.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.gamma, patience=max(1, config.patience // 2)
        )
    return None
