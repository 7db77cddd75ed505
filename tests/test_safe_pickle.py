"""The restricted unpickler on its own: plain data in, nothing executed, nothing expanded."""

from __future__ import annotations

import datetime
import pickle

import numpy as np
import pytest

from container import safe_pickle
from container.sagemaker_env import UserError

LIMIT = 2**30


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_the_restricted_unpickler_reads_numpy_pickles_of_every_protocol(protocol):
    data = {"x_train": np.ones((2, 4), np.float32), "y_train2": np.eye(2), "n": np.int64(3)}
    read, _ = safe_pickle.load(pickle.dumps(data, protocol=protocol), LIMIT)

    np.testing.assert_array_equal(read["x_train"], data["x_train"])
    assert read["n"] == 3


def test_the_restricted_unpickler_refuses_any_other_global():
    with pytest.raises(UserError, match=r"datetime\.date"):
        safe_pickle.load(pickle.dumps({"when": datetime.date(2018, 1, 1)}), LIMIT)


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
def test_pickled_numpy_data_that_is_not_plain_numbers_is_refused(hostile, message):
    with pytest.raises(UserError, match=message):
        safe_pickle.load(pickle.dumps({"x_train": [hostile]}), LIMIT)


def test_an_array_whose_bytes_do_not_match_its_shape_is_refused():
    honest = pickle.dumps({"x_train": np.zeros((2, 2), np.float32)}, protocol=2)
    # the state's shape (2, 2) becomes (9, 2): more elements than the 16 bytes hold
    lying = honest.replace(b"(K\x01K\x02K\x02", b"(K\x01K\x09K\x02")
    assert lying != honest

    with pytest.raises(UserError, match="does not match its shape"):
        safe_pickle.load(lying, LIMIT)


def test_a_dict_key_that_is_not_a_name_or_number_is_refused_before_it_is_hashed():
    # A tuple of shared tuples, twenty deep, would hash for years; a flat one is refused the same way.
    with pytest.raises(UserError, match="dict key of type tuple"):
        safe_pickle.load(pickle.dumps({(1, 2): 1.0}), LIMIT)


@pytest.mark.parametrize("value", [{1, 2}, frozenset([1])])
def test_sets_are_refused(value):
    with pytest.raises(UserError, match="holds a set"):
        safe_pickle.load(pickle.dumps({"x_train": value}), LIMIT)


def test_a_memo_index_far_beyond_the_pickle_asks_for_no_memory():
    # PUT 2**30 in 12 bytes: the C unpickler would zero-fill a table of a billion slots.
    loaded, _ = safe_pickle.load(b"\x80\x04Nr" + (2**30).to_bytes(4, "little") + b".", LIMIT)

    assert loaded is None


def test_shared_containers_stay_shared_once_read():
    row = [0.5] * 1000
    loaded, _ = safe_pickle.load(pickle.dumps({"x_train": [row] * 1000}), LIMIT)

    assert loaded["x_train"][0] is loaded["x_train"][999]
