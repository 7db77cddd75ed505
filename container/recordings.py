"""Reading EEG recordings from a channel folder: the rows of all its files, checked.

The four formats a file may be in, and how each is recognised, are in data_formats.py.
Rows are recordings (one sample per column); labels are one-hot rows or integer class ids.

Before any file is read into memory, what it claims to hold (its array shapes, a pickle's
expanded size, a CSV's fields) is checked against a share of the machine's
memory, so a small file cannot take the job down with it.
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from container import data_formats
from container.data_formats import ARRAY_NAMES
from container.memory_budget import Budget
from container.sagemaker_env import UserError

FLOAT32_MAX = float(np.finfo(np.float32).max)  # the model trains in float32
Array = npt.NDArray[Any]


@dataclass
class Rows:
    """Recordings and their labels as read from files; labels are not yet class indices."""

    x: Array
    y: Array
    source: str = ""  # the file the rows came from, for messages

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class ChannelData:
    train: Rows | None
    test: Rows | None


def read_channel(
    folder: Path, channel: str, content_type: str = "", budget: Budget | None = None
) -> ChannelData:
    """Reads every data file in a channel folder (any depth), rows concatenated in name order."""
    budget = budget or Budget.for_this_machine()
    if not folder.is_dir():
        raise UserError(
            f"no '{channel}' channel: {folder} does not exist; pass it to the job's inputs "
            f"(e.g. {channel}=s3://bucket/prefix) or put files in test_dir/input/data/{channel}"
        )
    files = _data_files(folder, channel)
    if not files:
        raise UserError(
            f"channel '{channel}' is empty ({folder}): the S3 prefix holds no files or the "
            "role cannot read the bucket"
        )
    return read_files(files, channel, content_type, budget)


def read_path(path: Path, budget: Budget | None = None) -> ChannelData:
    """The rows of one data file, or of every data file in a folder: predict.py's input."""
    if path.is_dir():
        return read_channel(path, path.name, budget=budget)
    if not path.exists():
        raise UserError(f"{path} does not exist: give a data file or a folder of them")
    if not path.is_file():
        raise UserError(
            f"{path} is not a regular file (a FIFO, a device?): give a data file or a folder of them"
        )
    return read_files([path], path.name, "", budget or Budget.for_this_machine())


def read_files(files: list[Path], channel: str, content_type: str, budget: Budget) -> ChannelData:
    """The rows of these files, concatenated in order; channel names them in messages."""
    # .npy files hold one array each: those of one folder are read together, as one file.
    sources: dict[Path, tuple[str, list[Path]]] = {}
    for path in files:
        with _reading(path):
            kind = data_formats.kind(path, content_type)
        key = path.parent / "*.npy" if kind == "npy" else path
        sources.setdefault(key, (kind, []))[1].append(path)
    parts = []
    for key, (kind, paths) in sources.items():
        with _reading(paths[0]):
            parts.append(_read_source(key, kind, paths, channel, budget))
    return ChannelData(
        train=_concatenate([part.train for part in parts], f"{channel} x_train"),
        test=_concatenate([part.test for part in parts], f"{channel} x_test"),
    )


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """An error of the file system while path is read, as one line naming the file.

    FastFile input streams a channel from S3 as it is read, so a failed S3 read surfaces
    here as an OSError (EIO, say) with no name of its own."""
    try:
        yield
    except OSError as error:
        raise UserError(
            f"cannot read {path} ({error.strerror or error}); in a job with FastFile input, an S3 "
            "read that failed: run it again, or use File input"
        ) from None


def _read_source(key: Path, kind: str, paths: list[Path], channel: str, budget: Budget) -> ChannelData:
    """One source's rows: a file, or a folder's .npy files together."""
    if kind == "csv":
        samples, labels = data_formats.read_csv(paths[0], budget)
        return ChannelData(
            train=_checked_rows(paths[0].name, "samples", "labels", samples, labels), test=None
        )
    readers = {
        "pickle": data_formats.read_pickle,
        "npz": data_formats.read_npz,
        "npy": data_formats.read_npy_files,
    }
    name = f"the .npy files in {key.parent.name}/" if kind == "npy" else key.name
    return _split(name, readers[kind](paths, budget), channel)


def _data_files(folder: Path, channel: str) -> list[Path]:
    """Regular files below folder, hidden ones skipped; anything else that is there is an error."""
    files = []
    # Resolved: make local HOSTS=N reaches test_dir's data through a link of its own.
    channel_folder = folder.resolve()
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):  # a loop of links
            raise UserError(f"{path.name} in channel '{channel}' is a loop of links") from None
        if not resolved.is_relative_to(channel_folder):
            raise UserError(
                f"{path.name} in channel '{channel}' is a link to a file outside the channel: "
                "copy the file into the channel instead"
            )
        try:
            mode = path.stat().st_mode
        except OSError as error:
            raise UserError(f"cannot read {path.name} in channel '{channel}' ({error.strerror})") from None
        if stat.S_ISFIFO(mode):
            raise UserError(
                f"{path.name} in channel '{channel}' is a pipe: Pipe input mode is not read, "
                "use File or FastFile"
            )
        if stat.S_ISREG(mode):
            files.append(path)
        elif not stat.S_ISDIR(mode):
            raise UserError(f"{path.name} in channel '{channel}' is not a regular file")
    return files


def _split(source: str, arrays: dict[str, Any], channel: str) -> ChannelData:
    """Training and test rows from a file's named arrays, under either set of names."""
    chosen: dict[str, str] = {}
    for role, aliases in ARRAY_NAMES.items():
        present = [alias for alias in aliases if alias in arrays]
        if len(present) > 1:
            raise UserError(f"{source} has both {present[0]!r} and {present[1]!r}: keep one")
        if present:
            chosen[role] = present[0]
    found = ", ".join(sorted(arrays)) or "nothing"
    # The training channel needs training rows; a validation or test channel any rows.
    if channel == "training" or "x_test" not in chosen:
        for role in ("x_train", "y_train"):
            if role not in chosen:
                names = " or ".join(repr(alias) for alias in ARRAY_NAMES[role])
                raise UserError(f"{source} has no {names} array (found: {found}): add it")
    parts = {}
    for x_role, y_role in (("x_train", "y_train"), ("x_test", "y_test")):
        if (x_role in chosen) != (y_role in chosen):
            raise UserError(f"{source} has only one of '{x_role}' and '{ARRAY_NAMES[y_role][0]}'")
        if x_role in chosen:
            x_name, y_name = chosen[x_role], chosen[y_role]
            parts[x_role] = _checked_rows(source, x_name, y_name, arrays[x_name], arrays[y_name])
    return ChannelData(train=parts.get("x_train"), test=parts.get("x_test"))


def _checked_rows(source: str, x_name: str, y_name: str, x_value: Any, y_value: Any) -> Rows:
    x = _numeric(source, x_name, x_value)
    y = _labels(source, y_name, y_value)
    if x.ndim not in (2, 3):
        raise UserError(
            f"{source} '{x_name}' has shape {x.shape}: expected (recordings, samples) "
            "or (recordings, channels, samples)"
        )
    if y.ndim not in (1, 2):
        raise UserError(f"{source} '{y_name}' has shape {y.shape}: expected one label per row")
    if len(x) != len(y):
        raise UserError(
            f"{source} has {len(x)} rows in '{x_name}' but {len(y)} labels in '{y_name}': they must match"
        )
    if len(x) == 0:
        raise UserError(f"{source} '{x_name}' has no rows")
    if x[0].size == 0:
        raise UserError(f"{source} '{x_name}' has {len(x)} rows of 0 samples: each row is one recording")
    if x.dtype.kind == "f":
        _check_range(source, x_name, x)
    return Rows(x=x, y=y, source=source)


def _check_range(source: str, name: str, x: Array) -> None:
    """Finite, and within float32's range: the model trains in float32, where 1e39 is inf."""
    low, high = float(x.min()), float(x.max())  # no copy of x, NaN propagates; compared as float64
    if np.isfinite(low) and np.isfinite(high) and max(-low, high) <= FLOAT32_MAX:
        return
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise UserError(
            f"{source} '{name}' has {int(bad.sum())} NaN or infinite values "
            f"(first in row {row}): remove or impute them"
        )
    huge = np.abs(x) > FLOAT32_MAX
    row = int(np.argwhere(huge)[0][0])
    raise UserError(
        f"{source} '{name}' has {int(huge.sum())} values beyond float32's range of ±3.4e38 "
        f"(first in row {row}: {x[tuple(np.argwhere(huge)[0])]:.3g}): rescale the recordings"
    )


def _numeric(source: str, name: str, value: Any) -> Array:
    try:
        array = np.asanyarray(value)  # a memory-mapped array stays one
    except (ValueError, TypeError):  # ragged rows, or lists mixed with arrays
        raise UserError(
            f"{source} '{name}' is not an array of numbers (rows of unequal length?): "
            "store equal-length rows of numbers"
        ) from None
    if array.dtype.kind not in "biuf":
        raise UserError(f"{source} '{name}' is not numeric (dtype {array.dtype}): store numbers only")
    return array


def _labels(source: str, name: str, value: Any) -> Array:
    """Numbers as they are; names (setosa) as text, whether stored as text or Python strings."""
    try:
        array = np.asanyarray(value)
    except (ValueError, TypeError):
        array = np.asarray(value, dtype=object)
    if array.dtype.kind in "biufUS":
        return array.astype(str) if array.dtype.kind == "S" else array
    if array.dtype.kind == "O" and array.ndim == 1 and all(isinstance(item, str) for item in array.tolist()):
        return array.astype(str)
    raise UserError(
        f"{source} '{name}' holds neither numbers nor names (dtype {array.dtype}): store class ids, "
        "one-hot rows or class names"
    )


def _concatenate(parts: list[Rows | None], what: str) -> Rows | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    first = present[0]
    for part in present[1:]:
        if part.x.shape[1:] != first.x.shape[1:]:
            raise UserError(
                f"{what}: {part.source} has recordings of shape {part.x.shape[1:]} but {first.source} "
                f"has {first.x.shape[1:]}: every file holds recordings of the same shape"
            )
        if part.y.shape[1:] != first.y.shape[1:]:
            raise UserError(
                f"{what}: {part.source} and {first.source} encode labels differently "
                "(one-hot in one, class ids in the other)"
            )
    return Rows(
        x=np.concatenate([part.x for part in present]),
        y=np.concatenate([part.y for part in present]),
        source=f"{first.source} and {len(present) - 1} more",
    )


def all_rows(data: ChannelData) -> Rows | None:
    """Every row of a validation or test channel, whichever array names the file used."""
    return _concatenate([data.train, data.test], "rows")
