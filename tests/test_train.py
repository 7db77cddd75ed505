"""./train end to end on small /opt/ml trees: what a successful job leaves behind."""

from __future__ import annotations

import csv
import json
import os
import pickle
import signal
import subprocess

import numpy as np
import pytest

import task
from conftest import TRAIN, fails_cleanly, replace_training_file
from container import feature_choice, loop, native_log, transform
from container.sagemaker_env import metric_definitions, metric_patterns


def default_transforms() -> tuple[str, ...]:
    """The transforms the default features may save: itself, or auto's choice."""
    default = task.HYPERPARAMETERS["features"]
    return feature_choice.CHOICES if default == "auto" else (default,)


def test_training_writes_the_model_metadata_and_history(opt_ml):
    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert opt_ml.model_file.stat().st_size > 0
    metadata = opt_ml.metadata()
    assert metadata["input_shape"] == [4, 500]
    assert metadata["names"] == ["0", "1"]
    assert metadata["features"]["transform"] in default_transforms()
    assert metadata["features"]["channels"] == 4
    width = transform.width((4, 500), metadata["features"]["transform"])
    assert len(metadata["features"]["mean"]) == metadata["features"]["shape"][0] == width
    assert set(metadata["metrics"]) >= {"loss", "accuracy", "test_loss", "test_accuracy"}
    rows = list(csv.DictReader((opt_ml.base / "output/data/history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert [row["kept"] for row in rows].count("1") == 1
    assert not opt_ml.failure_file.exists()
    assert not list((opt_ml.base / "model").glob(".*")), "a temporary file was left in model/"


def test_the_precision_asked_for_is_the_one_trained_in_and_recorded(opt_ml):
    opt_ml.hyperparameters({"epochs": "1", "precision": "float32"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "precision=float32" in result.stdout
    assert opt_ml.metadata()["precision"] == "float32"


def test_every_metric_regex_reads_a_value_from_the_log(opt_ml):
    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    for name, pattern in metric_patterns(task.METRICS).items():
        values = [float(m.group(1)) for m in map(pattern.search, result.stdout.splitlines()) if m]
        expected = 1 if name.startswith("test:") else 2
        assert len(values) == expected, f"{name} matched {len(values)} lines"


def test_each_epoch_prints_one_line_with_its_number_metrics_and_time(opt_ml):
    result = opt_ml.run()

    epoch_lines = [line for line in result.stdout.splitlines() if line.startswith("epoch=")]
    assert [line.split()[0] for line in epoch_lines] == ["epoch=1/2", "epoch=2/2"]
    assert all(" val_accuracy=" in line and line.endswith("s") for line in epoch_lines)


def test_the_log_opens_with_the_hardware_and_software_it_ran_on(opt_ml):
    result = opt_ml.run()

    assert "cores=" in result.stdout and "memory=" in result.stdout
    assert "tensorflow=" in result.stdout and "keras=" in result.stdout


def test_the_metric_definitions_fit_sagemakers_limits():
    definitions = metric_definitions(task.METRICS)
    assert len(definitions) <= 40
    assert all(len(item["Regex"]) <= 500 for item in definitions)


def test_hyperparameters_in_framework_estimator_encoding_are_used(opt_ml):
    opt_ml.hyperparameters(
        {"epochs": '"1"', "features": '"raw"', "learning_rate": "0.0005", "batch_size": "16"}
    )

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    used = opt_ml.metadata()["hyperparameters"]
    assert used["epochs"] == 1 and used["features"] == "raw" and used["learning_rate"] == 0.0005
    assert opt_ml.metadata()["features"]["shape"] == [2000]


def test_validation_rows_that_repeat_training_rows_are_counted_in_the_log(opt_ml, sample_data):
    np.savez(
        opt_ml.channel("validation") / "validation.npz",
        x_train=sample_data["x_train"][:6],
        y_train=sample_data["y_train2"][:6],
    )
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    opt_ml.hyperparameters({"epochs": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    warning = (
        "warning: 6 of 6 validation rows repeat a training row, and early stopping counts them as unseen"
    )
    assert warning in result.stdout


def test_test_rows_that_repeat_training_rows_are_counted_in_the_log(opt_ml, sample_data):
    sample_data["x_test"][:3] = sample_data["x_train"][:3]
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    opt_ml.hyperparameters({"epochs": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    warning = (
        "warning: 3 of 10 test rows repeat a training or validation row, and the test metrics count them"
    )
    assert warning in result.stdout


def test_an_npz_with_integer_labels_trains(opt_ml):
    (opt_ml.training / "output_dict").unlink()
    rng = np.random.default_rng(0)
    np.savez(
        opt_ml.training / "eeg.npz",
        x_train=rng.normal(size=(24, 64)).astype(np.float32),
        y_train=np.arange(24) % 3,
    )

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert opt_ml.metadata()["names"] == ["0", "1", "2"]
    assert "test_loss" not in opt_ml.metadata()["metrics"]


def test_a_validation_channel_replaces_the_held_out_fraction(opt_ml):
    rng = np.random.default_rng(1)
    np.savez(
        opt_ml.channel("validation") / "validation.npz",
        x_train=rng.normal(size=(6, 4, 500)).astype(np.float32),
        y_train=np.eye(2)[np.arange(6) % 2],
    )

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "train=30 validation=6 test=10" in result.stdout


def test_a_test_channel_replaces_the_test_rows_of_the_training_file(opt_ml):
    rng = np.random.default_rng(2)
    np.savez(
        opt_ml.channel("test") / "test.npz",
        x_test=rng.normal(size=(4, 4, 500)).astype(np.float32),
        y_test=np.arange(4) % 2,
    )

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert " test=4 " in result.stdout


def test_sigterm_stops_training_keeps_the_checkpoint_and_writes_no_model(opt_ml):
    (opt_ml.base / "input/config/checkpointconfig.json").write_text("{}")
    opt_ml.hyperparameters({"epochs": "1000", "batch_size": "8", "patience": "0"})
    process = opt_ml.start(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in process.stdout:
        if line.startswith("epoch=1/"):
            break
    process.send_signal(signal.SIGTERM)

    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 143
    assert (opt_ml.base / "checkpoints" / "algo-1.epoch-000001.keras").exists()
    assert "stopped by SIGTERM" in opt_ml.failure_file.read_text()
    assert "stopped by SIGTERM" in stderr
    assert not opt_ml.model_file.exists()


def test_a_restarted_job_resumes_from_its_checkpoint(opt_ml):
    (opt_ml.base / "input/config/checkpointconfig.json").write_text(
        json.dumps({"LocalPath": "/opt/ml/checkpoints", "S3Uri": "s3://bucket/checkpoints"})
    )
    opt_ml.hyperparameters({"epochs": "1", "batch_size": "8"})
    assert opt_ml.run().returncode == 0
    opt_ml.hyperparameters({"epochs": "2", "batch_size": "8"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stdout
    assert [line.split()[0] for line in result.stdout.splitlines() if line.startswith("epoch=")] == [
        "epoch=2/2"
    ]
    rows = list(csv.DictReader((opt_ml.base / "output/data/history.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]


def test_the_same_seed_gives_the_same_validation_loss(opt_ml):
    # several shuffled batches per epoch, so the order of rows matters
    opt_ml.hyperparameters({"epochs": "3", "batch_size": "8", "patience": "0", "seed": "3"})
    first = opt_ml.run()
    second = opt_ml.run()
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr

    def val_loss(result):
        return [
            line.split("val_loss=")[1].split()[0]
            for line in result.stdout.splitlines()
            if "val_loss=" in line
        ]

    assert val_loss(first) and val_loss(first) == val_loss(second)


def test_rows_that_concatenate_channels_are_split_by_the_channels_hyperparameter(opt_ml, sample_data):
    for name in ("x_train", "x_test"):
        sample_data[name] = sample_data[name].reshape(len(sample_data[name]), -1)  # channel after channel
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    opt_ml.hyperparameters({"epochs": "1", "channels": "4"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    metadata = opt_ml.metadata()
    assert metadata["input_shape"] == [2000] and metadata["features"]["channels"] == 4
    assert metadata["features"]["shape"] == [transform.width((2000,), metadata["features"]["transform"], 4)]


def test_a_channels_hyperparameter_that_contradicts_three_dimensional_recordings_is_refused(opt_ml):
    opt_ml.hyperparameters({"epochs": "1", "channels": "3"})

    fails_cleanly(opt_ml, "hold 4 channels but the channels hyperparameter says 3")


def test_the_automatic_batch_size_gives_small_sets_eight_steps_and_large_sets_1024_rows():
    assert loop.training_batch_size(0, 400) == 50
    assert loop.training_batch_size(0, 100) == 32
    assert loop.training_batch_size(0, 20) == 20
    assert loop.training_batch_size(0, 1_000_000) == 1024
    assert loop.training_batch_size(64, 1_000_000) == 64


def test_the_batch_size_trained_with_is_logged_and_recorded(opt_ml):
    opt_ml.hyperparameters({"epochs": "1", "batch_size": "0"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    assert "batch_size=24 (auto)" in result.stdout  # 24 training rows, fewer than 32
    assert opt_ml.metadata()["batch_size"] == 24


def test_each_epoch_is_written_to_tensorboard_under_output(opt_ml):
    import tensorflow as tf

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr
    (events,) = (opt_ml.base / "output/tensorboard").glob("events.out.tfevents.*")
    values = [
        (event.step, value)
        for event in tf.compat.v1.train.summary_iterator(str(events))
        for value in event.summary.value
    ]
    scalars = {(value.tag, step): float(tf.make_ndarray(value.tensor)) for step, value in values}
    plugins = {
        value.tag: value.metadata.plugin_data.plugin_name for _, value in values if value.HasField("metadata")
    }
    assert plugins["loss"] == plugins["val_accuracy"] == "scalars"  # what TensorBoard charts
    history = list(csv.DictReader((opt_ml.base / "output/data/history.csv").open()))
    assert scalars[("loss", 1)] == pytest.approx(float(history[0]["loss"]), abs=1e-4)
    assert scalars[("val_accuracy", 2)] == pytest.approx(float(history[1]["val_accuracy"]), abs=1e-4)


def test_the_log_holds_no_tensorflow_start_up_chatter_unless_verbose(opt_ml):
    quiet = opt_ml.run()
    opt_ml.hyperparameters({"epochs": "1", "batch_size": "8"})
    verbose = subprocess.run(
        [str(TRAIN)],
        env={**opt_ml.environment(), "VERBOSE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert quiet.returncode == 0 and verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert "absl::InitializeLog" not in quiet.stderr and "oneDNN custom operations" not in quiet.stderr
    assert "oneDNN custom operations" in verbose.stderr


def test_native_warnings_and_errors_written_during_import_still_reach_stderr(capfd, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    monkeypatch.delenv("VERBOSE", raising=False)

    with native_log.native_log_filtered():
        os.write(2, b"I0000 00:00:1795721844.329199   22121 port.cc:153] an info line\n")
        os.write(2, b"W0000 00:00:1795721844.329199   22121 x.cc:1] a warning line\n")
        os.write(2, b"a line of some other library\n")

    err = capfd.readouterr().err
    assert "an info line" not in err
    assert "a warning line" in err and "a line of some other library" in err
