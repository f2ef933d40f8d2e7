"""Header classes with nibabel's names and behaviour, over the Rust core's headers.

``header['field']`` returns what nibabel returns — the field of a numpy structured array over
the header's binary block, with the header's byte order — and ``header['field'] = value``
assigns with numpy's casting rules, then stores the field in the core header.
"""

from __future__ import annotations

from copy import deepcopy
from functools import lru_cache

import numpy as np

from . import _neurovox
from .errors import HeaderDataError

# NIfTI datatype codes (nibabel's ``data_type_codes``) for ``set_data_dtype(code)``.
_NIFTI_CODES = {
    2: 'u1', 4: 'i2', 8: 'i4', 16: 'f4', 32: 'c8', 64: 'f8', 128: 'RGB', 256: 'i1',
    512: 'u2', 768: 'u4', 1024: 'i8', 1280: 'u8', 1792: 'c16', 2304: 'RGBA',
}
_NIFTI_NAMES = {
    'NIFTI_TYPE_UINT8': 2, 'NIFTI_TYPE_INT16': 4, 'NIFTI_TYPE_INT32': 8,
    'NIFTI_TYPE_FLOAT32': 16, 'NIFTI_TYPE_COMPLEX64': 32, 'NIFTI_TYPE_FLOAT64': 64,
    'NIFTI_TYPE_RGB24': 128, 'NIFTI_TYPE_INT8': 256, 'NIFTI_TYPE_UINT16': 512,
    'NIFTI_TYPE_UINT32': 768, 'NIFTI_TYPE_INT64': 1024, 'NIFTI_TYPE_UINT64': 1280,
    'NIFTI_TYPE_COMPLEX128': 1792, 'NIFTI_TYPE_RGBA32': 2304,
}
_RGB = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
_RGBA = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1'), ('A', 'u1')])
_XFORM_CODES = {'unknown': 0, 'scanner': 1, 'aligned': 2, 'talairach': 3, 'mni': 4,
                'template': 5}


def _to_dtype(dtype):
    """A numpy dtype from anything nibabel's ``set_data_dtype`` accepts."""
    if isinstance(dtype, (int, np.integer)) and not isinstance(dtype, bool):
        code = _NIFTI_CODES.get(int(dtype))
        if code is None:
            raise HeaderDataError(f'data dtype "{dtype}" not recognized')
        dtype = code
    if isinstance(dtype, str):
        upper = dtype.upper()
        if upper in _NIFTI_NAMES:
            dtype = _NIFTI_CODES[_NIFTI_NAMES[upper]]
        if dtype.upper() in ('RGB', 'RGB24'):
            return _RGB
        if dtype.upper() in ('RGBA', 'RGBA32'):
            return _RGBA
    try:
        return np.dtype(dtype)
    except TypeError as e:
        raise HeaderDataError(f'data dtype "{dtype}" not recognized') from e


def _xform_code(code):
    if code is None or isinstance(code, (int, np.integer)):
        return None if code is None else int(code)
    try:
        return _XFORM_CODES[code]
    except KeyError:
        raise KeyError(f'code {code!r} not found') from None


@lru_cache(maxsize=None)
def _struct_dtype(layout, endianness):
    """The numpy structured dtype of a header layout, as nibabel's ``template_dtype``."""
    names, formats, offsets = [], [], []
    size = 0
    for name, offset, kind, count, columns in layout:
        if kind == 'S':
            fmt = np.dtype(f'S{count}')
        else:
            base = np.dtype(kind).newbyteorder(endianness)
            if columns:
                fmt = np.dtype((base, (count // columns, columns)))
            elif count > 1:
                fmt = np.dtype((base, (count,)))
            else:
                fmt = base
        names.append(name)
        formats.append(fmt)
        offsets.append(offset)
        size = max(size, offset + fmt.itemsize)
    return np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                     'itemsize': size})


class Nifti1Extension:
    """A NIfTI header extension: a code and its content (nibabel's ``Nifti1Extension``)."""

    def __init__(self, code, content):
        self.code = int(code)
        self._raw = content if isinstance(content, bytes) else bytes(content)

    def get_code(self):
        return self.code

    def get_content(self):
        return self._raw.rstrip(b'\x00')

    @property
    def content(self):
        return self.get_content()

    def get_sizeondisk(self):
        return (len(self._raw) + 8 + 15) // 16 * 16

    def __eq__(self, other):
        return (isinstance(other, Nifti1Extension) and self.code == other.code
                and self.get_content() == other.get_content())

    def __repr__(self):
        return f'Nifti1Extension({self.code}, {self.get_content()!r})'


class Nifti1Extensions(list):
    """The list of a header's extensions (nibabel's ``Nifti1Extensions``)."""

    def count(self, ecode):  # noqa: D401 - nibabel's signature
        return sum(1 for e in self if e.get_code() == ecode)

    def get_codes(self):
        return [e.get_code() for e in self]

    def get_sizeondisk(self):
        return sum(e.get_sizeondisk() for e in self)


class FileBasedHeader:
    """The header protocol every image header follows (nibabel's ``FileBasedHeader``): a
    base for headers of image classes made outside neurovox."""

    @classmethod
    def from_header(klass, header=None):
        if header is None:
            return klass()
        if type(header) is klass:
            return header.copy()
        raise NotImplementedError(
            f'Header class requires a conversion from {klass} to {type(header)}')

    @classmethod
    def from_fileobj(klass, fileobj):
        raise NotImplementedError

    def write_to(self, fileobj):
        raise NotImplementedError

    def __eq__(self, other):
        raise NotImplementedError

    def __ne__(self, other):
        return not self == other

    def copy(self):
        """An independent copy (a deep copy)."""
        return deepcopy(self)


class SpatialHeader(FileBasedHeader):
    """Base of the header classes: a core header of one image format."""

    #: The nibabel image class this header belongs to.
    _format = 'Nifti1Image'
    _factor_f32 = False
    #: The numpy type of the zoom fields (pixdim, MGH's delta): what get_zooms returns.
    _zoom_dtype = np.float32
    has_data_slope = False
    has_data_intercept = False

    def __init__(self, binaryblock=None, endianness=None, check=True):
        if binaryblock is None:
            native = _neurovox.NativeHeader(self._format, endianness or '=')
        else:
            native = _neurovox.NativeHeader.parse(self._format, bytes(binaryblock))
        self._set_native(native)

    @classmethod
    def _wrap(cls, native):
        self = cls.__new__(cls)
        self._set_native(native)
        return self

    def _set_native(self, native):
        self._native = native
        self._extensions = Nifti1Extensions(
            Nifti1Extension(code, raw) for code, raw in native.get_extensions())

    def _synced(self):
        """The core header with this object's extensions."""
        if self._format.startswith('Nifti'):
            self._native.set_extensions([(e.code, e._raw) for e in self._extensions])
        return self._native

    @classmethod
    def from_header(klass, header=None, check=True):
        """A copy of ``header`` as this class (nibabel's ``from_header``)."""
        if header is None:
            return klass(check=check)
        if type(header) is klass:
            return header.copy()
        if isinstance(header, SpatialHeader) and header._format == klass._format:
            return klass._wrap(header._synced().copy())
        obj = klass(check=check)
        obj.set_data_dtype(header.get_data_dtype())
        obj.set_data_shape(header.get_data_shape())
        obj.set_zooms(header.get_zooms())
        return obj

    def copy(self):
        return type(self)._wrap(self._synced().copy())

    @classmethod
    def from_fileobj(klass, fileobj):
        """The header read from a file object at its position (the object is left after
        what was read: for NIfTI the extensions, for MGH the footer after the data)."""
        return klass._wrap(_neurovox.NativeHeader.from_fileobj(klass._format, fileobj))

    def write_to(self, fileobj):
        """Writes the header (and NIfTI extensions) at the file object's position."""
        fileobj.write(self._synced().to_prefix_bytes())

    # -- fields --------------------------------------------------------------------------

    @property
    def _structarr(self):
        dt = _struct_dtype(tuple(self._native.layout()), self._native.endianness)
        return np.frombuffer(self._native.binaryblock, dtype=dt, count=1).reshape(()).copy()

    @property
    def binaryblock(self):
        return bytes(self._native.binaryblock)

    @property
    def endianness(self):
        return self._native.endianness

    def keys(self):
        return [name for name, *_ in self._native.layout()]

    def values(self):
        arr = self._structarr
        return [arr[k] for k in self.keys()]

    def items(self):
        return list(zip(self.keys(), self.values()))

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key):
        return key in self.keys()

    def __getitem__(self, item):
        arr = self._structarr
        if item not in arr.dtype.names:
            raise ValueError(f'no field of name {item}')
        return arr[item]

    def __setitem__(self, item, value):
        arr = self._structarr
        if item not in arr.dtype.names:
            raise ValueError(f'no field of name {item}')
        arr[item] = value
        stored = arr[item]
        if stored.dtype.kind == 'S':
            self._native.set(item, bytes(stored))
        elif stored.ndim == 0:
            self._native.set(item, stored.item())
        else:
            self._native.set(item, [v.item() for v in stored.reshape(-1)])

    def __eq__(self, other):
        if not isinstance(other, SpatialHeader):
            return NotImplemented
        return (self._format == other._format and self.binaryblock == other.binaryblock
                and self.get_data_dtype() == other.get_data_dtype())

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    # -- data description ----------------------------------------------------------------

    def get_data_shape(self):
        return tuple(self._native.get_data_shape())

    def set_data_shape(self, shape):
        try:
            shape = [int(n) for n in shape]
        except TypeError:
            shape = [int(shape)]
        self._native.set_data_shape(shape)

    def get_data_dtype(self):
        return self._native.get_data_dtype()

    def set_data_dtype(self, datatype):
        self._native.set_data_dtype(_to_dtype(datatype))

    def get_zooms(self):
        return tuple(self._zoom_dtype(z) for z in self._native.get_zooms())

    def set_zooms(self, zooms):
        zooms = [float(z) for z in zooms]
        ndim = len(self.get_data_shape())
        if len(zooms) != ndim:
            raise HeaderDataError(f'Expecting {ndim} zoom values for ndim {ndim}')
        if any(z < 0 for z in zooms):
            raise HeaderDataError('zooms must be positive')
        self._native.set_zooms(zooms)

    def get_data_offset(self):
        return self._native.get_data_offset()

    def set_data_offset(self, offset):
        self._native.set_data_offset(int(offset))

    def get_slope_inter(self):
        return self._native.get_slope_inter()

    def set_slope_inter(self, slope, inter=None):
        self._native.set_slope_inter(None if slope is None else float(slope),
                                     None if inter is None else float(inter))

    def get_best_affine(self):
        return np.array(self._native.get_best_affine())

    def get_base_affine(self):
        zooms = np.array(self.get_zooms()[:3] + (1.0,) * (3 - min(3, len(self.get_zooms()))))
        shape = np.array(self.get_data_shape()[:3] + (1,) * (3 - min(3, len(self.get_data_shape()))))
        aff = np.eye(4)
        aff[:3, :3] = np.diag(zooms * [-1, 1, 1])
        aff[:3, 3] = -(shape - 1) / 2.0 * zooms * [-1, 1, 1]
        return aff

    def data_to_fileobj(self, *args, **kwargs):  # pragma: no cover - not in phase 1
        raise NotImplementedError('use img.to_filename')

    def __repr__(self):
        return f'<{type(self).__name__} shape={self.get_data_shape()} dtype={self.get_data_dtype()}>'


class AnalyzeHeader(SpatialHeader):
    _format = 'AnalyzeImage'
    sizeof_hdr = 348


class Spm99AnalyzeHeader(AnalyzeHeader):
    _format = 'Spm99AnalyzeImage'
    _factor_f32 = True
    has_data_slope = True

    def get_slope_inter(self):
        """``(slope, None)``, the slope as the header's float32 field (a 0-d array, as
        nibabel returns it, so scaling by it stays float32), or ``(None, None)`` for a
        slope of 0, NaN or infinity."""
        slope, _ = self._native.get_slope_inter()
        if slope is None:
            return None, None
        return self['scl_slope'], None


class Spm2AnalyzeHeader(Spm99AnalyzeHeader):
    _format = 'Spm2AnalyzeImage'
    _factor_f32 = False
    has_data_intercept = True

    def get_slope_inter(self):
        """SPM2's scaling (from ``scl_slope``, ``scl_inter`` and the gl/cal fields), as
        floats."""
        return self._native.get_slope_inter()


class Nifti1PairHeader(SpatialHeader):
    _format = 'Nifti1Pair'
    sizeof_hdr = 348
    has_data_slope = True
    has_data_intercept = True

    @property
    def extensions(self):
        return self._extensions

    def get_qform(self, coded=False):
        affine, code = self._native.get_qform()
        affine = np.array(affine)
        if coded:
            return (affine if code else None), code
        return affine

    def set_qform(self, affine, code=None, strip_shears=True):
        self._native.set_qform(None if affine is None else np.asarray(affine, float).tolist(),
                               _xform_code(code), bool(strip_shears))

    def get_sform(self, coded=False):
        affine, code = self._native.get_sform()
        affine = np.array(affine)
        if coded:
            return (affine if code else None), code
        return affine

    def set_sform(self, affine, code=None):
        self._native.set_sform(None if affine is None else np.asarray(affine, float).tolist(),
                               _xform_code(code))


class Nifti1Header(Nifti1PairHeader):
    _format = 'Nifti1Image'


class Nifti2PairHeader(Nifti1PairHeader):
    _format = 'Nifti2Pair'
    sizeof_hdr = 540
    _zoom_dtype = np.float64


class Nifti2Header(Nifti2PairHeader):
    _format = 'Nifti2Image'


class MGHHeader(SpatialHeader):
    _format = 'MGHImage'

    def __init__(self, binaryblock=None, check=True):
        super().__init__(binaryblock, '>', check)

    def get_slope_inter(self):
        return None, None

    def get_affine(self):
        return self.get_best_affine()


HEADER_CLASSES = {
    'AnalyzeImage': AnalyzeHeader,
    'Spm99AnalyzeImage': Spm99AnalyzeHeader,
    'Spm2AnalyzeImage': Spm2AnalyzeHeader,
    'Nifti1Pair': Nifti1PairHeader,
    'Nifti1Image': Nifti1Header,
    'Nifti2Pair': Nifti2PairHeader,
    'Nifti2Image': Nifti2Header,
    'MGHImage': MGHHeader,
}
