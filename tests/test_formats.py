"""Every format a channel may hold is told apart by its content, under any name."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from container import recordings
from container.memory_budget import Budget
from container.sagemaker_env import UserError

X = np.arange(12, dtype=np.float32).reshape(4, 3)
ONE_HOT = np.eye(2, dtype=np.float32)[[0, 1, 1, 0]]


def read(folder: Path, content_type: str = "") -> recordings.ChannelData:
    return recordings.read_channel(folder, "training", content_type)


def assert_rows(rows: recordings.Rows | None, x: np.ndarray, y: np.ndarray) -> None:
    assert rows is not None
    np.testing.assert_array_equal(rows.x, x)
    np.testing.assert_array_equal(rows.y, y)


def test_a_pickle_without_an_extension_is_read_as_the_original_output_dict(tmp_path):
    data = {"x_train": X, "y_train2": ONE_HOT, "x_test": X[:2], "y_test2": ONE_HOT[:2]}
    (tmp_path / "output_dict").write_bytes(pickle.dumps(data))

    read_data = read(tmp_path)

    assert_rows(read_data.train, X, ONE_HOT)
    assert_rows(read_data.test, X[:2], ONE_HOT[:2])


def test_a_protocol_0_pickle_is_read_when_its_name_says_pickle(tmp_path):
    (tmp_path / "data.pkl").write_bytes(pickle.dumps({"x_train": X.tolist(), "y_train2": [0, 1, 1, 0]}, 0))

    assert_rows(read(tmp_path).train, X, [0, 1, 1, 0])


def test_an_npz_with_the_original_key_names_is_read(tmp_path):
    np.savez(tmp_path / "eeg.npz", x_train=X, y_train2=ONE_HOT, x_test=X[:1], y_test2=ONE_HOT[:1])

    read_data = read(tmp_path)

    assert_rows(read_data.train, X, ONE_HOT)
    assert_rows(read_data.test, X[:1], ONE_HOT[:1])


def test_an_npz_under_another_name_is_read_by_its_content(tmp_path):
    np.savez_compressed(tmp_path / "eeg.npz", x_train=X, y_train=[0, 1, 1, 0])
    (tmp_path / "eeg.npz").rename(tmp_path / "recordings.bin")

    assert_rows(read(tmp_path).train, X, [0, 1, 1, 0])


def test_npy_files_named_after_their_arrays_are_read_together(tmp_path):
    np.save(tmp_path / "x_train.npy", X)
    np.save(tmp_path / "y_train.npy", np.array([0, 1, 1, 0]))
    np.save(tmp_path / "x_test.npy", X[:2])
    np.save(tmp_path / "y_test2.npy", ONE_HOT[:2])

    read_data = read(tmp_path)

    assert_rows(read_data.train, X, [0, 1, 1, 0])
    assert_rows(read_data.test, X[:2], ONE_HOT[:2])


def test_a_csv_has_the_label_in_its_first_column(tmp_path):
    (tmp_path / "train.csv").write_text("0,1.5,2,3\n1,-4,5e-1,6\n")

    assert_rows(read(tmp_path).train, [[1.5, 2, 3], [-4, 0.5, 6]], [0, 1])


def test_a_csv_without_an_extension_is_read_when_the_channel_says_text_csv(tmp_path):
    (tmp_path / "part-00000").write_text("label,a\n1,0.5\n0,0.25\n")  # a header: only the type tells

    assert_rows(read(tmp_path, "text/csv").train, [[0.5], [0.25]], [1, 0])


def test_a_csv_with_a_header_row_and_class_names_trains_as_it_is(tmp_path):
    (tmp_path / "iris.csv").write_text(
        "species,sepal_length,sepal_width\nsetosa,5.1,3.5\nvirginica,6.3,3.3\nsetosa,4.9,3.0\n"
    )

    assert_rows(read(tmp_path).train, [[5.1, 3.5], [6.3, 3.3], [4.9, 3.0]], ["setosa", "virginica", "setosa"])


def test_a_first_row_with_one_bad_value_is_refused_not_skipped_as_a_header(tmp_path):
    (tmp_path / "data.csv").write_text("0,1.5,oops\n1,2.5,3.5\n")

    with pytest.raises(UserError, match=r"cannot read data.csv as CSV .*at most one header line"):
        read(tmp_path)


def test_text_of_comma_separated_numbers_is_read_as_csv_under_any_name(tmp_path):
    (tmp_path / "recordings").write_text("1,0.5,0.25\r\n0,0.75,1\r\n")

    assert_rows(read(tmp_path).train, [[0.5, 0.25], [0.75, 1]], [1, 0])


def test_files_of_different_formats_in_one_channel_are_concatenated_in_name_order(tmp_path):
    (tmp_path / "a.csv").write_text("1,7,8,9\n")
    np.savez(tmp_path / "b.npz", x_train=X, y_train=np.array([0, 1, 1, 0]))

    assert_rows(read(tmp_path).train, np.vstack([[7, 8, 9], X]), [1, 0, 1, 1, 0])


def test_an_npz_with_both_original_and_new_label_names_is_refused(tmp_path):
    np.savez(tmp_path / "eeg.npz", x_train=X, y_train=np.zeros(4), y_train2=ONE_HOT)

    with pytest.raises(UserError, match="has both 'y_train' and 'y_train2': keep one"):
        read(tmp_path)


def test_a_file_that_is_none_of_the_formats_names_every_format_and_how_it_is_recognised(tmp_path):
    (tmp_path / "eeg.edf").write_bytes(b"0       patient X recording")

    with pytest.raises(UserError, match=r"pickle \(pickle\.dump\), an \.npz \(np\.savez\), an \.npy"):
        read(tmp_path)


def test_a_csv_claims_every_field_in_the_file_not_just_the_first_lines(tmp_path):
    (tmp_path / "train.csv").write_text("# a comment line numpy skips\n" + "0," * 2000 + "0\n")

    with pytest.raises(UserError, match=r"train.csv claims 15.6 KiB"):
        recordings.read_channel(tmp_path, "training", "", Budget(memory=4 * 10_000, source="test"))
