"""Early stopping: the epoch with the best validation metric, and its weights, across restarts.

Which metric, and whether lower or higher is better, is the task's EARLY_STOPPING (task.py).

train.py asks after each epoch whether patience is spent and, at the end, puts the kept
epoch's weights back; with checkpoints, a resumed job finds the kept epoch's weights in
its checkpoint (checkpoint.py keeps it beside the newest two).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from container.checkpoint import Checkpoints, History


class BestEpoch:
    """The epoch with the best value of metric so far ("min" or "max" by goal), and its weights."""

    def __init__(self, watch: bool, metric: str = "val_loss", goal: str = "min") -> None:
        self.watch = watch
        self.metric, self.goal = metric, goal
        self.epoch = 0
        self.weights: list[Any] | None = None

    def resume(
        self, history: History, model: Any, checkpoints: Checkpoints | None, load: Callable[[Path], Any]
    ) -> None:
        """After a restart: the best epoch of the resumed history, its weights from its checkpoint."""
        if not (self.watch and history):
            return
        self.epoch = best_epoch(history, self.metric, self.goal)
        self.weights = model.get_weights()
        if self.epoch != len(history) and checkpoints is not None:
            best_model = checkpoints.load(self.epoch, load)
            if best_model is None:
                self.epoch = len(history)  # its checkpoint is gone: the newest is the best we have
            else:
                self.weights = best_model.get_weights()

    def update(self, history: History, model: Any) -> None:
        """Keeps the newest epoch if its metric is better than the kept one's."""
        if not self.watch:
            return
        newest, kept = history[-1][self.metric], history[self.epoch - 1][self.metric] if self.epoch else 0.0
        if self.epoch == 0 or (newest < kept if self.goal == "min" else newest > kept):
            self.epoch = len(history)
            self.weights = model.get_weights()

    def patience_spent(self, history: History, patience: int) -> bool:
        return self.watch and len(history) - self.epoch >= patience

    def restore_into(self, model: Any) -> int:
        if self.weights is not None:
            model.set_weights(self.weights)
        return self.epoch


def best_epoch(history: History, metric: str = "val_loss", goal: str = "min") -> int:
    """The epoch (from 1) with the lowest (goal "min") or highest metric; the earliest of equals."""
    sign = 1 if goal == "min" else -1
    return 1 + min(range(len(history)), key=lambda index: sign * history[index].get(metric, sign * math.inf))
