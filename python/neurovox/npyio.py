"""numpy's memory maps, ``.npy`` and ``.npz`` files, through neurovox's Rust core.

``memmap``, ``load_npy``/``save_npy``, ``load_npz`` and ``savez``/``savez_compressed`` take
the arguments of ``numpy.memmap``, ``numpy.load``/``numpy.save`` and ``numpy.savez`` and give
what numpy gives: a memory-mapped result *is* a ``numpy.memmap`` (``isinstance`` passes,
``.filename``, ``.offset``, ``.mode`` and ``.flush()`` work, slices are memmap views), and an
in-memory result is a plain ``ndarray``. What neurovox adds over numpy:

* **npz members memory-mapped in place.** ``load_npz(path, mmap_mode='r')`` maps every member
  that ``savez`` stored uncompressed directly inside the zip file: opening a member reads
  nothing, and ``member.filename`` is the archive. numpy ignores ``mmap_mode`` for ``.npz`` and
  reads each member into memory. Deflated members (``savez_compressed``) are decompressed.
* **Errors instead of crashes.** A file too short for the array is a ``ValueError`` naming the
  file when it is mapped, never a SIGBUS later; a malformed or unsupported ``.npy`` header is a
  ``ValueError`` naming the file and the field, and nothing is allocated for data the file
  does not hold.
* **Atomic saves.** ``save_npy``, ``savez`` and ``savez_compressed`` write a temporary file in
  the target's directory and rename it over the target: a reader never sees half a file, and a
  failed save leaves the old one. Saving over a file that is memory-mapped leaves the map intact.
* **The GIL is released** while files are opened, mapped, read and written.

The maps, the ``.npy`` header codec (byte for byte what ``numpy.save`` writes) and the zip
container are the Rust core's (``neurovox::memmap``, ``neurovox::npy``, ``neurovox::npz``).
The module is ``neurovox.npyio`` (after numpy's ``numpy.lib.npyio``), not ``neurovox.memmap``:
the package exports the function ``neurovox.memmap``, which would shadow a submodule of that
name (``import neurovox.memmap as m`` would give the function).

Deliberate differences from numpy are listed in ``docs/compat.md``; in short: ``.npy`` and
``.npz`` arrays hold bool, (u)int8-64, float32/64 or complex64/128 values (other dtypes are a
``ValueError`` on load and a ``TypeError`` on save, naming the file and the dtype; bool arrays
are numpy's bytes, passed through unchanged both ways, exactly as numpy reads and writes them);
``load_npy(path, mmap_mode='w+')`` is refused before the file is touched (numpy truncates the
file, then fails); ``load_npz`` takes paths only, not file objects.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Iterator, Mapping
from typing import IO, Any, Optional, Union

import numpy as np
import numpy.typing as npt

from . import _neurovox

__all__ = ['memmap', 'load_npy', 'save_npy', 'load_npz', 'savez', 'savez_compressed',
           'NpzFile']

StrPath = Union[str, bytes, 'os.PathLike[str]', 'os.PathLike[bytes]']

_VALID_MODES = ['r', 'c', 'r+', 'w+']
_MODE_EQUIVALENTS = {'readonly': 'r', 'copyonwrite': 'c', 'readwrite': 'r+', 'write': 'w+'}


def _canonical_mode(mode: str) -> str:
    """numpy.memmap's mode check: its four modes and their long names."""
    try:
        return _MODE_EQUIVALENTS[mode]
    except (KeyError, TypeError):
        if mode not in _VALID_MODES:
            all_modes = _VALID_MODES + list(_MODE_EQUIVALENTS)
            raise ValueError(f"mode must be one of {all_modes!r} (got {mode!r})") from None
        return mode


def _memmap_filename(filename: Any, fid: Any = None) -> Any:
    """numpy.memmap's ``filename`` attribute: a resolved ``Path`` for path-like input, the
    absolute path for a name string (or a file object with one), else ``None``."""
    if isinstance(filename, os.PathLike):
        import pathlib
        return pathlib.Path(filename).resolve()
    name = getattr(fid, 'name', filename) if fid is not None else filename
    if isinstance(name, str):
        return os.path.abspath(name)
    return None


def _finish(array: np.memmap, filename: Any, mode: str, fid: Any = None) -> np.memmap:
    """Sets the attributes numpy.memmap.__new__ sets on a map built natively."""
    owner = array.base
    array._mmap = owner
    array.offset = owner.offset
    array.mode = mode
    array.filename = _memmap_filename(filename, fid)
    return array


def _native_path(path: Any) -> str:
    return os.fsdecode(os.fspath(path))


def memmap(filename: Union[StrPath, IO[bytes]], dtype: npt.DTypeLike = np.uint8,
           mode: str = 'r+', offset: int = 0,
           shape: Optional[Union[int, tuple[int, ...], list[int]]] = None,
           order: str = 'C') -> np.memmap:
    """``numpy.memmap(filename, dtype, mode, offset, shape, order)``, mapped by neurovox.

    Returns a genuine ``numpy.memmap`` whose ``base`` is the native owner of the map (its
    ``flush()`` is what ``memmap.flush()`` calls). Modes: ``'r'`` read-only, ``'r+'`` read and
    write an existing file, ``'w+'`` create or overwrite, ``'c'`` copy-on-write (writes stay in
    memory; the file never changes); numpy's long names ``readonly``, ``readwrite``, ``write``,
    ``copyonwrite`` too. ``shape=None`` maps the rest of the file after ``offset`` as 1-D. In
    ``r+`` and ``w+`` a file shorter than ``offset + size`` is grown (to at least one byte, as
    numpy does); in ``r`` and ``c`` it is a ``ValueError`` ("mmap length is greater than file
    size") naming the file. Any numpy dtype of fixed-size, pointer-free items works: the map
    is bytes, numpy interprets them.

    ``filename`` may be a path (str, bytes, ``os.PathLike``) or an open file object with a
    ``fileno()`` (mapped from its start, as numpy does, whatever its position; not truncated in
    ``w+``; left positioned at its end).
    """
    mode = _canonical_mode(mode)
    if mode == 'w+' and shape is None:
        raise ValueError("shape must be given if mode == 'w+'")
    descr = np.dtype(dtype)
    if descr.hasobject:
        raise TypeError(f"cannot memory-map an array of dtype {descr}: it holds Python objects")
    if isinstance(order, str) and order.upper() in ('C', 'F', 'A', 'K'):
        fortran = order.upper() == 'F'
    else:
        raise ValueError(f"order must be one of 'C', 'F', 'A', or 'K' (got {order!r})")
    offset = operator.index(offset)
    if offset < 0:
        raise OverflowError('memory mapped offset must be positive')
    if shape is not None:
        if not isinstance(shape, (tuple, list)):
            try:
                shape = [operator.index(shape)]
            except TypeError:
                pass
        shape = tuple(operator.index(k) for k in shape)
        if any(k < 0 for k in shape):
            raise ValueError('negative dimensions are not allowed')
    shape_list = None if shape is None else list(shape)
    if hasattr(filename, 'read'):
        fid = filename
        fid.seek(0, 2)  # as numpy does; also flushes a buffered writer
        name = getattr(fid, 'name', None)
        label = name if isinstance(name, str) else '<file object>'
        array = _neurovox.memmap_native(label, descr, mode, offset, shape_list, fortran,
                                        np.memmap, fid.fileno())
        fid.seek(0, 2)
        return _finish(array, filename, mode, fid)
    array = _neurovox.memmap_native(_native_path(filename), descr, mode, offset, shape_list,
                                    fortran, np.memmap)
    return _finish(array, filename, mode)


def load_npy(file: Union[StrPath, IO[bytes]], mmap_mode: Optional[str] = None
             ) -> Union[np.ndarray, np.memmap]:
    """``numpy.load(file, mmap_mode)`` for a ``.npy`` file.

    With ``mmap_mode`` ``'r'``, ``'r+'`` or ``'c'`` (or numpy's long names) the result is a
    ``numpy.memmap`` viewing the data after the header, exactly as
    ``numpy.lib.format.open_memmap`` gives it (same ``offset``, ``mode``, ``filename``); with
    ``None`` it is a plain array, filled by Rust with the GIL released, in the file's byte order
    and memory order. ``'w+'`` is a ``ValueError`` and the file is left as it was (numpy
    truncates it, then fails). ``file`` may be an open binary file object when ``mmap_mode``
    is ``None`` (read from its position, as numpy does); mapping one is a ``ValueError``, as in
    numpy.
    """
    if hasattr(file, 'read'):
        if mmap_mode:
            raise ValueError("Filename must be a string or a path-like object."
                             "  Memmap cannot use existing file handles.")
        name = getattr(file, 'name', None)
        return _neurovox.load_npy_fileobj(file, name if isinstance(name, str) else
                                          '<file object>')
    mode = _canonical_mode(mmap_mode) if mmap_mode else None
    if mode == 'w+':
        raise ValueError(f"{os.fsdecode(os.fspath(file))}: mmap_mode 'w+' would overwrite the "
                         "file; use 'r', 'r+' or 'c' (numpy truncates the file, then fails)")
    array = _neurovox.load_npy_native(_native_path(file), mode, np.memmap)
    if mode is None:
        return array
    return _finish(array, file, mode)


def _writable_array(arr: Any) -> np.ndarray:
    """``arr`` as numpy.save sees it: ``asanyarray``, made C-contiguous only if it is neither
    C- nor Fortran-contiguous."""
    arr = np.asanyarray(arr)
    if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
        arr = np.ascontiguousarray(arr)
    return arr


def save_npy(file: Union[StrPath, IO[bytes]], arr: npt.ArrayLike) -> None:
    """``numpy.save(file, arr)``: byte for byte the ``.npy`` file numpy writes, written
    atomically (temporary file, then rename). ``.npy`` is appended to a path that lacks it, as
    numpy does. ``file`` may be an open binary file object (written at its position, not
    atomically). Dtypes other than bool, (u)int8-64, float32/64 and complex64/128 are a
    ``TypeError`` naming the file and the dtype (numpy writes them, or pickles objects).
    """
    array = _writable_array(arr)
    if hasattr(file, 'write'):
        name = getattr(file, 'name', None)
        _neurovox.save_npy_fileobj(file, array, name if isinstance(name, str) else
                                   '<file object>')
        return
    path = os.fspath(file)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path.endswith('.npy'):
        path = path + '.npy'
    _neurovox.save_npy_native(path, array)


def _savez(file: StrPath, args: tuple[Any, ...], kwds: dict[str, Any],
           compressed: bool) -> None:
    if hasattr(file, 'write'):
        raise TypeError('neurovox.savez writes to paths only (it saves atomically, by '
                        'renaming a temporary file); pass a file name, not a file object')
    path = os.fsdecode(os.fspath(file))
    if not path.endswith('.npz'):
        path = path + '.npz'
    namedict = dict(kwds)
    for i, val in enumerate(args):
        key = f'arr_{i}'
        if key in namedict:
            raise ValueError(f"Cannot use un-named variables and keyword {key}")
        namedict[key] = val
    names = list(namedict)
    arrays = [_writable_array(namedict[k]) for k in names]
    _neurovox.savez_native(path, names, arrays, compressed)


def savez(file: StrPath, *args: npt.ArrayLike, allow_pickle: bool = True,
          **kwds: npt.ArrayLike) -> None:
    """``numpy.savez``: arrays as stored (uncompressed) members of a ``.npz`` archive, named
    by keyword or ``arr_0``, ``arr_1``, … (keywords first, as numpy orders them). Written
    atomically; ``.npz`` is appended to a path that lacks it. Stored members can be mapped in
    place by ``load_npz(path, mmap_mode='r')``. ``allow_pickle`` is accepted for numpy's
    signature; object arrays are not written (``TypeError``)."""
    _savez(file, args, kwds, compressed=False)


def savez_compressed(file: StrPath, *args: npt.ArrayLike, allow_pickle: bool = True,
                     **kwds: npt.ArrayLike) -> None:
    """``numpy.savez_compressed``: as ``savez``, with deflated members."""
    _savez(file, args, kwds, compressed=True)


class _BagObj:
    """numpy's ``NpzFile.f``: members as attributes (``npz.f.a``)."""

    def __init__(self, npz: NpzFile) -> None:
        self._npz = npz

    def __getattribute__(self, key: str) -> Any:
        try:
            return object.__getattribute__(self, '_npz')[key]
        except KeyError:
            raise AttributeError(key) from None

    def __dir__(self) -> list[str]:
        return list(object.__getattribute__(self, '_npz').keys())


class NpzFile(Mapping):
    """An open ``.npz`` archive with numpy's ``NpzFile`` interface: ``files``, ``keys()``,
    ``npz[name]`` (with or without ``.npy``), ``in``, iteration, ``len``, ``.f.name``,
    ``close()`` and ``with``.

    Members are read when asked for. With ``mmap_mode`` ``'r'`` or ``'c'`` a member stored
    uncompressed is a ``numpy.memmap`` viewing the archive in place (its ``filename`` is the
    archive and its ``offset`` where the member's data starts in it); deflated members, and
    every member when ``mmap_mode`` is ``None``, are read into memory. Maps stay valid after
    ``close()``. Members that are not ``.npy`` arrays are returned as ``bytes``, as numpy does.
    """

    _MAX_REPR_ARRAY_COUNT = 5

    def __init__(self, file: StrPath, mmap_mode: Optional[str] = None) -> None:
        if hasattr(file, 'read'):
            raise TypeError('neurovox.load_npz reads paths only (it maps members inside the '
                            'file); pass the file name, not a file object')
        mode = _canonical_mode(mmap_mode) if mmap_mode else None
        if mode in ('r+', 'w+'):
            raise ValueError(f"npz members can be mapped with 'r' or 'c' only, not {mmap_mode!r}:"
                             " writing would break the archive's checksums")
        self._file = file
        self._native: Optional[_neurovox.NativeNpz] = _neurovox.NativeNpz(_native_path(file))
        self.fid = os.fsdecode(os.fspath(file))
        self.mmap_mode = mode
        self.files: list[str] = self._native.names()
        self.f = _BagObj(self)

    def _name(self, key: Any) -> Optional[str]:
        if key in self.files:
            return key
        if isinstance(key, str) and key.endswith('.npy') and key[:-4] in self.files:
            return key[:-4]
        return None

    def __getitem__(self, key: str) -> Any:
        name = self._name(key)
        if name is None:
            raise KeyError(f"{key} is not a file in the archive")
        if self._native is None:
            raise ValueError(f"the archive {self.fid!r} is closed")
        if not self._native.is_npy(name):
            return self._native.read_bytes(name)
        array = self._native.get(name, self.mmap_mode, np.memmap)
        if isinstance(array, np.memmap):
            return _finish(array, self._file, self.mmap_mode)
        return array

    def __contains__(self, key: object) -> bool:
        return self._name(key) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def close(self) -> None:
        """Forgets the archive; arrays already returned (maps too) stay valid."""
        self._native = None
        self.f = None  # type: ignore[assignment]

    def __enter__(self) -> NpzFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        names = ', '.join(self.files[:self._MAX_REPR_ARRAY_COUNT])
        if len(self.files) > self._MAX_REPR_ARRAY_COUNT:
            names += '...'
        return f"NpzFile {self.fid!r} with keys: {names}"


def load_npz(file: StrPath, mmap_mode: Optional[str] = None) -> NpzFile:
    """``numpy.load(file)`` for a ``.npz`` archive: an ``NpzFile``. Unlike numpy, a
    ``mmap_mode`` of ``'r'`` or ``'c'`` is honoured: stored members are memory-mapped inside
    the zip file (see ``NpzFile``). ``'r+'`` and ``'w+'`` are a ``ValueError``."""
    return NpzFile(file, mmap_mode)
