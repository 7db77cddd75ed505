"""What a hostile review found: each of these once failed without our line, or misled.

Each is a test that fails on the code before the fix; they keep the contract of
test_bad_input.py: one line in output/failure and on stderr, a non-zero exit, no model.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from conftest import TRAIN, fails_cleanly, leave_an_earlier_model, npz_bytes, replace_training_file


def run_as_owner_without_root_powers(opt_ml) -> subprocess.CompletedProcess:
    """./train as root would run without its power to ignore file permissions, as a user runs."""
    prefix = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.run(
        [*prefix, str(TRAIN)],
        env=opt_ml.environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_pickle_that_expands_into_billions_of_entries_is_refused_before_it_is_built(opt_ml):
    bomb = [0.0]
    for _ in range(10):  # a few hundred bytes on disk, ten billion numbers once copied out
        bomb = [bomb] * 10
    content = pickle.dumps({"x_train": bomb, "y_train2": [0, 1]})
    assert len(content) < 1000
    replace_training_file(opt_ml, "output_dict", content)

    fails_cleanly(opt_ml, "output_dict (a pickle) claims", "GiB in memory", "may take at most")


def test_a_memory_limit_lowers_what_the_data_may_take_and_the_line_says_so(opt_ml, sample_data):
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    limit = 600 * 2**20  # a quarter of it fits the small sample, not 305 MiB of zeros
    zeros = np.zeros((40_000, 2000), np.float32)
    np.savez_compressed(opt_ml.training / "big.npz", x_train=zeros, y_train=np.zeros(40_000))

    def cap_address_space():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    result = subprocess.run(
        [str(TRAIN)],
        env=opt_ml.environment(),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=cap_address_space,
    )

    assert result.returncode == 1
    reason = opt_ml.failure_file.read_text()
    assert "big.npz 'x_train' claims 305.2 MiB" in reason and "at most 150.0 MiB" in reason
    assert "address-space limit" in reason


def test_an_npz_whose_header_claims_more_than_memory_is_refused_before_reading(opt_ml, tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    with zipfile.ZipFile(tmp_path / "claims.npz", "w") as archive:
        np.save(recordings := io.BytesIO(), np.zeros((4, 8), dtype=np.float32))
        archive.writestr("x_train.npy", recordings.getvalue())
        archive.writestr("y_train.npy", member.getvalue())
    replace_training_file(opt_ml, "eeg.npz", (tmp_path / "claims.npz").read_bytes())

    fails_cleanly(opt_ml, "eeg.npz 'y_train' claims 727.6 TiB in memory")


def test_npz_recordings_whose_header_claims_more_than_the_file_holds_are_refused(opt_ml, tmp_path):
    """Recordings are memory-mapped, not read into memory: the file must hold what they claim."""
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    with zipfile.ZipFile(tmp_path / "claims.npz", "w") as archive:
        archive.writestr("x_train.npy", member.getvalue() + b"\0" * 64)
        archive.writestr("y_train.npy", member.getvalue())
    replace_training_file(opt_ml, "eeg.npz", (tmp_path / "claims.npz").read_bytes())

    fails_cleanly(opt_ml, "eeg.npz 'x_train' is damaged: its header claims more data than the archive holds")


def test_values_beyond_float32_are_reported_not_trained_into_a_nan_model(opt_ml, sample_data):
    sample_data["x_train"] = sample_data["x_train"].astype(np.float64)
    sample_data["x_train"][4, 2, 7] = 1e39
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))

    fails_cleanly(opt_ml, "beyond float32's range", "first in row 4: 1e+39", "rescale")


def test_features_that_overflow_float32_are_reported_not_trained_into_a_nan_model(opt_ml, sample_data):
    sample_data["x_train"] = np.full_like(sample_data["x_train"], 1e37)
    sample_data["x_train"][::2] *= -1
    replace_training_file(opt_ml, "output_dict", pickle.dumps(sample_data))
    opt_ml.hyperparameters({"epochs": "1", "features": "timefreq"})  # kernels' proportions cannot overflow

    fails_cleanly(opt_ml, "timefreq features of training overflow float32", "up to 1e+37", "rescale")


@pytest.mark.parametrize("transform", ["raw", "fft"])
def test_rows_of_zero_samples_are_reported(opt_ml, tmp_path, transform):
    opt_ml.hyperparameters({"epochs": "1", "features": transform})
    content = npz_bytes(tmp_path, x_train=np.zeros((8, 0)), y_train=np.arange(8) % 2)
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "8 rows of 0 samples")


def test_a_text_file_named_npz_is_reported_as_unrecognised_content(opt_ml):
    replace_training_file(opt_ml, "eeg.npz", b"these are my notes\n")

    reason = fails_cleanly(opt_ml, "cannot tell what eeg.npz holds (text, 19 bytes")

    assert "these are" not in reason


def test_a_symlink_named_npz_is_read_as_what_it_points_to_in_the_channel(opt_ml):
    replace_training_file(opt_ml, ".notes.txt", b"not data\n")
    (opt_ml.training / "eeg.npz").symlink_to(opt_ml.training / ".notes.txt")

    fails_cleanly(opt_ml, "cannot tell what eeg.npz holds")


def test_a_symlink_out_of_the_channel_is_refused_without_quoting_its_target(opt_ml, tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (opt_ml.training / "users.csv").symlink_to(tmp_path / "passwd")

    reason = fails_cleanly(opt_ml, "users.csv in channel 'training' is a link to a file outside the channel")

    assert "root" not in reason


def test_a_channel_reached_through_a_link_reads_links_within_it(opt_ml, tmp_path):
    shutil.move(opt_ml.training, tmp_path / "shared data")
    opt_ml.training.symlink_to(tmp_path / "shared data")
    (opt_ml.training / "again").symlink_to(opt_ml.training / "output_dict")
    opt_ml.hyperparameters({"epochs": "1"})

    result = opt_ml.run()

    assert result.returncode == 0, result.stderr


def test_a_dangling_symlink_is_reported_by_name(opt_ml):
    (opt_ml.training / "eeg.npz").symlink_to(opt_ml.training / "gone.npz")

    fails_cleanly(opt_ml, "cannot read eeg.npz in channel 'training'", "No such file")


def test_an_npy_saved_under_an_npz_name_says_how_to_name_it(opt_ml, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8)))
    replace_training_file(opt_ml, "eeg.npz", (tmp_path / "x.npy").read_bytes())

    fails_cleanly(opt_ml, "eeg.npz holds one numpy array (np.save)", "x_train.npy")


def test_a_pickled_dict_with_a_key_that_is_not_a_name_is_reported(opt_ml, sample_data):
    replace_training_file(opt_ml, "output_dict", pickle.dumps({**sample_data, 1: "one"}))

    fails_cleanly(opt_ml, "has a key 1 of type int")


def test_labels_too_large_for_class_ids_are_reported_not_wrapped_around(opt_ml, tmp_path):
    content = npz_bytes(tmp_path, x_train=np.ones((4, 8)), y_train=np.array([1e20, 2e20, 1e20, 2e20]))
    replace_training_file(opt_ml, "eeg.npz", content)

    fails_cleanly(opt_ml, "labels go up to 2e+20", "integers from 0 to 2147483647")


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("resourceconfig.json", "[1, 2]", "resourceconfig.json holds a JSON array, not an object"),
        ("resourceconfig.json", '{"current_host": 7}', "current_host 7 is not a host name"),
        ("inputdataconfig.json", '{"training": "File"}', "channel 'training' holds a JSON string"),
        ("inputdataconfig.json", '{"training": {"TrainingInputMode": "Pipe"}}', "use File or FastFile"),
        ("checkpointconfig.json", "null", "checkpointconfig.json holds a JSON null"),
        ("hyperparameters.json", "[" * 100_000 + "]" * 100_000, "hyperparameters.json nests too deeply"),
        ("hyperparameters.json", '{"epochs": {"value": "2"}}', "hyperparameter 'epochs' holds a JSON object"),
        ("hyperparameters.json", '{"learning_rate": NaN}', "NaN is not JSON"),
    ],
    ids=lambda value: value[:24] if isinstance(value, str) else value,
)
def test_a_config_file_of_the_wrong_shape_is_reported_by_name(opt_ml, name, content, expected):
    (opt_ml.base / "input/config" / name).write_text(content)

    fails_cleanly(opt_ml, name, expected)


def test_a_host_name_that_is_a_path_is_refused_and_nothing_is_written_outside(opt_ml):
    (opt_ml.base / "input/config/resourceconfig.json").write_text(
        json.dumps({"current_host": "../../x", "hosts": ["../../x"]})
    )
    (opt_ml.base / "input/config/checkpointconfig.json").write_text("{}")
    before = sorted(opt_ml.base.parent.rglob("*"))

    fails_cleanly(opt_ml, "current_host '../../x' is not a host name")
    written = set(opt_ml.base.parent.rglob("*")) - set(before)
    assert written == {opt_ml.failure_file, opt_ml.failure_file.parent}


@pytest.mark.parametrize("value", ["1_0", "\u0661\u0660", "0x10", "1e1"])
def test_an_integer_hyperparameter_takes_plain_decimal_digits_only(opt_ml, value):
    opt_ml.hyperparameters({"epochs": value})

    fails_cleanly(opt_ml, f"epochs={value!r} is not valid", "an integer")


def test_a_failed_run_removes_the_history_an_earlier_run_left(opt_ml):
    history = opt_ml.base / "output/data/history.csv"
    history.parent.mkdir(parents=True)
    history.write_text("epoch,loss\n1,0.5\n")
    opt_ml.hyperparameters({"epochs": "0"})

    fails_cleanly(opt_ml, "epochs")
    assert not history.exists()


def test_an_earlier_model_that_is_a_folder_is_removed_too(opt_ml):
    (opt_ml.model_file / "assets").mkdir(parents=True)
    opt_ml.hyperparameters({"epochs": "0"})

    fails_cleanly(opt_ml, "epochs")


def test_an_earlier_model_in_a_read_only_folder_of_ours_is_removed(opt_ml):
    leave_an_earlier_model(opt_ml)
    (opt_ml.base / "model").chmod(0o555)
    opt_ml.hyperparameters({"epochs": "0"})

    result = run_as_owner_without_root_powers(opt_ml)

    assert result.returncode == 1
    assert "epochs='0'" in opt_ml.failure_file.read_text()
    assert not opt_ml.model_file.exists()


@pytest.fixture
def unreadable_file(tmp_path):
    """A regular file whose every read fails with EIO, as FastFile's failed S3 reads do:
    this process's /proc/PID/mem, bind-mounted onto a file (root only)."""
    target = tmp_path / "unreadable" / "recordings.npz"
    target.parent.mkdir()
    target.write_bytes(b"")
    mounted = subprocess.run(
        ["mount", "--bind", f"/proc/{os.getpid()}/mem", str(target)], capture_output=True, text=True
    )
    if mounted.returncode:
        pytest.skip(f"needs root to bind-mount a file that fails to read: {mounted.stderr.strip()}")
    yield target
    subprocess.run(["umount", str(target)], check=True)


def test_an_io_error_reading_a_data_file_is_one_line_naming_the_file(opt_ml, unreadable_file):
    for path in opt_ml.training.iterdir():
        path.unlink()
    shutil.move(opt_ml.training, opt_ml.training.with_name("elsewhere"))
    opt_ml.training.symlink_to(unreadable_file.parent)  # the channel is the folder holding it

    reason = fails_cleanly(opt_ml, f"cannot read {opt_ml.training / 'recordings.npz'}", "Input/output error")

    assert "FastFile" in reason


def test_predict_says_which_file_it_could_not_read(unreadable_file):
    result = subprocess.run(
        [sys.executable, "-m", "aws.predict", str(unreadable_file), "--model", "unused"],
        cwd=TRAIN.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"predict: error: cannot read {unreadable_file} (Input/output error); in a job with FastFile "
        "input, an S3 read that failed: run it again, or use File input"
    ]
