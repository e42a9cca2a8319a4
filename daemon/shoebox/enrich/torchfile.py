"""Reading a PyTorch state dict saved in torch's legacy (non-zip) format, without torch.

The labels stage's weights ship as such a `.pth` file. The format is a run of pickles in one
file: a magic number, the protocol version, a dict about the saving system, then the state
dict itself, whose tensors point at storages by persistent id
`("storage", storage type, key, location, element count[, view])` and are rebuilt by
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`; then a
pickle of the storage keys in file order, and for each key its raw storage: an 8-byte
little-endian element count and the elements.

Only the handful of names such a file needs are accepted (`find_class`); anything else is an
error, so a file that tries to run code is refused instead of unpickled.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from shoebox.errors import ShoeboxError

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
DTYPES: dict[str, np.dtype[Any]] = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


class WeightsError(ShoeboxError):
    """A weights file that is not a plain legacy PyTorch state dict."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_v2(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if module == "torch" and name in DTYPES:
            return _StorageType(name)
        raise WeightsError(f"the weights file refers to {module}.{name}, which is not allowed")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise WeightsError(f"unexpected persistent id in the weights file: {pid!r}")
        _, kind, key, _location, numel = pid[:5]
        if not isinstance(kind, _StorageType) or (len(pid) > 5 and pid[5] is not None):
            raise WeightsError("the weights file uses storage views, which are not supported")
        return _Storage(str(key), DTYPES[kind.name], int(numel))


def _load(stream: IO[bytes]) -> Any:
    return _Unpickler(stream).load()


def read_state_dict(path: Path) -> dict[str, np.ndarray[Any, Any]]:
    """The tensors of a legacy `.pth` state dict, by name, as numpy arrays."""
    try:
        with path.open("rb") as stream:
            if _load(stream) != MAGIC_NUMBER or _load(stream) != PROTOCOL_VERSION:
                raise WeightsError(f"{path} is not a legacy PyTorch file")
            _load(stream)  # sys_info: byte order and type sizes of the saving machine
            state = _load(stream)
            keys = _load(stream)
            storages: dict[str, np.ndarray[Any, Any]] = {}
            wanted = _storages(state)
            for key in keys:
                (count,) = struct.unpack("<q", stream.read(8))
                dtype = wanted[key].dtype
                data = stream.read(count * dtype.itemsize)
                if len(data) != count * dtype.itemsize:
                    raise WeightsError(f"{path} ends in the middle of a tensor")
                storages[key] = np.frombuffer(data, dtype=dtype)
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, struct.error) as exc:
        raise WeightsError(f"cannot read the weights file {path}: {exc}") from exc
    return {name: _tensor(ref, storages[ref.storage.key]) for name, ref in state.items()}


def _storages(state: Any) -> dict[str, _Storage]:
    if not isinstance(state, dict) or not all(isinstance(v, _TensorRef) for v in state.values()):
        raise WeightsError("the weights file does not hold a plain state dict")
    return {ref.storage.key: ref.storage for ref in state.values()}


def _tensor(ref: _TensorRef, storage: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    item = storage.itemsize
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.size, ref.stride, strict=True))
    if min(ref.size, default=1) > 0 and last >= len(storage):
        raise WeightsError("a tensor reaches past the end of its storage")
    view = np.lib.stride_tricks.as_strided(
        storage[ref.offset :],
        shape=ref.size,
        strides=tuple(s * item for s in ref.stride),
        writeable=False,
    )
    return np.array(view, copy=True)
