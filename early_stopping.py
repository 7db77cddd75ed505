"""Early stopping: the epoch with the lowest validation loss, and its weights, across restarts.

train.py asks after each epoch whether patience is spent and, at the end, puts the kept
epoch's weights back; with checkpoints, a resumed job finds the kept epoch's weights in
its checkpoint (checkpoint.py keeps it beside the newest two).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checkpoint import Checkpoints, History


class BestEpoch:
    """The epoch with the lowest validation loss so far, and its weights."""

    def __init__(self, watch: bool) -> None:
        self.watch = watch
        self.epoch = 0
        self.weights: list[Any] | None = None

    def resume(
        self, history: History, model: Any, checkpoints: Checkpoints | None, load: Callable[[Path], Any]
    ) -> None:
        """After a restart: the best epoch of the resumed history, its weights from its checkpoint."""
        if not (self.watch and history):
            return
        self.epoch = lowest_val_loss(history)
        self.weights = model.get_weights()
        if self.epoch != len(history) and checkpoints is not None:
            best_model = checkpoints.load(self.epoch, load)
            if best_model is None:
                self.epoch = len(history)  # its checkpoint is gone: the newest is the best we have
            else:
                self.weights = best_model.get_weights()

    def update(self, history: History, model: Any) -> None:
        """Keeps the newest epoch if its validation loss is below the kept one's."""
        if not self.watch:
            return
        if self.epoch == 0 or history[-1]["val_loss"] < history[self.epoch - 1]["val_loss"]:
            self.epoch = len(history)
            self.weights = model.get_weights()

    def patience_spent(self, history: History, patience: int) -> bool:
        return self.watch and len(history) - self.epoch >= patience

    def restore_into(self, model: Any) -> int:
        if self.weights is not None:
            model.set_weights(self.weights)
        return self.epoch


def lowest_val_loss(history: History) -> int:
    """The epoch (from 1) with the lowest val_loss; the earliest of equals."""
    return 1 + min(range(len(history)), key=lambda index: history[index].get("val_loss", math.inf))
