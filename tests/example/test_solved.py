"""model=ridge: the example's softmax, its weights solved in closed form (task.solve) in one
logged epoch instead of trained. Delete this file with the example."""

from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest

import task
from conftest import new_opt_ml, sample
from container import ridge
from container.serving.model import ServedModel

CHECKPOINT_CONFIG = {"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://bucket/checkpoints/job"}


@pytest.fixture(scope="module")
def solved_tree(tmp_path_factory: pytest.TempPathFactory):
    tree = new_opt_ml(tmp_path_factory.mktemp("ridge") / "opt ml")
    tree.hyperparameters({"model": "ridge"})
    return tree, tree.run()


def test_ridge_solves_the_weights_in_one_logged_epoch_and_solves_again_on_every_row(solved_tree):
    tree, result = solved_tree

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("training: model=eeg_ridge ") and "solved in closed form" in line for line in lines
    )
    assert [line.split()[0] for line in lines if line.startswith("epoch=")] == ["epoch=1/1"]
    assert sum(line.startswith("solved: penalty=") for line in lines) == 2
    assert any(line.startswith("refit: solved again on ") for line in lines)
    with (tree.base / "output/data/history.csv").open() as file:
        assert [row["epoch"] for row in csv.DictReader(file)] == ["1"]
    assert tree.metadata()["epochs_run"] == 1


def test_the_solved_epoch_logs_training_and_validation_metrics(solved_tree):
    tree, _ = solved_tree

    metrics = tree.metadata()["metrics"]

    assert {"loss", "accuracy", "val_loss", "val_accuracy", "test_accuracy"} <= set(metrics)


def test_the_published_softmax_is_the_ridge_fit_on_every_training_row_scaled(solved_tree):
    tree, _ = solved_tree
    served = ServedModel.load(tree.base / "model")
    model = keras.saving.load_model(tree.model_file, compile=False)
    weights, bias = (weight.numpy() for weight in model.layers[-1].weights)
    # A row's features, standardised as training's: the solved weights' input.
    x = np.random.default_rng(0).standard_normal((3, weights.shape[0])).astype(np.float32)

    logits = x @ weights + bias
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)

    np.testing.assert_allclose(model.predict(x, verbose=0), probabilities, rtol=1e-4, atol=1e-6)
    assert served.metadata["hyperparameters"]["model"] == "ridge"


def test_solve_sets_the_last_layer_to_the_scaled_fit():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 6)).astype(np.float32)
    wanted = np.eye(2)[(x[:, 0] > 0).astype(int)]
    hyperparameters = {**task.HYPERPARAMETERS, "model": "ridge"}
    model = task.build_model(keras, hyperparameters, (6,), ["a", "b"])

    chosen = task.solve(model, x, wanted, hyperparameters)

    fitted = ridge.fit(x, 2 * wanted - 1, seed=hyperparameters["seed"])
    weights, bias = (weight.numpy() for weight in model.layers[-1].weights)
    np.testing.assert_allclose(weights, chosen["scale"] * fitted.weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, chosen["scale"] * fitted.bias, rtol=1e-5, atol=1e-6)
    assert chosen["penalty"] == fitted.penalty


def test_a_resumed_job_publishes_the_solved_checkpoint_without_solving_again(tmp_path):
    tree = new_opt_ml(tmp_path / "opt ml")
    (tree.base / "input/config/checkpointconfig.json").write_text(json.dumps(CHECKPOINT_CONFIG))
    tree.hyperparameters({"model": "ridge", "refit": "0"})
    first = tree.run()
    assert first.returncode == 0, first.stderr

    again = tree.run()

    assert again.returncode == 0, again.stderr
    assert "solved: " not in again.stdout
    assert (tree.base / "model" / "model.keras").exists()


def test_the_members_of_a_ridge_model_are_refused_in_one_line():
    hyperparameters = {**task.HYPERPARAMETERS, "model": "ridge", "members": 2}

    with pytest.raises(task.UserError, match="leave it at 1 with model=ridge"):
        task.build_model(keras, hyperparameters, (8,), ["a", "b"])


def test_ridge_on_two_replicated_hosts_is_solved_on_every_row_and_written_by_the_chief(tmp_path):
    from test_multi_host import finish, host_trees, start_hosts

    trees = host_trees(tmp_path, {"model": "ridge"})

    outputs = finish(start_hosts(trees))

    assert trees[0].model_file.exists() and not trees[1].model_file.exists()
    every_row = len(sample()["x_train"])
    held_out = int(every_row * task.HYPERPARAMETERS["validation_fraction"])
    for output in outputs:
        data = next(line for line in output.splitlines() if line.startswith("data: "))
        assert data.split()[1:3] == [f"train={every_row - held_out}", f"validation={held_out}"]


def test_ridge_on_sharded_hosts_is_refused_on_every_host_in_one_line(tmp_path):
    from test_multi_host import finish, host_trees, start_hosts

    trees = host_trees(tmp_path, {"model": "ridge", "features": "fft"}, distribution="ShardedByS3Key")

    finish(start_hosts(trees))

    for tree in trees:
        reason = tree.failure_file.read_text()
        assert reason.startswith("the model is solved in closed form (task.solved) on every training row")
        assert "DISTRIBUTION=replicated" in reason and reason.count("\n") == 1


@pytest.mark.parametrize("wanted", [np.ones(8), np.ones((8, 1))], ids=["flat", "one column"])
def test_targets_that_are_not_one_hot_classes_are_refused_in_one_line(wanted):
    hyperparameters = {**task.HYPERPARAMETERS, "model": "ridge"}
    model = task.build_model(keras, hyperparameters, (4,), ["a", "b"])

    with pytest.raises(task.UserError, match="one-hot targets of two classes or more: use model=linear"):
        task.solve(model, np.ones((8, 4), dtype=np.float32), wanted, hyperparameters)


def test_a_checkpoint_of_epochs_resumed_as_a_solved_model_is_refused_in_one_line(tmp_path):
    tree = new_opt_ml(tmp_path / "opt ml")
    (tree.base / "input/config/checkpointconfig.json").write_text(json.dumps(CHECKPOINT_CONFIG))
    tree.hyperparameters({"model": "linear", "epochs": "2", "batch_size": "8"})
    assert tree.run().returncode == 0
    tree.hyperparameters({"model": "ridge"})

    again = tree.run()

    assert again.returncode != 0
    reason = tree.failure_file.read_text()
    assert "holds 2 epochs of a model trained by epochs" in reason and reason.count("\n") == 1


def test_a_task_that_says_solved_without_a_solve_is_refused_in_one_line(monkeypatch):
    import train

    monkeypatch.delattr(task, "solve")

    with pytest.raises(task.UserError, match=r"task\.py has no solve"):
        train.solved_in_closed_form({**task.HYPERPARAMETERS, "model": "ridge"})
