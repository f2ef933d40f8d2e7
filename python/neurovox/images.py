"""Image classes with nibabel's names and behaviour (``Nifti1Image`` and friends).

An image is a data object (a numpy array, or an :class:`~neurovox.arrayproxy.ArrayProxy`
on disk), a header, an affine and the files it came from, with nibabel's caching rules
(``get_fdata``, ``in_memory``, ``uncache``) and what nibabel lacks: ``is_dirty``,
``mark_clean``, ``mark_dirty`` and ``as_filename``.
"""

from __future__ import annotations

import os

import numpy as np

from . import _neurovox
from .arrayproxy import ArrayProxy, _mmap_mode, get_obj_dtype, is_proxy
from .errors import ImageFileError
from .headers import (HEADER_CLASSES, AnalyzeHeader, MGHHeader, Nifti1Header,
                      Nifti1PairHeader, Nifti2Header, Nifti2PairHeader, Spm2AnalyzeHeader,
                      Spm99AnalyzeHeader)

_COMPRESSED = ('.gz', '.bz2', '.zst')


class FileHolder:
    """A file name (or file object) and a position (nibabel's ``FileHolder``)."""

    def __init__(self, filename=None, fileobj=None, pos=0):
        self.filename = filename
        self.fileobj = fileobj
        self.pos = pos

    @property
    def file_like(self):
        return self.fileobj if self.fileobj is not None else self.filename

    def same_file_as(self, other):
        return self.filename == other.filename and self.fileobj == other.fileobj

    def __repr__(self):
        return f'FileHolder(filename={self.filename!r})'


def _split_ext(filename):
    """``('a', '.nii', '.gz')`` for ``a.nii.gz``."""
    root, ext = os.path.splitext(filename)
    comp = ''
    if ext.lower() in _COMPRESSED:
        comp = ext
        root, ext = os.path.splitext(root)
    return root, ext, comp


def _sibling_case(ext, new):
    if ext.isupper():
        return new.upper()
    return new


class DataobjImage:
    """An image with a data object (nibabel's ``DataobjImage``)."""

    header_class = Nifti1Header
    _format = 'Nifti1Image'
    files_types = (('image', '.nii'),)
    valid_exts = ('.nii',)
    _compressed_suffixes = _COMPRESSED

    def __init__(self, dataobj, header=None, extra=None, file_map=None):
        self._dataobj = dataobj
        self._header = self.header_class.from_header(header)
        self.extra = dict(extra) if extra is not None else {}
        self.file_map = file_map if file_map is not None else self.make_file_map()
        self._data_cache = None
        self._fdata_cache = None
        self._native = None
        self._clean_digests = None

    # -- data ----------------------------------------------------------------------------

    @property
    def dataobj(self):
        return self._dataobj

    @property
    def header(self):
        return self._header

    @property
    def shape(self):
        return tuple(self._dataobj.shape)

    @property
    def ndim(self):
        return self._dataobj.ndim

    @property
    def in_memory(self):
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

    def _note_cache(self, which, data):
        if self._clean_digests is not None and not isinstance(self._dataobj, np.ndarray):
            self._clean_digests[which] = _neurovox.digest(data)

    # -- files ---------------------------------------------------------------------------

    @classmethod
    def make_file_map(klass, mapping=None):
        mapping = mapping or {}
        file_map = {}
        for key, _ in klass.files_types:
            value = mapping.get(key)
            if isinstance(value, str):
                file_map[key] = FileHolder(filename=value)
            elif hasattr(value, 'tell'):
                file_map[key] = FileHolder(fileobj=value)
            else:
                file_map[key] = FileHolder()
        return file_map

    @classmethod
    def filespec_to_file_map(klass, filespec):
        filename = os.path.expanduser(os.fspath(filespec))
        if filename.endswith('.'):
            filename = filename[:-1]
        root, ext, comp = _split_ext(filename)
        types = dict(klass.files_types)
        if ext == '' and comp:
            raise ImageFileError(f'Filespec "{filespec}" does not look right for class {klass}')
        if ext == '':
            return {key: FileHolder(filename=root + e) for key, e in klass.files_types}
        if ext.lower() not in [e for _, e in klass.files_types] + list(klass.valid_exts):
            raise ImageFileError(
                f'Filespec "{filespec}" does not look right for class {klass}')
        if klass is MGHImage or issubclass(klass, MGHImage):
            return {'image': FileHolder(filename=filename)}
        return {key: FileHolder(filename=root + _sibling_case(ext, e) + comp)
                for key, e in types.items()}

    def get_filename(self):
        holder = self.file_map.get(self.files_types[0][0]) if self.file_map else None
        return None if holder is None else holder.filename

    def set_filename(self, filename):
        self.file_map = self.filespec_to_file_map(filename)

    @classmethod
    def from_filename(klass, filename, *, mmap=True, keep_file_open=None):
        """Loads an image of this class, reading only its header."""
        mode = _mmap_mode(mmap)
        filename = os.path.expanduser(os.fspath(filename))
        native = _neurovox.NativeImage.load(filename, klass._format, mode, keep_file_open)
        return klass._from_native(native, mmap)

    load = from_filename

    @classmethod
    def from_file_map(klass, file_map, *, mmap=True, keep_file_open=None):
        holder = file_map.get('header') or file_map.get('image')
        if holder is None or holder.filename is None:
            holder = file_map.get('image')
        if holder is None or holder.filename is None:
            raise ValueError('No filename or fileobj present')
        return klass.from_filename(holder.filename, mmap=mmap, keep_file_open=keep_file_open)

    @classmethod
    def _from_native(klass, native, mmap=True):
        header_path, image_path = native.files()
        proxy = ArrayProxy._from_native(native.proxy(), os.fspath(image_path), mmap)
        header = klass.header_class._wrap(native.header())
        files = {'image': FileHolder(filename=os.fspath(image_path))}
        if 'header' in dict(klass.files_types):
            files['header'] = FileHolder(filename=os.fspath(header_path))
        if 'mat' in dict(klass.files_types):
            root, _, comp = _split_ext(os.fspath(image_path))
            files['mat'] = FileHolder(filename=root + '.mat')
        img = klass(proxy, None, header, file_map=files)
        affine = native.affine()
        img._affine = None if affine is None else np.array(affine, dtype=np.float64)
        img._native = native
        img._clean_digests = {}
        return img

    @classmethod
    def from_bytes(klass, bytestring):
        native = _neurovox.NativeImage.from_bytes(bytes(bytestring))
        proxy_native = native.proxy()
        proxy = ArrayProxy._from_native(proxy_native, None, False)
        header = klass.header_class._wrap(native.header())
        img = klass(proxy, None, header)
        img._affine = np.array(native.affine(), dtype=np.float64)
        return img

    def _native_for_save(self):
        """A core image of what this image holds now: its data object, header and affine."""
        affine = None if getattr(self, '_affine', None) is None else self._affine.tolist()
        if self._native is not None and is_proxy(self._dataobj) and \
                getattr(self._dataobj, '_native', None) is not None:
            self._native.sync(self._header._synced(), affine)
            return self._native
        data = self._dataobj._native if isinstance(self._dataobj, ArrayProxy) else \
            np.asanyarray(self._dataobj)
        return _neurovox.NativeImage.from_parts(data, affine, self._header._synced(),
                                                self._format)

    def to_filename(self, filename, dtype=None, **kwargs):
        """Saves the image (atomically) and makes that file its file map."""
        file_map = self.filespec_to_file_map(filename)
        self.update_header()
        native = self._native_for_save()
        target = file_map['image'].filename
        native.to_filename(target, None if dtype is None else np.dtype(dtype))
        self.file_map = file_map
        self._native = native
        self._clean_digests = None

    def to_file_map(self, file_map=None, dtype=None):
        if file_map is None:
            file_map = self.file_map
        holder = file_map.get('image')
        if holder is None or holder.filename is None:
            raise ValueError('No filename or fileobj present')
        self.to_filename(holder.filename, dtype=dtype)
        self.file_map = file_map

    # -- matching the files --------------------------------------------------------------

    def _caches_changed(self):
        digests = self._clean_digests or {}
        for which, cache in (('fdata', self._fdata_cache), ('data', self._data_cache)):
            if cache is not None and which in digests and \
                    _neurovox.digest(cache) != digests[which]:
                return True
        return False

    def is_dirty(self):
        """True whenever the image may differ from its files: a header field, the
        extensions, the affine or cached data changed, the files changed on disk, the image
        was marked dirty, or it has no files."""
        if self._native is None or self._clean_digests is None:
            return True
        if self._caches_changed():
            return True
        affine = None if getattr(self, '_affine', None) is None else self._affine.tolist()
        self._native.sync(self._header._synced(), affine)
        return self._native.is_dirty()

    def dirty_reasons(self):
        """Why :meth:`is_dirty` is true, in words (empty when clean)."""
        if self._native is None:
            return ['the image was made in memory and has no files']
        reasons = []
        if self._clean_digests is None:
            reasons.append('the image changed since it was saved; mark_clean() after checking')
        elif self._caches_changed():
            reasons.append('cached data changed in place')
        affine = None if getattr(self, '_affine', None) is None else self._affine.tolist()
        self._native.sync(self._header._synced(), affine)
        return reasons + list(self._native.dirty_reasons())

    def mark_clean(self):
        """Declares that the image matches its files as they are now."""
        if self._native is None:
            raise ValueError('the image has no files to match; save it with to_filename first')
        affine = None if getattr(self, '_affine', None) is None else self._affine.tolist()
        self._native.sync(self._header._synced(), affine)
        self._native.mark_clean()
        self._clean_digests = {}
        if self._fdata_cache is not None:
            self._clean_digests['fdata'] = _neurovox.digest(self._fdata_cache)
        if self._data_cache is not None:
            self._clean_digests['data'] = _neurovox.digest(self._data_cache)

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
        if not self.is_dirty():
            return os.fspath(self._native.files()[1])
        if self._fdata_cache is not None and (self._native is None or self._caches_changed()):
            data = self._fdata_cache
            native = _neurovox.NativeImage.from_parts(
                np.asarray(data), None if self._affine is None else self._affine.tolist(),
                self._header._synced(), self._format)
            dtype = np.float32 if self._format == 'MGHImage' else data.dtype
            import tempfile
            suffix = '.mgh' if self._format == 'MGHImage' else (
                '.nii' if self._format.startswith('Nifti') and 'Pair' not in self._format
                else '.img')
            fd, path = tempfile.mkstemp(prefix='neurovox-', suffix=suffix, dir=dir)
            os.close(fd)
            native.to_filename(path, np.dtype(dtype))
            return path
        native = self._native_for_save()
        _, image, _ = native.as_filename(None if dir is None else os.fspath(dir))
        return os.fspath(image)

    def __getitem__(self, key):
        raise TypeError('Cannot slice image objects; consider using `img.slicer[slice]` to '
                        'generate a sliced image (see documentation for caveats) or slicing '
                        'image array data with `img.dataobj[slice]` or '
                        '`img.get_fdata()[slice]`')


class SpatialImage(DataobjImage):
    """An image with an affine (nibabel's ``SpatialImage``)."""

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
        return self._affine

    def update_header(self):
        hdr = self._header
        shape = tuple(self._dataobj.shape)
        if hdr.get_data_shape() != shape:
            hdr.set_data_shape(shape)
        if self._affine is None:
            return
        if np.allclose(self._affine, hdr.get_best_affine()):
            return
        self._affine2header()

    def _affine2header(self):
        self._header._native.store_affine(self._affine.tolist())

    def get_data_dtype(self):
        return self._header.get_data_dtype()

    def set_data_dtype(self, dtype):
        self._header.set_data_dtype(dtype)

    @property
    def slicer(self):
        """``img.slicer[key]``: a new in-memory image of part of this one."""
        return SpatialFirstSlicer(self)

    @classmethod
    def from_image(klass, img):
        return klass(img.dataobj, img.affine, klass.header_class.from_header(img.header),
                     extra=img.extra.copy())

    def __repr__(self):
        return (f'<class \'neurovox.{type(self).__name__}\'>\ndata shape {self.shape}\n'
                f'affine:\n{self.affine}')


class SpatialFirstSlicer:
    """Slicing an image by its first three (spatial) axes (nibabel's ``img.slicer``)."""

    def __init__(self, img):
        if len(img.shape) >= 4 and type(img) not in _SPATIAL_FIRST:
            raise ValueError(f'Cannot predict position of spatial axes for Image type '
                             f'{img.__class__.__name__}')
        self.img = img

    def __getitem__(self, slicer):
        img = self.img
        items = list(slicer if isinstance(slicer, tuple) else (slicer,))
        n_real = sum(1 for s in items if s is not None and s is not Ellipsis)
        fill = [slice(None)] * max(len(img.shape) - n_real, 0)
        ellipses = [i for i, s in enumerate(items) if s is Ellipsis]
        if ellipses:
            items[ellipses[0]:ellipses[0] + 1] = fill
        else:
            items.extend(fill)
        expanded = items
        axis = 0
        transform = np.eye(4)
        for s in expanded:
            if axis < 3:
                if s is None:
                    raise IndexError('New axis not permitted in spatial dimensions')
                if not isinstance(s, slice):
                    raise IndexError('Scalar indices disallowed in spatial dimensions; '
                                     'Use `[x]` or `x:x+1`.')
                if s.step == 0:
                    raise ValueError('slice step cannot be 0')
                start, _, step = s.indices(img.shape[axis])
                transform[axis, axis] = step
                transform[axis, 3] = start
            if s is not None:
                axis += 1
        try:
            dataobj = img.dataobj[slicer]
        except ValueError as e:
            raise IndexError(str(e)) from e
        if any(n == 0 for n in np.shape(dataobj)):
            raise IndexError('Empty slice requested')
        affine = None if img.affine is None else img.affine.dot(transform)
        return img.__class__(np.array(dataobj, copy=True), affine, img.header)


class AnalyzeImage(SpatialImage):
    header_class = AnalyzeHeader
    _format = 'AnalyzeImage'
    files_types = (('image', '.img'), ('header', '.hdr'))
    valid_exts = ('.img', '.hdr')


class Spm99AnalyzeImage(AnalyzeImage):
    header_class = Spm99AnalyzeHeader
    _format = 'Spm99AnalyzeImage'
    files_types = (('image', '.img'), ('header', '.hdr'), ('mat', '.mat'))


class Spm2AnalyzeImage(Spm99AnalyzeImage):
    header_class = Spm2AnalyzeHeader
    _format = 'Spm2AnalyzeImage'


class Nifti1Pair(AnalyzeImage):
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
        hdr.set_qform(self._affine, code='unknown')

    def get_qform(self, coded=False):
        return self._header.get_qform(coded)

    def set_qform(self, affine, code=None, strip_shears=True, **kwargs):
        self._header.set_qform(affine, code, strip_shears)
        self._affine = self._header.get_best_affine()

    def get_sform(self, coded=False):
        return self._header.get_sform(coded)

    def set_sform(self, affine, code=None, **kwargs):
        self._header.set_sform(affine, code)
        self._affine = self._header.get_best_affine()


class Nifti1Image(Nifti1Pair):
    header_class = Nifti1Header
    _format = 'Nifti1Image'
    files_types = (('image', '.nii'),)
    valid_exts = ('.nii',)


class Nifti2Pair(Nifti1Pair):
    header_class = Nifti2PairHeader
    _format = 'Nifti2Pair'


class Nifti2Image(Nifti1Image):
    header_class = Nifti2Header
    _format = 'Nifti2Image'


class MGHImage(SpatialImage):
    header_class = MGHHeader
    _format = 'MGHImage'
    files_types = (('image', '.mgh'),)
    valid_exts = ('.mgh', '.mgz')
    _compressed_suffixes = ()
    _consumes_scaling = False


_SPATIAL_FIRST = (AnalyzeImage, Spm99AnalyzeImage, Spm2AnalyzeImage, Nifti1Pair, Nifti1Image,
                  Nifti2Pair, Nifti2Image, MGHImage)

IMAGE_CLASSES = {cls._format: cls for cls in _SPATIAL_FIRST}
assert set(IMAGE_CLASSES) == set(HEADER_CLASSES)
