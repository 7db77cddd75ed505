"""Reading EEG recordings from a channel folder, checking them, and turning them into features.

Formats, told apart by file extension:
  .pkl .pickle .p  the original workflow's output_dict: {"x_train", "y_train2", "x_test", "y_test2"}
  .npz             np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...) (test optional)
Rows are recordings (one sample per column); labels are one-hot rows or integer class ids.
Pickles are read by a restricted unpickler that builds only plain containers and numpy
arrays: a pickle that would import or call anything else is refused, never executed.
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sagemaker_env import UserError

PICKLE_SUFFIXES = (".pkl", ".pickle", ".p")
NPZ_SUFFIX = ".npz"
FEATURES = ("fft", "raw")

# Pickled numpy types that are read: numbers, and text (refused later with a clear message).
_PICKLED_DTYPE = re.compile(r"[biufc][0-9]{1,2}|[US][0-9]{1,6}")
Array = npt.NDArray[Any]


@dataclass
class Rows:
    """Recordings and their labels as read from files; labels are not yet class indices."""

    x: Array
    y: Array

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class ChannelData:
    train: Rows | None
    test: Rows | None


class _NdarrayName:
    """What a pickle gets for numpy.ndarray: a name _reconstruct accepts, nothing it can call.

    The real class would let a pickle call ndarray(shape, dtype, buffer, offset) and build an
    array over arbitrary memory.
    """

    def __call__(self, *args: Any) -> None:
        raise UserError("the pickle calls numpy.ndarray directly, which is not allowed")


_NDARRAY = _NdarrayName()


class _PickledDtype:
    """numpy.dtype(spec, align, copy) as a pickle calls it, checked before a real dtype exists.

    A real dtype would accept any __setstate__, including flags that declare raw bytes to be
    Python object pointers.
    """

    def __init__(self, spec: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(spec, str) or not _PICKLED_DTYPE.fullmatch(spec):
            raise UserError(f"the pickle holds numpy data of type {spec!r}: only numbers are read")
        self.spec = spec
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")):
            raise UserError("the pickle holds a malformed numpy type")
        if any(part is not None for part in state[2:5]):
            raise UserError("the pickle holds a structured numpy type: only plain arrays are read")
        self.byteorder = state[1]

    def real(self) -> np.dtype:
        dtype = np.dtype(self.spec)
        return dtype.newbyteorder(self.byteorder) if self.byteorder in "<>" else dtype


class _PickledArray:
    """What _reconstruct returns: empty until the pickle's BUILD gives shape, type and bytes."""

    def __init__(self) -> None:
        self.array: Array | None = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            raise UserError("the pickle holds a malformed numpy array")
        shape, dtype, fortran, data = state[-4:]
        self.array = _array_from_bytes(data, dtype, shape, "F" if fortran else "C")


def _array_from_bytes(data: Any, dtype: Any, shape: Any, order: Any) -> Array:
    """A copy of the bytes as an array, after checking that they are exactly that array."""
    if isinstance(data, memoryview | pickle.PickleBuffer):
        data = bytes(data)
    if not isinstance(data, bytes | bytearray):
        raise UserError("the pickle holds an array of Python objects: only numbers are read")
    valid_shape = isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)
    if not (isinstance(dtype, _PickledDtype) and valid_shape and order in ("C", "F")):
        raise UserError("the pickle holds a malformed numpy array")
    real = dtype.real()
    count = math.prod(shape)
    if len(data) != count * real.itemsize:
        raise UserError("the pickle holds a numpy array whose data does not match its shape")
    if count == 0:
        return np.empty(shape, dtype=real)
    return np.frombuffer(data, dtype=real, count=count).reshape(shape, order=order).copy()


def _reconstruct(kind: Any, shape: Any, typecode: Any) -> _PickledArray:
    if kind is not _NDARRAY:
        raise UserError("the pickle builds a numpy subclass: only plain arrays are read")
    return _PickledArray()


def _frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> Array:
    return _array_from_bytes(data, dtype, shape, order)


def _scalar(dtype: Any, data: Any) -> Any:
    return _array_from_bytes(data, dtype, (), "C")[()]


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """Protocol 2 writes bytes as _codecs.encode(text, "latin1")."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UserError("the pickle calls _codecs.encode in an unexpected way")
    return text.encode("latin1")


# The only globals a pickle of dicts, lists and numpy arrays needs, by the names numpy 1
# (numpy.core) and numpy 2 (numpy._core) write, each mapped to a checking stand-in.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _PickledDtype,
    ("_codecs", "encode"): _latin1,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_module}.multiarray", "_reconstruct")] = _reconstruct
    _ALLOWED_GLOBALS[(f"{_module}.multiarray", "scalar")] = _scalar
    _ALLOWED_GLOBALS[(f"{_module}.numeric", "_frombuffer")] = _frombuffer


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UserError(
                f"the pickle would load '{module}.{name}', which is not allowed: only dicts, "
                "lists, numbers, strings and numpy arrays are read (or save the data with np.savez)"
            )
        return allowed


def _materialise(value: Any, depth: int = 0) -> Any:
    """Swaps each checked array stand-in for its array, in the containers a pickle holds."""
    if depth > 20:
        raise UserError("the pickle nests containers too deeply")
    if isinstance(value, _PickledArray):
        if value.array is None:
            raise UserError("the pickle holds a numpy array without data")
        return value.array
    if isinstance(value, _NdarrayName | _PickledDtype):
        raise UserError("the pickle holds a bare numpy type where data was expected")
    if isinstance(value, dict):
        return {key: _materialise(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_materialise(item, depth + 1) for item in value)
    return value


def read_channel(folder: Path, channel: str) -> ChannelData:
    """Reads every data file in a channel folder (any depth), rows concatenated in name order."""
    if not folder.is_dir():
        raise UserError(
            f"no '{channel}' channel: {folder} does not exist; pass it to the job's inputs "
            f"(e.g. {channel}=s3://bucket/prefix) or put files in test_dir/input/data/{channel}"
        )
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not _hidden(p, folder))
    if not files:
        raise UserError(
            f"channel '{channel}' is empty ({folder}): the S3 prefix holds no files or the "
            "role cannot read the bucket"
        )
    parts = [_read_file(path, channel) for path in files]
    return ChannelData(
        train=_concatenate([part.train for part in parts], f"{channel} x_train"),
        test=_concatenate([part.test for part in parts], f"{channel} x_test"),
    )


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_file(path: Path, channel: str) -> ChannelData:
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        arrays = _read_pickle(path)
        names = {"x_train": "x_train", "y_train": "y_train2", "x_test": "x_test", "y_test": "y_test2"}
    elif suffix == NPZ_SUFFIX:
        arrays = _read_npz(path)
        names = {"x_train": "x_train", "y_train": "y_train", "x_test": "x_test", "y_test": "y_test"}
    else:
        raise UserError(
            f"unsupported file '{path.name}' in channel '{channel}': use an output_dict pickle "
            "(.pkl) or an .npz with x_train and y_train"
        )
    found = ", ".join(sorted(arrays)) or "nothing"
    # The training channel needs training rows; a validation or test channel any rows.
    required = ["x_train", "y_train"] if channel == "training" or "x_test" not in arrays else []
    for key in required:
        if names[key] not in arrays:
            raise UserError(f"{path.name} has no '{names[key]}' array (found: {found}): add it to the file")
    parts = {}
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        if (names[x_key] in arrays) != (names[y_key] in arrays):
            raise UserError(f"{path.name} has only one of '{names[x_key]}' and '{names[y_key]}'")
        if names[x_key] in arrays:
            parts[x_key] = _rows(path, arrays, names[x_key], names[y_key])
    return ChannelData(train=parts.get("x_train"), test=parts.get("x_test"))


def _read_pickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            loaded = _materialise(_RestrictedUnpickler(file).load())
    except UserError as error:
        raise UserError(f"refused {path.name}: {error}") from None
    except Exception as error:  # a corrupt pickle can raise almost anything
        raise UserError(
            f"cannot read {path.name}: not a valid pickle ({type(error).__name__}: {error})"
        ) from None
    if not isinstance(loaded, dict):
        raise UserError(
            f"{path.name} holds a {type(loaded).__name__}, not the output_dict "
            "{'x_train', 'y_train2', 'x_test', 'y_test2'}"
        )
    return loaded


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise UserError(f"{path.name} holds object arrays: save numbers only") from None
        raise UserError(f"cannot read {path.name}: not a valid .npz ({error})") from None
    except (OSError, EOFError, zipfile.BadZipFile, io.UnsupportedOperation) as error:
        raise UserError(f"cannot read {path.name}: not a valid .npz ({error})") from None


def _rows(path: Path, arrays: dict[str, Any], x_key: str, y_key: str) -> Rows:
    x = _numeric(path, x_key, arrays[x_key])
    y = _numeric(path, y_key, arrays[y_key])
    if x.ndim != 2:
        raise UserError(
            f"{path.name} '{x_key}' has shape {x.shape}: expected (recordings, samples), a 2-D array"
        )
    if y.ndim not in (1, 2):
        raise UserError(f"{path.name} '{y_key}' has shape {y.shape}: expected one label per row")
    if len(x) != len(y):
        raise UserError(
            f"{path.name} has {len(x)} rows in '{x_key}' but {len(y)} labels in '{y_key}': they must match"
        )
    if len(x) == 0:
        raise UserError(f"{path.name} '{x_key}' has no rows")
    bad = ~np.isfinite(x)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise UserError(
            f"{path.name} '{x_key}' has {int(bad.sum())} NaN or infinite values "
            f"(first in row {row}): remove or impute them"
        )
    return Rows(x=x, y=y)


def _numeric(path: Path, key: str, value: Any) -> Array:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        array = np.asarray(value, dtype=object)
    if array.dtype.kind not in "biuf":
        raise UserError(f"{path.name} '{key}' is not numeric (dtype {array.dtype}): store numbers only")
    return array


def _concatenate(parts: list[Rows | None], what: str) -> Rows | None:
    present = [part for part in parts if part is not None]
    if not present:
        return None
    widths = {part.x.shape[1] for part in present}
    if len(widths) > 1:
        raise UserError(f"{what}: files have different numbers of samples per row {sorted(widths)}")
    label_shapes = {part.y.shape[1:] for part in present}
    if len(label_shapes) > 1:
        raise UserError(f"{what}: files encode labels differently (one-hot in some, ids in others)")
    return Rows(
        x=np.concatenate([part.x for part in present]),
        y=np.concatenate([part.y for part in present]),
    )


def all_rows(data: ChannelData) -> Rows | None:
    """Every row of a validation or test channel, whichever array names the file used."""
    return _concatenate([data.train, data.test], "rows")


def class_ids(y: Array, what: str) -> Array:
    """Labels as integer ids: the column of the 1 in one-hot rows, or the integers themselves."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
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
    return y.astype(np.int64)


def features(x: Array, kind: str) -> npt.NDArray[np.float32]:
    """The model's input for each row: the same transform for training, validation, test and serving.

    fft: magnitude of the row's real FFT (rfft keeps the non-redundant half: samples // 2 + 1
    bins) normalised to sum 1, so the model sees how power is spread over frequencies.
    raw: the samples as they are.
    """
    x = np.asarray(x, dtype=np.float32)
    if kind == "raw":
        return x
    if kind != "fft":
        raise UserError(f"unknown feature transform '{kind}': use one of {', '.join(FEATURES)}")
    magnitude = np.abs(np.fft.rfft(x, axis=1)).astype(np.float32)
    total = magnitude.sum(axis=1, keepdims=True)
    return magnitude / np.where(total > 0, total, 1.0)


def standardisation(x: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Per-feature mean and standard deviation; constant features get a deviation of 1."""
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = x.std(axis=0, dtype=np.float64).astype(np.float32)
    return mean, np.where(std > 0, std, 1.0).astype(np.float32)


def standardise(
    x: npt.NDArray[np.float32], mean: npt.NDArray[np.float32], std: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    return ((x - mean) / std).astype(np.float32)
