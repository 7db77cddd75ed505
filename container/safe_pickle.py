"""A restricted unpickler for the original workflow's output_dict: numbers, never code.

It builds only dicts, lists, tuples, numbers, strings and plain numpy arrays of numbers. A
pickle that would import or call anything else is refused, never executed. It also bounds
what a small file may grow into, before the memory is taken:
- every callable a pickle may reach is a checking stand-in, and the ones that make new
  bytes charge them against the limit while the pickle loads;
- arrays are views of the pickle's own bytes, so a reused buffer is not copied again;
- the loaded structure's size once expanded (a list holding the same list ten times, ten
  levels deep, is ten billion entries) is counted without expanding it, shared parts
  counted once per place they appear, and refused above the limit.

    from container.safe_pickle import load
    data, nbytes = load(path.read_bytes(), limit_bytes=2**30)
"""

from __future__ import annotations

import collections
import io
import math
import pickle
import re
import reprlib
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from container.sagemaker_env import UserError

Array = npt.NDArray[Any]

# Pickled numpy types that are read: numbers, and text (refused later with a clear message).
_PICKLED_DTYPE = re.compile(r"[biufc][0-9]{1,2}|[US][0-9]{1,6}")
MAX_DEPTH = 20  # dict of lists of arrays is 3; anything near 20 is not data
BYTES_PER_NUMBER = 8  # a Python number becomes a float64 or int64 array element


class ExpansionError(UserError):
    """The pickle would grow past the memory limit: claimed is how far, at least."""

    def __init__(self, claimed: int) -> None:
        super().__init__(f"the pickle expands to {claimed:,} bytes or more")
        self.claimed = claimed


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
            shown = reprlib.repr(spec)
            raise UserError(f"the pickle holds numpy data of type {shown}: only numbers are read")
        self.spec = spec
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) >= 5 and state[1] in ("<", ">", "|", "=")):
            raise UserError("the pickle holds a malformed numpy type")
        if any(part is not None for part in state[2:5]):
            raise UserError("the pickle holds a structured numpy type: only plain arrays are read")
        self.byteorder = state[1]

    def real(self) -> np.dtype:
        if not isinstance(getattr(self, "spec", None), str):  # built by NEWOBJ, never initialised
            raise UserError("the pickle holds a malformed numpy type")
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
    """A read-only view of the bytes as an array, after checking that they are exactly that array."""
    if isinstance(data, memoryview | pickle.PickleBuffer):
        data = memoryview(data).toreadonly()
    if not isinstance(data, bytes | bytearray | memoryview):
        raise UserError("the pickle holds an array of Python objects: only numbers are read")
    valid_shape = isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)
    if not (isinstance(dtype, _PickledDtype) and valid_shape and order in ("C", "F")):
        raise UserError("the pickle holds a malformed numpy array")
    real = dtype.real()
    count = math.prod(shape)
    if memoryview(data).nbytes != count * real.itemsize:
        raise UserError("the pickle holds a numpy array whose data does not match its shape")
    if count == 0:
        return np.empty(shape, dtype=real)
    return np.frombuffer(data, dtype=real, count=count).reshape(shape, order=order)


def _reconstruct(kind: Any, shape: Any, typecode: Any) -> _PickledArray:
    if kind is not _NDARRAY:
        raise UserError("the pickle builds a numpy subclass: only plain arrays are read")
    return _PickledArray()


def _frombuffer(data: Any, dtype: Any, shape: Any, order: Any) -> Array:
    return _array_from_bytes(data, dtype, shape, order)


def _scalar(dtype: Any, data: Any) -> Any:
    return _array_from_bytes(data, dtype, (), "C")[()]


def _ordered_dict(*args: Any) -> collections.OrderedDict:
    """OrderedDict pickles as OrderedDict() plus its items: a call with arguments is not data."""
    if args:
        raise UserError("the pickle calls OrderedDict with arguments, which is not allowed")
    return collections.OrderedDict()


# Dict keys a data file may use: hashing any of them takes time in proportion to its size.
# A tuple key built of shared tuples hashes as if expanded: 400 bytes, years of hashing.
_PLAIN_KEYS = (str, int, float, bool, type(None))


def _plain_key(key: Any) -> Any:
    if type(key) not in _PLAIN_KEYS:
        kind = type(key).__name__
        raise UserError(f"the pickle holds a dict key of type {kind}: keys are names or numbers")
    return key


class _RestrictedUnpickler(pickle._Unpickler):
    """The pure-Python unpickler, whose memo is a dict: the C one zero-fills a table as large
    as the largest memo index a pickle names, so 12 bytes could ask for gigabytes. Its
    opcodes that hash keys check them first, and sets, which no data file needs, are refused.
    """

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)

    def _load_dict(self) -> None:
        items = self.pop_mark()
        self.append({_plain_key(items[i]): items[i + 1] for i in range(0, len(items), 2)})

    def _load_setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self.stack[-1][_plain_key(key)] = value

    def _load_setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        for i in range(0, len(items), 2):
            target[_plain_key(items[i])] = items[i + 1]

    def _refuse_sets(self) -> None:
        raise UserError("the pickle holds a set: only dicts, lists, numbers, strings and arrays are read")

    dispatch[pickle.DICT[0]] = _load_dict
    dispatch[pickle.SETITEM[0]] = _load_setitem
    dispatch[pickle.SETITEMS[0]] = _load_setitems
    for _opcode in (pickle.EMPTY_SET, pickle.ADDITEMS, pickle.FROZENSET):
        dispatch[_opcode[0]] = _refuse_sets

    def __init__(self, data: bytes, limit_bytes: int) -> None:
        super().__init__(io.BytesIO(data))
        self.limit_bytes = limit_bytes
        self.made_bytes = 0
        # The only globals a pickle of dicts, lists and numpy arrays needs, by the names numpy 1
        # (numpy.core) and numpy 2 (numpy._core) write, each mapped to a checking stand-in.
        self.allowed: dict[tuple[str, str], Any] = {
            ("numpy", "ndarray"): _NDARRAY,
            ("numpy", "dtype"): _PickledDtype,
            ("_codecs", "encode"): self._latin1,
            ("collections", "OrderedDict"): _ordered_dict,
        }
        for module in ("numpy.core", "numpy._core"):
            self.allowed[(f"{module}.multiarray", "_reconstruct")] = _reconstruct
            self.allowed[(f"{module}.multiarray", "scalar")] = _scalar
            self.allowed[(f"{module}.numeric", "_frombuffer")] = _frombuffer

    def find_class(self, module: str, name: str) -> Any:
        allowed = self.allowed.get((module, name))
        if allowed is None:
            raise UserError(
                f"the pickle would load '{module}.{name}', which is not allowed: only dicts, "
                "lists, numbers, strings and numpy arrays are read (or save the data with np.savez)"
            )
        return allowed

    def _latin1(self, text: Any, encoding: Any = "latin1") -> bytes:
        """Protocol 2 writes bytes as _codecs.encode(text, "latin1"): new bytes, so charged."""
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise UserError("the pickle calls _codecs.encode in an unexpected way")
        self.made_bytes += len(text)
        if self.made_bytes > self.limit_bytes:
            raise ExpansionError(self.made_bytes)
        return text.encode("latin1")


def load(data: bytes, limit_bytes: int) -> tuple[Any, int]:
    """The pickle's object with arrays in place of stand-ins, and the bytes it takes.

    Raises ExpansionError when it would take more than limit_bytes, UserError for anything
    that is not plain data, and whatever pickle raises for a corrupt file.
    """
    loaded = _RestrictedUnpickler(data, limit_bytes).load()
    size = expanded_size(loaded, {}, set(), 0)
    if size > limit_bytes:
        raise ExpansionError(size)
    return _materialise(loaded, 0, {}), size


def expanded_size(value: Any, sizes: dict[int, int], open_containers: set[int], depth: int) -> int:
    """Bytes the value takes once every shared part is copied where it appears.

    Computed once per distinct object (sizes, by id), so a structure that shares itself
    a billion times is counted in as many steps as it has distinct parts.
    """
    if depth > MAX_DEPTH:
        raise UserError("the pickle nests containers too deeply")
    key = id(value)
    if key in sizes:
        return sizes[key]
    if key in open_containers:
        raise UserError("the pickle holds a container that contains itself")
    if isinstance(value, _PickledArray):
        size = value.array.nbytes if value.array is not None else 0
    elif isinstance(value, dict):
        open_containers.add(key)
        size = sum(expanded_size(item, sizes, open_containers, depth + 1) for item in value.values())
        size += BYTES_PER_NUMBER * len(value)
        open_containers.discard(key)
    elif isinstance(value, list | tuple):
        open_containers.add(key)
        size = sum(expanded_size(item, sizes, open_containers, depth + 1) for item in value)
        size += BYTES_PER_NUMBER * len(value)
        open_containers.discard(key)
    elif isinstance(value, str | bytes | bytearray):
        size = len(value)
    else:
        size = BYTES_PER_NUMBER
    sizes[key] = size
    return size


def _materialise(value: Any, depth: int, done: dict[int, Any]) -> Any:
    """Swaps each checked array stand-in for its array, in the containers a pickle holds.

    A container is copied once however often it appears (done, by id): the copy stays as
    shared as the pickle was, so it takes no more than what was loaded.
    """
    if id(value) in done:
        return done[id(value)]
    if depth > MAX_DEPTH:
        raise UserError("the pickle nests containers too deeply")
    if isinstance(value, _PickledArray):
        if value.array is None:
            raise UserError("the pickle holds a numpy array without data")
        return value.array
    if isinstance(value, _NdarrayName | _PickledDtype):
        raise UserError("the pickle holds a bare numpy type where data was expected")
    if isinstance(value, dict):
        copy: Any = {key: _materialise(item, depth + 1, done) for key, item in value.items()}
    elif isinstance(value, list | tuple):
        copy = type(value)(_materialise(item, depth + 1, done) for item in value)
    else:
        return value
    done[id(value)] = copy
    return copy
