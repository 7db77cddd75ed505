"""collection.py reads the archives' .ts and .tsv files, keeps two classes, and trusts only pinned wheels."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tools import collection

TS = """# a comment
@problemName Tiny
@timeStamps false
@univariate false
@classLabel true up down
@data
1,2,3:4,5,6:up
7,8,9:1,1,1:down
"""
TSV = "2\t0.5\t1\t1.5\n-1\t3\t2\t1\n2\t0\t0\t0\n10\t1\t1\t1\n"


def test_a_ts_file_becomes_recordings_of_channels_by_samples_with_its_labels():
    x, labels, names = collection.read_ts(TS)

    assert x.dtype == np.float32 and x.shape == (2, 2, 3)
    np.testing.assert_array_equal(x[0], [[1, 2, 3], [4, 5, 6]])
    assert labels == ["up", "down"] and names == ["up", "down"]


def test_a_tsv_file_becomes_one_channel_recordings_with_classes_in_numeric_order():
    x, labels, names = collection.read_tsv(TSV)

    assert x.dtype == np.float32 and x.shape == (4, 1, 3)
    np.testing.assert_array_equal(x[0, 0], [0.5, 1, 1.5])
    assert labels == ["2", "-1", "2", "10"] and names == ["-1", "2", "10"]


@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2), elements=st.floats(-1e6, 1e6, width=32))
)
def test_any_finite_table_written_as_tsv_reads_back_exactly(x):
    text = "".join("1\t" + "\t".join(repr(float(value)) for value in row) + "\n" for row in x)

    read, _, _ = collection.read_tsv(text)

    np.testing.assert_array_equal(read[:, 0, :], x)


def test_a_padded_row_of_unequal_length_is_refused():
    with pytest.raises(SystemExit, match="equal-length"):
        collection.read_tsv("1\t1\t2\n2\t1\tNaN\n")


def test_the_two_largest_classes_are_kept_in_class_list_order():
    assert collection.two_largest(["c", "a", "c", "b", "b", "b"], ["a", "b", "c"]) == ["b", "c"]


def test_a_tie_for_second_largest_goes_to_the_class_listed_first():
    assert collection.two_largest(["c", "b", "a", "a"], ["a", "b", "c"]) == ["a", "b"]


def test_rows_of_dropped_classes_go_and_labels_become_positions_among_the_kept():
    x = np.arange(4, dtype=np.float32)[:, None, None]

    kept_x, y = collection.reduced(x, ["b", "z", "a", "b"], ["a", "b"])

    np.testing.assert_array_equal(kept_x[:, 0, 0], [0, 2, 3])
    np.testing.assert_array_equal(y, [1, 0, 1])


@pytest.fixture
def tiny_wheel(tmp_path, monkeypatch):
    """A pinned wheel holding one set whose test split is unreadable, so reading it shows."""
    path = tmp_path / "tiny-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tiny/data/Tiny/Tiny_TRAIN.tsv", TSV)
        archive.writestr("tiny/data/Tiny/Tiny_TEST.tsv", "2\t1\t1\t1\n-1\t0\t0\t0\n")
    wheel = collection.Wheel("tiny==1.0", path.name, hashlib.sha256(path.read_bytes()).hexdigest())
    monkeypatch.setattr(collection, "CACHE", tmp_path)
    monkeypatch.setattr(collection, "WHEELS", {"tiny": wheel})
    monkeypatch.setattr(collection, "SETS", {"Tiny": collection.Entry("tiny", "tsv", "sensor", "a test")})
    return path


def test_loading_a_set_reads_its_training_split_only(tiny_wheel):
    data = collection.load("Tiny")

    assert data.x_test is None and data.y_test is None
    assert data.class_names == ["-1", "2"]
    np.testing.assert_array_equal(data.y_train, [1, 0, 1])


def test_the_test_split_is_read_when_asked_for_with_the_training_classes(tiny_wheel):
    data = collection.load("Tiny", test=True)

    assert data.x_test is not None and data.x_test.shape == (2, 1, 3)
    np.testing.assert_array_equal(data.y_test, [1, 0])


def test_a_wheel_with_another_digest_is_refused(tiny_wheel):
    tiny_wheel.write_bytes(b"not the pinned wheel")

    with pytest.raises(SystemExit, match="delete it and retry"):
        collection.load("Tiny")


def test_an_unknown_set_is_refused_naming_the_known_ones():
    with pytest.raises(SystemExit, match="Blink"):
        collection.load("Nonexistent")


def test_every_set_names_a_pinned_wheel_and_a_file_kind():
    for entry in collection.SETS.values():
        assert entry.wheel in collection.WHEELS and entry.suffix in ("ts", "tsv")
