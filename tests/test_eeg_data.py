"""The feature transform and the restricted unpickler, on their own."""

from __future__ import annotations

import datetime
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import eeg_data
from sagemaker_env import UserError


def test_fft_features_are_the_normalised_spectrum_magnitude():
    t = np.arange(2000) / 250
    x = np.stack([np.sin(2 * np.pi * 10 * t), np.sin(2 * np.pi * 20 * t)])

    features = eeg_data.features(x, "fft")

    assert features.shape == (2, 1001) and features.dtype == np.float32
    np.testing.assert_allclose(features.sum(axis=1), 1.0, rtol=1e-5)
    assert features.argmax(axis=1).tolist() == [80, 160]  # 10 Hz and 20 Hz at 0.125 Hz per bin


def test_fft_features_of_a_silent_row_are_zero_not_nan():
    assert not np.isnan(eeg_data.features(np.zeros((1, 16)), "fft")).any()


def test_raw_features_are_the_samples_as_float32():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)

    np.testing.assert_array_equal(eeg_data.features(x, "raw"), x.astype(np.float32))


def test_standardisation_keeps_constant_features_finite():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)

    mean, std = eeg_data.standardisation(x)

    np.testing.assert_array_equal(eeg_data.standardise(x, mean, std), [[-1.0, 0.0], [1.0, 0.0]])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_the_restricted_unpickler_reads_numpy_pickles_of_every_protocol(tmp_path, protocol):
    data = {"x_train": np.ones((2, 4), np.float32), "y_train2": np.eye(2), "n": np.int64(3)}
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))

    read = eeg_data._read_pickle(path)

    np.testing.assert_array_equal(read["x_train"], data["x_train"])
    assert read["n"] == 3


def test_the_restricted_unpickler_refuses_any_other_global(tmp_path):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"when": datetime.date(2018, 1, 1)}))

    with pytest.raises(UserError, match=r"datetime\.date"):
        eeg_data._read_pickle(path)


class Reduces:
    """Pickles as the call function(*args): how a hostile pickle reaches numpy's constructors."""

    def __init__(self, function, *args):
        self.call = (function, args)

    def __reduce__(self):
        return self.call


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        # object pointers taken from the bytes: a crash, or worse, once the array is copied
        (Reduces(np.ndarray, (2,), "O", b"A" * 16), "calls numpy.ndarray directly"),
        # a negative offset: an array over the memory before the buffer
        (Reduces(np.ndarray, (2, 32), "u1", b"ab", -64), "calls numpy.ndarray directly"),
        # a void type whose pickled flags declare it to hold Python objects
        (np.zeros(2, dtype="V8"), "of type 'V8'"),
        (np.array([1, "a"], dtype=object), "of type 'O8'"),
    ],
)
def test_pickled_numpy_data_that_is_not_plain_numbers_is_refused(tmp_path, hostile, message):
    path = tmp_path / "data.pkl"
    path.write_bytes(pickle.dumps({"x_train": [hostile]}))

    with pytest.raises(UserError, match=message):
        eeg_data._read_pickle(path)


def test_an_array_whose_bytes_do_not_match_its_shape_is_refused(tmp_path):
    honest = pickle.dumps({"x_train": np.zeros((2, 2), np.float32)}, protocol=2)
    # the state's shape (2, 2) becomes (9, 2): more elements than the 16 bytes hold
    lying = honest.replace(b"(K\x01K\x02K\x02", b"(K\x01K\x09K\x02")
    assert lying != honest
    path = tmp_path / "data.pkl"
    path.write_bytes(lying)

    with pytest.raises(UserError, match="does not match its shape"):
        eeg_data._read_pickle(path)


def test_integer_labels_and_one_hot_labels_give_the_same_class_ids():
    ids = np.array([1, 0, 1])

    assert eeg_data.class_ids(np.eye(2)[ids], "y").tolist() == eeg_data.class_ids(ids, "y").tolist()


def test_the_bundled_sample_matches_the_generator(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    regenerated = tmp_path / "output_dict.pkl"
    subprocess.run([sys.executable, str(repo / "make_sample_data.py"), str(regenerated)], check=True)

    bundled = repo / "test_dir/input/data/training/output_dict.pkl"
    assert bundled.read_bytes() == regenerated.read_bytes()
    assert (repo / "test_dir/input/data/training/output_dict.pkl").stat().st_size <= 5_000_000
