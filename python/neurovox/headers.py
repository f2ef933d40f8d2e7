"""Header classes with nibabel's names and behaviour, over the Rust core's headers.

``header['field']`` returns what nibabel returns — the field of a numpy structured array over
the header's binary block, with the header's byte order — and ``header['field'] = value``
assigns with numpy's casting rules, then stores the field in the core header.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from copy import deepcopy
from functools import lru_cache

import numpy as np

from . import _neurovox
from .errors import AFNIHeaderError, HeaderDataError, PARRECError, _afni_errors, _parrec_errors

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


def _coded_affine(affine, code, coded):
    """``get_qform``/``get_sform``'s result: the affine, or ``(affine or None, code)``."""
    affine = np.array(affine)
    if coded:
        return (affine if code else None), code
    return affine


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


#: NIfTI extension codes by nibabel's names (``Nifti1Extension('comment', ...)``).
_EXTENSION_CODES = {
    'ignore': 0, 'dicom': 2, 'afni': 4, 'comment': 6, 'xcede': 8, 'jimdiminfo': 10,
    'workflow_fwds': 12, 'freesurfer': 14, 'pypickle': 16, 'mind_ident': 18, 'b_value': 20,
    'spherical_direction': 22, 'dt_component': 24, 'shc_degreeorder': 26, 'voxbo': 28,
    'caret': 30, 'cifti': 32, 'variable_frame_timing': 34, 'eval': 38, 'matlab': 40,
    'quantiphyse': 42, 'mrs': 44,
}


class Nifti1Extension:
    """A NIfTI header extension: a code and its content (nibabel's ``Nifti1Extension``)."""

    def __init__(self, code, content):
        self.code = _EXTENSION_CODES.get(code, code) if isinstance(code, str) else int(code)
        if isinstance(self.code, str):
            raise ValueError(f'unknown NIfTI extension code name {code!r}')
        self._raw = content if isinstance(content, bytes) else bytes(content)

    def get_code(self):
        """The extension code (an int; 4 is AFNI, 6 comments, 32 CIfTI...)."""
        return self.code

    def get_content(self):
        """The content as bytes, without the zero bytes that pad it to a multiple of 16."""
        return self._raw.rstrip(b'\x00')

    @property
    def content(self):
        """The content as bytes (``get_content()``)."""
        return self.get_content()

    def get_sizeondisk(self):
        """The bytes the extension takes in the file: 8 for code and size, then the content
        padded to a multiple of 16."""
        return (len(self._raw) + 8 + 15) // 16 * 16

    def __eq__(self, other):
        return (isinstance(other, Nifti1Extension) and self.code == other.code
                and self.get_content() == other.get_content())

    def __repr__(self):
        return f'Nifti1Extension({self.code}, {self.get_content()!r})'


class Nifti1Extensions(list):
    """The list of a header's extensions (nibabel's ``Nifti1Extensions``)."""

    def count(self, ecode):  # noqa: D401 - nibabel's signature
        """How many extensions have code ``ecode`` (not ``list.count``: nibabel's meaning)."""
        return sum(1 for e in self if e.get_code() == ecode)

    def get_codes(self):
        """The codes of the extensions, in order."""
        return [e.get_code() for e in self]

    def get_sizeondisk(self):
        """The bytes all extensions take in the file."""
        return sum(e.get_sizeondisk() for e in self)


class FileBasedHeader:
    """The header protocol every image header follows (nibabel's ``FileBasedHeader``): a
    base for headers of image classes made outside neurovox."""

    @classmethod
    def from_header(klass, header=None):
        """A header of this class made from ``header``.

        Parameters
        ----------
        header : FileBasedHeader or None, optional
            The header to copy; None makes a new, default header.

        Returns
        -------
        FileBasedHeader
            A copy of ``header`` if it is of this very class, else a new header.

        Raises
        ------
        NotImplementedError
            If ``header`` is of another class: this base does not convert; subclasses may.
        """
        if header is None:
            return klass()
        if type(header) is klass:
            return header.copy()
        raise NotImplementedError(
            f'Header class requires a conversion from {klass} to {type(header)}')

    @classmethod
    def from_fileobj(klass, fileobj):
        """Reads a header from a file object at its position; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError

    def write_to(self, fileobj):
        """Writes the header to a file object at its position; subclasses implement it.

        Raises
        ------
        NotImplementedError
            Always, in this base class.
        """
        raise NotImplementedError

    def __eq__(self, other):
        raise NotImplementedError

    def __ne__(self, other):
        return not self == other

    def copy(self):
        """An independent copy (a deep copy)."""
        return deepcopy(self)


class SpatialHeader(FileBasedHeader):
    """Base of the header classes: a core header of one image format.

    The header's fields are those of the format (``keys()``); ``header['field']`` reads one
    as a numpy value and ``header['field'] = value`` sets it. The methods read and set what
    the fields mean: shape, data type, voxel sizes, scaling, offset and affine.

    Attributes
    ----------
    has_data_slope : bool
        Whether the format stores a scale factor for the data.
    has_data_intercept : bool
        Whether the format stores an intercept for the data.
    """

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
        mapping = getattr(header, 'as_analyze_map', None)
        if mapping is not None:
            # Fields a foreign header maps onto Analyze's (PAR/REC's description and units);
            # nibabel's 'descr' key misses NIfTI's 'descrip' field, which we fill
            # (docs/compat.md, PAR/REC).
            keys = set(obj.keys())
            for key, value in mapping().items():
                key = 'descrip' if key == 'descr' and 'descrip' in keys else key
                if key in keys:
                    obj[key] = value.encode('utf-8')[:80] if isinstance(value, str) else value
        obj.set_data_dtype(header.get_data_dtype())
        obj.set_data_shape(header.get_data_shape())
        obj.set_zooms(header.get_zooms())
        return obj

    def copy(self):
        """An independent copy of the header (fields and extensions)."""
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
        """The header's bytes as stored in a file (without NIfTI extensions)."""
        return bytes(self._native.binaryblock)

    @property
    def endianness(self):
        """The byte order of the header: ``'<'`` (little-endian) or ``'>'`` (big-endian).

        Files keep the byte order they were written in; a new header has the machine's (MGH
        headers are always big-endian).
        """
        return self._native.endianness

    def keys(self):
        """The names of the header's fields, in file order."""
        return [name for name, *_ in self._native.layout()]

    def values(self):
        """The values of the fields, in the order of ``keys()``."""
        arr = self._structarr
        return [arr[k] for k in self.keys()]

    def items(self):
        """``(name, value)`` pairs of the fields, in the order of ``keys()``."""
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
        """The shape of the image data, a tuple of ints."""
        return tuple(self._native.get_data_shape())

    def set_data_shape(self, shape):
        """Sets the shape of the image data.

        Parameters
        ----------
        shape : sequence of int, or int
            The new shape. Voxel sizes of new axes are 1.

        Raises
        ------
        ValueError
            If the format cannot hold the shape (too many axes, or a length too large for its
            field); the message names the field.
        """
        try:
            shape = [int(n) for n in shape]
        except TypeError:
            shape = [int(shape)]
        self._native.set_data_shape(shape)

    def get_data_dtype(self):
        """The numpy dtype of the stored data, with the header's byte order."""
        return self._native.get_data_dtype()

    def set_data_dtype(self, datatype):
        """Sets the type the data is stored as.

        Parameters
        ----------
        datatype : numpy dtype, type, str or int
            Anything ``numpy.dtype`` accepts, a NIfTI type code (``4``) or name
            (``'NIFTI_TYPE_INT16'``), or ``'RGB'``/``'RGBA'`` for colour voxels.

        Raises
        ------
        HeaderDataError
            If the type is not recognised or the format cannot store it (Analyze has no int64,
            MGH only uint8, int16, int32 and float32).

        Examples
        --------
        >>> import neurovox as nib
        >>> hdr = nib.Nifti1Header()
        >>> hdr.set_data_dtype('NIFTI_TYPE_INT16')
        >>> hdr.get_data_dtype()
        dtype('<i2')
        """
        self._native.set_data_dtype(_to_dtype(datatype))

    def get_zooms(self):
        """The voxel sizes: one per data axis (pixdim[1:], MGH's delta and TR).

        Returns
        -------
        tuple of numpy.float32 (numpy.float64 for NIfTI-2)
            As nibabel returns them: the type of the header's zoom fields.

        Examples
        --------
        >>> import numpy as np, neurovox as nv
        >>> img = nv.Nifti1Image(np.zeros((2, 3, 4), np.int16), np.diag([2, 2, 3.5, 1]))
        >>> img.header.get_zooms()
        (np.float32(2.0), np.float32(2.0), np.float32(3.5))
        """
        return tuple(self._zoom_dtype(z) for z in self._native.get_zooms())

    def set_zooms(self, zooms):
        """Sets the voxel sizes, one for each axis of the data shape.

        Parameters
        ----------
        zooms : sequence of float
            Sizes along each axis (spatial axes usually in mm, a time axis in seconds).

        Raises
        ------
        HeaderDataError
            If there is not one size per axis, or a size is negative.
        """
        zooms = [float(z) for z in zooms]
        ndim = len(self.get_data_shape())
        if len(zooms) != ndim:
            raise HeaderDataError(f'Expecting {ndim} zoom values for ndim {ndim}')
        if any(z < 0 for z in zooms):
            raise HeaderDataError('zooms must be positive')
        self._native.set_zooms(zooms)

    def get_data_offset(self):
        """The byte offset of the data in the image file (0 for a separate ``.img``)."""
        return self._native.get_data_offset()

    def set_data_offset(self, offset):
        """Sets the byte offset of the data in the image file.

        Saves place the data where the format needs it, so this matters only for files written
        or read by other means.
        """
        self._native.set_data_offset(int(offset))

    def get_slope_inter(self):
        """The data's scaling as ``(slope, inter)``: stored values ``x`` mean
        ``x * slope + inter``.

        Returns
        -------
        slope, inter : float or None
            ``(None, None)`` when the format stores no scaling or the fields hold none (a slope of
            0 or NaN), as in nibabel.
        """
        return self._native.get_slope_inter()

    def set_slope_inter(self, slope, inter=None):
        """Sets the data's scaling (``None`` for none: NaN in the file).

        Images loaded or saved by neurovox apply the scaling themselves: a saved image computes
        its own factors from its data unless it is stored as float.
        """
        self._native.set_slope_inter(None if slope is None else float(slope),
                                     None if inter is None else float(inter))

    def get_best_affine(self):
        """The voxel-to-world affine (4 x 4) the header describes best.

        For NIfTI, the sform if its code is not 0, else the qform if its code is not 0, else the
        voxel sizes' affine (``get_base_affine``); for Analyze, SPM and MGH, their own rules.
        """
        return np.array(self._native.get_best_affine())

    def get_base_affine(self):
        """The affine from voxel sizes and shape only: axes flipped to left-right as Analyze
        assumes, the origin at the centre of the volume.
        """
        zooms = np.array(self.get_zooms()[:3] + (1.0,) * (3 - min(3, len(self.get_zooms()))))
        shape = np.array(self.get_data_shape()[:3] + (1,) * (3 - min(3, len(self.get_data_shape()))))
        aff = np.eye(4)
        aff[:3, :3] = np.diag(zooms * [-1, 1, 1])
        aff[:3, 3] = -(shape - 1) / 2.0 * zooms * [-1, 1, 1]
        return aff

    def data_to_fileobj(self, *args, **kwargs):  # pragma: no cover - saves go through images
        """Not offered: neurovox writes the data when the image is saved.

        Raises
        ------
        NotImplementedError
            Always; use ``img.to_filename`` or ``neurovox.save``.
        """
        raise NotImplementedError('use img.to_filename')

    def __repr__(self):
        return f'<{type(self).__name__} shape={self.get_data_shape()} dtype={self.get_data_dtype()}>'


class AnalyzeHeader(SpatialHeader):
    """The header of an Analyze 7.5 image (``.hdr`` beside its ``.img``), as nibabel's
    ``AnalyzeHeader``: no scaling, no orientation beyond voxel sizes.

    Attributes
    ----------
    sizeof_hdr : int
        The header's size in bytes (348).
    """
    _format = 'AnalyzeImage'
    sizeof_hdr = 348


class Spm99AnalyzeHeader(AnalyzeHeader):
    """The header of an SPM99 Analyze image: Analyze with a scale factor (``scl_slope``,
    stored in the ``funused1`` field) and an origin; the affine may also come from a ``.mat``
    file beside the image.
    """
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
    """The header of an SPM2 Analyze image: SPM99's, with an intercept and SPM2's rules for
    the scale factors.
    """
    _format = 'Spm2AnalyzeImage'
    _factor_f32 = False
    has_data_intercept = True

    def get_slope_inter(self):
        """SPM2's scaling (from ``scl_slope``, ``scl_inter`` and the gl/cal fields), as
        floats."""
        return self._native.get_slope_inter()


class Nifti1PairHeader(SpatialHeader):
    """The header of a NIfTI-1 pair (``.hdr`` beside its ``.img``), as nibabel's
    ``Nifti1PairHeader``: scaling, qform and sform, and extensions.

    Attributes
    ----------
    sizeof_hdr : int
        The header's size in bytes (348 for NIfTI-1, 540 for NIfTI-2).

    Examples
    --------
    >>> import numpy as np, neurovox as nib
    >>> hdr = nib.Nifti1PairHeader()
    >>> hdr.set_sform(np.diag([2.0, 2.0, 2.0, 1.0]), code='scanner')
    >>> hdr.get_sform(coded=True)[1]
    1
    """
    _format = 'Nifti1Pair'
    sizeof_hdr = 348
    has_data_slope = True
    has_data_intercept = True

    @property
    def extensions(self):
        """The header's extensions (a ``Nifti1Extensions`` list), edited in place; saves write
        them after the header.
        """
        return self._extensions

    def get_qform(self, coded=False):
        """The qform affine, built from the quaternion, offsets and voxel sizes.

        Parameters
        ----------
        coded : bool, optional
            If True, return ``(affine, code)``, with None for the affine when the code is 0.

        Returns
        -------
        affine : ndarray (4, 4), or None
        code : int
            Only with ``coded=True``.
        """
        return _coded_affine(*self._native.get_qform(), coded)

    def set_qform(self, affine, code=None, strip_shears=True):
        """Sets the qform from an affine.

        Parameters
        ----------
        affine : array-like (4, 4) or None
            The affine; None sets the code to 0 (unknown) and leaves the other fields.
        code : int or str, optional
            The qform code (``'unknown'``, ``'scanner'``, ``'aligned'``, ``'talairach'``,
            ``'mni'``, ``'template'`` or 0-5). None keeps the current code if it is not 0, else
            sets ``'aligned'`` (2).
        strip_shears : bool, optional
            A qform cannot hold shears: True stores the closest affine without them; False raises
            instead.

        Raises
        ------
        ValueError
            If the affine has shears and ``strip_shears`` is False (nibabel raises
            ``HeaderDataError``), or has no quaternion form (a singular or non-finite 3 x 3
            part).
        """
        self._native.set_qform(None if affine is None else np.asarray(affine, float).tolist(),
                               _xform_code(code), bool(strip_shears))

    def get_sform(self, coded=False):
        """The sform affine, from the ``srow_x``, ``srow_y`` and ``srow_z`` fields.

        Parameters
        ----------
        coded : bool, optional
            If True, return ``(affine, code)``, with None for the affine when the code is 0.

        Returns
        -------
        affine : ndarray (4, 4), or None
        code : int
            Only with ``coded=True``.
        """
        return _coded_affine(*self._native.get_sform(), coded)

    def set_sform(self, affine, code=None):
        """Sets the sform from an affine.

        Parameters
        ----------
        affine : array-like (4, 4) or None
            The affine; None sets the code to 0 (unknown) and leaves the rows.
        code : int or str, optional
            As for ``set_qform``: None keeps a code that is not 0, else sets ``'aligned'`` (2).
        """
        self._native.set_sform(None if affine is None else np.asarray(affine, float).tolist(),
                               _xform_code(code))


class Nifti1Header(Nifti1PairHeader):
    """The header of a single-file NIfTI-1 image (``.nii``): the pair's header, with the data
    after the header and its extensions in the same file.
    """
    _format = 'Nifti1Image'


class Nifti2PairHeader(Nifti1PairHeader):
    """The header of a NIfTI-2 pair: NIfTI-1's fields widened to 64 bits (540 bytes)."""
    _format = 'Nifti2Pair'
    sizeof_hdr = 540
    _zoom_dtype = np.float64


class Nifti2Header(Nifti2PairHeader):
    """The header of a single-file NIfTI-2 image (``.nii``)."""
    _format = 'Nifti2Image'


class MGHHeader(SpatialHeader):
    """The header of a FreeSurfer MGH image (``.mgh``, or gzip-compressed ``.mgz``): shape,
    type, voxel sizes and an affine, always big-endian; no scaling. Optional tags after the
    data are kept.
    """
    _format = 'MGHImage'

    def __init__(self, binaryblock=None, check=True):
        super().__init__(binaryblock, '>', check)

    def get_slope_inter(self):
        """``(None, None)``: MGH stores no scaling."""
        return None, None

    def get_affine(self):
        """The voxel-to-world affine (``get_best_affine()``), under nibabel's MGH name."""
        return self.get_best_affine()


class AFNIHeader(SpatialHeader):
    """The header of an AFNI dataset (nibabel's ``brikhead.AFNIHeader``): the ``.HEAD`` file's
    attributes (``info``) and the shape, data type and voxel sizes they give. Read only: AFNI
    datasets are read, not written (as in nibabel).

    Parameters
    ----------
    info : dict
        The attributes, as :func:`neurovox.brikhead.parse_AFNI_header` returns them.

    Attributes
    ----------
    info : dict
        The attributes by name: strings as ``str``, one number as ``int`` or ``float``, more as
        a list.

    Raises
    ------
    AFNIHeaderError
        If an attribute the dataset needs is missing or malformed (the message names it).
    AFNIImageError
        If the sub-bricks have different data types, or a type an array cannot hold.
    """
    _format = 'AFNIImage'
    _zoom_dtype = np.float64

    def __init__(self, info):
        with _afni_errors():
            native = _neurovox.NativeHeader.from_afni_info(dict(info))
        self._set_native(native)

    def _set_native(self, native):
        super()._set_native(native)
        self.info = native.afni_info()

    @classmethod
    def from_header(klass, header=None, check=True):
        """A copy of ``header``, which must be an ``AFNIHeader`` (as in nibabel).

        Raises
        ------
        AFNIHeaderError
            If ``header`` is None or of another class.
        """
        if header is None:
            raise AFNIHeaderError('Cannot create AFNIHeader from nothing.')
        if type(header) is klass:
            return header.copy()
        raise AFNIHeaderError('Cannot create AFNIHeader from non-AFNIHeader.')

    @classmethod
    def from_fileobj(klass, fileobj):
        """The header in a ``.HEAD`` file object (text or binary mode), read to its end."""
        data = fileobj.read()
        if isinstance(data, str):
            data = data.encode('utf-8')
        with _afni_errors():
            return klass._wrap(_neurovox.NativeHeader.parse(klass._format, bytes(data)))

    def write_to(self, fileobj):
        """Not offered: AFNI datasets are read only, as in nibabel.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('AFNI headers cannot be written')

    def get_space(self):
        """The template space the dataset is aligned to (``TEMPLATE_SPACE``: ``'ORIG'``,
        ``'TLRC'``, ``'MNI'``…; ``''`` without one)."""
        return self._native.afni_space()

    def get_affine(self):
        """The voxel-to-RAS affine: ``IJK_TO_DICOM_REAL`` with AFNI's LPS turned to RAS.

        Examples
        --------
        >>> import os, nibabel, neurovox as nv
        >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
        >>> nv.load(os.path.join(data, 'example4d+orig.HEAD')).header.get_affine()[0]
        array([-3.  , -0.  , -0.  , 49.5])
        """
        return np.array(self._native.get_best_affine())

    def get_data_scaling(self):
        """One factor per sub-brick (``BRICK_FLOAT_FACS``, a 0 read as 1) as a float64 array,
        or None when the dataset has none or all are 0."""
        scaling = self._native.afni_scaling()
        return None if scaling is None else np.array(scaling, dtype=np.float64)

    def get_slope_inter(self):
        """``(None, None)``: AFNI scales by sub-brick (see ``get_data_scaling``)."""
        return None, None

    def get_data_offset(self):
        """0: the ``.BRIK`` holds nothing but the data."""
        return 0

    def get_volume_labels(self):
        """The sub-brick labels (``BRICK_LABS`` split at ``~``), or None."""
        return self._native.afni_volume_labels()

    def __eq__(self, other):
        if not isinstance(other, AFNIHeader):
            return NotImplemented
        return (self.info == other.info and self.get_data_shape() == other.get_data_shape()
                and self.get_data_dtype() == other.get_data_dtype()
                and self.get_zooms() == other.get_zooms())

    def __reduce__(self):
        return (_restore_afni_header, (self.info, self.get_data_shape(),
                                       self.get_data_dtype().str, self.get_zooms()))


def _restore_afni_header(info, shape, dtype, zooms):
    header = AFNIHeader(info)
    header._native.set_data_shape(list(shape))
    header._native.set_data_dtype(np.dtype(dtype))
    header._native.set_zooms([float(z) for z in zooms])
    return header


class EcatHeader(SpatialHeader):
    """The main header of an ECAT7 PET image (nibabel's ``ecat.EcatHeader``): its fields by
    name (``header['num_frames']``), in the file's byte order. The frames' shapes, types and
    factors are in the subheaders (``EcatImage.get_subheaders()``). Read only.
    """
    _format = 'EcatImage'

    def __init__(self, binaryblock=None, endianness=None, check=True):
        if binaryblock is not None:
            native = _neurovox.NativeHeader.parse(self._format, bytes(binaryblock))
        else:
            native = _neurovox.NativeHeader(self._format, endianness or '>')
        self._set_native(native)

    def get_data_dtype(self):
        """Not offered, as in nibabel: each frame has its own type
        (``EcatImage.get_data_dtype(frame)``).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('dtype is only valid from subheaders')

    def get_patient_orient(self):
        """The name of the ``patient_orientation`` code (``'ECAT7_Head_First_Supine'``…).

        Raises
        ------
        KeyError
            If the code is not one of ECAT's.
        """
        return self._code_name('patient_orientation', _ECAT_ORIENTATIONS, 'Orientation')

    def get_filetype(self):
        """The name of the ``file_type`` code (``'ECAT7_VOLUME16'``…).

        Raises
        ------
        KeyError
            If the code is not one of ECAT's.
        """
        return self._code_name('file_type', _ECAT_FILE_TYPES, 'Filetype')

    def _code_name(self, field, names, what):
        code = int(self[field])
        if code not in names:
            raise KeyError(f'Ecat {what} CODE {code} not recognized')
        return names[code]


_ECAT_ORIENTATIONS = dict(enumerate([
    'ECAT7_Feet_First_Prone', 'ECAT7_Head_First_Prone', 'ECAT7_Feet_First_Supine',
    'ECAT7_Head_First_Supine', 'ECAT7_Feet_First_Decubitus_Right',
    'ECAT7_Head_First_Decubitus_Right', 'ECAT7_Feet_First_Decubitus_Left',
    'ECAT7_Head_First_Decubitus_Left', 'ECAT7_Unknown_Orientation']))
_ECAT_FILE_TYPES = dict(enumerate([
    'ECAT7_UNKNOWN', 'ECAT7_2DSCAN', 'ECAT7_IMAGE16', 'ECAT7_ATTEN', 'ECAT7_2DNORM',
    'ECAT7_POLARMAP', 'ECAT7_VOLUME8', 'ECAT7_VOLUME16', 'ECAT7_PROJ', 'ECAT7_PROJ16',
    'ECAT7_IMAGE8', 'ECAT7_3DSCAN', 'ECAT7_3DSCAN8', 'ECAT7_3DNORM', 'ECAT7_3DSCANFIT']))


#: The image definition fields of each ``.PAR`` version: ``(name, type[, shape])``, as
#: nibabel's ``image_def_dtds``.
_PAR_V4 = [
    ('slice number', int), ('echo number', int), ('dynamic scan number', int),
    ('cardiac phase number', int), ('image_type_mr', int), ('scanning sequence', int),
    ('index in REC file', int), ('image pixel size', int), ('scan percentage', int),
    ('recon resolution', int, (2,)), ('rescale intercept', float), ('rescale slope', float),
    ('scale slope', float), ('window center', float), ('window width', float),
    ('image angulation', float, (3,)), ('image offcentre', float, (3,)),
    ('slice thickness', float), ('slice gap', float), ('image_display_orientation', int),
    ('slice orientation', int), ('fmri_status_indication', int), ('image_type_ed_es', int),
    ('pixel spacing', float, (2,)), ('echo_time', float), ('dyn_scan_begin_time', float),
    ('trigger_time', float), ('diffusion_b_factor', float), ('number of averages', int),
    ('image_flip_angle', float), ('cardiac frequency', int), ('minimum RR-interval', int),
    ('maximum RR-interval', int), ('TURBO factor', int), ('Inversion delay', float),
]
_PAR_V41 = _PAR_V4 + [
    ('diffusion b value number', int), ('gradient orientation number', int),
    ('contrast type', 'S30'), ('diffusion anisotropy type', 'S30'), ('diffusion', float, (3,)),
]
IMAGE_DEF_DTDS = {'V4': _PAR_V4, 'V4.1': _PAR_V41, 'V4.2': _PAR_V41 + [('label type', int)]}

#: The general information values nibabel keeps as arrays (``np.fromstring`` of the line).
_PAR_ARRAY_KEYS = {'scan_resolution': int, 'repetition_time': float, 'fov': float,
                   'angulation': float, 'off_center': float, 'phase_enc_velocity': float}


def _par_python(contents):
    """nibabel's ``(general_info, image_defs)`` from the core's contents of a ``.PAR``."""
    version, general, columns, _unknown = contents
    info = {key: (np.array(value, dtype=_PAR_ARRAY_KEYS[key]) if key in _PAR_ARRAY_KEYS
                  else value) for key, value in general.items()}
    dtype = np.dtype(IMAGE_DEF_DTDS[version])
    rows = len(columns[0][3]) // columns[0][2] if columns else 0
    defs = np.zeros(rows, dtype=dtype)
    for name, kind, width, values in columns:
        array = np.asarray(values, dtype=dtype[name].base)
        defs[name] = array.reshape((rows, width)) if width > 1 else array
    return info, defs


def _par_native(info, image_defs, permit_truncated, strict_sort, scaling='dv'):
    """The core header of nibabel's ``general_info`` dict and ``image_defs`` array."""
    image_defs = np.asarray(image_defs)
    if image_defs.dtype.names is None:
        raise PARRECError('image_defs must be a structured array with nibabel\'s PAR fields')
    # Numeric columns travel as arrays (no Python object per value); text as bytes.
    columns = [(name, image_defs[name].ravel().tolist() if image_defs.dtype[name].kind == 'S'
                else np.ascontiguousarray(image_defs[name].ravel()))
               for name in image_defs.dtype.names]
    with _parrec_errors():
        return _neurovox.parrec_header(dict(info), columns, bool(permit_truncated),
                                       bool(strict_sort), scaling)


def _par_warn(native):
    for message in _neurovox.parrec_info(native)['warnings']:
        warnings.warn(message, UserWarning, stacklevel=3)


class MincHeader(SpatialHeader):
    """The header of a MINC image (nibabel's ``minc1.MincHeader``): the data type, shape and
    voxel sizes read from the file's variables, in the file's dimension order (C order). The
    file's other variables are read by the image, not kept here. Read only: MINC files are
    read, not written (as in nibabel).

    Parameters
    ----------
    data_dtype : numpy dtype, optional
        The stored type (float32 by default).
    shape : tuple of int, optional
        The data shape.
    zooms : sequence of float, optional
        The voxel sizes (1 for each axis by default).

    Attributes
    ----------
    data_layout : str
        ``'C'``: MINC arrays are stored in C order (nibabel keeps the attribute too).

    Examples
    --------
    >>> import numpy as np, neurovox as nv
    >>> hdr = nv.minc1.Minc1Header(np.int16, (10, 20, 30), (2.0, 2.0, 3.0))
    >>> hdr.get_data_shape(), hdr.get_zooms()
    ((10, 20, 30), (2.0, 2.0, 3.0))
    """
    _format = 'Minc1Image'
    _zoom_dtype = np.float64
    data_layout = 'C'

    def __init__(self, data_dtype=np.float32, shape=(0,), zooms=None):
        self._set_native(_neurovox.NativeHeader(self._format, '='))
        self.set_data_dtype(data_dtype)
        self.set_data_shape(shape)
        if zooms is not None:
            self.set_zooms(zooms)

    #: The first four bytes of this MINC version's files (none for the base class).
    _magic = None

    @classmethod
    def may_contain_header(klass, binaryblock):
        """Whether ``binaryblock`` starts as this MINC version's files do (netCDF classic's
        ``CDF\\x01`` for MINC1, HDF5's signature for MINC2)."""
        return klass._magic is not None and bytes(binaryblock[:4]) == klass._magic

    @classmethod
    def from_header(klass, header=None, check=True):
        """A header of this class with the data type, shape and voxel sizes of ``header``
        (nibabel's ``SpatialHeader.from_header``); a default one for ``None``."""
        if header is None:
            return klass()
        if type(header) is klass:
            return header.copy()
        return klass(header.get_data_dtype(), header.get_data_shape(), header.get_zooms())

    def data_to_fileobj(self, data, fileobj, rescale=True):
        """Not offered: MINC files are read only, as in nibabel.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError

    def data_from_fileobj(self, fileobj):
        """Not offered: MINC data is read through the image's proxy, as in nibabel.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError

    def get_zooms(self):
        """The voxel sizes, one per data axis, as Python floats (nibabel's
        ``SpatialHeader.get_zooms``).

        Returns
        -------
        tuple of float
        """
        return tuple(float(z) for z in super().get_zooms())

    def get_best_affine(self):
        """The base affine of the shape and voxel sizes (``get_base_affine``), as nibabel's
        ``SpatialHeader`` gives it: a MINC image's own affine, from its dimension variables,
        is the image's (``img.affine``), not the header's."""
        return self.get_base_affine()

    def __eq__(self, other):
        if not isinstance(other, SpatialHeader):
            return NotImplemented
        return ((self.get_data_dtype(), self.get_data_shape(), self.get_zooms())
                == (other.get_data_dtype(), other.get_data_shape(), other.get_zooms()))

    def __reduce__(self):
        return (_restore_minc_header, (type(self), self.get_data_dtype().str,
                                       self.get_data_shape(), self.get_zooms()))


def _restore_minc_header(cls, dtype, shape, zooms):
    return cls(np.dtype(dtype), shape, [float(z) for z in zooms])


class Minc1Header(MincHeader):
    """The header of a MINC1 (netCDF) image (nibabel's ``minc1.Minc1Header``); see
    :class:`MincHeader`."""
    _format = 'Minc1Image'
    _magic = b'CDF\x01'


class Minc2Header(MincHeader):
    """The header of a MINC2 (HDF5) image (nibabel's ``minc2.Minc2Header``); see
    :class:`MincHeader`."""
    _format = 'Minc2Image'
    _magic = b'\211HDF'


class PARRECHeader(SpatialHeader):
    """The header of a Philips PAR/REC recording (nibabel's ``parrec.PARRECHeader``): the
    ``.PAR``'s general information and one image definition per ``.REC`` slice, with the shape,
    data type and voxel sizes they give. Read only.

    Parameters
    ----------
    info : dict
        General information, as :func:`neurovox.parrec.parse_PAR_header` returns it.
    image_defs : numpy.ndarray
        The image definitions (a structured array with the version's fields).
    permit_truncated : bool, optional
        Warn about a recording whose header shows missing slices or volumes instead of
        raising; incomplete volumes are dropped.
    strict_sort : bool, optional
        Sort volumes by their acquisition fields instead of the order of the ``.PAR``.

    Attributes
    ----------
    general_info : dict
        General information by nibabel's short names.
    image_defs : numpy.ndarray
        The image definitions.

    Raises
    ------
    PARRECError
        If the header is inconsistent (a truncated recording without ``permit_truncated``),
        a value that must be the same for every slice varies, or the pixel size is not 8 or
        16 bits.

    Examples
    --------
    >>> import os, nibabel, neurovox.parrec as pr
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> with open(os.path.join(data, 'T1.PAR')) as f:
    ...     hdr = pr.PARRECHeader.from_fileobj(f)
    >>> hdr.get_data_shape(), hdr.get_slice_orientation()
    ((80, 80, 10), 'transverse')
    """
    _format = 'PARRECImage'
    _zoom_dtype = np.float64

    def __init__(self, info, image_defs, permit_truncated=False, strict_sort=False):
        self._general_info = dict(info)
        self._image_defs = np.array(image_defs, copy=True)
        self.permit_truncated = permit_truncated
        self.strict_sort = strict_sort
        native = _par_native(self._general_info, self._image_defs, permit_truncated,
                             strict_sort)
        _par_warn(native)
        self._set_native(native)

    @classmethod
    def _wrap(cls, native):
        self = cls.__new__(cls)
        # general_info and image_defs are made from the core's table when first asked for:
        # most users never look at them, and a recording's table can run to megabytes.
        self._general_info = self._image_defs = None
        derived = _neurovox.parrec_info(native)
        self.permit_truncated = derived['permit_truncated']
        self.strict_sort = derived['strict_sort']
        # The scaling the core header was loaded with (a load's proxy takes it).
        self._loaded_scaling = derived['scaling']
        self._set_native(native)
        return self

    def _set_native(self, native):
        super()._set_native(native)
        self._derived = native
        self._derived_key = None if self._image_defs is None else self._key()

    def _materialize(self):
        if self._image_defs is None:
            self._general_info, self._image_defs = _par_python(
                _neurovox.parrec_contents(self._derived))
            self._derived_key = self._key()

    @property
    def general_info(self):
        """General information by nibabel's short names (a dict)."""
        self._materialize()
        return self._general_info

    @general_info.setter
    def general_info(self, value):
        self._materialize()
        self._general_info = value

    @property
    def image_defs(self):
        """The image definitions: a structured array, one row per ``.REC`` slice."""
        self._materialize()
        return self._image_defs

    @image_defs.setter
    def image_defs(self, value):
        self._materialize()
        self._image_defs = value

    def _key(self):
        # A digest, not a copy: a recording's table can run to megabytes.
        defs = np.ascontiguousarray(self.image_defs)
        digest = hashlib.blake2b(defs.view(np.uint8), digest_size=16).digest()
        return (defs.dtype.descr, defs.shape, digest,
                repr(sorted(self.general_info.items(), key=str)))

    def _current(self):
        """The core header for what ``general_info`` and ``image_defs`` hold now (nibabel
        reads them at every call, so changes to them count)."""
        if self._image_defs is None:
            return self._derived  # never handed out, so never changed
        key = self._key()
        if key != self._derived_key:
            self._derived = _par_native(self.general_info, self.image_defs,
                                        self.permit_truncated, self.strict_sort)
            self._derived_key = key
        return self._derived

    @classmethod
    def from_header(klass, header=None, check=True):
        """A copy of ``header``, which must be a ``PARRECHeader`` (as in nibabel).

        Raises
        ------
        PARRECError
            If ``header`` is None or of another class.
        """
        if header is None:
            raise PARRECError('Cannot create PARRECHeader from air.')
        if type(header) is klass:
            return header.copy()
        raise PARRECError('Cannot create PARREC header from non-PARREC header.')

    @classmethod
    def from_fileobj(klass, fileobj, permit_truncated=False, strict_sort=False):
        """The header in a ``.PAR`` file object (text or binary mode), read to its end."""
        info, image_defs = _parse_par_fileobj(fileobj)
        return klass(info, image_defs, permit_truncated, strict_sort)

    def copy(self):
        """An independent copy, made again from the general information and image
        definitions (as nibabel makes it, warnings included)."""
        if self._image_defs is None:
            # Nothing handed out, so nothing changed: the core's header is the same.
            other = type(self)._wrap(self._native.copy())
            _par_warn(other._native)
            return other
        return PARRECHeader(deepcopy(self._general_info), self._image_defs.copy(),
                            self.permit_truncated, self.strict_sort)

    def write_to(self, fileobj):
        """Not offered: PAR/REC is read only, as in nibabel.

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError('PAR/REC headers cannot be written')

    def as_analyze_map(self):
        """The NIfTI fields a conversion takes from the ``.PAR``: ``descr`` (exam, patient,
        date and protocol) and ``xyzt_units`` (mm, and s for a dynamic recording)."""
        info = _neurovox.parrec_info(self._current())
        return dict(descr=info['descrip'].decode('utf-8', 'replace'),
                    xyzt_units=info['xyzt_units'])

    def get_water_fat_shift(self):
        """The water-fat shift, in pixels."""
        return self.general_info['water_fat_shift']

    def get_echo_train_length(self):
        """The echo train length (``EPI factor``)."""
        return self.general_info['epi_factor']

    def get_q_vectors(self):
        """b values times b vectors, one row per volume, or None without diffusion."""
        bvals, bvecs = self.get_bvals_bvecs()
        if bvals is None or bvecs is None:
            return None
        return bvecs * bvals[:, np.newaxis]

    def get_bvals_bvecs(self):
        """The b value and b vector of each volume, the vectors in the voxel axes; ``(None,
        None)`` for a recording without diffusion or of one volume; no vectors in V4 files.

        Raises
        ------
        PARRECError
            If the b value or vector changes within a volume.
        """
        with _parrec_errors():
            bvals, bvecs = _neurovox.parrec_bvals_bvecs(self._current())
        return (None if bvals is None else np.array(bvals),
                None if bvecs is None else np.array(bvecs).reshape(-1, 3))

    def get_def(self, name):
        """The image definition field ``name`` (one value per slice), or None."""
        return self.image_defs[name] if name in self.image_defs.dtype.names else None

    def get_data_offset(self):
        """0: the ``.REC`` holds nothing but slices."""
        return 0

    def set_data_offset(self, offset):
        """Only 0 is accepted.

        Raises
        ------
        PARRECError
            For any other offset.
        """
        if offset != 0:
            raise PARRECError('PAR header assumes offset 0')

    def get_slope_inter(self):
        """``(None, None)``: PAR/REC scales each slice (see ``get_data_scaling``)."""
        return None, None

    def get_affine(self, origin='scanner'):
        """The voxel-to-RAS affine from the midslice angulation and off-centre.

        Parameters
        ----------
        origin : {'scanner', 'fov'}, optional
            World zero at the scanner's isocentre or at the centre of the field of view.

        Returns
        -------
        numpy.ndarray
            (4, 4) float64.
        """
        with _parrec_errors():
            return np.array(_neurovox.parrec_affine(self._current(), origin))

    def get_best_affine(self):
        """The affine from shape and voxel sizes only (``get_base_affine()``), as nibabel's
        PAR/REC header gives it; the image's affine is ``get_affine()``."""
        return self.get_base_affine()

    def get_data_scaling(self, method='dv'):
        """The slope and intercept of every slice, shaped ``(1, 1) + shape[2:]``.

        Parameters
        ----------
        method : {'dv', 'fp'}, optional
            ``'dv'``: the values the scanner console shows (``PV * RS + RI``); ``'fp'``:
            floating point values (``DV / (RS * SS)``).

        Returns
        -------
        slope, intercept : numpy.ndarray
        """
        if method not in ('dv', 'fp'):
            raise ValueError(f"Unknown scaling method '{method}'.")
        slopes, inters = _neurovox.parrec_scaling(self._current(), method)
        shape = (1, 1) + tuple(self.get_data_shape()[2:])
        return (np.array(slopes).reshape(shape, order='F'),
                np.array(inters).reshape(shape, order='F'))

    def get_slice_orientation(self):
        """``'transverse'``, ``'sagittal'`` or ``'coronal'``.

        Raises
        ------
        PARRECError
            If the orientation varies or its code is unknown.
        """
        label = _neurovox.parrec_info(self._current())['slice_orientation']
        if label.startswith('error: '):
            raise PARRECError(label[len('error: '):])
        return label

    def get_rec_shape(self):
        """The ``.REC``'s array shape: in-plane size and every listed slice."""
        return tuple(_neurovox.parrec_info(self._current())['rec_shape'])

    def get_sorted_slice_indices(self):
        """The ``.REC`` slice at each slice position of the array, volume by volume
        (complete volumes only).

        Returns
        -------
        numpy.ndarray
            int64.
        """
        return np.array(_neurovox.parrec_info(self._current())['sorted'], dtype=np.int64)

    def get_volume_labels(self):
        """The labels that vary along the volumes, each with one value per volume.

        Returns
        -------
        collections.OrderedDict
        """
        return OrderedDict((name, np.array(values))
                           for name, values in _neurovox.parrec_volume_labels(self._current()))

    def __eq__(self, other):
        if not isinstance(other, SpatialHeader):
            return NotImplemented
        return ((self.get_data_dtype(), self.get_data_shape(), self.get_zooms())
                == (other.get_data_dtype(), other.get_data_shape(), other.get_zooms()))

    def __reduce__(self):
        return (_restore_parrec_header, (self.general_info, self.image_defs,
                                         self.permit_truncated, self.strict_sort,
                                         self.get_data_shape(), self.get_data_dtype().str,
                                         self.get_zooms()))


def _restore_parrec_header(info, image_defs, permit_truncated, strict_sort, shape, dtype, zooms):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        header = PARRECHeader(info, image_defs, permit_truncated, strict_sort)
    header._native.set_data_shape(list(shape))
    header._native.set_data_dtype(np.dtype(dtype))
    header._native.set_zooms([float(z) for z in zooms])
    return header


def _parse_par_fileobj(fileobj):
    """nibabel's ``parse_PAR_header`` of a file object (text or binary mode)."""
    data = fileobj.read()
    if isinstance(data, str):
        data = data.encode('utf-8')
    with _parrec_errors():
        contents = _neurovox.parse_par(bytes(data))
    for key in contents[3]:
        warnings.warn(f'general information {key!r} is not a key nibabel knows; it was '
                      'skipped', UserWarning, stacklevel=3)
    return _par_python(contents)


HEADER_CLASSES = {
    'Minc1Image': Minc1Header,
    'Minc2Image': Minc2Header,
    'AnalyzeImage': AnalyzeHeader,
    'Spm99AnalyzeImage': Spm99AnalyzeHeader,
    'Spm2AnalyzeImage': Spm2AnalyzeHeader,
    'Nifti1Pair': Nifti1PairHeader,
    'Nifti1Image': Nifti1Header,
    'Nifti2Pair': Nifti2PairHeader,
    'Nifti2Image': Nifti2Header,
    'MGHImage': MGHHeader,
    'AFNIImage': AFNIHeader,
    'EcatImage': EcatHeader,
    'PARRECImage': PARRECHeader,
}
