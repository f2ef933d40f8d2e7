"""Image classes with nibabel's names and behaviour (``Nifti1Image`` and friends).

An image is a data object (a numpy array, or an :class:`~neurovox.arrayproxy.ArrayProxy`
on disk), a header, an affine and the files it came from, with nibabel's caching rules
(``get_fdata``, ``in_memory``, ``uncache``) and what nibabel lacks: ``is_dirty``,
``mark_clean``, ``mark_dirty`` and ``as_filename``.

The classes follow nibabel's hierarchy — ``FileBasedImage``, ``SerializableImage``,
``DataobjImage``, ``SpatialImage`` — so images of other formats can be built on the bases as
on nibabel's. A ``file_map`` holds file names or file objects: images named by files are
loaded and saved (atomically) by the Rust core; file objects (``BytesIO``…) get the same
bytes, and their data is read from the object when indexed (``to_stream``, ``from_stream``,
``to_bytes``, ``from_bytes``, ``from_url`` for the single-file formats).
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np

from . import _neurovox
from .arrayproxy import (AFNIArrayProxy, ArrayProxy, EcatArrayProxy, MincImageArrayProxy,
                         PARRECArrayProxy, _mmap_mode, get_obj_dtype, is_proxy)
from .errors import ImageFileError, _afni_errors, _minc_errors, _parrec_errors
from .fileholders import (FileHolder, FileHolderError, TypesFilenamesError, _stringify_path,
                          types_filenames)
from .headers import (HEADER_CLASSES, AFNIHeader, AnalyzeHeader, EcatHeader, FileBasedHeader,
                      MGHHeader, Minc1Header, Minc2Header, Nifti1Header, Nifti1PairHeader, Nifti2Header, Nifti2PairHeader,
                      PARRECHeader, Spm2AnalyzeHeader, Spm99AnalyzeHeader, _par_warn,
                      _struct_dtype)

_COMPRESSED = ('.gz', '.bz2', '.zst')


class FileBasedImage:
    """An image stored in files (nibabel's ``FileBasedImage``): a header, ``extra``
    metadata and a ``file_map`` of :class:`FileHolder` objects, one for each file type.

    Attributes
    ----------
    header_class : type
        The class of the image's header.
    files_types : tuple of (str, str or None)
        The kinds of file the image is stored in and their extensions, e.g.
        ``(('image', '.img'), ('header', '.hdr'))``.
    valid_exts : tuple of str
        The file extensions the class reads and writes (before compression suffixes).
    makeable : bool
        Whether images of the class can be made in memory.
    rw : bool
        Whether the class can write its files.
    extra : dict
        Metadata kept beside the image, not saved.
    file_map : dict
        The image's file holders, by kind of file.
    """

    header_class = FileBasedHeader
    files_types = (('image', None),)
    valid_exts = ()
    _compressed_suffixes = ()
    makeable = True
    rw = True

    def __init__(self, header=None, extra=None, file_map=None):
        self._header = self.header_class.from_header(header)
        self.extra = dict(extra) if extra is not None else {}
        self.file_map = file_map if file_map is not None else self.__class__.make_file_map()

    @property
    def header(self):
        """The image's header (the object itself: changes apply to the image, and are saved)."""
        return self._header

    def __getitem__(self, key):
        raise TypeError('Cannot slice image objects.')

    def get_filename(self):
        """The file name of the image's characteristic file (the ``.img`` of a pair), or
        None."""
        if not self.file_map:
            return None
        holder = self.file_map.get(self.files_types[0][0])
        return None if holder is None else holder.filename

    def set_filename(self, filename):
        """Sets the file map to the files of ``filename`` (a pair's sibling guessed)."""
        self.file_map = self.__class__.filespec_to_file_map(filename)

    @classmethod
    def filespec_to_file_map(klass, filespec):
        """A file map of file names for ``filespec``, or ImageFileError if the name does not
        fit the class."""
        try:
            filenames = types_filenames(filespec, klass.files_types,
                                        trailing_suffixes=klass._compressed_suffixes)
        except TypesFilenamesError:
            raise ImageFileError(
                f'Filespec "{filespec}" does not look right for class {klass}') from None
        return {key: FileHolder(filename=name) for key, name in filenames.items()}

    @classmethod
    def make_file_map(klass, mapping=None):
        """A file map with a holder for each file type, holding the file names or file
        objects of ``mapping``."""
        mapping = mapping or {}
        file_map = {}
        for key, _ in klass.files_types:
            file_map[key] = FileHolder()
            value = mapping.get(key)
            if isinstance(value, str):
                file_map[key].filename = value
            elif hasattr(value, 'tell'):
                file_map[key].fileobj = value
        return file_map

    @classmethod
    def from_filename(klass, filename):
        """Loads an image of this class from the files of ``filename`` (``load`` is the same)."""
        return klass.from_file_map(klass.filespec_to_file_map(filename))

    load = from_filename

    @classmethod
    def from_file_map(klass, file_map):
        """Loads an image from the files or file objects of ``file_map``; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError

    def to_filename(self, filename, **kwargs):
        """Saves the image to the files of ``filename``, which become its file map."""
        self.file_map = self.filespec_to_file_map(filename)
        self.to_file_map(**kwargs)

    def to_file_map(self, file_map=None, **kwargs):
        """Saves the image to the files or file objects of ``file_map``; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError

    @classmethod
    def instance_to_filename(klass, img, filename):
        """Saves ``img`` as this class to ``filename``."""
        img = klass.from_image(img)
        img.to_filename(filename)

    @classmethod
    def from_image(klass, img):
        """An image of this class made from ``img``, another image; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError


class SerializableImage(FileBasedImage):
    """An image of one file that can be written to and read from a stream or bytes
    (nibabel's ``SerializableImage``)."""

    @classmethod
    def _filemap_from_iobase(klass, io_obj):
        if len(klass.files_types) > 1:
            raise NotImplementedError('(de)serialization is undefined for multi-file images')
        return klass.make_file_map({klass.files_types[0][0]: io_obj})

    @classmethod
    def from_stream(klass, io_obj):
        """The image in a readable stream, from its position; a stream that cannot seek is
        read into memory first. Data stays in the stream until it is read."""
        if not io_obj.seekable():
            io_obj = io.BytesIO(io_obj.read())
        return klass.from_file_map(klass._filemap_from_iobase(io_obj))

    def to_stream(self, io_obj, **kwargs):
        """Writes the image to a writable stream: the bytes ``to_filename`` would write."""
        self.to_file_map(self._filemap_from_iobase(io_obj), **kwargs)

    @classmethod
    def from_bytes(klass, bytestring):
        """The image in ``bytestring`` (what :meth:`to_bytes` gives; neurovox also reads
        gzip, bzip2 and zstd compressed bytes)."""
        if hasattr(klass, '_from_compressed_bytes') and _compression_of(bytestring):
            return klass._from_compressed_bytes(bytes(bytestring))
        return klass.from_stream(io.BytesIO(bytestring))

    def to_bytes(self, **kwargs):
        """The bytes of the image as a file of its class would hold them."""
        bio = io.BytesIO()
        self.to_stream(bio, **kwargs)
        return bio.getvalue()

    @classmethod
    def from_url(klass, url, timeout=5):
        """The image at ``url`` (read whole into memory unless the response can seek)."""
        from urllib import request
        response = request.urlopen(url, timeout=timeout)
        return klass.from_stream(response)


def _slope_inter(header):
    """A proxy's ``slope`` and ``inter`` as nibabel gives them for a header: its
    ``get_slope_inter()``, 1 and 0 for None (SPM99's slope stays a 0-d float32 array)."""
    slope, inter = header.get_slope_inter()
    return 1.0 if slope is None else slope, 0.0 if inter is None else inter


def _compression_of(data):
    """True if ``data`` starts with gzip, bzip2 or zstd magic bytes."""
    head = bytes(data[:4])
    return head[:2] == b'\x1f\x8b' or head[:3] == b'BZh' or head == b'\x28\xb5\x2f\xfd'


class _FullRead:
    """How a cache was filled: a full read of the image's proxy of this ``kind`` (see
    ``NativeProxy.matches_full_read``) giving ``dtype``. The cache is unchanged while it still
    equals what that read gives, which is checked only when asked: filling a cache costs no
    pass over it. A file changed on disk is caught by the image's fingerprints either way."""

    __slots__ = ('kind', 'dtype')

    def __init__(self, kind, dtype):
        self.kind = kind
        self.dtype = dtype

    def matches(self, proxy, cache):
        if cache.shape != proxy.shape:
            return False
        in_file_order = cache.flags.f_contiguous if proxy.order == 'F' else \
            cache.flags.c_contiguous
        # The core compares in place a cache laid out as the read gives it (order and, for
        # stored values, the file's byte order); anything else is compared by value.
        if self.kind == 'stored' and cache.dtype != proxy.dtype:
            in_file_order = False
        same = proxy._native.matches_full_read(cache, self.kind) if in_file_order else None
        if same is None:
            same = self._matches_by_slabs(proxy, cache)
        return same

    def _matches_by_slabs(self, proxy, cache):
        """The comparison for caches the core cannot compare in place (another memory
        layout, such as an array image's own C-ordered array, or a type it has no piecewise
        comparison for): slab by slab along the last axis, so memory holds one slab of the
        file at a time."""
        dtype = None if self.kind in ('stored', 'scaled') else self.dtype
        equal_nan = cache.dtype.kind in 'fc'
        if self.kind == 'stored' and proxy._scaled or cache.ndim == 0:
            whole = proxy.get_unscaled() if self.kind == 'stored' else proxy
            return np.array_equal(np.asanyarray(whole, dtype=dtype), cache, equal_nan=equal_nan)
        for k in range(cache.shape[-1]):
            slab = np.asanyarray(proxy[..., k], dtype=dtype)
            if not np.array_equal(slab, cache[..., k], equal_nan=equal_nan):
                return False
        return True


class DataobjImage(FileBasedImage):
    """An image with a data object (nibabel's ``DataobjImage``): a numpy array or an
    array proxy, with the caching rules of ``get_fdata``."""

    def __init__(self, dataobj, header=None, extra=None, file_map=None):
        super().__init__(header=header, extra=extra, file_map=file_map)
        self._dataobj = dataobj
        self._data_cache = None
        self._fdata_cache = None
        self._native = None
        self._clean_digests = None
        # True for an array image saved exactly: its array equals the saved file's data.
        self._array_in_file = False

    # -- data ----------------------------------------------------------------------------

    @property
    def dataobj(self):
        """The data object: the numpy array the image was made with, or the array proxy of the
        file it was loaded from (read only when indexed: ``img.dataobj[..., 0]`` reads one
        volume). Never a cache: ``get_fdata`` does not change it.
        """
        return self._dataobj

    @property
    def shape(self):
        """The shape of the data (read from the header for a loaded image, nothing from the
        data).
        """
        return self._dataobj.shape

    @property
    def ndim(self):
        """The number of axes of the data."""
        return self._dataobj.ndim

    @property
    def in_memory(self):
        """True if the data is in memory: an array image, or a proxy image with a filled cache
        (``get_fdata`` or ``get_data`` with ``caching='fill'``); False until then, and again after
        ``uncache()``.
        """
        return (isinstance(self._dataobj, np.ndarray) or self._fdata_cache is not None
                or self._data_cache is not None)

    def uncache(self):
        """Empties the caches (array images keep their array)."""
        self._fdata_cache = None
        self._data_cache = None

    def get_fdata(self, caching='fill', dtype=np.float64):
        """Floating-point data, cached with ``caching='fill'`` (nibabel's ``get_fdata``)."""
        if caching not in ('fill', 'unchanged'):
            raise ValueError('caching value should be "fill" or "unchanged"')
        dtype = np.dtype(dtype)
        if not issubclass(dtype.type, np.inexact):
            raise ValueError(f'{dtype} should be floating point type')
        if self._fdata_cache is not None and self._fdata_cache.dtype.type == dtype.type:
            return self._fdata_cache
        data = np.asanyarray(self._dataobj, dtype=dtype)
        if caching == 'fill':
            self._fdata_cache = data
            self._note_cache('fdata', data)
        return data

    def get_data(self, caching='fill'):
        """The data as ``np.asanyarray(img.dataobj)`` gives it, with a cache of its own.

        nibabel 5 removed this method; neurovox keeps it as nibabel 2-4 had it (see
        docs/compat.md).
        """
        if caching not in ('fill', 'unchanged'):
            raise ValueError('caching value should be "fill" or "unchanged"')
        if self._data_cache is not None:
            return self._data_cache
        data = np.asanyarray(self._dataobj)
        if caching == 'fill':
            self._data_cache = data
            self._note_cache('data', data)
        return data

    def _reference_proxy(self):
        """The proxy whose full reads the data and caches are compared with when someone
        asks ``is_dirty``: the image's own proxy, or for an array image saved exactly a
        proxy of the file it was saved to; None when there is none (digests serve then)."""
        if isinstance(self._dataobj, ArrayProxy):
            return self._dataobj if self._dataobj._native is not None else None
        native = self._native.proxy() if getattr(self, '_array_in_file', False) and \
            self._native is not None else None
        return None if native is None else ArrayProxy._from_native(native, None)

    def _note_cache(self, which, data):
        """Records how the ``which`` cache ('fdata', 'data', or 'dataobj' for an array
        image's own array) was filled, so that is_dirty can tell later whether it was changed
        in place. When there is a proxy to compare with, nothing is read now: the cache is
        compared with a fresh read of the file when someone asks (_FullRead); otherwise the
        cache is digested now."""
        if self._clean_digests is None:
            return
        proxy = self._reference_proxy()
        kind = None
        if proxy is not None:
            if which in ('data', 'dataobj'):
                kind = 'scaled' if proxy._scaled else 'stored'
            elif data.dtype == np.float64:
                kind = 'f8'
            elif data.dtype == np.float32:
                kind = 'f4'
        if kind is None:
            self._clean_digests[which] = _neurovox.digest(data)
        else:
            self._clean_digests[which] = _FullRead(kind, data.dtype)

    def _cache_matches_digest(self, which):
        """Whether the ``which`` cache ('fdata', 'data', or 'dataobj': an array image's
        array) still holds what it was filled with: True or False when that is known (from
        its digest, or by comparing it with what the proxy reads now), None when there is no
        cache or nothing was recorded."""
        if which == 'dataobj':
            cache = self._dataobj if isinstance(self._dataobj, np.ndarray) else None
        else:
            cache = self._fdata_cache if which == 'fdata' else self._data_cache
        recorded = (self._clean_digests or {}).get(which)
        if cache is None or recorded is None:
            return None
        if isinstance(recorded, _FullRead):
            proxy = self._reference_proxy()
            return proxy is not None and recorded.matches(proxy, cache)
        return _neurovox.digest(cache) == recorded

    # -- pickling ------------------------------------------------------------------------

    def __reduce__(self):
        """Pickles what cannot be read again: a proxy travels as its file name, spec and the
        file's fingerprint (a few hundred bytes), an array with its data; caches travel only
        when they were changed in place (else the receiver reads them again)."""
        state = dict(self.__dict__)
        state['_native'] = None
        state['_clean_digests'] = None
        for which in ('fdata', 'data'):
            if not isinstance(self._dataobj, np.ndarray) and self._cache_matches_digest(which):
                state[f'_{which}_cache'] = None
        return (_unpickle_image, (type(self), None, None, state))

    # -- files ---------------------------------------------------------------------------

    @classmethod
    def from_file_map(klass, file_map, *, mmap=True, keep_file_open=None):
        """Loads an image from the files or file objects of ``file_map``; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError

    @classmethod
    def from_filename(klass, filename, *, mmap=True, keep_file_open=None):
        """Loads an image of this class from the files of ``filename``."""
        if mmap not in (True, False, 'c', 'r'):
            raise ValueError("mmap should be one of {True, False, 'c', 'r'}")
        file_map = klass.filespec_to_file_map(filename)
        return klass.from_file_map(file_map, mmap=mmap, keep_file_open=keep_file_open)

    load = from_filename


class SpatialImage(DataobjImage):
    """An image with an affine (nibabel's ``SpatialImage``), saved and loaded through the
    Rust core, with what nibabel lacks: ``is_dirty``, ``mark_clean``, ``mark_dirty`` and
    ``as_filename``.

    Attributes
    ----------
    ImageArrayProxy : type
        The proxy class of the data of an image loaded from files (``ArrayProxy``; AFNI's
        ``AFNIArrayProxy`` scales each sub-brick by its own factor).
    """

    header_class = Nifti1Header
    ImageArrayProxy = ArrayProxy
    _format = 'Nifti1Image'
    files_types = (('image', '.nii'),)
    valid_exts = ('.nii',)
    _compressed_suffixes = _COMPRESSED
    _consumes_scaling = True

    def __init__(self, dataobj, affine, header=None, extra=None, file_map=None, dtype=None):
        super().__init__(dataobj, header=header, extra=extra, file_map=file_map)
        if affine is not None:
            affine = np.array(affine, dtype=np.float64, copy=True)
            if affine.shape != (4, 4):
                raise ValueError('Affine should be shape 4,4')
        self._affine = affine
        if header is None and hasattr(dataobj, 'dtype'):
            self._header.set_data_dtype(dataobj.dtype)
        self.update_header()
        if self._consumes_scaling:
            self._header.set_data_offset(0)
            self._header.set_slope_inter(None, None)
        if dtype is not None:
            self.set_data_dtype(dtype)

    @property
    def affine(self):
        """The voxel-to-world affine, a 4 x 4 float64 array (or None).

        The image's own copy: changing it in place changes the image (and makes it dirty); the
        header follows at the next save or ``update_header()``.
        """
        return self._affine

    def update_header(self):
        """Makes the header agree with the image: the data's shape, and the affine if it
        differs from the header's (for NIfTI the sform, code ``'aligned'``, and the qform where the
        affine has one). Saves call it.
        """
        hdr = self._header
        shape = tuple(self._dataobj.shape)
        if hdr.get_data_shape() != shape:
            hdr.set_data_shape(shape)
        if self._affine is None:
            return
        # equal_nan: an unchanged affine with NaN entries is not stored again (compat.md).
        if np.allclose(self._affine, hdr.get_best_affine(), equal_nan=True):
            return
        self._affine2header()

    def _affine2header(self):
        self._header._native.store_affine(self._affine.tolist())

    def get_data_dtype(self):
        """The type the data is stored as in the file (the header's), not the type reads
        return.
        """
        return self._header.get_data_dtype()

    def set_data_dtype(self, dtype):
        """Sets the type the data will be stored as when saved (see
        ``SpatialHeader.set_data_dtype`` for what ``dtype`` may be); the data in memory keeps its
        own type.
        """
        self._header.set_data_dtype(dtype)

    @property
    def slicer(self):
        """``img.slicer[key]``: a new in-memory image of part of this one."""
        return SpatialFirstSlicer(self)

    @classmethod
    def from_image(klass, img):
        """An image of this class with the data, affine, header fields and ``extra`` of
        ``img``, another image (of any class). The data object is shared, not copied.

        Examples
        --------
        >>> import numpy as np, neurovox as nib
        >>> mgh = nib.MGHImage(np.zeros((2, 3, 4), np.float32), np.eye(4))
        >>> nii = nib.Nifti1Image.from_image(mgh)
        >>> nii.get_data_dtype()
        dtype('<f4')
        """
        return klass(img.dataobj, img.affine, klass.header_class.from_header(img.header),
                     extra=img.extra.copy())

    # -- files ---------------------------------------------------------------------------

    @classmethod
    def _get_fileholders(klass, file_map):
        """The holders of the header and of the data (the same for single files)."""
        if 'header' in dict(klass.files_types):
            return file_map['header'], file_map['image']
        return file_map['image'], file_map['image']

    @classmethod
    def from_filename(klass, filename, *, mmap=True, keep_file_open=None):
        """Loads an image of this class, reading only its header (compression recognised by
        content, a pair's sibling found as nibabel finds it)."""
        mode = _mmap_mode(mmap)
        filename = os.path.expanduser(os.fspath(filename))
        native = _neurovox.NativeImage.load(filename, klass._format, mode, keep_file_open)
        return klass._from_native(native, mmap)

    load = from_filename

    @classmethod
    def from_file_map(klass, file_map, *, mmap=True, keep_file_open=None):
        """Loads the image in the files or file objects of ``file_map``. Files named are read
        through the core; file objects are read from their holder's position for the header,
        and the data is read from the object when it is indexed."""
        mode = _mmap_mode(mmap)
        hdr_fh, img_fh = klass._get_fileholders(file_map)
        if hdr_fh.fileobj is None and img_fh.fileobj is None:
            name = hdr_fh.filename if hdr_fh.filename is not None else img_fh.filename
            if name is None:
                raise FileHolderError('No filename or fileobj present')
            name = os.path.expanduser(os.fspath(name))
            native = _neurovox.NativeImage.load(name, klass._format, mode, keep_file_open)
            return klass._from_native(native, mmap)
        with hdr_fh.get_prepare_fileobj('rb') as fobj:
            native_header = _neurovox.NativeHeader.from_fileobj(klass._format, fobj)
        header = klass.header_class._wrap(native_header)
        spec = native_header.copy()
        if img_fh.fileobj is not None:
            proxy = klass.ImageArrayProxy._from_native(
                _neurovox.NativeProxy.from_fileobj_header(img_fh.fileobj, spec, img_fh.pos),
                img_fh.fileobj, mmap, *_slope_inter(header))
        else:
            proxy = ArrayProxy(img_fh.filename, klass.header_class._wrap(spec), mmap=mmap,
                               keep_file_open=keep_file_open)
        img = klass(proxy, None, header, file_map=file_map)
        img._affine = klass._affine_from(header, file_map)
        return img

    @classmethod
    def _affine_from(klass, header, file_map):
        """The affine of an image read from a file map: the header's."""
        return np.array(header.get_best_affine(), dtype=np.float64)

    @classmethod
    def _from_native(klass, native, mmap=True):
        header_path, image_path = native.files()
        header = klass.header_class._wrap(native.header())
        # An image loaded from a URL has no files (nothing local to save over or watch).
        image_name = None if image_path is None else os.fspath(image_path)
        native_proxy = native.proxy()
        # A URL image's proxy names its URL (nibabel's proxies name their file).
        proxy_name = image_name if image_name is not None else native_proxy.path
        proxy = klass.ImageArrayProxy._from_native(native_proxy, proxy_name, mmap,
                                                   *_slope_inter(header))
        files = {'image': FileHolder(filename=image_name)}
        if image_name is None:
            files = klass.make_file_map()
        elif 'header' in dict(klass.files_types):
            files['header'] = FileHolder(filename=os.fspath(header_path))
        if 'mat' in dict(klass.files_types) and image_name is not None:
            try:
                files['mat'] = klass.filespec_to_file_map(image_name)['mat']
            except ImageFileError:
                files['mat'] = FileHolder()
        img = klass(proxy, None, header, file_map=files)
        affine = native.affine()
        img._affine = None if affine is None else np.array(affine, dtype=np.float64)
        img._native = native
        img._clean_digests = {}
        return img

    @classmethod
    def _from_compressed_bytes(klass, data):
        """An image from compressed bytes of a single file (held in memory, decompressed)."""
        native = _neurovox.NativeImage.from_bytes(data)
        if native.format != klass._format:
            raise ImageFileError(f'the bytes hold a {native.format}, not a {klass.__name__}')
        header = klass.header_class._wrap(native.header())
        proxy = klass.ImageArrayProxy._from_native(native.proxy(), None, False, *_slope_inter(header))
        img = klass(proxy, None, header)
        img._affine = np.array(native.affine(), dtype=np.float64)
        return img

    def _state(self):
        """The header and affine this image holds, as the core takes them with each save,
        dirty check or ``mark_clean``."""
        affine = None if getattr(self, '_affine', None) is None else self._affine.tolist()
        return self._header._synced(), affine

    def _native_for_save(self):
        """A core image of this image's data object: its own (its header and affine are
        passed with the save), or one built from the data, header and affine."""
        if self._native is not None and is_proxy(self._dataobj) and \
                getattr(self._dataobj, '_native', None) is not None:
            return self._native
        data = self._dataobj._native if isinstance(self._dataobj, ArrayProxy) else \
            np.asanyarray(self._dataobj)
        header, affine = self._state()
        return _neurovox.NativeImage.from_parts(data, affine, header, self._format)

    def to_filename(self, filename, dtype=None, compresslevel=None, hard_links='refuse',
                    **kwargs):
        """Saves the image (atomically) and makes those files its file map.

        Parameters
        ----------
        filename : str or os.PathLike
            Where to save; the extension picks the format and the compression.
        dtype : numpy dtype, optional
            Store the data as this type (the header's otherwise).
        compresslevel : int, optional
            Compression level for a compressed file name: gzip 0-12 (0 stores, 1-9 as
            zlib's, 10-12 smaller and slower, on libdeflate's scale; by default ISA-L's
            fast level 2, no larger than nibabel's files), bzip2 1-9, zstd 1-22. Ignored for
            uncompressed files. An addition to nibabel, whose saves always use gzip level 1.
        hard_links : {'refuse', 'replace', 'in_place'}, optional
            What to do when a file being replaced has other hard links. Saves replace files
            atomically, which gives this name a new file: ``'refuse'`` (default) raises
            instead of leaving the other names with the old data, ``'replace'`` does it
            anyway, ``'in_place'`` writes into the shared file as nibabel does (every name
            sees the new data; not atomic).
        """
        self.file_map = self.filespec_to_file_map(filename)
        self.to_file_map(dtype=dtype, compresslevel=compresslevel, hard_links=hard_links,
                         **kwargs)

    def _named_files(self, file_map):
        """The image file name if the core can save to ``file_map`` by name: every holder
        has a file name and no file object, and they are the names the core gives the
        files of the image file's name (a pair's sibling, the SPM ``.mat``)."""
        holders = [file_map.get(key) for key, _ in self.files_types]
        if any(h is None or h.fileobj is not None or h.filename is None for h in holders):
            return None
        image = os.path.expanduser(os.fspath(file_map['image'].filename))
        try:
            expected = self.filespec_to_file_map(image)
        except ImageFileError:
            return None
        for key, holder in expected.items():
            if _stringify_path(file_map[key].filename) != holder.filename:
                return None
        return image

    def to_file_map(self, file_map=None, dtype=None, compresslevel=None, hard_links='refuse'):
        """Saves the image to the files or file objects of ``file_map`` (default: its own),
        which becomes its file map. Files named are written atomically by the core; file
        objects get the same bytes, written at their holder's position (uncompressed: a file
        object's compression is its own). ``dtype``, ``compresslevel`` and ``hard_links``
        as for :meth:`to_filename`."""
        if file_map is None:
            file_map = self.file_map
        if file_map is None:
            raise FileHolderError('No filename or fileobj present')
        self.update_header()
        dtype = None if dtype is None else np.dtype(dtype)
        target = self._named_files(file_map)
        if target is not None and not is_proxy(self._dataobj):
            # An array is saved where it lies (no copy into the core).
            header, affine = self._state()
            self._native, exact = _neurovox.NativeImage.save_array(
                self._dataobj, affine, header, self._format, target, dtype,
                compresslevel, hard_links)
            if exact:
                self._native.mark_clean(header, affine)
        elif target is not None:
            native = self._native_for_save()
            exact = native.to_filename(target, *self._state(), dtype, compresslevel, hard_links)
            self._native = native
        else:
            native = self._native_for_save()
            header_bytes, image_bytes, mat_bytes = native.to_bytes(*self._state(), dtype)
            hdr_fh, img_fh = self._get_fileholders(file_map)
            parts = [(img_fh, image_bytes)]
            if header_bytes is not None:
                parts.insert(0, (hdr_fh, header_bytes))
            if mat_bytes is not None and 'mat' in file_map:
                parts.append((file_map['mat'], mat_bytes))
            for holder, data in parts:
                with holder.get_prepare_fileobj('wb', compresslevel=compresslevel) as fobj:
                    fobj.write(data)
            # The image no longer matches files the core knows of.
            self._native = None
            exact = False
        self.file_map = file_map
        self._note_save(exact)

    def _note_save(self, exact):
        """After a save: the image matches the files just written when they hold its values
        exactly (``exact``: no cast, no scaling) and every cache can be compared with a
        proxy; else it is dirty, and the core says why. Nothing is read or digested here."""
        self._clean_digests = None
        self._array_in_file = exact and isinstance(self._dataobj, np.ndarray)
        caches = [(which, cache) for which, cache in
                  (('fdata', self._fdata_cache), ('data', self._data_cache),
                   ('dataobj', self._dataobj if self._array_in_file else None))
                  if cache is not None]
        # Only data neurovox can compare with the file later: a numpy array (compared when
        # asked) or its own proxy (which reads a watched file). Other array-likes and other
        # libraries' proxies may change without a trace.
        ours = isinstance(self._dataobj, np.ndarray) or (
            isinstance(self._dataobj, ArrayProxy) and self._dataobj._native is not None)
        if not exact or not ours or self._native is None or \
                (caches and self._reference_proxy() is None):
            self._array_in_file = False
            return
        self._clean_digests = {}
        for which, cache in caches:
            self._note_cache(which, cache)

    # -- matching the files --------------------------------------------------------------

    def _caches_changed(self):
        return any(self._cache_matches_digest(which) is False
                   for which in ('fdata', 'data', 'dataobj'))

    @property
    def is_dirty(self):
        """True whenever the image may differ from its files: a header field, the
        extensions, the affine, the data array or cached data changed, the files changed on
        disk, the image was marked dirty, its last save cast the values, or it has no files
        (or only file objects). An addition to nibabel, which sketched this but never built
        it.

        A save that writes the values unchanged (no cast, no scaling) leaves the image clean:
        it matches the files just written, and :meth:`as_filename` returns them. Nothing is
        read or digested until this is asked; then the array and caches are compared with
        the files (:meth:`dirty_reasons` says what differs).

        An attribute (``assert img.is_dirty == False``); setting it overrides the checks:
        ``img.is_dirty = False`` is :meth:`mark_clean`, ``True`` :meth:`mark_dirty`.

        Examples
        --------
        >>> import numpy as np, neurovox as nv, os, tempfile
        >>> img = nv.Nifti1Image(np.zeros((2, 3, 4), np.int16), np.eye(4))
        >>> img.is_dirty  # made in memory: no file to match
        True
        >>> path = os.path.join(tempfile.mkdtemp(), 'a.nii.gz')
        >>> nv.save(img, path)
        >>> img.is_dirty, img.as_filename() == path
        (False, True)
        >>> img.dataobj[0, 0, 0] = 5
        >>> img.is_dirty
        True
        """
        if self._native is None or self._clean_digests is None:
            return True
        if self._caches_changed():
            return True
        return bool(self._native_dirty_reasons(first_only=True))

    @is_dirty.setter
    def is_dirty(self, dirty):
        if dirty:
            self.mark_dirty()
        else:
            self.mark_clean()

    def dirty_reasons(self):
        """Why :attr:`is_dirty` is true, in words (empty when clean)."""
        if self._native is None:
            return ['the image was made in memory (or saved to file objects) and has no files']
        reasons = []
        native_reasons = self._native_dirty_reasons(first_only=False)
        if self._clean_digests is None:
            if not native_reasons:
                reasons.append('the image may differ from its files (data or a cache '
                               'neurovox cannot compare with them); mark_clean() after '
                               'checking')
        else:
            if self._cache_matches_digest('dataobj') is False:
                reasons.append('the data array changed in place since the image matched its '
                               'files')
            if any(self._cache_matches_digest(which) is False for which in ('fdata', 'data')):
                reasons.append('cached data changed in place')
        return reasons + native_reasons

    def _native_dirty_reasons(self, first_only):
        # The core compares this image's header and affine with its files; nothing is
        # pushed into the native image for it (image::Image::dirty_reasons_of).
        return list(self._native.dirty_reasons_of(*self._state(), first_only))

    def mark_clean(self):
        """Declares that the image matches its files as they are now."""
        if self._native is None:
            raise ValueError('the image has no files to match; save it with to_filename first')
        self._native.mark_clean(*self._state())
        self._clean_digests = {}
        self._array_in_file = False
        if self._fdata_cache is not None:
            self._clean_digests['fdata'] = _neurovox.digest(self._fdata_cache)
        if self._data_cache is not None:
            self._clean_digests['data'] = _neurovox.digest(self._data_cache)
        if isinstance(self._dataobj, np.ndarray):
            self._clean_digests['dataobj'] = _neurovox.digest(self._dataobj)

    def mark_dirty(self):
        """Declares that the image may differ from its files until :meth:`mark_clean`."""
        if self._native is not None:
            self._native.mark_dirty()
        self._clean_digests = None

    def as_filename(self, dir=None):
        """A file name holding this image, for programs that need files: its own file when
        it is clean (nothing is written), else a copy saved under a new temporary name (the
        caller's to delete). A copy holds what the image shows: changed cached float data
        is saved as that float type."""
        if not self.is_dirty:
            return os.fspath(self._native.files()[1])
        dir = None if dir is None else os.fspath(dir)
        if self._fdata_cache is not None and (self._native is None or self._caches_changed()):
            # The float values the image shows, in an image made from them; the core names
            # the copy and stores them as floats (float32 for MGH), as for any image.
            data = self._fdata_cache
            header, affine = self._state()
            native = _neurovox.NativeImage.from_parts(np.asarray(data), affine, header,
                                                      self._format)
            _, image, _ = native.as_filename(header, affine, dir, data.dtype)
            return os.fspath(image)
        native = self._native_for_save()
        _, image, _ = native.as_filename(*self._state(), dir)
        return os.fspath(image)

    def __reduce__(self):
        """Pickles a clean image loaded from files as its handle — file names, format, load
        options and the files' fingerprints, never data — which the receiver opens lazily:
        a file changed in between is a :class:`StaleFileError` naming it. Other images
        pickle their state (see :meth:`DataobjImage.__reduce__`)."""
        if self._native is not None and is_proxy(self._dataobj) and not self.is_dirty \
                and self._native.files()[1] is not None:  # a URL image has no files
            return (_unpickle_image, (type(self), _shared_paths(self._native.handle()),
                                      getattr(self._dataobj, '_mmap', True), self.extra))
        return super().__reduce__()

    def to_handle_json(self):
        """The image's handle as JSON text: file names (absolute), format, load options and
        the files' fingerprints, never data. Unlike a pickle, which can run any code when it
        is loaded, it is plain data: safe to send to untrusted or non-Python workers and to
        accept from them (:func:`from_handle_json`).

        Returns
        -------
        str
            The handle.

        Raises
        ------
        ValueError
            If the image is not a clean image loaded from files (``is_dirty``).

        Examples
        --------
        >>> import numpy as np, neurovox as nv, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), 'a.nii')
        >>> nv.save(nv.Nifti1Image(np.zeros((2, 3, 4), np.int16), np.eye(4)), path)
        >>> text = nv.load(path).to_handle_json()
        >>> nv.from_handle_json(text).shape
        (2, 3, 4)
        """
        if self._native is None or not is_proxy(self._dataobj) or self.is_dirty:
            raise ValueError('only a clean image loaded from files has a handle; save it and '
                             'load the saved file')
        return self._native.handle_json()

    def __getitem__(self, key):
        raise TypeError('Cannot slice image objects; consider using `img.slicer[slice]` to '
                        'generate a sliced image (see documentation for caveats) or slicing '
                        'image array data with `img.dataobj[slice]` or '
                        '`img.get_fdata()[slice]`')

    def __repr__(self):
        return (f'<class \'neurovox.{type(self).__name__}\'>\ndata shape {self.shape}\n'
                f'affine:\n{self.affine}')


def _shared_paths(handle):
    """The handle tuple with each distinct path one string object, which pickle then writes
    once (a ``.nii`` is both header and image file, and each file has a fingerprint)."""
    seen = {}
    klass, header_path, image_path, mmap, keep_file_open, files, parrec = handle
    one = lambda path: seen.setdefault(path, path)  # noqa: E731
    return (klass, one(header_path), one(image_path), mmap, keep_file_open,
            [(one(path), state) for path, state in files], parrec)


def _unpickle_image(klass, handle, mmap, extra_or_state):
    """Rebuilds a pickled image: from its handle (reading only the header, checking the
    files' fingerprints) or from its pickled state."""
    if handle is not None:
        img = klass._from_native(_neurovox.NativeImage.open_handle(handle), mmap)
        img.extra = extra_or_state
        return img
    img = klass.__new__(klass)
    img.__dict__.update(extra_or_state)
    return img


def from_handle_json(text, mmap=True):
    """The image a JSON handle (:meth:`SpatialImage.to_handle_json`) refers to, loaded
    lazily (only the header is read).

    Parameters
    ----------
    text : str
        The handle.
    mmap : {True, False, 'c', 'r'}, optional
        As for :func:`neurovox.load`.

    Returns
    -------
    SpatialImage
        The image, of the class it was saved as.

    Raises
    ------
    ValueError
        If ``text`` is not a handle, or lacks the fingerprint of one of its files.
    StaleFileError
        If a file changed since the handle was made.
    """
    native = _neurovox.NativeImage.open_handle_json(text)
    return IMAGE_CLASSES[native.format]._from_native(native, mmap)


class SpatialFirstSlicer:
    """Slicing an image by its first three (spatial) axes (nibabel's ``img.slicer``)."""

    def __init__(self, img):
        if len(img.shape) >= 4 and type(img) not in _SPATIAL_FIRST + (AFNIImage, PARRECImage):
            raise ValueError(f'Cannot predict position of spatial axes for Image type '
                             f'{img.__class__.__name__}')
        self.img = img

    def __getitem__(self, slicer):
        img = self.img
        items = slicer if isinstance(slicer, tuple) else (slicer,)
        if any(isinstance(s, slice) and s.step == 0 for s in items):
            raise ValueError('slice step cannot be 0')
        # The spatial-first rules and the affine's transform are the core's
        # (image::slicer_transform); they raise IndexError with nibabel's messages.
        transform = np.array(_neurovox.slicer_transform(img.shape, slicer), dtype=np.float64)
        try:
            dataobj = img.dataobj[slicer]
        except ValueError as e:
            raise IndexError(str(e)) from e
        affine = None if img.affine is None else img.affine.dot(transform)
        return img.__class__(np.array(dataobj, copy=True), affine, img.header)


class AnalyzeImage(SpatialImage):
    """An Analyze 7.5 image: data in ``.img``, header in ``.hdr`` (``.gz``, ``.bz2``,
    ``.zst`` compressed too). The affine stored is only voxel sizes and a flip.

    Parameters
    ----------
    dataobj : array-like or ArrayProxy
        The data: a numpy array (kept, not copied), an array proxy, or anything with
        ``shape``, ``ndim`` and numpy's array interface.
    affine : array-like (4, 4) or None
        The voxel-to-world affine (copied), or None for none.
    header : header or None, optional
        A header whose fields are copied (the shape and affine then follow ``dataobj`` and
        ``affine``); None makes a default header with the data's type.
    extra : dict, optional
        Metadata kept beside the image, not saved.
    file_map : dict, optional
        File holders, as ``make_file_map`` gives.
    dtype : numpy dtype, optional
        The type to store the data as when saved (``set_data_dtype``).
    """
    header_class = AnalyzeHeader
    _format = 'AnalyzeImage'
    files_types = (('image', '.img'), ('header', '.hdr'))
    valid_exts = ('.img', '.hdr')


class Spm99AnalyzeImage(AnalyzeImage):
    """An SPM99 Analyze image: Analyze with a scale factor, and an affine read from the
    ``.mat`` file beside the image when there is one (saves write it). Parameters as for
    ``AnalyzeImage``.
    """
    header_class = Spm99AnalyzeHeader
    _format = 'Spm99AnalyzeImage'
    files_types = (('image', '.img'), ('header', '.hdr'), ('mat', '.mat'))

    @classmethod
    def _affine_from(klass, header, file_map):
        """The affine of the ``.mat`` sidecar (MATLAB v4) if the file map has a non-empty
        one, else the header's."""
        affine = super()._affine_from(header, file_map)
        holder = file_map.get('mat')
        if holder is None or (holder.fileobj is None and holder.filename is None):
            return affine
        try:
            matf = holder.get_prepare_fileobj('rb')
        except OSError:
            return affine
        with matf:
            contents = matf.read()
        if len(contents) == 0:
            return affine
        return np.array(_neurovox.read_mat_affine(contents), dtype=np.float64)


class Spm2AnalyzeImage(Spm99AnalyzeImage):
    """An SPM2 Analyze image: SPM99's, with an intercept. Parameters as for ``AnalyzeImage``."""
    header_class = Spm2AnalyzeHeader
    _format = 'Spm2AnalyzeImage'


class Nifti1Pair(AnalyzeImage):
    """A NIfTI-1 image stored as a pair: data in ``.img``, header in ``.hdr``. Parameters as
    for ``Nifti1Image``.
    """
    header_class = Nifti1PairHeader
    _format = 'Nifti1Pair'

    def __init__(self, dataobj, affine, header=None, extra=None, file_map=None, dtype=None):
        if header is None and dtype is None and get_obj_dtype(dataobj) in (
                np.dtype(np.int64), np.dtype(np.uint64)):
            raise ValueError(
                'Image data has type int64, which may cause incompatibilities with other '
                'tools. To use this type, pass an explicit header or dtype argument to '
                f'{self.__class__.__name__}().')
        super().__init__(dataobj, affine, header, extra, file_map, dtype)
        if header is None and affine is not None:
            self._affine2header()

    def _affine2header(self):
        hdr = self._header
        hdr.set_sform(self._affine, code='aligned')
        try:
            hdr.set_qform(self._affine, code='unknown')
        except ValueError:
            # The affine has no quaternion form (a singular or NaN 3x3 part): the sform
            # keeps it and the qform stays unset, where nibabel refuses to save
            # (docs/compat.md, "Files, faults and hostile input" #10).
            hdr['qform_code'] = 0

    def get_qform(self, coded=False):
        """The header's qform affine (``Nifti1PairHeader.get_qform``)."""
        return self._header.get_qform(coded)

    def set_qform(self, affine, code=None, strip_shears=True, **kwargs):
        """Sets the header's qform (``Nifti1PairHeader.set_qform``), then the image's
        affine to the header's best one (the sform still wins if its code is not 0).
        """
        self._header.set_qform(affine, code, strip_shears)
        self._affine = self._header.get_best_affine()

    def get_sform(self, coded=False):
        """The header's sform affine (``Nifti1PairHeader.get_sform``)."""
        return self._header.get_sform(coded)

    def set_sform(self, affine, code=None, **kwargs):
        """Sets the header's sform (``Nifti1PairHeader.set_sform``), then the image's
        affine to the header's best one.
        """
        self._header.set_sform(affine, code)
        self._affine = self._header.get_best_affine()


class Nifti1Image(Nifti1Pair, SerializableImage):
    """A NIfTI-1 image in one file (``.nii``; ``.nii.gz``, ``.nii.bz2``, ``.nii.zst``
    compressed), nibabel's ``Nifti1Image``.

    With no header, the header gets the data's type, the affine as sform (code
    ``'aligned'``) and as qform where it has one.

    Parameters
    ----------
    dataobj : array-like or ArrayProxy
        The data: a numpy array (kept, not copied), an array proxy, or anything with
        ``shape``, ``ndim`` and numpy's array interface.
    affine : array-like (4, 4) or None
        The voxel-to-world affine (copied), or None for none.
    header : header or None, optional
        A header whose fields are copied (the shape and affine then follow ``dataobj`` and
        ``affine``); None makes a default header with the data's type.
    extra : dict, optional
        Metadata kept beside the image, not saved.
    file_map : dict, optional
        File holders, as ``make_file_map`` gives.
    dtype : numpy dtype, optional
        The type to store the data as when saved (``set_data_dtype``).

    Raises
    ------
    ValueError
        If ``affine`` is not 4 x 4, or the data is int64 or uint64 and neither ``header`` nor
        ``dtype`` says to store it so (other programs often cannot read such files; nibabel
        refuses too).

    Examples
    --------
    >>> import numpy as np, neurovox as nib
    >>> img = nib.Nifti1Image(np.zeros((2, 3, 4), np.int16), np.diag([2.0, 2.0, 2.0, 1.0]))
    >>> img.shape, img.get_data_dtype()
    ((2, 3, 4), dtype('<i2'))
    >>> img.header.get_zooms()
    (np.float32(2.0), np.float32(2.0), np.float32(2.0))
    >>> nib.save(img, 'example.nii.gz')
    >>> loaded = nib.load('example.nii.gz')
    >>> loaded.dataobj[0, 0, :]
    array([0, 0, 0, 0], dtype=int16)
    """
    header_class = Nifti1Header
    _format = 'Nifti1Image'
    files_types = (('image', '.nii'),)
    valid_exts = ('.nii',)


class Nifti2Pair(Nifti1Pair):
    """A NIfTI-2 image stored as a pair (``.img`` and ``.hdr``). Parameters as for
    ``Nifti1Image``.
    """
    header_class = Nifti2PairHeader
    _format = 'Nifti2Pair'


class Nifti2Image(Nifti1Image):
    """A NIfTI-2 image in one file (``.nii``): NIfTI-1 with 64-bit sizes, for images with
    an axis over 32,767 long. Parameters as for ``Nifti1Image``.
    """
    header_class = Nifti2Header
    _format = 'Nifti2Image'


class MGHImage(SpatialImage, SerializableImage):
    """A FreeSurfer MGH image (``.mgh``; ``.mgz`` is gzip-compressed). Data is stored as
    uint8, int16, int32 or float32, big-endian, with no scaling. Parameters as for
    ``Nifti1Image``.
    """
    header_class = MGHHeader
    _format = 'MGHImage'
    files_types = (('image', '.mgh'),)
    valid_exts = ('.mgh', '.mgz')
    _compressed_suffixes = ()
    _consumes_scaling = False

    @classmethod
    def filespec_to_file_map(klass, filespec):
        """As for other classes, and ``.mgz`` names the (gzip-compressed) image file."""
        filespec = _stringify_path(filespec)
        if os.path.splitext(filespec)[1].lower() == '.mgz':
            return {'image': FileHolder(filename=filespec)}
        return super().filespec_to_file_map(filespec)


class AFNIImage(SpatialImage):
    """An AFNI dataset (nibabel's ``brikhead.AFNIImage``): a ``.HEAD`` of attributes and a
    ``.BRIK`` (or ``.BRIK.gz``) of sub-bricks, each scaled by its own factor. Load it from
    either file; it is read only, as in nibabel (``neurovox.save`` converts it, to NIfTI
    for example).

    Examples
    --------
    >>> import os, nibabel, neurovox as nv
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> img = nv.load(os.path.join(data, 'example4d+orig.BRIK.gz'))
    >>> type(img).__name__, img.shape
    ('AFNIImage', (33, 41, 25, 3))
    """
    header_class = AFNIHeader
    ImageArrayProxy = AFNIArrayProxy
    _format = 'AFNIImage'
    files_types = (('image', '.brik'), ('header', '.head'))
    valid_exts = ('.brik', '.head')
    _compressed_suffixes = _COMPRESSED
    _consumes_scaling = False
    makeable = False
    rw = False

    @classmethod
    def filespec_to_file_map(klass, filespec):
        """The ``.HEAD`` and ``.BRIK`` of a dataset named by either, as nibabel finds them:
        a ``.BRIK`` absent as named is looked for compressed, and a compressed ``.HEAD``
        absent as named is looked for plain."""
        file_map = super().filespec_to_file_map(filespec)
        for key, holder in file_map.items():
            name = holder.filename
            if name is None or os.path.exists(name):
                continue
            if key == 'header':
                for ext in klass._compressed_suffixes:
                    if name.endswith(ext):
                        name = name[:-len(ext)]
            else:
                for ext in klass._compressed_suffixes:
                    if os.path.exists(name + ext):
                        name += ext
                        break
            holder.filename = name
        return file_map

    @classmethod
    def from_filename(klass, filename, *, mmap=True, keep_file_open=None):
        """Loads the dataset (the ``.HEAD`` or the ``.BRIK``), reading only its attributes.

        Raises
        ------
        AFNIHeaderError
            If an attribute is missing or malformed.
        AFNIImageError
            If the sub-bricks' data type cannot make one array.
        """
        with _afni_errors():
            return super().from_filename(filename, mmap=mmap, keep_file_open=keep_file_open)

    load = from_filename

    @classmethod
    def from_file_map(klass, file_map, *, mmap=True, keep_file_open=None):
        """Loads the dataset in the files or file objects of ``file_map`` (see
        ``from_filename``)."""
        with _afni_errors():
            return super().from_file_map(file_map, mmap=mmap, keep_file_open=keep_file_open)

    def to_file_map(self, file_map=None, **kwargs):
        """Not offered: AFNI datasets are read only, as in nibabel; save the image in
        another format (``neurovox.save(img, 'x.nii.gz')``).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('AFNI datasets are read only; save as NIfTI instead')


class EcatSubHeader:
    """The subheaders of an ECAT7 image's frames (nibabel's ``ecat.EcatSubHeader``), one per
    matrix-list row: ``subheaders[i]`` is a numpy structured scalar of the frame's fields.
    Frames are numbered by matrix-list row, as in nibabel.

    Parameters
    ----------
    image : EcatImage
        The loaded image whose subheaders these are (nibabel builds the object from the
        header, matrix list and file object instead; ``EcatImage.get_subheaders()`` gives it).

    Attributes
    ----------
    subheaders : list of numpy.ndarray
        One 0-d structured array per frame, in the file's byte order.
    endianness : str
        ``'<'`` or ``'>'``.
    """

    def __init__(self, image):
        header = image.header
        # The image's proxy, not the image: a subheader the image holds must not hold the
        # image back (a reference cycle keeps a cached get_fdata alive until the next GC).
        self._proxy = image.dataobj
        self._header = header
        self._mlist = np.array(header._native.ecat_mlist(), dtype=np.int32).reshape(-1, 4)
        self.endianness = header.endianness
        dtype = _struct_dtype(tuple(_neurovox.NativeHeader.ecat_subheader_layout()),
                              self.endianness)
        self.subheaders = [np.frombuffer(block, dtype=dtype, count=1).reshape(()).copy()
                           for block in header._native.ecat_subheader_blocks()]
        self._order = header._native.ecat_frame_order()

    def get_shape(self, frame=0):
        """The ``(x, y, z)`` shape of a frame."""
        sh = self.subheaders[frame]
        return tuple(int(sh[n]) for n in ('x_dimension', 'y_dimension', 'z_dimension'))

    def get_nframes(self):
        """The number of frames (matrix-list rows with a valid id)."""
        return len(self._order)

    def get_zooms(self, frame=0):
        """A frame's voxel sizes in mm (``x_pixel_size * 10``…, float32) and 1."""
        sh = self.subheaders[frame]
        return (sh['x_pixel_size'] * 10, sh['y_pixel_size'] * 10, sh['z_pixel_size'] * 10, 1)

    def get_frame_affine(self, frame=0):
        """A frame's affine: its voxel sizes, the volume's centre at its offsets."""
        sh = self.subheaders[frame]
        zooms = self.get_zooms(frame)
        origin = (np.array(self.get_shape(frame)) - 1) / 2.0
        aff = np.diag(zooms)
        aff[:3, -1] = -origin * zooms[:-1] + np.array([sh['x_offset'], sh['y_offset'],
                                                       sh['z_offset']])
        return aff

    def _check_affines(self):
        affines = [self.get_frame_affine(i) for i in range(self.get_nframes())]
        return all(np.allclose(affines[0], a) for a in affines[1:])

    def _get_data_dtype(self, frame):
        code = int(self.subheaders[frame]['data_type'])
        return np.dtype({1: 'u1', 2: 'i2', 3: 'i4', 4: 'f4', 5: 'f4', 6: 'i2', 7: 'i4'}[code])

    def _get_frame_offset(self, frame=0):
        return int(self._mlist[frame][1] * 512)

    def raw_data_from_fileobj(self, frame=0, orientation=None):
        """A frame's stored values, oriented by ``patient_orientation`` (or by
        ``orientation``: ``'neurological'`` or ``'radiological'``).

        Raises
        ------
        ValueError
            For another ``orientation``.
        """
        if frame not in self._order:
            raise IndexError(f'frame {frame} has no valid matrix-list id')
        position = self._order.index(frame)
        raw = self._proxy._native.read((Ellipsis, position), unscaled=True)
        stored = _ECAT_FLIPS.get(int(self._header['patient_orientation']), ())
        if orientation is None:
            wanted = stored
        elif orientation == 'neurological':
            wanted = _ECAT_FLIPS[1]
        elif orientation == 'radiological':
            wanted = _ECAT_FLIPS[0]
        else:
            raise ValueError('orientation should be None, neurological or radiological')
        # Flips undo themselves: the stored orientation off, the one asked for on.
        for axis in set(stored) ^ set(wanted):
            raw = np.flip(raw, axis)
        return raw

    def data_from_fileobj(self, frame=0, orientation=None):
        """A frame's values: stored values times the calibration factor, then times the
        frame's ``scale_factor`` (float32 frames stay float32, as in nibabel)."""
        raw = self.raw_data_from_fileobj(frame, orientation)
        data = raw * self._header['ecat_calibration_factor'].item()
        return data * self.subheaders[frame]['scale_factor'].item()


# Axes flipped by patient_orientation: neurological codes all three, radiological y and z.
_ECAT_FLIPS = {**{c: (0, 1, 2) for c in (1, 3, 5, 7)}, **{c: (1, 2) for c in (0, 2, 4, 6)}}


class EcatImage(SpatialImage):
    """An ECAT7 PET image (``.v``; nibabel's ``ecat.EcatImage``): frames after their
    subheaders, each scaled by the calibration factor and its own ``scale_factor``, read
    lazily as one 4-D float64 array. Read only (nibabel writes ECAT only back from a loaded
    image).

    Examples
    --------
    >>> import os, nibabel, neurovox as nv
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> img = nv.ecat.load(os.path.join(data, 'tinypet.v'))
    >>> img.shape, img.get_frame(0).shape
    ((10, 10, 3, 1), (10, 10, 3))
    """
    header_class = EcatHeader
    ImageArrayProxy = EcatArrayProxy
    _format = 'EcatImage'
    files_types = (('image', '.v'), ('header', '.v'))
    valid_exts = ('.v',)
    _compressed_suffixes = _COMPRESSED
    _consumes_scaling = False
    makeable = False
    rw = False

    @classmethod
    def _from_native(klass, native, mmap=True):
        img = super()._from_native(native, mmap)
        img._subheader = EcatSubHeader(img)
        return img

    @classmethod
    def from_image(klass, img):
        """Not offered, as in nibabel.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('Ecat images can only be generated from file objects')

    def get_frame(self, frame, orientation=None):
        """One frame's values (matrix-list row ``frame``), oriented as
        ``EcatSubHeader.data_from_fileobj`` says."""
        return self._subheader.data_from_fileobj(frame, orientation)

    def get_frame_affine(self, frame):
        """The affine of frame ``frame``."""
        return self._subheader.get_frame_affine(frame=frame)

    def get_data_dtype(self, frame=0):
        """The stored type of frame ``frame`` (nibabel requires the frame; 0 here by
        default)."""
        return self._subheader._get_data_dtype(frame)

    def get_mlist(self):
        """The matrix list: ``(num_frames, 4)`` int32 rows of frame id, subheader block,
        last data block and status."""
        return self._subheader._mlist

    def get_subheaders(self):
        """The frames' subheaders (an :class:`EcatSubHeader`)."""
        return self._subheader

    def to_file_map(self, file_map=None, **kwargs):
        """Not offered: ECAT7 files are read only in neurovox.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('ECAT7 images are read only; save as NIfTI instead')


class PARRECImage(SpatialImage):
    """A Philips PAR/REC recording (nibabel's ``parrec.PARRECImage``): a ``.PAR`` text header
    and a ``.REC`` of slices, read lazily as one float64 array sorted into
    ``(x, y, slice[, volume])``, each slice scaled by its own factors. Load it from either
    file; it is read only, as in nibabel (``neurovox.save`` converts it, to NIfTI for
    example).

    Examples
    --------
    >>> import os, nibabel, neurovox as nv
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> img = nv.load(os.path.join(data, 'phantom_EPI_asc_CLEAR_2_1.PAR'))
    >>> type(img).__name__, img.shape, img.dataobj.dtype
    ('PARRECImage', (64, 64, 9, 3), dtype('<u2'))
    >>> img.dataobj[32, 32, 4].dtype
    dtype('float64')
    """
    header_class = PARRECHeader
    ImageArrayProxy = PARRECArrayProxy
    _format = 'PARRECImage'
    files_types = (('image', '.rec'), ('header', '.par'))
    valid_exts = ('.rec', '.par')
    _compressed_suffixes = _COMPRESSED
    _consumes_scaling = False
    makeable = False
    rw = False

    @classmethod
    def _from_native(klass, native, mmap=True):
        header_path, image_path = native.files()
        with _parrec_errors():
            header = klass.header_class._wrap(native.header())
        _par_warn(header._native)
        parrec = (header._loaded_scaling, header.permit_truncated, header.strict_sort)
        native_proxy = native.proxy()
        if image_path is None:  # loaded from a URL: no files, the proxy names its URL
            proxy = klass.ImageArrayProxy._from_native(native_proxy, native_proxy.path, mmap,
                                                       parrec=parrec)
            files = klass.make_file_map()
        else:
            proxy = klass.ImageArrayProxy._from_native(native_proxy, os.fspath(image_path),
                                                       mmap, parrec=parrec)
            files = {'image': FileHolder(filename=os.fspath(image_path)),
                     'header': FileHolder(filename=os.fspath(header_path))}
        with warnings.catch_warnings():
            # The image's copy of the header would repeat the warnings just given.
            warnings.simplefilter('ignore', UserWarning)
            img = klass(proxy, None, header, file_map=files)
        img._affine = np.array(native.affine(), dtype=np.float64)
        img._native = native
        img._clean_digests = {}
        return img

    @classmethod
    def from_filename(klass, filename, *, mmap=True, permit_truncated=False, scaling='dv',
                      strict_sort=False, keep_file_open=None):
        """Loads the recording (the ``.PAR`` or the ``.REC``), reading only the ``.PAR``.

        Parameters
        ----------
        filename : str or os.PathLike
            The ``.PAR`` or ``.REC`` file.
        mmap : {True, False, 'c', 'r'}, optional, keyword only
            Accepted as nibabel's; sorted, scaled slices are always read.
        permit_truncated : bool, optional, keyword only
            Load a recording whose header shows missing slices or volumes (with a warning),
            keeping its complete volumes, instead of raising.
        scaling : {'dv', 'fp'}, optional, keyword only
            The values' scaling (see ``PARRECHeader.get_data_scaling``).
        strict_sort : bool, optional, keyword only
            Sort volumes by their acquisition fields instead of the ``.PAR``'s order.
        keep_file_open : {None, True, False}, optional, keyword only
            As for :func:`neurovox.load`.

        Raises
        ------
        PARRECError
            If the ``.PAR`` cannot be read as nibabel reads it.
        """
        mode = _mmap_mode(mmap)
        if scaling not in ('dv', 'fp'):
            raise ValueError(f"Unknown scaling method '{scaling}'.")
        filename = os.path.expanduser(os.fspath(filename))
        with _parrec_errors():
            native = _neurovox.NativeImage.load(filename, klass._format, mode, keep_file_open,
                                                (scaling, bool(permit_truncated),
                                                 bool(strict_sort)))
        return klass._from_native(native, mmap)

    load = from_filename

    @classmethod
    def from_file_map(klass, file_map, *, mmap=True, permit_truncated=False, scaling='dv',
                      strict_sort=False, keep_file_open=None):
        """Loads the recording in the files or file objects of ``file_map`` (keys
        ``'header'``, the ``.PAR``, and ``'image'``, the ``.REC``); see ``from_filename``."""
        hdr_fh, img_fh = file_map['header'], file_map['image']
        if hdr_fh.fileobj is None and img_fh.fileobj is None:
            name = hdr_fh.filename if hdr_fh.filename is not None else img_fh.filename
            if name is None:
                raise FileHolderError('No filename or fileobj present')
            return klass.from_filename(name, mmap=mmap, permit_truncated=permit_truncated,
                                       scaling=scaling, strict_sort=strict_sort,
                                       keep_file_open=keep_file_open)
        with hdr_fh.get_prepare_fileobj('rb') as fobj:
            header = klass.header_class.from_fileobj(fobj, permit_truncated=permit_truncated,
                                                     strict_sort=strict_sort)
        source = img_fh.fileobj if img_fh.fileobj is not None else img_fh.filename
        proxy = klass.ImageArrayProxy(source, header, mmap=mmap, scaling=scaling,
                                      keep_file_open=keep_file_open)
        return klass(proxy, header.get_affine(), header, file_map=file_map)

    @classmethod
    def from_image(klass, img):
        """Not offered: a PAR/REC header is made only from a ``.PAR``, as in nibabel.

        Raises
        ------
        PARRECError
            For any image not already a ``PARRECImage``.
        """
        header = klass.header_class.from_header(img.header)
        return klass(img.dataobj, img.affine, header)

    def to_file_map(self, file_map=None, **kwargs):
        """Not offered: PAR/REC is read only, as in nibabel; save the image in another format
        (``neurovox.save(img, 'x.nii.gz')``).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('PAR/REC images are read only; save as NIfTI instead')


class Minc1Image(SpatialImage):
    """A MINC1 image (nibabel's ``minc1.Minc1Image``): a netCDF file (``.mnc``, also
    compressed) whose ``image`` variable is read lazily in the file's dimension order, with
    the affine from its spatial dimensions' steps, starts and direction cosines. Integer data
    is clipped to its valid range and scaled per slice by ``image-min`` / ``image-max``
    (float64 values); float data is not scaled. Read only, as in nibabel (``neurovox.save``
    converts it, to NIfTI for example).

    Examples
    --------
    >>> import os, nibabel, neurovox as nv
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> img = nv.load(os.path.join(data, 'tiny.mnc'))
    >>> type(img).__name__, img.shape, img.header.get_data_dtype()
    ('Minc1Image', (10, 20, 20), dtype('uint8'))
    >>> img.dataobj[0, 0, :3].dtype
    dtype('float64')
    """
    header_class = Minc1Header
    ImageArrayProxy = MincImageArrayProxy
    _format = 'Minc1Image'
    files_types = (('image', '.mnc'),)
    valid_exts = ('.mnc',)
    _compressed_suffixes = _COMPRESSED
    _consumes_scaling = False
    makeable = True
    rw = False

    @classmethod
    def from_filename(klass, filename, *, mmap=True, keep_file_open=None):
        """Loads a MINC image of this class, reading its header variables (and
        ``image-min`` / ``image-max``), not its data.

        Raises
        ------
        MincError
            If the file is not a MINC file of this version, or holds what nibabel refuses:
            not three spatial dimensions, irregular spacing, scaling variables that do not
            match the image, a valid range outside the data type's.
        """
        with _minc_errors():
            return super().from_filename(filename, mmap=mmap, keep_file_open=keep_file_open)

    load = from_filename

    def to_file_map(self, file_map=None, **kwargs):
        """Not offered: MINC files are read only, as in nibabel (``neurovox.save`` to a
        ``.nii`` converts the image).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('MINC images are read only; save as NIfTI instead')

    @classmethod
    def _affine_from(klass, header, file_map):
        """The affine of an image read from a file object: from the dimension variables (the
        header's own best affine is the base affine, as in nibabel)."""
        return np.array(header._native.get_best_affine(), dtype=np.float64)

    @classmethod
    def _from_native(klass, native, mmap=True):
        img = super()._from_native(native, mmap)
        img.dataobj._minc_format = klass._format
        for message in native.header().minc_info()['warnings']:
            warnings.warn(message, UserWarning, stacklevel=4)
        return img


class Minc2Image(Minc1Image):
    """A MINC2 image (nibabel's ``minc2.Minc2Image``): an HDF5 file (``.mnc``) whose
    ``/minc-2.0/image/0/image`` dataset is read lazily (only the chunks a key touches), with
    the same affine and scaling rules as :class:`Minc1Image`. Read only; not compressed
    (nibabel refuses compressed MINC2 files too). h5py is not needed.

    Examples
    --------
    >>> import os, nibabel, neurovox as nv
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> img = nv.load(os.path.join(data, 'small.mnc'))
    >>> type(img).__name__, img.shape
    ('Minc2Image', (18, 28, 29))
    """
    header_class = Minc2Header
    _format = 'Minc2Image'
    _compressed_suffixes = ()


_SPATIAL_FIRST = (AnalyzeImage, Spm99AnalyzeImage, Spm2AnalyzeImage, Nifti1Pair, Nifti1Image,
                  Nifti2Pair, Nifti2Image, MGHImage)

IMAGE_CLASSES = {cls._format: cls
                 for cls in _SPATIAL_FIRST + (AFNIImage, EcatImage, PARRECImage, Minc1Image,
                                              Minc2Image)}
assert set(IMAGE_CLASSES) == set(HEADER_CLASSES)
