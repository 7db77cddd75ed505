"""Reading EEG recordings from a channel folder, checking them, and turning them into features.

Formats, told apart by their content; a file's name is only a hint:
  pickle  the original workflow's output_dict (training/output_dict, no extension needed): a
          dict of arrays. Recognised by pickle's protocol header, which pickle.dump writes
          since Python 3, or by a .pkl, .pickle or .p name (the older protocols 0 and 1).
  npz     np.savez(path, x_train=..., y_train=..., ...): a zip archive of .npy arrays.
  npy     one array per file, named by the file (x_train.npy, y_train.npy, ...): numpy's magic.
  csv     no header, one recording per row, its label in the first column: a .csv name, the
          channel's ContentType text/csv, or text whose first line is comma-separated numbers.
Array names are x_train with y_train, and x_test with y_test; the original's y_train2 and
y_test2 are read too. Rows are recordings (one sample per column); labels are one-hot rows
or integer class ids. Pickles are read by safe_pickle, which never runs code.

Before any file is read into memory, what it claims to hold (its array shapes, a pickle's
expanded size, a CSV's rows times columns) is checked against a share of the machine's
memory, so a small file cannot take the job down with it.
"""

from __future__ import annotations

import stat
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import safe_pickle
from memory_budget import Budget
from sagemaker_env import UserError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".p")
# The names a file may give each array; the first is the one to use in new files.
ARRAY_NAMES = {
    "x_train": ("x_train",),
    "y_train": ("y_train", "y_train2"),
    "x_test": ("x_test",),
    "y_test": ("y_test", "y_test2"),
}
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the model trains in float32
MAX_CLASS_ID = 2**31 - 1
MAX_CLASSES = 10_000
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
    # .npy files hold one array each: those of one folder are read together, as one file.
    sources: dict[Path, tuple[str, list[Path]]] = {}
    for path in files:
        kind = _kind(path, content_type)
        key = path.parent / "*.npy" if kind == "npy" else path
        sources.setdefault(key, (kind, []))[1].append(path)
    parts = []
    for key, (kind, paths) in sources.items():
        if kind == "csv":
            parts.append(ChannelData(train=_read_csv(paths[0], budget), test=None))
            continue
        readers = {"pickle": _read_pickle, "npz": _read_npz, "npy": _read_npy_files}
        name = f"the .npy files in {key.parent.name}/" if kind == "npy" else key.name
        parts.append(_split(name, readers[kind](paths, budget), channel))
    return ChannelData(
        train=_concatenate([part.train for part in parts], f"{channel} x_train"),
        test=_concatenate([part.test for part in parts], f"{channel} x_test"),
    )


def _data_files(folder: Path, channel: str) -> list[Path]:
    """Regular files below folder, hidden ones skipped; anything else that is there is an error."""
    files = []
    for path in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
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


def _kind(path: Path, content_type: str) -> str:
    """pickle, npz, npy or csv, from the first bytes; the name decides only what they cannot."""
    with path.open("rb") as file:
        head = file.read(4096)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    suffix = path.suffix.lower()
    if suffix == ".csv" or content_type.split(";")[0].strip().lower() == "text/csv" or _numbers_line(head):
        return "csv"
    if suffix in PICKLE_SUFFIXES:
        return "pickle"
    raise UserError(
        f"cannot tell what {path.name} holds (it starts with {head[:12]!r}): a data file is a "
        "pickle (pickle.dump), an .npz (np.savez), an .npy (np.save) or a CSV of numbers, "
        "recognised by its content"
    )


def _numbers_line(head: bytes) -> bool:
    """True when the first line is text of comma-separated numbers: a CSV without a .csv name."""
    line = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").strip()
    try:
        [float(value) for value in line.decode("ascii").split(",")]
    except (UnicodeDecodeError, ValueError):
        return False
    return bool(line) and b"\0" not in head


def _read_pickle(paths: list[Path], budget: Budget) -> dict[str, Any]:
    (path,) = paths
    # Arrays are views of the file's bytes: reading it is most of what the data will take.
    budget.check(path.name, path.stat().st_size)
    try:
        loaded, nbytes = safe_pickle.load(path.read_bytes(), budget.left)
    except safe_pickle.ExpansionError as error:
        budget.check(f"{path.name} (a pickle)", error.claimed)
        raise  # check() raised: the claim is over what is left
    except UserError as error:
        raise UserError(f"refused {path.name}: {error}") from None
    except Exception as error:  # a corrupt pickle can raise almost anything
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise UserError(f"cannot read {path.name}: not a valid pickle ({reason})") from None
    budget.claim(path.name, nbytes)
    if not isinstance(loaded, dict):
        raise UserError(
            f"{path.name} holds a {type(loaded).__name__}, not the output_dict "
            "{'x_train', 'y_train2', 'x_test', 'y_test2'}"
        )
    odd = [key for key in loaded if not isinstance(key, str)]
    if odd:
        raise UserError(
            f"{path.name} has a key {odd[0]!r} of type {type(odd[0]).__name__}: the output_dict's "
            "keys are the array names, such as 'x_train' and 'y_train2'"
        )
    return loaded


def _read_npz(paths: list[Path], budget: Budget) -> dict[str, Any]:
    """The arrays of an .npz, each header checked against the budget before its data is read."""
    (path,) = paths
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            others = [name for name in members if not name.endswith(".npy")]
            if others:
                raise UserError(
                    f"{path.name} is a zip archive but not an .npz: it holds {others[0]!r}, "
                    "where np.savez writes only .npy arrays"
                )
            for name in members:
                with archive.open(name) as member:
                    budget.claim(f"{path.name} '{name[:-4]}'", _declared_nbytes(member, path.name))
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except UserError:
        raise
    except Exception as error:  # zip and numpy report a damaged file in many ways
        raise UserError(
            f"cannot read {path.name}: not a valid .npz ({type(error).__name__}: {error})"
        ) from None


def _read_npy_files(paths: list[Path], budget: Budget) -> dict[str, Any]:
    """x_train.npy, y_train.npy, ... of one folder, as the arrays of one file."""
    known = [alias for aliases in ARRAY_NAMES.values() for alias in aliases]
    arrays = {}
    for path in paths:
        name, filename = path.stem, path.name
        if name not in known:
            raise UserError(
                f"{filename} holds one numpy array (np.save), which is named by its file: call it "
                f"{', '.join(f'{alias}.npy' for alias in known)}; or save several with np.savez"
            )
        try:
            with path.open("rb") as file:
                budget.claim(filename, _declared_nbytes(file, filename))
            arrays[name] = np.load(path, allow_pickle=False)
        except UserError:
            raise
        except Exception as error:  # numpy reports a damaged file in many ways
            raise UserError(
                f"cannot read {filename}: not a valid .npy ({type(error).__name__}: {error})"
            ) from None
    return arrays


def _declared_nbytes(file: Any, filename: str) -> int:
    """What an .npy header says its array takes, read before the array itself."""
    try:
        version = np.lib.format.read_magic(file)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, _, dtype = readers[version](file) if version in readers else ((), False, None)
    except Exception as error:  # numpy parses the header as Python literals: anything can fail
        reason = " ".join(f"{type(error).__name__}: {error}".split())
        raise UserError(f"{filename} has a malformed .npy header ({reason})") from None
    if dtype is None:
        raise UserError(f"{filename} holds an array of a structured type (.npy {version}): save numbers only")
    if dtype.hasobject:
        raise UserError(f"{filename} holds Python objects (dtype {dtype}): save numbers only")
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def _read_csv(path: Path, budget: Budget) -> Rows:
    """Label in the first column, then the samples; no header. Parsed by numpy's C reader."""
    # Every field ends at a comma or a line break, however the lines are laid out.
    fields = 1
    with path.open("rb") as file:
        while chunk := file.read(2**20):
            fields += chunk.count(b",") + chunk.count(b"\n") + chunk.count(b"\r")
    budget.claim(path.name, fields * 8)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an empty file: found below as no rows
            table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as error:
        reason = str(error).split("; use `usecols`")[0]
        raise UserError(
            f"cannot read {path.name} as CSV ({reason}): a CSV has no header, one recording per "
            "line, the label first, then the samples, all numbers"
        ) from None
    if table.shape[1] == 0:
        table = table.reshape(0, 1)
    return _checked_rows(path.name, "samples", "labels", table[:, 1:], table[:, 0])


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
    y = _numeric(source, y_name, y_value)
    if x.ndim != 2:
        raise UserError(
            f"{source} '{x_name}' has shape {x.shape}: expected (recordings, samples), a 2-D array"
        )
    if y.ndim not in (1, 2):
        raise UserError(f"{source} '{y_name}' has shape {y.shape}: expected one label per row")
    if len(x) != len(y):
        raise UserError(
            f"{source} has {len(x)} rows in '{x_name}' but {len(y)} labels in '{y_name}': they must match"
        )
    if len(x) == 0:
        raise UserError(f"{source} '{x_name}' has no rows")
    if x.shape[1] == 0:
        raise UserError(f"{source} '{x_name}' has {len(x)} rows of 0 samples: each row is one recording")
    if x.dtype.kind == "f":
        _check_range(source, x_name, x)
    return Rows(x=x, y=y, source=source)


def _check_range(source: str, name: str, x: Array) -> None:
    """Finite, and within float32's range: the model trains in float32, where 1e39 is inf."""
    low, high = x.min(), x.max()  # no copy of x, and NaN propagates
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
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = np.asarray(value, dtype=object)
    if array.dtype.kind not in "biuf":
        raise UserError(f"{source} '{name}' is not numeric (dtype {array.dtype}): store numbers only")
    return array


def _concatenate(parts: list[Rows | None], what: str) -> Rows | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    first = present[0]
    for part in present[1:]:
        if part.x.shape[1] != first.x.shape[1]:
            raise UserError(
                f"{what}: {part.source} has {part.x.shape[1]} samples per row but {first.source} has "
                f"{first.x.shape[1]}: every file holds recordings of the same length"
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


def class_ids(y: Array, what: str) -> Array:
    """Labels as integer ids: the column of the 1 in one-hot rows, or the integers themselves."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        if y.shape[1] > MAX_CLASSES:
            raise UserError(f"{what} labels are one-hot rows of {y.shape[1]} classes: at most {MAX_CLASSES}")
        one_hot = np.all((y == 0) | (y == 1), axis=1) & (y.sum(axis=1) == 1)
        if not one_hot.all():
            row = int(np.argmin(one_hot))
            raise UserError(
                f"{what} labels are neither one-hot nor integer ids (row {row} is {y[row][:8]}): "
                "use one 1 per row, or a 1-D array of class ids"
            )
        return np.argmax(y, axis=1)
    if not np.all(np.mod(y, 1) == 0) or (y < 0).any():
        example = y[(np.mod(y, 1) != 0) | (y < 0)][0]
        raise UserError(
            f"{what} labels are neither one-hot nor integer ids (found {example}): "
            "use one 1 per row, or non-negative integer class ids"
        )
    if len(y) and y.max() > MAX_CLASS_ID:
        raise UserError(
            f"{what} labels go up to {y.max():.6g}: class ids are integers from 0 to {MAX_CLASS_ID}"
        )
    return y.astype(np.int64)
