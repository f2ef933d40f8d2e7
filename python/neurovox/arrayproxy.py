"""Array proxies: arrays that stay on disk until indexed (nibabel's ``arrayproxy``).

Reads go through the Rust core: only the bytes a key needs are read, into an array numpy
allocates and Rust fills with the GIL released, so any number of threads may read one
proxy. A full read of an unscaled, uncompressed file is a zero-copy view of a memory map
(``mmap=True``/``'c'``: writeable, writes stay private; ``'r'``: read-only), whose ``base``
keeps the map alive.
"""

from __future__ import annotations

import io
import os

import numpy as np

from . import _neurovox
from ._url import is_url
from .headers import _par_native

#: Whether proxies made with ``keep_file_open=None`` keep one file handle (nibabel's default).
KEEP_FILE_OPEN_DEFAULT = False

_MMAP_VALUES = (True, False, 'c', 'r')


def _mmap_mode(mmap):
    """nibabel's ``mmap`` argument as the core's mode name, or its ValueError."""
    if mmap not in _MMAP_VALUES:
        raise ValueError("mmap should be one of {True, False, 'c', 'r'}")
    if mmap is True:
        return 'c'
    if mmap is False:
        return 'no'
    return mmap


def _has_fh(file_like):
    """True for file objects (nibabel's test: ``read`` and ``seek`` methods)."""
    return hasattr(file_like, 'read') and hasattr(file_like, 'seek')


def _path_of(file_like):
    """The file name to read for ``file_like``, or None to read through the file object.

    File names and path-likes are read by name. So are plain open files of the operating
    system (``open(name, 'rb')``) whose name still names a file: reading the same bytes by
    name lets them be memory-mapped. Every other file object — ``BytesIO``, ``GzipFile``,
    sockets, objects without a name — is read through its own ``seek`` and ``read``.
    """
    if isinstance(file_like, (str, os.PathLike)):
        return os.path.expanduser(os.fspath(file_like))
    if not _has_fh(file_like):
        raise TypeError(f'file_like must be a file name or a file object, not {file_like!r}')
    if isinstance(file_like, (io.FileIO, io.BufferedReader, io.BufferedRandom)):
        name = getattr(file_like, 'name', None)
        if isinstance(name, str) and os.path.isfile(name):
            return name
    return None


def _is_full_key(key, ndim):
    """True for the keys nibabel (and numpy) treat as the whole array: (), ..., :, or a tuple
    of full slices and at most one Ellipsis, with no new axes."""
    items = key if isinstance(key, tuple) else (key,)
    n_real = 0
    if sum(1 for item in items if item is Ellipsis) > 1:
        return False
    for item in items:
        if item is Ellipsis:
            continue
        if isinstance(item, slice) and item == slice(None):
            n_real += 1
            continue
        return False
    return n_real <= ndim


class ArrayProxy:
    """An array on disk (nibabel's ``ArrayProxy(file_like, spec, *, mmap, order,
    keep_file_open)``).

    ``file_like`` is a file name (or path-like) or a file object with ``read`` and ``seek``
    (``BytesIO``, ``GzipFile``…): a file object is read each time the proxy is indexed, as it
    is then, and its position is put back afterwards. ``spec`` is a header (anything with
    ``get_data_shape``, ``get_data_dtype``, ``get_data_offset`` and ``get_slope_inter``) or a
    tuple ``(shape, dtype[, offset[, slope[, inter]]])``. Only the values are copied: later
    edits of the header change nothing. ``order`` (``'F'`` or ``'C'``) defaults to the class's
    ``_default_order``.

    Parameters
    ----------
    file_like : str, os.PathLike or file object
        Where the array is stored.
    spec : header or tuple
        The array's shape, stored dtype, byte offset and scaling, as above.
    mmap : {True, False, 'c', 'r'}, optional
        Whether a full read of an unscaled, uncompressed file may be a memory map: ``True``
        or ``'c'`` (copy-on-write: writes to the array stay in memory), ``'r'`` (read-only)
        or ``False`` (always read into memory).
    order : {None, 'F', 'C'}, optional
        The order of the values in the file; ``'F'`` (Fortran, the image formats' order) by
        default.
    keep_file_open : {None, True, False}, optional
        ``True`` keeps one file handle open for the proxy's life; ``False`` opens the file
        for each read; ``None`` takes ``KEEP_FILE_OPEN_DEFAULT`` (False).

    Attributes
    ----------
    file_like : str, os.PathLike or file object
        What the proxy was made with.
    order : {'F', 'C'}
        The order of the values in the file.

    Raises
    ------
    ValueError
        If ``mmap``, ``order`` or ``keep_file_open`` is not one of the values above.
    TypeError
        If ``spec`` is neither a header nor a tuple of 2 to 5 items.

    Examples
    --------
    >>> import numpy as np
    >>> from neurovox import ArrayProxy
    >>> _ = open('values.bin', 'wb').write(np.arange(24, dtype='<i2').tobytes(order='F'))
    >>> proxy = ArrayProxy('values.bin', ((2, 3, 4), '<i2', 0, 0.5, 10.0))
    >>> proxy.shape, proxy.dtype
    ((2, 3, 4), dtype('int16'))
    >>> proxy[1, 2, :]
    array([12.5, 15.5, 18.5, 21.5])
    """

    _default_order = 'F'

    def __init__(self, file_like, spec, *, mmap=True, order=None, keep_file_open=None):
        mode = _mmap_mode(mmap)
        if order not in (None, 'C', 'F'):
            raise ValueError("order should be one of {None, 'C', 'F'}")
        factor_f32 = False
        if hasattr(spec, 'get_data_shape'):
            slope, inter = spec.get_slope_inter()
            par = (spec.get_data_shape(), spec.get_data_dtype(), spec.get_data_offset(),
                   1.0 if slope is None else slope, 0.0 if inter is None else inter)
            factor_f32 = getattr(spec, '_factor_f32', False)
        elif 2 <= len(spec) <= 5:
            par = spec + (0, 1.0, 0.0)[len(spec) - 2:]
        else:
            raise TypeError('spec must be tuple of length 2-5 or header object')
        shape, dtype, offset, slope, inter = par
        dtype = np.dtype(dtype)
        if order is None:
            order = self._default_order
        if keep_file_open is None:
            keep_file_open = KEEP_FILE_OPEN_DEFAULT
            if keep_file_open not in (True, False):
                raise ValueError('neurovox.arrayproxy.KEEP_FILE_OPEN_DEFAULT must be boolean. '
                                 f'Found: {keep_file_open}')
        elif keep_file_open not in (True, False):
            raise ValueError('keep_file_open must be one of {None, True, False}')
        path = _path_of(file_like)
        self.file_like = file_like
        self.order = order
        self._shape = shape
        self._slope = slope
        self._inter = inter
        self._mmap = mmap
        spec = _neurovox.ArraySpec([int(n) for n in shape], dtype, int(offset), float(slope),
                                   float(inter), factor_f32, order)
        if path is None:
            self._native = _neurovox.NativeProxy.from_fileobj(file_like, spec)
        else:
            self._native = _neurovox.NativeProxy.open(path, spec, mode, keep_file_open)
        self._set_dtype(dtype)

    def _set_dtype(self, dtype):
        # The dtype as the spec gave it: a header's has its byte order explicit
        # (dtype('<i2')), np.dtype('<i2') from a tuple is dtype('int16'). Equal dtypes with
        # different reprs; nibabel's arrays carry the spec's, so ours are relabelled to it.
        self._dtype = dtype
        self._relabel = repr(dtype) != repr(self._native.dtype)

    @classmethod
    def _from_native(cls, native, file_like, mmap=True, slope=None, inter=None, dtype=None):
        self = cls.__new__(cls)
        self.file_like = file_like
        self.order = native.order
        self._native = native
        self._shape = tuple(native.shape)
        self._slope = native.slope if slope is None else slope
        self._inter = native.inter if inter is None else inter
        self._mmap = mmap
        self._set_dtype(native.dtype if dtype is None else dtype)
        return self

    def _open_for_header(self, file_like, native_header, dtype, mmap, keep_file_open):
        """Sets the proxy up over ``file_like`` for the data a core header describes, as a
        load builds it (per-index factors, slices in sorted order): for the proxies of the
        read-only formats, whose layout no spec alone holds."""
        mode = _mmap_mode(mmap)
        if keep_file_open is None:
            keep_file_open = KEEP_FILE_OPEN_DEFAULT
        path = _path_of(file_like)
        if path is None:
            native = _neurovox.NativeProxy.from_fileobj_header(file_like, native_header, 0)
        else:
            native = _neurovox.NativeProxy.open_for_header(path, native_header, mode,
                                                           keep_file_open)
        self.file_like = file_like
        self.order = native.order
        self._native = native
        self._shape = tuple(native.shape)
        self._slope = 1.0
        self._inter = 0.0
        self._mmap = mmap
        self._set_dtype(dtype)

    # -- the proxy API -------------------------------------------------------------------

    @property
    def shape(self):
        """The array's shape (a tuple of ints), read from the spec, not from the file."""
        return self._shape

    @property
    def ndim(self):
        """The number of axes, ``len(shape)``."""
        return len(self._shape)

    @property
    def dtype(self):
        """The *stored* data type (the spec's).

        Scaled reads return another type (float64 for NIfTI scaling); ``get_obj_dtype``
        gives the type reads return."""
        return self._dtype

    @property
    def offset(self):
        """The byte offset of the first value in the (uncompressed) file."""
        return self._native.offset

    @property
    def slope(self):
        """The scale factor applied to stored values (1.0 for none)."""
        return self._slope

    @property
    def inter(self):
        """The intercept added after scaling (0.0 for none)."""
        return self._inter

    @property
    def is_proxy(self):
        """Always True: marks the object as an array proxy (see ``is_proxy``)."""
        return True

    @property
    def _scaled(self):
        return not self._native.unscaled

    def _memmap(self):
        """The whole stored array as a memory-map view (an ``np.memmap``), or None."""
        view = self._native.memmap()
        if view is None:
            return None
        mm = view.view(np.memmap)
        mm.filename = self._native.path
        mm.offset = self._native.offset
        mm.mode = self._native.mmap
        return mm

    def _as_spec_dtype(self, arr):
        """Stored values labelled with the spec's dtype (see ``_set_dtype``)."""
        if self._relabel and arr.dtype == self._dtype:
            return arr.view(self._dtype)
        return arr

    def get_unscaled(self):
        """The stored values, unscaled (memory-mapped when possible)."""
        mm = self._memmap()
        if mm is not None:
            return self._as_spec_dtype(mm)
        return self._as_spec_dtype(self._native.read((), unscaled=True))

    def _get_scaled(self, dtype, key):
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype in (np.dtype(np.float64), np.dtype(np.float32)):
                if not self._scaled and dtype == self._native.dtype.newbyteorder('='):
                    pass  # same type: the plain read below keeps memory mapping
                else:
                    return self._native.read_float(key, dtype == np.dtype(np.float64))
        if not self._scaled and _is_full_key(key, self.ndim):
            arr = self._memmap()
            if arr is None:
                arr = self._native.read(key)
        else:
            arr = self._native.read(key)
        if not self._scaled:
            arr = self._as_spec_dtype(arr)
        if dtype is not None:
            arr = arr.astype(np.promote_types(arr.dtype, dtype), copy=False)
        return arr

    def __array__(self, dtype=None, copy=None):
        arr = self._get_scaled(dtype, ())
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        if copy:
            arr = arr.copy()
        elif copy is False and not isinstance(arr, np.memmap):
            raise ValueError('Unable to avoid copy while creating an array as requested.')
        return arr

    def __getitem__(self, key):
        arr = self._get_scaled(None, key)
        if arr.ndim == 0 and not self._scaled:
            return arr[()]
        return arr

    def reshape(self, shape):
        """A proxy over the same data with a new shape (one ``-1`` allowed)."""
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        shape = tuple(int(n) for n in shape)
        if shape.count(-1) > 1:
            raise ValueError('can only specify one unknown dimension')
        size = int(np.prod(self._shape))
        known = -int(np.prod(shape))
        if -1 in shape and known > 0:  # nibabel's rule (its message shows the shape computed)
            shape = tuple(size // known if n == -1 else n for n in shape)
        if int(np.prod(shape)) != size:
            raise ValueError(f'cannot reshape array of size {size:d} into shape {shape!s}')
        native = self._native.reshape(list(shape))
        return type(self)._from_native(native, self.file_like, self._mmap, self._slope,
                                       self._inter, self._dtype)

    def copy(self):
        """A new proxy of the same file and spec (no data is read or copied)."""
        return type(self)._from_native(self._native, self.file_like, self._mmap, self._slope,
                                       self._inter, self._dtype)

    def __reduce__(self):
        n = self._native
        if n.path is None:  # a file object: pickled with the proxy, as nibabel does
            spec = (tuple(n.shape), n.dtype, n.offset, self._slope, self._inter)
            return (_rebuild_fileobj_proxy, (type(self), self.file_like, spec, n.factor_f32,
                                             n.slope, n.inter, n.order, self._mmap,
                                             n.index_slopes))
        # Absolute, so the pickle opens the same file from any working directory.
        return (_rebuild_proxy, (type(self), _absolute(n.path), tuple(n.shape), n.dtype,
                                 n.offset, n.slope, n.inter, n.factor_f32, n.mmap,
                                 n.keep_file_open, n.order, self._slope, self._inter,
                                 n.fingerprint, n.index_slopes))

    def __repr__(self):
        where = self._native.path
        if where is None:
            where = self.file_like
        return (f'<neurovox.arrayproxy.ArrayProxy shape={self.shape} dtype={self.dtype} '
                f'file={where!r}>')


def _absolute(path):
    """The name a pickle carries: a URL as it is, a path made absolute (so the pickle opens
    the same file from any working directory)."""
    path = os.fspath(path)
    if is_url(path):
        return path
    return os.path.abspath(path)


def _rebuild_fileobj_proxy(cls, file_like, spec, factor_f32, slope, inter, order, mmap,
                           index_slopes=None):
    shape, dtype, offset, py_slope, py_inter = spec
    native_spec = _neurovox.ArraySpec(list(shape), dtype, offset, slope, inter, factor_f32, order,
                                      index_slopes)
    native = _neurovox.NativeProxy.from_fileobj(file_like, native_spec)
    self = cls._from_native(native, file_like, mmap, py_slope, py_inter)
    return self


def _rebuild_proxy(cls, path, shape, dtype, offset, slope, inter, factor_f32, mmap,
                   keep_file_open, order, py_slope, py_inter, fingerprint=None,
                   index_slopes=None):
    # With the fingerprint of the file the proxy was made for, a changed file is a
    # StaleFileError here, not other data later. Every pickle neurovox writes has one: a
    # pickle without is not ours (or was altered), and would skip that check.
    if fingerprint is None:
        raise ValueError(f'a pickled proxy of {path!r} without the fingerprint of its file is '
                         'refused: it was not made by neurovox, or was altered')
    spec = _neurovox.ArraySpec(list(shape), dtype, offset, slope, inter, factor_f32, order,
                               index_slopes)
    native = _neurovox.NativeProxy.open(path, spec, mmap, keep_file_open, fingerprint)
    return cls._from_native(native, path, {'c': True, 'no': False}.get(mmap, mmap), py_slope,
                            py_inter)


class AFNIArrayProxy(ArrayProxy):
    """The proxy of an AFNI dataset's ``.BRIK`` (nibabel's ``AFNIArrayProxy``): each sub-brick
    is scaled by its own factor (``BRICK_FLOAT_FACS``), so scaled values are float64.

    Parameters
    ----------
    file_like : str, os.PathLike or file object
        The ``.BRIK`` (or ``.BRIK.gz``) file.
    header : AFNIHeader
        The dataset's header.
    mmap : {True, False, 'c', 'r'}, optional, keyword only
        Memory mapping of the stored values, as for :class:`ArrayProxy`.
    keep_file_open : {None, True, False}, optional, keyword only
        Whether one file handle is kept open, as for :class:`ArrayProxy`.

    Attributes
    ----------
    scaling : numpy.ndarray or None
        One factor per sub-brick (a 0 in the file reads as 1), or None if the dataset is
        not scaled.
    """

    def __init__(self, file_like, header, *, mmap=True, keep_file_open=None):
        self._open_for_header(file_like, header._native, header.get_data_dtype(), mmap,
                              keep_file_open)

    @property
    def scaling(self):
        """One factor per sub-brick as a float64 array, or None without scaling."""
        slopes = self._native.index_slopes
        return None if slopes is None else np.array(slopes, dtype=np.float64)


class EcatArrayProxy(ArrayProxy):
    """The proxy of an ECAT7 image's frames (nibabel's ``EcatImageArrayProxy``): one 4-D
    float64 array of frames that lie apart in the file, each scaled by the calibration factor
    and its own factor, oriented as ``patient_orientation`` says. Pickles carry the file's
    path and fingerprint; the frames are found again from its headers.
    """

    def __reduce__(self):
        n = self._native
        if n.path is None:
            raise TypeError('an ECAT7 proxy over a file object cannot be pickled')
        return (_rebuild_image_data_proxy, (type(self), _absolute(n.path), 'EcatImage',
                                            n.mmap, n.keep_file_open, n.fingerprint))


class MincImageArrayProxy(ArrayProxy):
    """The proxy of a MINC image (nibabel's ``minc1.MincImageArrayProxy``): the array in the
    file's dimension order; integers clipped to the valid range and scaled by the
    ``image-min`` / ``image-max`` of their slice, so values are float64; float images as
    stored. Only what a key touches is read: the bytes of a MINC1 image, the chunks of a
    MINC2 one. Made by loading an image (nibabel makes it from its internal ``Minc1File``).
    """

    def _get_scaled(self, dtype, key):
        arr = super()._get_scaled(dtype, key)
        if dtype is None and not self._scaled:
            # nibabel gives float images in the file's byte order, as 0-d arrays for single
            # voxels; h5py's single voxel of a MINC2 image comes in native order.
            arr = np.asarray(arr)
            minc2 = getattr(self, '_minc_format', None) == 'Minc2Image'
            order = '=' if minc2 and arr.ndim == 0 else '|'
            arr = arr.astype(self._dtype.newbyteorder(order), copy=False)
        return arr

    def __getitem__(self, key):
        return self._get_scaled(None, key)

    def __reduce__(self):
        n = self._native
        if n.path is None:
            raise TypeError('a MINC proxy over a file object cannot be pickled')
        return (_rebuild_image_data_proxy, (type(self), _absolute(n.path),
                                            getattr(self, '_minc_format', 'Minc1Image'),
                                            n.mmap, n.keep_file_open, n.fingerprint))


class PARRECArrayProxy(ArrayProxy):
    """The proxy of a PAR/REC recording's ``.REC`` (nibabel's ``PARRECArrayProxy``): the
    slices in the header's sorted order (complete volumes only), each scaled by its own slope
    and intercept, so values are float64. ``get_unscaled()`` gives the stored uint8/uint16
    values in the same order. Only the slices a key touches are read.

    Parameters
    ----------
    file_like : str, os.PathLike or file object
        The ``.REC`` file.
    header : PARRECHeader
        The recording's header.
    mmap : {True, False, 'c', 'r'}, optional, keyword only
        Accepted for nibabel's signature; slices are read, never mapped, as they are sorted
        and scaled.
    scaling : {'dv', 'fp'}, optional, keyword only
        The scaling values take (see ``PARRECHeader.get_data_scaling``).
    keep_file_open : {None, True, False}, optional, keyword only
        Whether one file handle is kept open, as for :class:`ArrayProxy`.
    """

    def __init__(self, file_like, header, *, mmap=True, scaling='dv', keep_file_open=None):
        if scaling not in ('dv', 'fp'):
            raise ValueError(f"Unknown scaling method '{scaling}'.")
        native_header = _par_native(header.general_info, header.image_defs,
                                    header.permit_truncated, header.strict_sort, scaling)
        self._open_for_header(file_like, native_header, header.get_data_dtype(), mmap,
                              keep_file_open)
        self._parrec = (scaling, bool(header.permit_truncated), bool(header.strict_sort))

    @classmethod
    def _from_native(cls, native, file_like, mmap=True, slope=None, inter=None, dtype=None,
                     parrec=('dv', False, False)):
        self = super()._from_native(native, file_like, mmap, slope, inter, dtype)
        self._parrec = tuple(parrec)
        return self

    def __reduce__(self):
        n = self._native
        if n.path is None:
            raise TypeError('a PAR/REC proxy over a file object cannot be pickled')
        return (_rebuild_image_data_proxy, (type(self), _absolute(n.path), 'PARRECImage',
                                            n.mmap, n.keep_file_open, n.fingerprint,
                                            self._parrec))


def _rebuild_image_data_proxy(cls, path, format, mmap, keep_file_open, fingerprint,
                              parrec=None):
    if fingerprint is None:
        raise ValueError(f'a pickled proxy of {path!r} without the fingerprint of its file is '
                         'refused: it was not made by neurovox, or was altered')
    native = _neurovox.NativeProxy.open_image_data(path, format, mmap, keep_file_open,
                                                   fingerprint, parrec)
    mmap = {'c': True, 'no': False}.get(mmap, mmap)
    if parrec is not None:
        return cls._from_native(native, path, mmap, parrec=parrec)
    proxy = cls._from_native(native, path, mmap)
    if isinstance(proxy, MincImageArrayProxy):
        proxy._minc_format = format
    return proxy


def is_proxy(obj):
    """True if ``obj`` is an array proxy (its ``is_proxy`` attribute is true)."""
    try:
        return obj.is_proxy
    except AttributeError:
        return False


def reshape_dataobj(obj, shape):
    """``obj.reshape(shape)`` if it has that method, else ``np.reshape(obj, shape)``."""
    return obj.reshape(shape) if hasattr(obj, 'reshape') else np.reshape(obj, shape)


def get_obj_dtype(obj):
    """The dtype ``np.asanyarray(obj)`` would have (a proxy reads one voxel)."""
    if is_proxy(obj):
        return np.asanyarray(obj[(0,) * len(obj.shape)]).dtype
    if hasattr(obj, 'dtype'):
        return obj.dtype
    return np.asarray(obj).dtype
