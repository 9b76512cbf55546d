"""Per-epoch progress for the manager: a tqdm bar (loss, best, ETA) or, with ``quiet``, one log line."""

from __future__ import annotations

import logging

from tqdm import tqdm

__all__ = ["EpochProgress"]

log = logging.getLogger("curvewatch.trainers")


class EpochProgress:
    """``on_epoch_end`` callback: ``EpochProgress(total=50, desc=run_id, quiet=False)``; call ``close()``."""

    def __init__(self, total: int, desc: str, *, quiet: bool = False, initial: int = 0) -> None:
        self.desc, self.quiet = desc, quiet
        self._bar = None if quiet else tqdm(total=total, initial=initial, desc=desc, unit="epoch",
                                            dynamic_ncols=True, leave=True)

    def __call__(self, epoch_result, fit_result) -> None:
        best = fit_result.best_val_loss
        if self._bar is None:
            log.info("%s epoch %d: train_mse=%.4g val_loss=%.4g best=%.4g (epoch %s)", self.desc,
                     epoch_result.epoch, epoch_result.train_mse, epoch_result.val_loss,
                     float("nan") if best is None else best, fit_result.best_epoch)
            return
        self._bar.set_postfix(loss=f"{epoch_result.train_mse:.4g}", val=f"{epoch_result.val_loss:.4g}",
                              best=f"{best:.4g}" if best is not None else "-", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
