"""The file formats a channel may hold, each told apart by its content; a name is only a hint.

Formats:
  pickle  the original workflow's output_dict (training/output_dict, no extension needed): a
          dict of arrays. Recognised by pickle's protocol header, which pickle.dump writes
          since Python 3, or by a .pkl, .pickle or .p name (the older protocols 0 and 1).
  npz     np.savez(path, x_train=..., y_train=..., ...): a zip archive of .npy arrays.
  npy     one array per file, named by the file (x_train.npy, y_train.npy, ...): numpy's magic.
  csv     one recording per row, its label (a number or a name) in the first column, after at
          most one header line of column names:
          a .csv name, the channel's ContentType text/csv, or text whose first line is a label
          and comma-separated numbers.
Array names are x_train with y_train, and x_test with y_test; the original's y_train2 and
y_test2 are read too. Rows are recordings (one sample per column); labels are one-hot rows,
integer class ids or class names. Pickles are read by safe_pickle, which never runs code.

Each reader checks what the file claims to hold (its array shapes, a pickle's expanded
size, a CSV's fields) against the memory budget before reading it. Recordings in .npy files
and in uncompressed .npz archives are memory-mapped instead: they are read from disk a
chunk at a time as their features are computed, so they may be larger than memory.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from container import safe_pickle
from container.memory_budget import Budget
from container.sagemaker_env import UserError, one_line

Array = npt.NDArray[Any]
PICKLE_SUFFIXES = (".pkl", ".pickle", ".p")
# The names a file may give each array; the first is the one to use in new files.
ARRAY_NAMES = {
    "x_train": ("x_train",),
    "y_train": ("y_train", "y_train2"),
    "x_test": ("x_test",),
    "y_test": ("y_test", "y_test2"),
}


MAPPED = ("x_train", "x_test")  # the recordings: memory-mapped where the format allows
ZIP_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, then the name's and extra field's lengths


def kind(path: Path, content_type: str) -> str:
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
    # What the file is, never its bytes: a file that is not ours may hold anything.
    looks = "text" if _is_text(head) else "binary data"
    raise UserError(
        f"cannot tell what {path.name} holds ({looks}, {path.stat().st_size} bytes, of no format read "
        "here): a data file is a pickle (pickle.dump), an .npz (np.savez), an .npy (np.save) or a "
        "CSV of numbers, recognised by its content"
    )


def _is_text(head: bytes) -> bool:
    """No NUL bytes and UTF-8 but for a character the 4 KB cut may split."""
    return b"\0" not in head and head.decode("utf-8", "replace").count("\ufffd") <= 1


def _numbers_line(head: bytes) -> bool:
    """True when the first line is text of comma-separated numbers: a CSV without a .csv name."""
    line = head.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf").strip()
    try:
        label, *samples = line.decode("utf-8").split(",")
        [float(value) for value in samples or [label]]  # the label may be a name: setosa,5.1,3.5
    except (UnicodeDecodeError, ValueError):
        return False
    return bool(line) and b"\0" not in head


def _is_header(line: bytes) -> bool:
    """A line of column names: no field after the first is a number. (A row with one bad
    value is not a header: it is refused, not skipped.)"""
    try:
        fields = line.removeprefix(b"\xef\xbb\xbf").decode("utf-8").strip().split(",")
    except UnicodeDecodeError:
        return False
    return len(fields) > 1 and not any(_is_number(field) for field in fields[1:])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_pickle(paths: list[Path], budget: Budget) -> dict[str, Any]:
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
        reason = one_line(f"{type(error).__name__}: {error}")
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


def read_npz(paths: list[Path], budget: Budget) -> dict[str, Any]:
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
            mapped = {}
            for info in archive.infolist():
                name = info.filename[:-4]
                if name in MAPPED and info.compress_type == zipfile.ZIP_STORED:
                    mapped[name] = _mapped_member(path, info)
                    continue
                with archive.open(info) as member:
                    budget.claim(f"{path.name} '{name}'", _declared_nbytes(member, path.name))
        with np.load(path, allow_pickle=False) as arrays:
            return {name: mapped[name] if name in mapped else arrays[name] for name in arrays.files}
    except UserError:
        raise
    except Exception as error:  # zip and numpy report a damaged file in many ways
        reason = one_line(f"{type(error).__name__}: {error}")
        raise UserError(f"cannot read {path.name}: not a valid .npz ({reason})") from None


def read_npy_files(paths: list[Path], budget: Budget) -> dict[str, Any]:
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
                nbytes = _declared_nbytes(file, filename)
            if name in MAPPED and nbytes:
                arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
            else:
                budget.claim(filename, nbytes)
                arrays[name] = np.load(path, allow_pickle=False)
        except UserError:
            raise
        except Exception as error:  # numpy reports a damaged file in many ways
            reason = one_line(f"{type(error).__name__}: {error}")
            raise UserError(f"cannot read {filename}: not a valid .npy ({reason})") from None
    return arrays


def npy_array(data: bytes, what: str) -> Array:
    """The array of .npy bytes (a request body), checked as training checks .npy files:
    numbers only, and no more data claimed than there is."""
    file = io.BytesIO(data)
    shape, _, dtype = _header(file, what)
    if _nbytes(shape, dtype) > len(data) - file.tell():
        raise UserError(f"{what} is damaged: its .npy header claims more data than it holds")
    file.seek(0)
    try:
        return np.load(file, allow_pickle=False)
    except Exception as error:  # numpy reports a damaged array in many ways
        reason = one_line(f"{type(error).__name__}: {error}")
        raise UserError(f"cannot read {what}: not a valid .npy ({reason})") from None


def _mapped_member(path: Path, info: zipfile.ZipInfo) -> Array:
    """A stored (uncompressed) .npy member of a zip, memory-mapped where it lies in the file."""
    what = f"{path.name} '{info.filename[:-4]}'"
    with path.open("rb") as file:
        file.seek(info.header_offset)
        signature, name_length, extra_length = ZIP_LOCAL_HEADER.unpack(file.read(ZIP_LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise UserError(f"{path.name} is damaged: no zip entry where {what} should start")
        start = file.seek(name_length + extra_length, 1)
        shape, fortran_order, dtype = _header(file, what)
        offset = file.tell()
    nbytes = _nbytes(shape, dtype)
    if nbytes > info.file_size - (offset - start):
        raise UserError(f"{what} is damaged: its header claims more data than the archive holds")
    if not nbytes:
        return np.zeros(shape, dtype=dtype)  # nothing to map
    order = "F" if fortran_order else "C"
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)


def _declared_nbytes(file: Any, filename: str) -> int:
    """What an .npy header says its array takes, read before the array itself."""
    shape, _, dtype = _header(file, filename)
    return _nbytes(shape, dtype)


def _header(file: Any, filename: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """An .npy header's (shape, Fortran order, dtype), checked: plain numbers only."""
    try:
        version = np.lib.format.read_magic(file)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, fortran_order, dtype = readers[version](file) if version in readers else ((), False, None)
    except Exception as error:  # numpy parses the header as Python literals: anything can fail
        reason = one_line(f"{type(error).__name__}: {error}")
        raise UserError(f"{filename} has a malformed .npy header ({reason})") from None
    if dtype is None:
        raise UserError(f"{filename} holds an array of a structured type (.npy {version}): save numbers only")
    if dtype.hasobject:
        raise UserError(f"{filename} holds Python objects (dtype {dtype}): save numbers only")
    return shape, fortran_order, dtype


def _nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def read_csv(path: Path, budget: Budget) -> tuple[Array, Array]:
    """(samples, labels) of a table with a row per line: the label first, then the samples.
    Labels are numbers or names (setosa); samples are numbers. A first line whose samples
    are not numbers is a header of column names, and is skipped.

    Parsed by numpy's C reader, not a Python loop over rows.
    """
    with path.open("rb") as file:
        header = int(_is_header(file.readline()))
    # Every field ends at a comma or a line break, however the lines are laid out.
    fields = 1
    with path.open("rb") as file:
        while chunk := file.read(2**20):
            fields += chunk.count(b",") + chunk.count(b"\n") + chunk.count(b"\r")
    budget.claim(path.name, fields * 8)
    try:
        table = _loadtxt(path, np.float64, skiprows=header)
        if table.shape[1] == 0:
            return table.reshape(0, 0), table.reshape(0)
        return table[:, 1:], table[:, 0]
    except ValueError as error:
        numbers_error = error
    # Named labels: the first column as text, the others as numbers.
    samples = labels = None
    try:
        width = len(_loadtxt(path, str, max_rows=1, skiprows=header)[0])
        if width > 1:
            labels = _loadtxt(path, str, usecols=[0], skiprows=header)[:, 0]
            samples = _loadtxt(path, np.float64, usecols=range(1, width), skiprows=header)
    except ValueError:
        pass
    if samples is None or labels is None or len(samples) != len(labels):
        reason = str(numbers_error).split("; use `usecols`")[0]
        raise UserError(
            f"cannot read {path.name} as CSV ({reason}): a CSV has one recording per line, the "
            "label first (a number or a name), then the samples, all numbers, after at most one "
            "header line"
        ) from None
    return samples, np.char.strip(labels)


def csv_numbers(lines: list[str]) -> npt.NDArray[np.float64]:
    """Lines of comma-separated numbers as rows, read by the reader training's CSV uses, with
    its rules: numbers as numpy's C reader writes them (no 1_0, no digits of other scripts),
    a comma between values, one row per line. Raises ValueError naming what it could not read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # lines that are all comment: no rows, as in training
        return np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)


def _loadtxt(path: Path, dtype: Any, **options: Any) -> Array:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # an empty file: found later as no rows
            return np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=2, encoding="utf-8-sig", **options)
    except UnicodeDecodeError as error:
        raise ValueError(str(error)) from None
