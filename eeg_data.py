"""Reading EEG recordings from a channel folder, checking them, and turning them into features.

Formats, told apart by file extension:
  .pkl .pickle .p  the original workflow's output_dict: {"x_train", "y_train2", "x_test", "y_test2"}
  .npz             np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...) (test optional)
Rows are recordings (one sample per column); labels are one-hot rows or integer class ids.
Pickles are read by a restricted unpickler that builds only plain containers and numpy
arrays: a pickle that would import or call anything else is refused, never executed.
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
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

# The only globals a pickle of dicts, lists and numpy arrays needs, by the names numpy 1
# (numpy.core) and numpy 2 (numpy._core) write; each maps to the object it stands for.
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
    ("collections", "OrderedDict"): collections.OrderedDict,
}
for _module in ("numpy.core", "numpy._core"):
    _ALLOWED_GLOBALS[(f"{_module}.multiarray", "_reconstruct")] = np._core.multiarray._reconstruct
    _ALLOWED_GLOBALS[(f"{_module}.multiarray", "scalar")] = np._core.multiarray.scalar
    _ALLOWED_GLOBALS[(f"{_module}.numeric", "_frombuffer")] = np._core.numeric._frombuffer

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


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UserError(
                f"the pickle would load '{module}.{name}', which is not allowed: only dicts, "
                "lists, numbers, strings and numpy arrays are read (or save the data with np.savez)"
            )
        return allowed


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
            loaded = _RestrictedUnpickler(file).load()
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
