"""Early stopping keeps the epoch with the lowest validation loss, across restarts too."""

from __future__ import annotations

import csv
from pathlib import Path

from container.checkpoint import Checkpoints
from container.early_stopping import BestEpoch, best_epoch


class FakeModel:
    """Just enough of a Keras model: weights to copy and a file to save."""

    def __init__(self, weights: float) -> None:
        self.weights = weights

    def get_weights(self) -> list[float]:
        return [self.weights]

    def set_weights(self, weights: list[float]) -> None:
        self.weights = weights[0]

    def save(self, path: Path) -> None:
        Path(path).write_text(str(self.weights))


def rows(*val_losses: float) -> list[dict[str, float]]:
    return [{"epoch": number, "val_loss": loss} for number, loss in enumerate(val_losses, start=1)]


def test_the_lowest_validation_loss_names_the_epoch_and_the_earliest_wins_a_tie():
    assert best_epoch(rows(0.9, 0.5, 0.7, 0.5)) == 2


def test_the_best_epochs_weights_are_put_back_after_training():
    best, model, history = BestEpoch(watch=True), FakeModel(0), []
    for row in rows(0.9, 0.4, 0.6, 0.8):
        model.weights = row["epoch"]
        history.append(row)
        best.update(history, model)

    assert best.restore_into(model) == 2
    assert model.weights == 2


def test_without_watching_the_last_epoch_is_kept():
    best, model = BestEpoch(watch=False), FakeModel(7)
    best.update(rows(0.1, 0.9), model)

    assert best.restore_into(model) == 0 and model.weights == 7


def test_a_restart_takes_the_best_epochs_weights_from_its_checkpoint(tmp_path):
    checkpoints = Checkpoints(tmp_path, "algo-1")
    history = rows(0.9, 0.4, 0.6, 0.8)
    for epoch in range(1, 5):
        checkpoints.save(FakeModel(epoch), history[:epoch], also_keep=min(epoch, 2))

    best = BestEpoch(watch=True)
    best.resume(history, FakeModel(4), checkpoints, lambda path: FakeModel(float(Path(path).read_text())))

    assert best.epoch == 2 and best.weights == [2.0]


def test_the_best_epochs_checkpoint_is_kept_beside_the_newest_two(tmp_path):
    checkpoints = Checkpoints(tmp_path, "algo-1")
    history = rows(0.2, 0.4, 0.6, 0.8, 0.9)
    for epoch in range(1, 6):
        checkpoints.save(FakeModel(epoch), history[:epoch], also_keep=1)

    assert checkpoints.committed() == [5, 4, 1]
    assert sorted(path.suffix for path in tmp_path.iterdir()) == [".json"] * 3 + [".keras"] * 3


def test_training_stops_patience_epochs_after_the_best_and_saves_the_best(opt_ml):
    opt_ml.hyperparameters({"epochs": "40", "patience": "2", "batch_size": "8"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    history = list(csv.DictReader((opt_ml.base / "output/data/history.csv").open()))
    losses = [float(row["val_loss"]) for row in history]
    kept = losses.index(min(losses)) + 1
    assert len(history) == min(40, kept + 2)
    assert [row["kept"] for row in history] == [
        "1" if number == kept else "0" for number in range(1, len(history) + 1)
    ]
    metadata = opt_ml.metadata()
    assert metadata["epoch_kept"] == kept and metadata["epochs_run"] == len(history)
    assert metadata["metrics"]["val_loss"] == min(losses)


def test_after_a_lost_best_checkpoint_a_later_epoch_beating_the_kept_one_is_kept(tmp_path):
    checkpoints = Checkpoints(tmp_path, "algo-1")
    history = rows(0.3, 0.9)
    best = BestEpoch(watch=True)
    best.resume(history, FakeModel(2), checkpoints, lambda path: FakeModel(float(Path(path).read_text())))
    assert best.epoch == 2  # epoch 1's checkpoint is gone: the newest stands in for it

    history.append(rows(0.3, 0.9, 0.5)[2])
    best.update(history, FakeModel(3))

    assert best.epoch == 3 and best.weights == [3]


def test_patience_is_spent_once_that_many_epochs_pass_without_a_better_one():
    best, model = BestEpoch(watch=True), FakeModel(0)
    history: list[dict[str, float]] = []
    spent = []
    for row in rows(0.5, 0.4, 0.6, 0.7):
        history.append(row)
        best.update(history, model)
        spent.append(best.patience_spent(history, patience=2))

    assert spent == [False, False, False, True]
