"""Every kind of bad input ends the job the same way: one readable line in output/failure
and on stderr, a non-zero exit, and no model in model/."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest

import task
from conftest import (
    fails_cleanly,
    leave_an_earlier_model,
    new_opt_ml,
    npz_bytes,
    read_only,
    replace_training_file,
    small_disk,
)


class RunsACommand:
    """Unpickling this calls os.system: the attack a restricted unpickler must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


class ReadsMemory:
    """Unpickling this builds an array over the 64 bytes before a buffer: a memory leak."""

    def __reduce__(self):
        return (np.ndarray, ((2, 32), "u1", b"ab", -64))


def test_a_missing_training_channel_is_reported(opt_ml):
    shutil.rmtree(opt_ml.training)

    fails_cleanly(opt_ml, "no 'training' channel")


def test_an_empty_training_channel_is_reported(opt_ml):
    (opt_ml.training / "output_dict").unlink()

    fails_cleanly(opt_ml, "is empty", "cannot read the bucket")


def test_a_file_of_unknown_content_is_reported_with_the_formats_read(opt_ml):
    (opt_ml.training / "notes.txt").write_text("recorded on Tuesday\n")

    fails_cleanly(opt_ml, "cannot tell what notes.txt holds", "pickle", ".npz", ".npy", "CSV")


def test_files_of_different_row_lengths_are_reported_by_name(opt_ml):
    (opt_ml.training / "more.csv").write_text("1,2,3\n0,4,5\n")

    fails_cleanly(opt_ml, "output_dict has recordings of shape (4, 500) but more.csv has (2,)")


def test_a_corrupt_pickle_is_reported(opt_ml):
    replace_training_file(opt_ml, "output_dict", b"\x80\x04this is not a pickle")

    fails_cleanly(opt_ml, "not a valid pickle")


def test_a_pickle_that_would_run_a_command_is_refused_and_never_run(opt_ml, tmp_path):
    marker = tmp_path / "command-ran"
    replace_training_file(opt_ml, "output_dict", pickle.dumps({"x_train": RunsACommand(marker)}))

    fails_cleanly(opt_ml, "refused", "posix.system")
    assert not marker.exists()


def test_a_pickle_that_would_build_an_array_over_raw_memory_is_refused(opt_ml):
    replace_training_file(opt_ml, "output_dict", pickle.dumps({"x_train": ReadsMemory()}))

    fails_cleanly(opt_ml, "refused", "numpy.ndarray")


def test_a_pickle_of_something_other_than_a_dict_is_reported(opt_ml):
    replace_training_file(opt_ml, "output_dict", pickle.dumps([1, 2, 3]))

    fails_cleanly(opt_ml, "not the output_dict")


def test_an_npz_without_labels_is_reported(opt_ml, tmp_path):
    replace_training_file(opt_ml, "eeg.npz", npz_bytes(tmp_path, x_train=np.zeros((4, 8))))

    fails_cleanly(opt_ml, "no 'y_train' or 'y_train2' array", "x_train")


def test_a_corrupt_npz_is_reported(opt_ml):
    replace_training_file(opt_ml, "eeg.npz", b"PK\x03\x04 truncated")

    fails_cleanly(opt_ml, "not a valid .npz")


def test_rows_and_labels_of_different_lengths_are_reported(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.zeros((4, 8)), y_train=np.array([0, 1, 0]))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "4 rows", "3 labels")


def test_labels_that_are_neither_one_hot_nor_integers_are_reported(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.zeros((4, 8)), y_train=np.array([0.5, 1, 0, 1]))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "neither one-hot nor integer")


def test_one_hot_rows_with_two_ones_are_reported(opt_ml, sample_data):
    data = sample_data
    data["y_train2"][0] = [1, 1]
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))

    fails_cleanly(opt_ml, "neither one-hot nor integer", "row 0")


def test_a_single_class_is_reported(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.ones((4, 8)), y_train=np.zeros(4, dtype=int))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "only one class")


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_or_infinite_samples_are_reported(opt_ml, sample_data, bad_value):
    data = sample_data
    data["x_train"][3, 1, 5] = bad_value
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))

    fails_cleanly(opt_ml, "NaN or infinite", "row 3")


def test_non_numeric_samples_are_reported(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.array([["a", "b"], ["c", "d"]]), y_train=np.array([0, 1]))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "not numeric")


def test_recordings_of_more_than_three_dimensions_are_reported(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.zeros((4, 2, 2, 8)), y_train=np.array([0, 1, 0, 1]))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "shape (4, 2, 2, 8)", "(recordings, channels, samples)")


def test_test_rows_of_another_width_are_reported(opt_ml, sample_data):
    data = sample_data
    data["x_test"] = data["x_test"][..., :100]
    replace_training_file(opt_ml, "output_dict", pickle.dumps(data))

    fails_cleanly(opt_ml, "test recordings have shape (4, 100) but training recordings have (4, 500)")


def test_malformed_hyperparameters_json_is_reported(opt_ml):
    (opt_ml.base / "input/config/hyperparameters.json").write_text('{"epochs": "2",')

    fails_cleanly(opt_ml, "hyperparameters.json is not valid JSON")


def test_an_unknown_hyperparameter_is_reported_with_the_accepted_names(opt_ml):
    opt_ml.hyperparameters({"epoch": "2"})

    fails_cleanly(opt_ml, "unknown hyperparameter 'epoch'", "epochs", "learning_rate")


def test_zero_epochs_is_reported_with_the_accepted_range(opt_ml):
    opt_ml.hyperparameters({"epochs": "0"})

    fails_cleanly(opt_ml, "epochs='0'", "from 1 to")


def test_an_unknown_feature_transform_is_reported_with_the_choices(opt_ml):
    opt_ml.hyperparameters({"features": "wavelet"})

    fails_cleanly(opt_ml, "features='wavelet'", "use one of " + ", ".join(task.ACCEPTED["features"]))


def test_a_read_only_model_folder_is_refused_before_the_first_epoch(opt_ml):
    opt_ml.hyperparameters({"epochs": "3"})

    with read_only(opt_ml.base / "model"):
        result = opt_ml.run()

    assert result.returncode == 1
    reason = opt_ml.failure_file.read_text()
    assert reason.startswith(f"cannot write to {opt_ml.base / 'model'} ("), reason
    assert reason.count("\n") == 1 and reason.strip() in result.stderr
    assert "epoch=" not in result.stdout


def test_a_failed_run_removes_the_model_an_earlier_run_left(opt_ml):
    leave_an_earlier_model(opt_ml)
    opt_ml.hyperparameters({"epochs": "-1"})

    fails_cleanly(opt_ml, "epochs")


def test_a_full_disk_leaves_the_reason_naming_the_checkpoint_and_no_partial_file(tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, "4m"):  # the data fits; a checkpoint of the MLP (about 11 MB) does not
        opt_ml = new_opt_ml(disk / "opt ml")
        (opt_ml.base / "input/config/checkpointconfig.json").write_text(
            '{"LocalPath": "/opt/ml/checkpoints"}'
        )
        opt_ml.hyperparameters({"epochs": "2", "batch_size": "8", "model": "mlp"})

        result = opt_ml.run()
        reason = opt_ml.failure_file.read_text()
        left = sorted(path.name for path in (opt_ml.base / "checkpoints").iterdir())

    assert result.returncode == 1, result.stderr
    assert reason.startswith("cannot write the checkpoint of epoch 1 in "), reason
    assert "No space left on device" in reason and reason.count("\n") == 1
    assert f"train: error: {reason.strip()}" in result.stderr and "Traceback" not in result.stderr
    assert not any(name.endswith(".keras") for name in left), left


def test_a_full_disk_leaves_the_reason_naming_the_model_folder(tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, "4m"):  # the data fits; the MLP (about 11 MB) does not
        opt_ml = new_opt_ml(disk / "opt ml")
        opt_ml.hyperparameters({"epochs": "1", "batch_size": "8", "model": "mlp"})

        result = opt_ml.run()
        reason = opt_ml.failure_file.read_text()
        left = sorted(path.name for path in (opt_ml.base / "model").iterdir())

    assert result.returncode == 1, result.stderr
    assert reason.startswith(f"cannot write the model to {opt_ml.base / 'model'} (No space left on device)")
    assert "Traceback" not in result.stderr and left == []


def test_the_failure_reason_is_written_on_a_disk_already_full_into_the_space_reserved_at_start(tmp_path):
    from container.sagemaker_env import Paths, report_failure, reserve_failure_space

    disk = tmp_path / "disk"
    with small_disk(disk, "1m"):
        paths = Paths(base=disk)
        reserve_failure_space(paths)
        with (disk / "filler").open("wb") as filler, pytest.raises(OSError, match="No space left"):
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()

        report_failure(paths, "the reason SageMaker shows")

        assert paths.failure.read_text() == "the reason SageMaker shows\n"
        assert not (disk / "output" / ".failure.reserved").exists()
