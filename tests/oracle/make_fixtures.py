"""Generate the nibabel oracle that neurovox's Rust tests compare against.

neurovox re-implements nibabel's image layer (Analyze, SPM99/SPM2, NIfTI-1/2
and MGH) in Rust.  The only trustworthy description of "correct" behaviour is
what nibabel itself does, so this script asks nibabel.  Nothing third-party is
committed to the repository: the fixtures are generated at test time.

Usage::

    python tests/oracle/make_fixtures.py OUTDIR

The script (re)creates OUTDIR and

1. writes a matrix of small images with nibabel under ``OUTDIR/matrix/``:
   every image class x every dtype the class can store x both byte orders x
   scaling (none / explicit / auto) x 3-D, 4-D and 5-D shapes x plain and
   gzip compression (plus a few bzip2 files and some corner cases).  Affines
   and header extras (descrip, units, intents, slice timing, qform/sform
   codes, NIfTI extensions, SPM origin, ...) are cycled over the files so
   each appears many times;
2. reloads every file it wrote and records what nibabel reports about it
   (raw header block, every header field, shape, dtype, zooms, offsets,
   scaling, affines, extensions, header diagnostics, ...), and saves the
   arrays nibabel reads under ``OUTDIR/arrays/`` as ``.npy`` files;
3. does the same for the NIfTI, Analyze, MGH and AFNI files shipped in nibabel's
   own ``tests/data`` directory (referenced by absolute path, never copied);
4. copies every PAR/REC recording of that directory (each ``.PAR``, and its
   ``.REC`` when there is one) to ``OUTDIR`` and records, for each load option
   set (``permit_truncated`` x ``strict_sort`` x ``scaling``), what nibabel's
   ``PARRECHeader`` gives (shape, dtype, zooms, affines, slice order, scaling,
   volume labels, b values and vectors) or the error it raises, and for the
   recordings with a ``.REC`` the arrays its ``PARRECImage`` reads, as ``.npy``
   under ``OUTDIR/arrays/`` (``describe_parrec``);
5. records what nibabel's ``minc1`` / ``minc2`` give for every ``.mnc`` of that directory
   (by absolute path) and for MINC1 (nibabel's netCDF writer) and MINC2 (h5py) files it
   writes under ``OUTDIR/minc/``: class, shape, dtype, zooms, affine, the arrays
   ``np.asarray(img.dataobj)``, ``get_fdata()`` and ``img.dataobj[key]`` for a few keys as
   ``.npy`` under ``OUTDIR/arrays/``, or the errors nibabel raises (``describe_minc``);
6. writes everything to ``OUTDIR/manifest.json`` (schema: see ``describe_file``,
   ``describe_parrec`` and ``describe_minc`` below and the neurovox oracle tests).

The output is deterministic: no randomness is used, values come from
``np.arange``/``np.linspace`` and nibabel writes gzip streams with mtime 0.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import itertools
import io
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import nibabel as nib
from nibabel.freesurfer.mghformat import MGHHeader
from nibabel.openers import ImageOpener
from nibabel.quaternions import fillpositive
from nibabel.testing import data_path as NIBABEL_TEST_DATA_DIR

RGB_DTYPE = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
RGBA_DTYPE = np.dtype([('R', 'u1'), ('G', 'u1'), ('B', 'u1'), ('A', 'u1')])

ANALYZE_DTYPES = ['uint8', 'int16', 'int32', 'float32', 'float64', 'complex64', 'RGB24']
NIFTI_DTYPES = ANALYZE_DTYPES + [
    'int8', 'uint16', 'uint32', 'int64', 'uint64', 'complex128', 'RGBA32',
]
MGH_DTYPES = ['uint8', 'int16', 'int32', 'float32', 'uint16']

SHAPES = {3: (2, 3, 4), 4: (2, 3, 4, 2), 5: (2, 3, 4, 2, 2)}
# Zooms beyond the three spatial ones (the affine sets the spatial zooms).
EXTRA_ZOOMS = (2.5, 1.5)

EXPLICIT_SLOPE, EXPLICIT_INTER = 2.0, 10.0
AUTO_RANGE = (-3.7, 123.4)
# Writers without an intercept (SPM) cannot map mixed-sign data to unsigned
# types (WriterError), so those cases use a positive range instead.
AUTO_RANGE_NO_INTERCEPT_UNSIGNED = (3.7, 123.4)


@dataclass(frozen=True)
class ImageKind:
    """How one nibabel image class is exercised by the matrix."""

    klass: type
    family: str  # id prefix
    layout: str  # 'single' or 'pair'
    extension: str  # extension of the image file
    dtypes: tuple
    scalings: tuple  # subset of ('none', 'explicit', 'auto')
    ndims: tuple
    byte_orders: tuple

    @property
    def is_nifti(self):
        return issubclass(self.klass, nib.Nifti1Pair)

    @property
    def is_mgh(self):
        return self.klass is nib.MGHImage

    @property
    def is_spm(self):
        return issubclass(self.klass, nib.Spm99AnalyzeImage)


def _nifti_kind(klass, family, layout, extension):
    return ImageKind(klass, family, layout, extension, tuple(NIFTI_DTYPES),
                     ('none', 'explicit', 'auto'), (3, 4, 5), ('<', '>'))


IMAGE_KINDS = [
    _nifti_kind(nib.Nifti1Image, 'nifti1', 'single', '.nii'),
    _nifti_kind(nib.Nifti1Pair, 'nifti1', 'pair', '.img'),
    _nifti_kind(nib.Nifti2Image, 'nifti2', 'single', '.nii'),
    _nifti_kind(nib.Nifti2Pair, 'nifti2', 'pair', '.img'),
    ImageKind(nib.AnalyzeImage, 'analyze', 'pair', '.img', tuple(ANALYZE_DTYPES),
              ('none',), (3, 4, 5), ('<', '>')),
    ImageKind(nib.Spm99AnalyzeImage, 'spm99', 'pair', '.img', tuple(ANALYZE_DTYPES),
              ('none', 'explicit', 'auto'), (3, 4, 5), ('<', '>')),
    ImageKind(nib.Spm2AnalyzeImage, 'spm2', 'pair', '.img', tuple(ANALYZE_DTYPES),
              ('none', 'explicit', 'auto'), (3, 4, 5), ('<', '>')),
    ImageKind(nib.MGHImage, 'mgh', 'single', '.mgh', tuple(MGH_DTYPES),
              ('none',), (3, 4), ('>',)),
]
KIND_BY_CLASS = {kind.klass: kind for kind in IMAGE_KINDS}

# A handful of (class, dtype, byte order, scaling, ndim) combinations also
# written bzip2-compressed.
BZ2_CASES = [
    (nib.Nifti1Image, 'int16', '<', 'none', 3),
    (nib.Nifti1Pair, 'float32', '<', 'none', 3),
    (nib.Nifti1Pair, 'float32', '>', 'explicit', 4),
    (nib.Nifti2Image, 'float64', '>', 'explicit', 4),
    (nib.Nifti2Pair, 'int32', '<', 'auto', 3),
    (nib.AnalyzeImage, 'uint8', '<', 'none', 3),
    (nib.Spm2AnalyzeImage, 'int16', '>', 'auto', 3),
]


# ----------------------------------------------------------------------------
# Affines and header extras, cycled deterministically over the files


def _rotation_z(degrees):
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])


def _rotation_x(degrees):
    t = math.radians(degrees)
    return np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])


def _affine(rzs, translation):
    affine = np.eye(4)
    affine[:3, :3] = rzs
    affine[:3, 3] = translation
    return affine


AFFINES = {
    'diag': _affine(np.diag([2.0, 3.0, 4.0]), [-10.0, 20.0, 5.0]),
    'rotated': _affine(_rotation_z(30) @ _rotation_x(10) @ np.diag([1.5, 2.0, 2.5]),
                       [12.5, -7.25, 30.0]),
    'left_handed': _affine(_rotation_z(20) @ np.diag([-1.25, 2.0, 3.0]), [40.0, -30.0, -20.0]),
    'sheared': _affine(np.array([[2.0, 0.5, 0.0], [0.0, 3.0, 0.25], [0.0, 0.0, 4.0]]),
                       [-5.0, 6.0, 7.0]),
}
AFFINE_NAMES = list(AFFINES)

DESCRIPS = ['', 'neurovox oracle file', 'D' * 80]  # 80 chars: fills the field, no NUL
AUX_FILES = ['', 'aux.txt', 'A' * 24]
XYZT_UNITS = [None, ('mm', 'sec'), ('meter', 'msec'), ('micron', 'usec'), ('mm', 'hz'),
              ('unknown', 'ppm'), ('mm', 'rads'), ('unknown', 'unknown')]
DIM_INFOS = [None, (0, 1, 2), (1, 0, 2), (None, None, 2), (2, None, None)]
INTENTS = [None, ('t test', (10,), 'tstat'), ('f test', (3, 20), 'fstat'),
           ('beta', (2.0, 3.5), 'b'), ('label', (), 'labels'), ('z score', (), ''),
           ('vector', (), 'vec')]
# (slice_code, slice_start, slice_end, slice_duration)
SLICE_TIMINGS = [None, ('sequential increasing', 0, 0, 0.1),
                 ('alternating decreasing', 0, 3, 0.25),
                 ('alternating increasing 2', 1, 2, 0.5),
                 ('sequential decreasing', 0, 0, 0.2),
                 ('alternating increasing', 0, 0, 0.3),
                 ('alternating decreasing 2', 0, 2, 0.125)]
CAL_RANGES = [None, (0.0, 100.0), (-5.5, 250.25)]
TOFFSETS = [0.0, 1.5, -3.25]
XFORM_RECIPES = ['default', 'qform1', 'sform4', 'qform1+sform4', 'qform_only', 'none']
EXTENSION_SETS = [
    [],
    [(6, b'a comment')],
    [(6, b'odd-length content: 37 bytes long!!!')],  # not a multiple of 16
    [(6, b'first extension'), (4, b'<afni>second extension</afni>')],
]
SPM_ORIGINS = [None, (2, 2, 3), (1, 1, 1), (100, 100, 100)]  # the last is out of range
MGH_FOOTERS = [None, {'flip_angle': 0.5, 'te': 2.25, 'ti': 900.0, 'fov': 256.0}]


def pick(options, counter, stride=1):
    """Deterministic cycling: option number (counter // stride) mod len."""
    return options[(counter // stride) % len(options)]


# ----------------------------------------------------------------------------
# Matrix cases


@dataclass(frozen=True)
class MatrixCase:
    kind: ImageKind
    dtype_name: str
    byte_order: str
    scaling: str
    ndim: int
    compression: str  # 'none', 'gz', 'bz2'
    counter: int  # per-class running number that drives the cycling

    @property
    def shape(self):
        return SHAPES[self.ndim]

    @property
    def affine_name(self):
        return pick(AFFINE_NAMES, self.counter)

    @property
    def case_id(self):
        order = 'le' if self.byte_order == '<' else 'be'
        parts = [self.kind.family, self.kind.layout, self.dtype_name.lower(), order,
                 self.scaling, f'{self.ndim}d']
        if self.compression != 'none':
            parts.append(self.compression)
        return '-'.join(parts)

    @property
    def filename(self):
        if self.kind.is_mgh:
            return self.case_id + ('.mgz' if self.compression == 'gz' else '.mgh')
        suffix = {'none': '', 'gz': '.gz', 'bz2': '.bz2'}[self.compression]
        return self.case_id + self.kind.extension + suffix


def numpy_dtype(dtype_name):
    return {'RGB24': RGB_DTYPE, 'RGBA32': RGBA_DTYPE}.get(dtype_name) or np.dtype(dtype_name)


def readable_dtype_name(dtype):
    if dtype.fields is not None:
        return {3: 'RGB24', 4: 'RGBA32'}.get(len(dtype.fields), str(dtype))
    return dtype.name


def scalings_for(kind, dtype_name):
    dtype = numpy_dtype(dtype_name)
    if dtype.fields is not None:
        return ['none']  # scaling structured (RGB) data makes no sense
    allowed = list(kind.scalings)
    if dtype.kind not in 'iu' and 'auto' in allowed:
        allowed.remove('auto')  # nibabel only computes scaling for integer output
    return allowed


def enumerate_matrix_cases():
    """All matrix cases, in a fixed order.

    The plain, gzip and bzip2 files of one combination share a counter, so
    they hold identical content and differ only in compression.
    """
    cases = []
    bz2_keys = set(BZ2_CASES)
    for kind in IMAGE_KINDS:
        counter = itertools.count()
        for dtype_name in kind.dtypes:
            for scaling in scalings_for(kind, dtype_name):
                for order, ndim in itertools.product(kind.byte_orders, kind.ndims):
                    compressions = ['none', 'gz']
                    if (kind.klass, dtype_name, order, scaling, ndim) in bz2_keys:
                        compressions.append('bz2')
                    number = next(counter)
                    cases.extend(MatrixCase(kind, dtype_name, order, scaling, ndim,
                                            compression, number)
                                  for compression in compressions)
    return cases


def make_data(dtype_name, shape, scaling, kind=None):
    """The array handed to nibabel for one case."""
    n = int(np.prod(shape))
    counting = np.arange(n)
    if scaling == 'auto':
        low, high = AUTO_RANGE
        if kind is not None and kind.is_spm and np.dtype(dtype_name).kind == 'u':
            low, high = AUTO_RANGE_NO_INTERCEPT_UNSIGNED
        flat = np.linspace(low, high, n)
    else:
        dtype = numpy_dtype(dtype_name)
        if dtype.fields is not None:
            flat = np.zeros(n, dtype)
            for channel, name in enumerate(dtype.names):
                flat[name] = (counting + 50 * channel) % 256
        elif dtype.kind == 'c':
            flat = (counting + 1j * counting[::-1]).astype(dtype)
        else:
            flat = counting.astype(dtype)
    return flat.reshape(shape, order='F')


def make_header(kind, dtype_name, byte_order, shape):
    if kind.is_mgh:
        header = MGHHeader()
    else:
        header = kind.klass.header_class(endianness=byte_order)
    header.set_data_dtype(numpy_dtype(dtype_name))
    header.set_data_shape(shape)
    header.set_zooms((1.0, 1.0, 1.0) + EXTRA_ZOOMS[: len(shape) - 3])
    return header


def apply_nifti_extras(img, affine, counter):
    hdr = img.header
    hdr['descrip'] = pick(DESCRIPS, counter)
    hdr['aux_file'] = pick(AUX_FILES, counter, stride=2)
    units = pick(XYZT_UNITS, counter, stride=3)
    if units:
        hdr.set_xyzt_units(*units)
    dim_info = pick(DIM_INFOS, counter, stride=2)
    if dim_info:
        hdr.set_dim_info(*dim_info)
    intent = pick(INTENTS, counter)
    if intent:
        hdr.set_intent(intent[0], intent[1], name=intent[2])
    timing = pick(SLICE_TIMINGS, counter, stride=5)
    if timing:
        code, start, end, duration = timing
        hdr['slice_code'] = nib.nifti1.slice_order_codes.code[code]
        hdr['slice_start'], hdr['slice_end'] = start, end
        hdr['slice_duration'] = duration
    cal = pick(CAL_RANGES, counter, stride=4)
    if cal:
        hdr['cal_min'], hdr['cal_max'] = cal
    hdr['toffset'] = pick(TOFFSETS, counter, stride=7)
    apply_xform_recipe(img, affine, pick(XFORM_RECIPES, counter, stride=3))
    for code, content in pick(EXTENSION_SETS, counter, stride=5):
        hdr.extensions.append(nib.nifti1.Nifti1Extension(code, content))


def apply_xform_recipe(img, affine, recipe):
    """Set qform/sform codes; nibabel's default on save is sform 2, qform 0."""
    if recipe in ('qform1', 'qform1+sform4', 'qform_only'):
        img.set_qform(affine, code=1)
    if recipe in ('sform4', 'qform1+sform4'):
        img.set_sform(affine, code=4)
    if recipe == 'qform_only':
        img.set_sform(None)
    if recipe == 'none':
        img.set_qform(None)
        img.set_sform(None)


def apply_analyze_extras(img, counter, is_spm):
    img.header['descrip'] = pick(DESCRIPS, counter)
    if is_spm:
        origin = pick(SPM_ORIGINS, counter, stride=2)
        if origin:
            img.header['origin'][:3] = origin


def apply_mgh_extras(img, counter):
    footer = pick(MGH_FOOTERS, counter)
    if footer:
        for name, value in footer.items():
            img.header[name] = value


def apply_explicit_scaling(img, kind):
    if kind.is_spm:
        img.header.set_slope_inter(EXPLICIT_SLOPE)
    else:
        img.header.set_slope_inter(EXPLICIT_SLOPE, EXPLICIT_INTER)


def describe_construction(case):
    """How the image was made, so header setters can be replayed and compared: the float64
    affine given to the constructor, the header zooms set before it, and for NIfTI the
    qform/sform recipe applied after it."""
    return {
        'affine': encode_matrix(AFFINES[case.affine_name]),
        'zooms': [1.0, 1.0, 1.0] + list(EXTRA_ZOOMS[: len(case.shape) - 3]),
        'xform_recipe': pick(XFORM_RECIPES, case.counter, stride=3) if case.kind.is_nifti else None,
    }


def build_matrix_image(case):
    kind = case.kind
    affine = AFFINES[case.affine_name]
    header = make_header(kind, case.dtype_name, case.byte_order, case.shape)
    data = make_data(case.dtype_name, case.shape, case.scaling, kind)
    img = kind.klass(data, affine, header=header)
    if kind.is_nifti:
        apply_nifti_extras(img, affine, case.counter)
    elif kind.is_mgh:
        apply_mgh_extras(img, case.counter)
    else:
        apply_analyze_extras(img, case.counter, kind.is_spm)
    if case.scaling == 'explicit':
        apply_explicit_scaling(img, kind)
    return img


# ----------------------------------------------------------------------------
# Corner cases (written to OUTDIR/matrix as well)


def corner_vox_offset_1024():
    img = nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape((2, 3, 4), order='F'),
                          AFFINES['diag'])
    img.header.set_data_offset(1024)
    return img


def corner_nifti_ndim(shape, dtype, klass=nib.Nifti1Image, affine_name='rotated'):
    data = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape, order='F')
    return klass(data, AFFINES[affine_name])


def corner_mgh_rotated_mdc():
    data = np.arange(24, dtype=np.float32).reshape((2, 3, 4), order='F')
    return nib.MGHImage(data, AFFINES['rotated'])


def corner_nifti_extension_and_offset():
    img = corner_vox_offset_1024()
    img.header.extensions.append(nib.nifti1.Nifti1Extension(6, b'extension before padding'))
    return img


CORNER_CASES = [
    # (id, filename, builder)
    ('corner-nifti1-single-vox-offset-1024', 'corner-vox-offset-1024.nii',
     corner_vox_offset_1024),
    ('corner-nifti1-single-ext-vox-offset-1024', 'corner-ext-vox-offset-1024.nii',
     corner_nifti_extension_and_offset),
    ('corner-nifti1-single-1d', 'corner-1d.nii', lambda: corner_nifti_ndim((5,), np.int16)),
    ('corner-nifti1-single-2d', 'corner-2d.nii', lambda: corner_nifti_ndim((3, 4), np.float32)),
    ('corner-nifti1-single-7d', 'corner-7d.nii',
     lambda: corner_nifti_ndim((1, 2, 1, 2, 1, 2, 1), np.uint8)),
    ('corner-nifti2-single-7d-gz', 'corner-nifti2-7d.nii.gz',
     lambda: corner_nifti_ndim((2, 1, 2, 1, 2, 1, 2), np.int32, nib.Nifti2Image, 'sheared')),
    ('corner-mgh-single-rotated-mdc', 'corner-rotated-mdc.mgh', corner_mgh_rotated_mdc),
    ('corner-mgh-single-rotated-mdc-gz', 'corner-rotated-mdc.mgz', corner_mgh_rotated_mdc),
]


# ----------------------------------------------------------------------------
# JSON encoding helpers


def encode_float(value):
    value = float(value)
    if math.isnan(value):
        return 'nan'
    if math.isinf(value):
        return 'inf' if value > 0 else '-inf'
    return value


def encode_plain(value):
    """numpy scalars / arrays / python numbers → JSON-safe python values."""
    if isinstance(value, np.ndarray):
        return [encode_plain(item) for item in value] if value.ndim else encode_plain(value[()])
    if isinstance(value, (list, tuple)):
        return [encode_plain(item) for item in value]
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return encode_float(value)
    if isinstance(value, bytes):
        return {'hex': value.hex()}
    if isinstance(value, str):
        return value
    raise TypeError(f'cannot encode {value!r} ({type(value)})')


def encode_matrix(matrix):
    return encode_plain(np.asarray(matrix, dtype=np.float64))


def error_record(exc):
    return {'type': type(exc).__name__, 'message': str(exc)}


def call_or_error(function, encode=encode_plain):
    """{"error": ...} if nibabel raises, else the encoded result."""
    try:
        return encode(function())
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        return {'error': error_record(exc)}


def encode_header_fields(hdr):
    """Every field of a WrapStruct header, in hdr.keys() order.

    Byte-string fields are taken raw from the binary block (trailing NULs
    included) so nothing is lost to numpy's NUL stripping.
    """
    block = hdr.binaryblock
    fields = {}
    for name in hdr.keys():
        field_dtype, offset = hdr.template_dtype.fields[name][:2]
        if field_dtype.kind == 'S':
            fields[name] = {'hex': block[offset:offset + field_dtype.itemsize].hex()}
        else:
            fields[name] = encode_plain(hdr[name])
    return fields


# ----------------------------------------------------------------------------
# Describing a file as nibabel sees it


def read_decompressed(path):
    with ImageOpener(str(path), 'rb') as fobj:
        return fobj.read()


def read_file_header(img):
    """The header exactly as nibabel reads it from the file.

    This is what ``from_file_map`` reads before building the image; the
    image's own ``img.header`` has its data offset and scaling reset.
    """
    holder_type = 'header' if 'header' in img.file_map else 'image'
    with img.file_map[holder_type].get_prepare_fileobj(mode='rb') as fobj:
        return img.header_class.from_fileobj(fobj)


def nifti_quaternion(hdr):
    bcd = [hdr['quatern_b'], hdr['quatern_c'], hdr['quatern_d']]
    return fillpositive(bcd, hdr.quaternion_threshold)


def nifti_intent(hdr):
    name, params, intent_name = hdr.get_intent()
    return [name, list(params), intent_name]


def raw_nifti_extensions(header_bytes, hdr):
    """(esize, ecode, raw bytes after the 8-byte prefix) as they sit in the file."""
    start = hdr.template_dtype.itemsize
    flag = header_bytes[start:start + 4]
    if len(flag) < 4 or flag[0:1] == b'\x00':
        return []
    int32 = np.dtype(np.int32).newbyteorder(hdr.endianness)
    position = start + 4
    end = int(hdr['vox_offset']) if hdr.is_single else len(header_bytes)
    found = []
    while end - position >= 16 or (not hdr.is_single and end - position >= 8):
        esize, ecode = (int(v) for v in np.frombuffer(header_bytes[position:position + 8], int32))
        if esize < 8:  # corrupt or padding: nibabel itself fails on these
            break
        found.append((esize, ecode, header_bytes[position + 8:position + esize]))
        position += esize
    return found


def extension_content_bytes(extension):
    """ext.get_content() if it is bytes.

    Some handlers (e.g. CIFTI-2) return a parsed object instead; then take the
    bytes nibabel read (trailing NULs stripped) before any re-serialisation,
    which ``extension.content`` would perform.
    """
    content = extension.get_content()
    return content if isinstance(content, bytes) else extension._raw


def describe_extensions(hdr, header_bytes):
    raw = raw_nifti_extensions(header_bytes, hdr)
    described = []
    for index, extension in enumerate(hdr.extensions):
        described.append({
            'code': int(extension.get_code()),
            'raw_hex': raw[index][2].hex() if index < len(raw) else None,
            'content_hex': extension_content_bytes(extension).hex(),
        })
    return described


def describe_slope_inter(hdr):
    def both():
        slope, inter = hdr.get_slope_inter()
        return [None if slope is None else float(slope), None if inter is None else float(inter)]

    return call_or_error(both)


def nibabel_written_header(hdr):
    """What nibabel writes for this header before the data: ``write_to`` (NIfTI and
    Analyze: the block, the extension flag and extensions), or for MGH the 90-byte header
    from ``writehdr_to``. Written from a copy, because ``write_to`` may set vox_offset."""
    bio = io.BytesIO()
    copy = hdr.copy()
    if isinstance(copy, MGHHeader):
        copy.writehdr_to(bio)
    else:
        copy.write_to(bio)
    return bio.getvalue()


def describe_header(hdr, header_bytes):
    nifti = isinstance(hdr, nib.Nifti1Header)  # NIfTI-2 headers subclass it
    mgh = isinstance(hdr, MGHHeader)
    dtype = hdr.get_data_dtype()
    record = {
        'endianness': hdr.endianness,
        'binaryblock_hex': hdr.binaryblock.hex(),
        'nibabel_write_hex': nibabel_written_header(hdr).hex(),
        'fields': encode_header_fields(hdr),
        'shape': [int(n) for n in hdr.get_data_shape()],
        'dtype': {'str': dtype.str, 'name': readable_dtype_name(dtype)},
        'datatype_code': int(hdr['type'] if mgh else hdr['datatype']),
        'zooms': [float(z) for z in hdr.get_zooms()],
        'data_offset': int(hdr.get_data_offset()),
        'slope_inter': describe_slope_inter(hdr),
        'best_affine': call_or_error(hdr.get_best_affine, encode_matrix),
        'base_affine': (call_or_error(hdr.get_base_affine, encode_matrix)
                        if hasattr(hdr, 'get_base_affine') else None),
        'qform': None, 'qform_code': None, 'sform': None, 'sform_code': None,
        'quaternion': None, 'xyzt_units': None, 'dim_info': None, 'intent': None,
        'slice_times': None, 'extensions': None,
        'origin': None,
        'vox2ras_tkr': None, 'footer': None,
    }
    if nifti:
        record.update({
            'qform': call_or_error(hdr.get_qform, encode_matrix),
            'qform_code': int(hdr['qform_code']),
            'sform': call_or_error(hdr.get_sform, encode_matrix),
            'sform_code': int(hdr['sform_code']),
            'quaternion': call_or_error(lambda: nifti_quaternion(hdr)),
            'xyzt_units': list(hdr.get_xyzt_units()),
            'dim_info': encode_plain(hdr.get_dim_info()),
            'intent': call_or_error(lambda: nifti_intent(hdr)),
            'slice_times': call_or_error(hdr.get_slice_times),
            'extensions': describe_extensions(hdr, header_bytes),
        })
    if 'origin' in hdr.keys():  # SPM99 / SPM2
        record['origin'] = encode_plain(hdr['origin'])
    if mgh:
        record['vox2ras_tkr'] = call_or_error(hdr.get_vox2ras_tkr, encode_matrix)
        record['footer'] = {name: encode_float(hdr[name])
                            for name in ('tr', 'flip_angle', 'te', 'ti', 'fov')}
    record['diagnose'] = diagnose(hdr, header_bytes)
    return record


def diagnose(hdr, header_bytes):
    """Header-check messages for the header block as it sits in the file.

    Reading runs check_fix, which repairs some problems in hdr.binaryblock
    (e.g. qfac), so the raw bytes are diagnosed instead.  MGH's header and
    footer are not contiguous in the file; its check_fix only touches the
    version, so its binaryblock is used.
    """
    if isinstance(hdr, MGHHeader):
        block = hdr.binaryblock
    else:
        block = header_bytes[:hdr.template_dtype.itemsize]
    messages = type(hdr).diagnose_binaryblock(block)
    return [line for line in messages.splitlines() if line]


def header_file_prefix(hdr, header_bytes, is_pair):
    """The whole .hdr of a pair; everything before the data in a single file."""
    if is_pair:
        return header_bytes
    return header_bytes[:hdr.get_data_offset()]


def describe_image(img, hdr, header_bytes, is_pair):
    return {
        'shape': [int(n) for n in img.shape],
        'affine': encode_matrix(img.affine),
        'dtype_str': img.get_data_dtype().str,
        'header_file_prefix_hex': header_file_prefix(hdr, header_bytes, is_pair).hex(),
    }


def describe_data(img, hdr, image_path, entry_id, outdir):
    """Save what nibabel reads as .npy; null if the data file is missing."""
    if not Path(image_path).exists():
        return None
    dtype = hdr.get_data_dtype()
    offset = hdr.get_data_offset()
    n_bytes = int(np.prod(hdr.get_data_shape())) * dtype.itemsize
    raw = read_decompressed(image_path)[offset:offset + n_bytes]
    record = {'dataobj_npy': None, 'fdata_npy': None,
              'raw_sha256': hashlib.sha256(raw).hexdigest()}
    if dtype.fields is None:
        arrays_dir = Path(outdir) / 'arrays'
        dataobj_rel = f'arrays/{entry_id}.dataobj.npy'
        fdata_rel = f'arrays/{entry_id}.fdata.npy'
        np.save(arrays_dir / f'{entry_id}.dataobj.npy', np.asanyarray(img.dataobj))
        np.save(arrays_dir / f'{entry_id}.fdata.npy', img.get_fdata())
        record.update({'dataobj_npy': dataobj_rel, 'fdata_npy': fdata_rel})
    return record


def describe_afni_header(hdr):
    """What nibabel's AFNIHeader gives: its attributes and what it derives from them."""
    scaling = hdr.get_data_scaling()
    return {
        'afni': {
            'info': {name: encode_plain(value) for name, value in hdr.info.items()},
            'shape': [int(n) for n in hdr.get_data_shape()],
            'dtype_str': hdr.get_data_dtype().str,
            'zooms': [encode_float(float(z)) for z in hdr.get_zooms()],
            'affine': encode_matrix(hdr.get_affine()),
            'scaling': None if scaling is None else [encode_float(float(f)) for f in scaling],
            'volume_labels': hdr.get_volume_labels(),
            'space': hdr.get_space(),
        }
    }


def compression_of(path):
    name = str(path).lower()
    if name.endswith(('.gz', '.mgz')):
        return 'gz'
    if name.endswith('.bz2'):
        return 'bz2'
    return 'none'


def file_paths(klass, filename):
    """(image path, header path) as nibabel derives them from a filename."""
    file_map = klass.filespec_to_file_map(str(filename))
    image = file_map['image'].filename
    header = file_map['header'].filename if 'header' in file_map else image
    return image, header


def describe_file(entry_id, source, klass, filename, outdir):
    """One manifest entry: load with klass and record what nibabel reports."""
    image_path, header_path = file_paths(klass, filename)
    relative = source == 'matrix'

    def shown(path):
        return os.path.relpath(path, outdir) if relative else os.path.abspath(path)

    entry = {
        'id': entry_id,
        'source': source,
        'class': klass.__name__,
        'paths': {'image': shown(image_path), 'header': shown(header_path)},
        'compression': compression_of(image_path),
        'load_error': None, 'header': None, 'image': None, 'data': None,
    }
    try:
        img = klass.from_filename(str(filename))
        # nibabel reads AFNI attributes only from a text file object; its image keeps the
        # header as read (nothing to reset).
        hdr = img.header if klass is nib.brikhead.AFNIImage else read_file_header(img)
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        entry['load_error'] = error_record(exc)
        return entry
    if klass is nib.brikhead.AFNIImage:
        entry['header'] = describe_afni_header(hdr)
        entry['image'] = {'shape': [int(n) for n in img.shape],
                          'affine': encode_matrix(img.affine),
                          'dtype_str': img.get_data_dtype().str}
        entry['data'] = describe_data(img, hdr, image_path, entry_id, outdir)
        return entry
    header_bytes = read_decompressed(header_path)
    is_pair = image_path != header_path
    entry['header'] = describe_header(hdr, header_bytes)
    entry['image'] = describe_image(img, hdr, header_bytes, is_pair)
    entry['data'] = describe_data(img, hdr, image_path, entry_id, outdir)
    return entry


# ----------------------------------------------------------------------------
# PAR/REC: every .PAR of nibabel's tests/data under each load option set


# nibabel's PAR/REC load keywords, as (permit_truncated, strict_sort, scaling), and the
# case-id suffix of each ('truncated-strict-fp').
PARREC_OPTION_SETS = list(itertools.product((False, True), (False, True), ('dv', 'fp')))


def parrec_options_id(permit_truncated, strict_sort, scaling):
    parts = ['truncated'] if permit_truncated else []
    parts += ['strict' if strict_sort else 'lax', scaling]
    return '-'.join(parts)


def copy_parrec_test_data(outdir):
    """Copy each .PAR of nibabel's tests/data, and its .REC when there is one, to OUTDIR's
    top level (not committed: OUTDIR is generated). The Rust tests load the copies (a .PAR's
    .REC is found next to it), and the fuzz seeder (``crates/neurovox/examples/fuzz_seeds.rs``)
    makes every .PAR it finds there a ``parrec_recording`` seed. Returns the .PAR names."""
    names = sorted(name for name in os.listdir(NIBABEL_TEST_DATA_DIR) if name.endswith('.PAR'))
    for name in names:
        for source in (name, name[:-4] + '.REC'):
            path = Path(NIBABEL_TEST_DATA_DIR) / source
            if path.exists():
                shutil.copyfile(path, Path(outdir) / source)
    return names


def fortran_flat(array):
    return [encode_float(x) for x in np.asarray(array, dtype=np.float64).ravel(order='F')]


def nibabel_value(call, encode):
    """``encode(call())``, or ``{"error": ...}`` if nibabel's ``call`` raises (an error in
    ``encode`` is the fixture script's, and stops it)."""
    try:
        value = call()
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        return {'error': error_record(exc)}
    return encode(value)


def describe_parrec_header(path, permit_truncated, strict_sort, scaling):
    """What nibabel's PARRECHeader.from_fileobj gives under one option set: its values, each
    ``{"error": ...}`` where that method raises; or ``error`` where the header is refused.
    ``scaling`` is get_data_scaling's slope and intercept flattened in Fortran order (slice
    fastest), ``volume_labels`` a list of [name, values] in nibabel's order."""
    try:
        with open(path) as fobj:
            hdr = nib.parrec.PARRECHeader.from_fileobj(
                fobj, permit_truncated=permit_truncated, strict_sort=strict_sort)
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        return {'error': error_record(exc)}

    def encode_scaling(slope_inter):
        slope, inter = slope_inter
        return {'slope': fortran_flat(slope), 'inter': fortran_flat(inter)}

    def encode_labels(labels):
        return [[name, [int(v) for v in values]] for name, values in labels.items()]

    def encode_bvals_bvecs(bvals_bvecs):
        bvals, bvecs = bvals_bvecs
        return {'bvals': None if bvals is None else [encode_float(b) for b in bvals],
                'bvecs': None if bvecs is None else [[encode_float(x) for x in row]
                                                     for row in bvecs]}

    return {
        'error': None,
        'shape': [int(n) for n in hdr.get_data_shape()],
        'dtype_str': hdr.get_data_dtype().str,
        'zooms': [encode_float(z) for z in hdr.get_zooms()],
        'affine': nibabel_value(hdr.get_affine, encode_matrix),
        'affine_fov': nibabel_value(lambda: hdr.get_affine(origin='fov'), encode_matrix),
        'sorted_slice_indices': nibabel_value(hdr.get_sorted_slice_indices,
                                              lambda indices: [int(i) for i in indices]),
        'scaling': nibabel_value(lambda: hdr.get_data_scaling(scaling), encode_scaling),
        'volume_labels': nibabel_value(hdr.get_volume_labels, encode_labels),
        'bvals_bvecs': nibabel_value(hdr.get_bvals_bvecs, encode_bvals_bvecs),
    }


def save_array_once(array, stem, outdir, saved):
    """Save ``array`` as ``arrays/<stem>.npy`` unless an identical .npy was saved already (the
    option sets of one recording often read the same values); its path relative to OUTDIR."""
    buffer = io.BytesIO()
    np.save(buffer, np.asanyarray(array))
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    if digest not in saved:
        relative = f'arrays/{stem}.npy'
        (Path(outdir) / relative).write_bytes(buffer.getvalue())
        saved[digest] = relative
    return saved[digest]


def describe_parrec_recording(path, stem, options, outdir, saved):
    """What nibabel's PARRECImage reads from a .PAR/.REC under one option set: shape, affine,
    stored dtype, and as .npy ``get_fdata()``, ``np.asanyarray(dataobj)`` (the proxy's scaled
    values) and ``dataobj.get_unscaled()``; or ``error`` where nibabel refuses the load."""
    permit_truncated, strict_sort, scaling = options
    try:
        img = nib.parrec.PARRECImage.from_filename(
            str(path), permit_truncated=permit_truncated, strict_sort=strict_sort,
            scaling=scaling)
        fdata = img.get_fdata()
        dataobj = np.asanyarray(img.dataobj)
        unscaled = img.dataobj.get_unscaled()
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        return {'error': error_record(exc)}
    return {
        'error': None,
        'shape': [int(n) for n in img.shape],
        'affine': encode_matrix(img.affine),
        'dtype_str': img.get_data_dtype().str,
        'fdata_npy': save_array_once(fdata, f'{stem}.fdata', outdir, saved),
        'dataobj_npy': save_array_once(dataobj, f'{stem}.dataobj', outdir, saved),
        'unscaled_npy': save_array_once(unscaled, f'{stem}.unscaled', outdir, saved),
    }


def describe_parrec(outdir):
    """The ``parrec`` part of the manifest: ``headers``, one entry per .PAR of nibabel's
    tests/data and option set (id ``<name>-<options>``, e.g. ``T1.PAR-truncated-strict-fp``),
    and ``recordings``, the same for each .PAR with a .REC (same ids; arrays saved as
    ``arrays/parrec-<stem>-<options>.*.npy``). Paths are relative to OUTDIR, where the files
    are copied."""
    headers, recordings, saved = [], [], {}
    for name in copy_parrec_test_data(outdir):
        path = Path(outdir) / name
        has_rec = path.with_suffix('.REC').exists()
        for options in PARREC_OPTION_SETS:
            permit_truncated, strict_sort, scaling = options
            suffix = parrec_options_id(*options)
            shown_options = {'permit_truncated': permit_truncated, 'strict_sort': strict_sort,
                             'scaling': scaling}
            headers.append({
                'id': f'{name}-{suffix}', 'par': name, 'options': shown_options,
                'nibabel': describe_parrec_header(path, *options),
            })
            if has_rec:
                recordings.append({
                    'id': f'{name}-{suffix}', 'par': name, 'rec': name[:-4] + '.REC',
                    'options': shown_options,
                    'nibabel': describe_parrec_recording(
                        path, f'parrec-{name[:-4]}-{suffix}', options, outdir, saved),
                })
    return {'headers': headers, 'recordings': recordings}


# ----------------------------------------------------------------------------
# MINC1 and MINC2: nibabel's test files and files written here


# The keys nibabel's MincImageArrayProxy is asked for on every MINC case (Python's spelling
# of what goes inside ``img.dataobj[...]``; neurovox's Selection parses the same text).
MINC_KEYS = ['1', '..., 2', '::-1, 1:3', '..., -1', ':, None, 1::2', '0, ::2, -1',
             '-1, ..., ::-2', '1:, 1, 0:4:3']

# The world of the files written here: each dimension's step, start and (spatial ones)
# direction cosines unless a case says otherwise.
MINC_STEPS = {'xspace': 2.0, 'yspace': 2.5, 'zspace': 3.0, 'time': 1.5}
MINC_STARTS = {'xspace': -20.25, 'yspace': 30.5, 'zspace': -10.0, 'time': 0.0}
MINC_COSINES = {'xspace': (1.0, 0.0, 0.0), 'yspace': (0.0, 1.0, 0.0), 'zspace': (0.0, 0.0, 1.0)}
# Oblique cosines (the columns of a rotation) and negative steps.
_MINC_ROTATION = _rotation_z(30) @ _rotation_x(10)
MINC_OBLIQUE = {
    'cosines': {name: tuple(_MINC_ROTATION[:, i]) for i, name in
                enumerate(('xspace', 'yspace', 'zspace'))},
    'steps': {'xspace': -2.0, 'yspace': 2.5, 'zspace': -3.0},
}
MINC_CLASSES = {'Minc1Image': nib.minc1.Minc1Image, 'Minc2Image': nib.minc2.Minc2Image}
# netCDF-3 has signed integer types only; MINC1's ``signtype`` says how to read them.
NETCDF_TYPES = {'u1': 'b', 'i1': 'b', 'u2': 'h', 'i2': 'h', 'u4': 'i', 'i4': 'i', 'f4': 'f',
                'f8': 'd'}


@dataclass(frozen=True)
class MincCase:
    """One MINC file written here: its values and how it is laid out.

    ``dims``: dimension names in file (C) order; ``dtype``: the stored type ('u1', 'i2', ...;
    MINC2: with its byte order, '>i4'); ``values``: (low, high) the stored values run over,
    linearly in C order (rounded for integers; they may leave the valid range);
    ``scale_max`` / ``scale_min``: the dimensions image-max / image-min run over (image-min:
    image-max's unless given); ``valid_range``: the image's ``valid_range`` attribute
    (``...``: the type's for integers, none for floats; None: none); ``valid_minmax``:
    MINC1's ``valid_min`` / ``valid_max``; ``steps`` / ``cosines`` / ``spacing``: per-dimension
    overrides; ``version``: 1, 2 (CDF-2) for MINC1, 'hdf5' for MINC2; ``record``: MINC1's
    first dimension unlimited; ``compress``: 'gz' or 'bz2', the file compressed whole (nibabel
    reads MINC1 so, never MINC2); ``chunks`` / ``gzip`` /
    ``shuffle`` / ``libver``: MINC2's dataset layout and file format; ``opened_with``: how
    nibabel is asked ('load', or a class's ``from_filename``), one case for each."""

    name: str
    version: object
    dims: tuple
    shape: tuple
    dtype: str
    values: tuple
    scale_max: tuple = ()
    scale_min: tuple | None = None
    valid_range: object = ...
    valid_minmax: tuple | None = None
    steps: dict | None = None
    cosines: dict | None = None
    spacing: dict | None = None
    record: bool = False
    compress: str | None = None
    chunks: tuple | None = None
    gzip: bool = False
    shuffle: bool = False
    libver: str | None = None
    opened_with: tuple = ('load',)

    @property
    def filename(self):
        return self.name + '.mnc' + (f'.{self.compress}' if self.compress else '')


ZYX = ('zspace', 'yspace', 'xspace')
TZYX = ('time',) + ZYX
XYZ = ('xspace', 'yspace', 'zspace')

MINC_CASES = [
    # MINC1: netCDF classic, one case per stored type and scaling layout.
    MincCase('minc1-u1-scalar', 1, ZYX, (3, 4, 5), 'u1', (0, 255)),
    MincCase('minc1-i1-z', 1, ZYX, (3, 4, 5), 'i1', (-128, 127), ('zspace',), valid_range=None),
    MincCase('minc1-i2-z-clipped', 1, ZYX, (4, 3, 5), 'i2', (-2000, 2000), ('zspace',),
             valid_range=(-1000, 1000)),
    MincCase('minc1-u2-4d-time-first-tz', 1, TZYX, (2, 3, 4, 5), 'u2', (0, 65535),
             ('time', 'zspace')),
    MincCase('minc1-i4-xyz-oblique-x', 1, XYZ, (5, 4, 3), 'i4', (-70000, 90000), ('xspace',),
             steps=MINC_OBLIQUE['steps'], cosines=MINC_OBLIQUE['cosines']),
    MincCase('minc1-u4-valid-minmax', 1, ZYX, (3, 4, 5), 'u4', (0, 3_000_000), (),
             valid_range=None, valid_minmax=(100, 2_000_000)),
    MincCase('minc1-f4', 1, ZYX, (3, 4, 5), 'f4', (-12.3, 45.6), ('zspace',)),
    MincCase('minc1-f8-xyz-oblique', 1, XYZ, (4, 3, 5), 'f8', (-1.1, 2.2),
             steps=MINC_OBLIQUE['steps'], cosines=MINC_OBLIQUE['cosines']),
    MincCase('minc1-u1-zy-gz', 1, ZYX, (3, 4, 5), 'u1', (0, 255), ('zspace', 'yspace'),
             compress='gz'),
    MincCase('minc1-i2-z-bz2', 1, ZYX, (3, 4, 5), 'i2', (-32768, 32767), ('zspace',),
             compress='bz2'),
    MincCase('minc1-i2-record-time-t', 1, TZYX, (3, 2, 4, 5), 'i2', (-30000, 30000),
             ('time',), record=True),
    # CDF-2 (64-bit offset): nib.load does not recognise it (its sniff wants CDF\x01),
    # Minc1Image.from_filename reads it.
    MincCase('minc1-cdf2-f8', 2, ZYX, (3, 4, 5), 'f8', (-5.5, 7.25),
             opened_with=('load', 'Minc1Image')),
    MincCase('minc1-cdf2-i2-z', 2, ZYX, (3, 4, 5), 'i2', (-32768, 32767), ('zspace',),
             opened_with=('load', 'Minc1Image')),
    # MINC1 files nibabel refuses: at load, or when data is read.
    MincCase('minc1-refused-irregular', 1, ZYX, (3, 4, 5), 'u1', (0, 255),
             spacing={'yspace': b'irregular'}),
    MincCase('minc1-refused-two-spatial', 1, ('time', 'yspace', 'xspace'), (3, 4, 5), 'u1',
             (0, 255)),
    MincCase('minc1-refused-valid-range-outside', 1, ZYX, (3, 4, 5), 'u1', (0, 255),
             valid_range=(-1, 300)),
    MincCase('minc1-refused-three-scale-dims', 1, TZYX, (2, 3, 4, 5), 'i2', (-100, 100),
             ('time', 'zspace', 'yspace')),
    MincCase('minc1-refused-scale-not-leading', 1, ZYX, (3, 4, 5), 'u1', (0, 255),
             ('yspace',)),
    MincCase('minc1-refused-minmax-dims-differ', 1, ZYX, (3, 4, 5), 'u1', (0, 255),
             ('zspace',), scale_min=()),
    # MINC2: HDF5, as the MINC 2.0 library lays it out.
    MincCase('minc2-u1-scalar', 'hdf5', ZYX, (3, 4, 5), '|u1', (0, 255)),
    MincCase('minc2-i1-z', 'hdf5', ZYX, (3, 4, 5), '|i1', (-128, 127), ('zspace',)),
    MincCase('minc2-i2-z-chunked-gzip-clipped', 'hdf5', ZYX, (5, 6, 7), '<i2', (-3000, 3000),
             ('zspace',), valid_range=(-2000, 2500), chunks=(2, 4, 3), gzip=True),
    MincCase('minc2-i4-be-zy', 'hdf5', ZYX, (3, 4, 5), '>i4', (-70000, 90000),
             ('zspace', 'yspace')),
    MincCase('minc2-u2-4d-time-first-tz-chunked-shuffle', 'hdf5', TZYX, (3, 2, 4, 5), '<u2',
             (0, 65535), ('time', 'zspace'), chunks=(2, 1, 3, 5), gzip=True, shuffle=True),
    MincCase('minc2-u4-z', 'hdf5', ZYX, (3, 4, 5), '<u4', (0, 4_000_000_000), ('zspace',)),
    MincCase('minc2-f4-xyz-oblique', 'hdf5', XYZ, (5, 4, 3), '<f4', (-12.3, 45.6),
             steps=MINC_OBLIQUE['steps'], cosines=MINC_OBLIQUE['cosines']),
    MincCase('minc2-f8-be-chunked', 'hdf5', ZYX, (3, 4, 5), '>f8', (-1.1, 2.2),
             chunks=(2, 3, 5)),
    MincCase('minc2-i2-z-libver-latest', 'hdf5', ZYX, (3, 4, 5), '<i2', (-32768, 32767),
             ('zspace',), libver='latest'),
    MincCase('minc2-refused-irregular', 'hdf5', ZYX, (3, 4, 5), '|u1', (0, 255),
             spacing={'xspace': b'irregular'}),
    MincCase('minc2-refused-two-spatial', 'hdf5', ('time', 'yspace', 'xspace'), (3, 4, 5),
             '|u1', (0, 255)),
    MincCase('minc2-refused-valid-range-outside', 'hdf5', ZYX, (3, 4, 5), '<i2', (-5, 5),
             valid_range=(-40000, 5)),
    MincCase('minc2-refused-scale-not-leading', 'hdf5', ZYX, (3, 4, 5), '<i2', (-5, 5),
             ('xspace',)),
    MincCase('minc2-refused-gz', 'hdf5', ZYX, (3, 4, 5), '<i2', (-5, 5), ('zspace',),
             compress='gz'),
]


def minc_values(case):
    """The stored values of a case: (low, high) spread over the voxels in C order."""
    dtype = np.dtype(case.dtype)
    low, high = case.values
    flat = np.linspace(low, high, int(np.prod(case.shape)))
    if dtype.kind in 'iu':
        flat = np.round(flat)
    return flat.astype(dtype.newbyteorder('=')).reshape(case.shape)


def minc_scale_values(case, dims):
    """image-min and image-max over ``dims`` (lengths from the image): values that are not
    binary fractions, a different range per entry."""
    lengths = dict(zip(case.dims, case.shape))
    shape = tuple(lengths[name] for name in dims)
    index = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    return -1.7 - 0.31 * index, 55.3 + 1.13 * index


def minc_dim_attrs(case, name):
    """step, start, direction_cosines (spatial dimensions) and spacing of one dimension."""
    attrs = {
        'spacing': (case.spacing or {}).get(name, b'regular__'),
        'step': float((case.steps or {}).get(name, MINC_STEPS[name])),
        'start': float(MINC_STARTS[name]),
    }
    if name.endswith('space'):
        attrs['direction_cosines'] = np.asarray(
            (case.cosines or {}).get(name, MINC_COSINES[name]), dtype=np.float64)
    return attrs


def minc_valid_range(case):
    if case.valid_range is not ...:
        return case.valid_range
    dtype = np.dtype(case.dtype)
    if dtype.kind == 'f':
        return None
    return (np.iinfo(dtype).min, np.iinfo(dtype).max)


def _netcdf_writer():
    """nibabel's ``netcdf_file`` in write mode with netCDF-3's variable order: the writer the
    Python tests use (python/tests/minc_files.py), one copy of its workaround."""
    tests = str(Path(__file__).resolve().parents[2] / 'python' / 'tests')
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from minc_files import netcdf_writer

    return netcdf_writer()


def write_minc1(case, path):
    """A MINC1 file (netCDF-3, classic or 64-bit offset) as the MINC library writes it."""
    raw = minc_values(case)
    code = np.dtype(case.dtype).str[1:]
    stored = raw.view(code.replace('u', 'i')) if code[0] == 'u' else raw
    plain = minc_plain_path(case, path)
    nc = _netcdf_writer()(plain, 'w', version=case.version)
    try:
        nc.ident = 'neurovox:oracle'
        nc.minc_version = '1.0'
        for i, (name, n) in enumerate(zip(case.dims, case.shape)):
            nc.createDimension(name, None if case.record and i == 0 else n)
        for i, name in enumerate(case.dims):
            if name.endswith('space'):
                var = nc.createVariable(name, 'i', ())
                var[()] = 0
            else:  # time: a coordinate per index
                var = nc.createVariable(name, 'd', (name,))
                var[:] = MINC_STARTS[name] + MINC_STEPS[name] * np.arange(case.shape[i])
            var.varid = 'MINC standard variable'
            var.vartype = 'dimension____'
            var.version = 'MINC Version    1.0'
            for attr, value in minc_dim_attrs(case, name).items():
                setattr(var, attr, value)
        scale_min = case.scale_max if case.scale_min is None else case.scale_min
        image_min = minc_scale_values(case, scale_min)[0]
        image_max = minc_scale_values(case, case.scale_max)[1]
        for vname, dims, values in (('image-max', case.scale_max, image_max),
                                    ('image-min', scale_min, image_min)):
            var = nc.createVariable(vname, 'd', dims)
            if dims:
                var[:] = values
            else:
                var[()] = values
            var.varid = 'MINC standard variable'
            var.vartype = 'var_attribute'
            var.parent = 'image'
        image = nc.createVariable('image', NETCDF_TYPES[code], case.dims)
        image[:] = stored
        image.varid = 'MINC standard variable'
        image.vartype = 'group________'
        image.complete = 'true_'
        image.signtype = 'unsigned' if code[0] == 'u' else 'signed__'
        valid_range = minc_valid_range(case)
        if valid_range is not None:
            image.valid_range = np.asarray(valid_range, dtype=np.float64)
        if case.valid_minmax is not None:
            image.valid_min = np.float64(case.valid_minmax[0])
            image.valid_max = np.float64(case.valid_minmax[1])
        setattr(image, 'image-max', '--->image-max')
        setattr(image, 'image-min', '--->image-min')
    finally:
        nc.close()
    minc_compress(case, plain, path)


def minc_plain_path(case, path):
    """Where a case's file is written before it is compressed whole (its own path if not)."""
    return str(path)[:-len(case.compress) - 1] if case.compress else str(path)


def minc_compress(case, plain, path):
    """Compress the file written at ``plain`` into ``path`` (gzip with mtime 0), if the case
    says so."""
    if not case.compress:
        return
    data = Path(plain).read_bytes()
    packed = gzip.compress(data, mtime=0) if case.compress == 'gz' else bz2.compress(data)
    Path(path).write_bytes(packed)
    os.remove(plain)


def write_minc2(case, path):
    """A MINC2 file (HDF5) as the MINC 2.0 library lays it out: /minc-2.0/image/0/image with
    image-min and image-max beside it, /minc-2.0/dimensions/<name>, fixed-length byte-string
    attributes."""
    import h5py

    raw = minc_values(case)
    order = np.dtype(case.dtype).byteorder
    bstr = np.bytes_
    plain = minc_plain_path(case, path)
    with h5py.File(plain, 'w', **({'libver': case.libver} if case.libver else {})) as f:
        root = f.create_group('minc-2.0')
        root.attrs['ident'] = bstr(b'neurovox:oracle')
        root.attrs['minc_version'] = bstr(b'2.3.00')
        dimensions = root.create_group('dimensions')
        for i, name in enumerate(case.dims):
            if name.endswith('space'):
                dim = dimensions.create_dataset(name, shape=(), dtype='<i4', data=0)
            else:
                dim = dimensions.create_dataset(
                    name, data=MINC_STARTS[name] + MINC_STEPS[name] * np.arange(case.shape[i]))
                dim.attrs['dimorder'] = bstr(name.encode())
            dim.attrs['varid'] = bstr(b'MINC standard variable')
            dim.attrs['vartype'] = bstr(b'dimension____')
            dim.attrs['length'] = np.uint32(case.shape[i])
            for attr, value in minc_dim_attrs(case, name).items():
                dim.attrs[attr] = bstr(value) if isinstance(value, bytes) else value
        group = root.create_group('image').create_group('0')
        layout = {}
        if case.chunks:
            layout['chunks'] = case.chunks
        if case.gzip:
            layout['compression'] = 'gzip'
        if case.shuffle:
            layout['shuffle'] = True
        image = group.create_dataset('image', data=raw.astype(case.dtype), **layout)
        image.attrs['dimorder'] = bstr(','.join(case.dims).encode())
        image.attrs['varid'] = bstr(b'MINC standard variable')
        image.attrs['vartype'] = bstr(b'group________')
        image.attrs['complete'] = bstr(b'true_')
        valid_range = minc_valid_range(case)
        if valid_range is not None:
            image.attrs['valid_range'] = np.asarray(valid_range, dtype=np.float64)
        scale_min = case.scale_max if case.scale_min is None else case.scale_min
        image_min = minc_scale_values(case, scale_min)[0]
        image_max = minc_scale_values(case, case.scale_max)[1]
        scale_dtype = np.dtype('f8').newbyteorder(order if order in '<>' else '=')
        for vname, dims, values in (('image-max', case.scale_max, image_max),
                                    ('image-min', scale_min, image_min)):
            var = group.create_dataset(vname, data=np.asarray(values, dtype=scale_dtype))
            if dims:
                var.attrs['dimorder'] = bstr(','.join(dims).encode())
            var.attrs['varid'] = bstr(b'MINC standard variable')
            var.attrs['vartype'] = bstr(b'var_attribute')
        root.create_group('info')
    minc_compress(case, plain, path)


class _Keys:
    """``_KEYS[<text>]`` is the key Python makes of ``<text>``."""

    def __getitem__(self, key):
        return key


_KEYS = _Keys()


def minc_key(text):
    return eval(f'_KEYS[{text}]', {'_KEYS': _KEYS})  # noqa: S307 - our own constant keys


def describe_minc_image(path, opened_with, stem, outdir, saved):
    """What nibabel gives for a MINC file opened with ``nib.load`` or a class's
    ``from_filename``: ``error`` where that refuses the file; else the class, shape, stored
    dtype, header zooms and affine, then ``np.asarray(img.dataobj)`` (saved as .npy, its
    dtype as nibabel gives it) and ``get_fdata()`` or ``data_error`` where reading data
    raises, and each of MINC_KEYS as ``img.dataobj[key]`` (.npy) or the error it raises."""
    try:
        if opened_with == 'load':
            img = nib.load(str(path))
        else:
            img = MINC_CLASSES[opened_with].from_filename(str(path))
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        return {'error': error_record(exc)}
    record = {
        'error': None,
        'class': type(img).__name__,
        'shape': [int(n) for n in img.shape],
        'dtype_str': img.get_data_dtype().str,
        'zooms': [encode_float(z) for z in img.header.get_zooms()],
        'affine': encode_matrix(img.affine),
        'data_error': None,
    }
    try:
        dataobj = np.asarray(img.dataobj)
        fdata = img.get_fdata()
    except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
        record['data_error'] = error_record(exc)
    else:
        record.update({
            'dataobj_dtype_str': dataobj.dtype.str,
            'dataobj_npy': save_array_once(dataobj, f'{stem}.dataobj', outdir, saved),
            'fdata_npy': save_array_once(fdata, f'{stem}.fdata', outdir, saved),
        })
    slices = []
    for n, text in enumerate(MINC_KEYS):
        try:
            part = np.asarray(img.dataobj[minc_key(text)])
        except Exception as exc:  # noqa: BLE001 - recording nibabel's behaviour
            slices.append({'key': text, 'error': error_record(exc)})
            continue
        slices.append({'key': text, 'error': None, 'dtype_str': part.dtype.str,
                       'npy': save_array_once(part, f'{stem}.key{n}', outdir, saved)})
    record['slices'] = slices
    return record


def describe_minc(outdir):
    """The ``minc`` part of the manifest: one case per MINC file of nibabel's tests/data
    (``testdata-<name>``, by absolute path, opened with ``nib.load``) and per file written here
    into ``OUTDIR/minc/`` and way of opening it (``<name>`` for ``nib.load``,
    ``<name>::<Class>`` for ``Class.from_filename``); arrays as ``arrays/minc-<id>.*.npy``."""
    minc_dir = Path(outdir) / 'minc'
    minc_dir.mkdir()
    cases, saved = [], {}
    for path in sorted(Path(NIBABEL_TEST_DATA_DIR).glob('*.mnc')):
        case_id = f'testdata-{path.name}'
        cases.append({'id': case_id, 'source': 'nibabel-test-data', 'path': str(path.resolve()),
                      'opened_with': 'load',
                      'nibabel': describe_minc_image(path, 'load', f'minc-{case_id}', outdir,
                                                     saved)})
    for case in MINC_CASES:
        path = minc_dir / case.filename
        (write_minc2 if case.version == 'hdf5' else write_minc1)(case, path)
        for opened_with in case.opened_with:
            case_id = case.name if opened_with == 'load' else f'{case.name}::{opened_with}'
            stem = 'minc-' + case_id.replace('::', '-')
            cases.append({'id': case_id, 'source': 'written',
                          'path': os.path.relpath(path, outdir), 'opened_with': opened_with,
                          'nibabel': describe_minc_image(path, opened_with, stem, outdir,
                                                         saved)})
    return cases


def report_minc_summary(cases, seconds):
    refused = sum(1 for case in cases if case['nibabel']['error'])
    data_refused = sum(1 for case in cases if not case['nibabel']['error']
                       and case['nibabel']['data_error'])
    print(f'MINC: {len(cases)} cases ({refused} nibabel refuses at load, {data_refused} when '
          f'reading data), {seconds:.2f} s')


# ----------------------------------------------------------------------------
# Driving


def write_matrix(outdir, skipped):
    entries = []
    matrix_dir = Path(outdir) / 'matrix'
    for case in enumerate_matrix_cases():
        path = matrix_dir / case.filename
        try:
            build_matrix_image(case).to_filename(str(path))
        except Exception as exc:  # noqa: BLE001 - report what nibabel refuses
            skipped.append((case.case_id, error_record(exc)))
            continue
        entry = describe_file(case.case_id, 'matrix', case.kind.klass, path, outdir)
        entry['construction'] = describe_construction(case)
        entries.append(entry)
    for entry_id, filename, builder in CORNER_CASES:
        img = builder()
        path = matrix_dir / filename
        img.to_filename(str(path))
        entries.append(describe_file(entry_id, 'matrix', type(img), path, outdir))
    return entries


TEST_DATA_SUFFIXES = ('.nii', '.nii.gz', '.nii.bz2', '.hdr', '.hdr.gz', '.hdr.bz2', '.mgh', '.mgz',
                      '.head')


def test_data_class(path):
    """The class nib.load would pick (same sniffing, without loading).

    CIFTI-2 files are described as Nifti2Image, the layer neurovox covers.
    """
    sniff = None
    for klass in nib.imageclasses.all_image_classes:
        is_valid, sniff = klass.path_maybe_image(str(path), sniff)
        if is_valid:
            return nib.Nifti2Image if klass is nib.Cifti2Image else klass
    raise ValueError(f'nibabel recognises no image class for {path}')


def describe_test_data(outdir):
    entries = []
    for name in sorted(os.listdir(NIBABEL_TEST_DATA_DIR)):
        if not name.lower().endswith(TEST_DATA_SUFFIXES):
            continue
        path = Path(NIBABEL_TEST_DATA_DIR) / name
        klass = test_data_class(path)
        entries.append(describe_file(f'testdata-{name}', 'nibabel-test-data', klass, path, outdir))
    return entries


def prepare_outdir(outdir):
    outdir = Path(outdir)
    if outdir.exists():
        shutil.rmtree(outdir)
    (outdir / 'matrix').mkdir(parents=True)
    (outdir / 'arrays').mkdir()
    return outdir


def main(argv):
    if len(argv) != 2:
        print('usage: python tests/oracle/make_fixtures.py OUTDIR', file=sys.stderr)
        return 2
    started = time.monotonic()
    # nibabel logs header-check messages while loading; they are recorded in
    # the manifest ('diagnose') and would only be noise here.
    logging.getLogger('nibabel.global').setLevel(logging.CRITICAL)
    warnings.simplefilter('ignore')
    outdir = prepare_outdir(argv[1])
    skipped = []
    entries = write_matrix(outdir, skipped) + describe_test_data(outdir)
    ids = [entry['id'] for entry in entries]
    assert len(ids) == len(set(ids)), 'entry ids must be unique'
    parrec = describe_parrec(outdir)
    for cases in parrec.values():
        case_ids = [case['id'] for case in cases]
        assert len(case_ids) == len(set(case_ids)), 'PAR/REC case ids must be unique'
    minc_started = time.monotonic()
    minc = describe_minc(outdir)
    minc_seconds = time.monotonic() - minc_started
    minc_ids = [case['id'] for case in minc]
    assert len(minc_ids) == len(set(minc_ids)), 'MINC case ids must be unique'
    manifest = {
        'nibabel_version': nib.__version__,
        'numpy_version': np.__version__,
        'files': entries,
        'parrec': parrec,
        'minc': minc,
    }
    with open(outdir / 'manifest.json', 'w') as fobj:
        json.dump(manifest, fobj, allow_nan=False, indent=1)
    report_summary(entries, skipped, time.monotonic() - started)
    report_parrec_summary(parrec)
    report_minc_summary(minc, minc_seconds)
    return 0


def report_parrec_summary(parrec):
    for kind, cases in parrec.items():
        refused = sum(1 for case in cases if case['nibabel']['error'])
        print(f'PAR/REC {kind}: {len(cases)} cases ({refused} nibabel refuses)')


def report_summary(entries, skipped, seconds):
    counts = {}
    for entry in entries:
        key = (entry['source'], entry['class'])
        counts[key] = counts.get(key, 0) + 1
    for (source, klass), count in sorted(counts.items()):
        print(f'{source:18} {klass:18} {count:5}')
    print(f'{len(entries)} entries, {len(skipped)} cases nibabel refused to save, '
          f'{seconds:.1f} s')
    for case_id, error in skipped:
        print(f'  skipped {case_id}: {error["type"]}: {error["message"]}')
    for entry in entries:
        if entry['load_error']:
            print(f'  load error {entry["id"]}: {entry["load_error"]}')


if __name__ == '__main__':
    sys.exit(main(sys.argv))
