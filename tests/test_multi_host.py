"""Several hosts train one model: ./train as SageMaker starts it on algo-1 and algo-2.

The hosts here are processes on 127.0.0.1, one port each (CLUSTER_ADDRESSES), since
TensorFlow's gRPC server binds every address of a network stack; test_netns_cluster.py
runs them as SageMaker does, each on its own stack, the same port and resolvable names.
"""

from __future__ import annotations

import csv
import json
import pickle
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import moto_server
import task
from conftest import OptMl, new_opt_ml, sample
from container import holdout, transform

HOSTS = ["algo-1", "algo-2"]
TRAIN = Path(__file__).resolve().parent.parent / "train"
# A host whose peer died fails once a collective times out (distribution.COLLECTIVE_TIMEOUT_S)
# or at once when the peer's connection resets: well inside this.
PEER_FAILURE_S = 120


def host_trees(
    tmp_path: Path,
    hyperparameters: dict[str, str],
    distribution: str = "FullyReplicated",
    checkpoints: bool = False,
):
    """One /opt/ml tree per host, each naming itself in resourceconfig.json, with the same data.

    checkpoints: the job has a CheckpointConfig, so every host saves (and resumes) each epoch.
    """
    trees = []
    for host in HOSTS:
        tree = new_opt_ml(tmp_path / host)
        config = tree.base / "input" / "config"
        (config / "resourceconfig.json").write_text(json.dumps({"current_host": host, "hosts": HOSTS}))
        (config / "inputdataconfig.json").write_text(
            json.dumps({"training": {"TrainingInputMode": "File", "S3DistributionType": distribution}})
        )
        tree.hyperparameters(hyperparameters)
        if checkpoints:
            (config / "checkpointconfig.json").write_text(json.dumps({"LocalPath": "/opt/ml/checkpoints"}))
        trees.append(tree)
    return trees


def addresses() -> str:
    return ",".join(f"{host}=127.0.0.1:{moto_server.free_port()}" for host in HOSTS)


def start_hosts(trees: list[OptMl], cluster: str | None = None) -> list[subprocess.Popen]:
    cluster = cluster or addresses()
    return [
        subprocess.Popen(
            [str(TRAIN)],
            env={**tree.environment(), "CLUSTER_ADDRESSES": cluster},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for tree in trees
    ]


def finish(processes: list[subprocess.Popen], timeout: float = 300) -> list[str]:
    """Each host's output, once all have exited."""
    try:
        return [process.communicate(timeout=timeout)[0] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def history(tree: OptMl) -> list[dict[str, str]]:
    with (tree.base / "output" / "data" / "history.csv").open() as file:
        return list(csv.DictReader(file))


def test_two_hosts_train_one_model_and_only_the_chief_writes_it(tmp_path):
    chief, worker = host_trees(tmp_path, {"epochs": "3"})

    outputs = finish(start_hosts([chief, worker]))

    assert [process_output.splitlines()[-1] for process_output in outputs] == [
        f"model saved to {chief.model_file}",
        "done: the model is written by algo-1",
    ], outputs
    assert chief.metadata()["metrics"]["test_accuracy"] > 0.5
    assert not worker.model_file.exists()
    assert not (worker.base / "output" / "data" / "history.csv").exists()
    assert "host=algo-2 (2 of 2, replicated)" in outputs[1]


def test_both_hosts_log_the_same_epochs_over_all_rows(tmp_path):
    trees = host_trees(tmp_path, {"epochs": "3", "patience": "0"})

    outputs = finish(start_hosts(trees))

    epochs = [
        [line.rsplit(" time=", 1)[0] for line in out.splitlines() if line.startswith("epoch=")]
        for out in outputs
    ]
    assert len(epochs[0]) == 3 and epochs[0] == epochs[1]
    # 30 training rows of the 40-row sample: 24 trained on, split 12 and 12 between the hosts.
    assert "data: train=12 validation=3" in outputs[0] and "data: train=12 validation=3" in outputs[1]


def test_with_full_batch_steps_two_hosts_take_the_same_steps_as_one(tmp_path):
    # One step an epoch over every row: the mean of the two hosts' gradients is the one
    # host's gradient, so the losses match up to float32 rounding in a different order.
    settings = {"epochs": "5", "patience": "0", "batch_size": "1024", "precision": "float32"}
    alone = new_opt_ml(tmp_path / "alone")
    alone.hyperparameters(settings)
    assert alone.run().returncode == 0
    trees = host_trees(tmp_path, settings)

    finish(start_hosts(trees))

    for one, two in zip(history(alone), history(trees[0]), strict=True):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert float(two[name]) == pytest.approx(float(one[name]), rel=1e-4, abs=1e-5), name


def test_both_hosts_hold_identical_weights_at_the_end(tmp_path):
    trees = host_trees(tmp_path, {"epochs": "3", "patience": "0"}, checkpoints=True)

    finish(start_hosts(trees))

    import keras

    weights = [
        keras.saving.load_model(tree.base / "checkpoints" / f"{host}.epoch-000003.keras").get_weights()
        for tree, host in zip(trees, HOSTS, strict=True)
    ]
    for first, second in zip(*weights, strict=True):
        np.testing.assert_array_equal(first, second)


def test_a_host_that_dies_fails_the_other_with_a_clear_reason(tmp_path):
    trees = host_trees(tmp_path, {"epochs": "100000", "patience": "0"})
    chief, worker = start_hosts(trees)
    try:
        for line in worker.stdout:
            if line.startswith("epoch=2/"):
                break
        worker.send_signal(signal.SIGKILL)
        started = time.monotonic()
        chief.communicate(timeout=PEER_FAILURE_S)
        waited = time.monotonic() - started
    finally:
        finish([chief, worker])

    assert chief.returncode not in (0, None)
    reason = trees[0].failure_file.read_text()
    assert "algo-2" in reason or "another host" in reason, reason
    assert not trees[0].model_file.exists()
    assert waited < PEER_FAILURE_S


def test_with_sharded_input_each_host_trains_on_its_own_files_standardised_as_one(tmp_path):
    # kernels and auto (the default) are fitted to one set of rows, which sharded hosts do not share
    trees = host_trees(tmp_path, {"epochs": "2", "features": "timefreq"}, distribution="ShardedByS3Key")
    shards = [sample(rows=40, seed=1), sample(rows=40, seed=2)]
    for tree, shard in zip(trees, shards, strict=True):
        with (tree.training / "output_dict").open("wb") as file:
            pickle.dump(shard, file)

    outputs = finish(start_hosts(trees))

    assert all("data: train=24 validation=6" in out for out in outputs), outputs
    assert "host=algo-1 (1 of 2, sharded)" in outputs[0]
    features = [transform.features(shard["x_train"], "timefreq") for shard in shards]
    metadata = trees[0].metadata()["features"]
    # Each host standardised with its own statistics first, then all hosts' pooled ones.
    fraction, seed = task.HYPERPARAMETERS["validation_fraction"], task.HYPERPARAMETERS["seed"]
    fit_rows = [holdout.validation_split(holdout.digests(rows), fraction, seed)[0] for rows in features]
    every_row = np.concatenate([rows[fit] for rows, fit in zip(features, fit_rows, strict=True)])
    assert metadata["mean"] == pytest.approx(every_row.mean(axis=0).tolist(), rel=1e-3, abs=1e-3)


@pytest.mark.parametrize(("features", "fitted"), [("kernels", "its biases"), ("auto", "its choice")])
def test_sharded_input_with_features_fitted_to_the_rows_is_refused_on_every_host_in_one_line(
    tmp_path, features, fitted
):
    trees = host_trees(tmp_path, {"epochs": "1", "features": features}, distribution="ShardedByS3Key")

    finish(start_hosts(trees))

    for tree in trees:
        reason = tree.failure_file.read_text()
        assert reason.startswith(f"features={features} fits {fitted} to the training rows, and sharded hosts")
        assert "DISTRIBUTION=replicated" in reason and reason.count("\n") == 1


def test_sigterm_to_one_host_stops_every_host_at_the_same_step_without_a_model(tmp_path):
    trees = host_trees(tmp_path, {"epochs": "100000", "patience": "0"})
    chief, worker = start_hosts(trees)
    for line in chief.stdout:
        if line.startswith("epoch=2/"):
            break
    chief.send_signal(signal.SIGTERM)

    finish([chief, worker], timeout=PEER_FAILURE_S)

    reasons = [tree.failure_file.read_text() for tree in trees]
    assert chief.returncode == worker.returncode == 143, reasons
    assert all(reason.startswith("stopped by SIGTERM after epoch") for reason in reasons), reasons
    assert reasons[0] == reasons[1]
    assert not trees[0].model_file.exists()


def test_a_job_resumed_on_two_hosts_continues_from_their_checkpoints(tmp_path):
    trees = host_trees(tmp_path, {"epochs": "2", "patience": "0"}, checkpoints=True)
    finish(start_hosts(trees))
    for tree in trees:
        tree.hyperparameters({"epochs": "4", "patience": "0"})

    outputs = finish(start_hosts(trees))

    for output in outputs:
        assert "after epoch 2" in output and "epoch=3/4" in output and "epoch=1/4" not in output, output
    assert [row["epoch"] for row in history(trees[0])] == ["1", "2", "3", "4"]


def chief_until_data_is_read(tree: OptMl, cluster: str | None) -> subprocess.Popen:
    """algo-1 alone, started and read until its data line: next it waits for algo-2."""
    environment = tree.environment() | ({"CLUSTER_ADDRESSES": cluster} if cluster else {})
    chief = subprocess.Popen(
        [str(TRAIN)], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in chief.stdout:
        if line.startswith("data:"):
            return chief
    raise AssertionError(f"algo-1 ended before reading its data: {chief.wait()}")


@pytest.mark.parametrize(
    ("cluster", "waiting_for"),
    [
        (addresses, "the other hosts to start"),  # algo-2 never starts
        (None, "the other hosts' names to resolve"),  # algo-1 and algo-2 resolve nowhere here
    ],
)
def test_sigterm_while_waiting_for_the_other_host_stops_at_once_with_the_reason(
    tmp_path, cluster, waiting_for
):
    chief_tree, _ = host_trees(tmp_path, {"epochs": "1"})
    chief = chief_until_data_is_read(chief_tree, cluster() if cluster else None)

    chief.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    output = finish([chief], timeout=60)[0]

    assert chief.returncode == 143, output
    assert time.monotonic() - signalled < 20
    reason = chief_tree.failure_file.read_text()
    assert reason.startswith("stopped by SIGTERM while waiting for the other hosts"), reason
    if waiting_for.endswith("resolve"):
        assert reason == f"stopped by SIGTERM while waiting for {waiting_for}\n"
    assert f"train: error: {reason.strip()}" in output
    assert not chief_tree.model_file.exists()
