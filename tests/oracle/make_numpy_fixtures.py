"""Generate the numpy oracle that neurovox's .npy / .npz / memmap tests compare against.

neurovox reads and writes numpy's own array files: ``.npy`` (``np.save``),
``.npz`` (``np.savez`` / ``np.savez_compressed``) and raw files mapped with
``np.memmap``.  The only trustworthy description of those formats is what
numpy itself writes, so this script asks numpy.  Nothing third-party is
committed to the repository: the Rust tests compare against files numpy writes
at test time (``scripts/test.sh`` runs this script).

Usage::

    python tests/oracle/make_numpy_fixtures.py OUTDIR

The script (re)creates OUTDIR and writes

* ``npy/``: ``np.save`` for every dtype neurovox supports (u1 i1 u2 i2 u4 i4
  u8 i8 f4 f8 c8 c16) in both byte orders, C and Fortran order, shapes
  ``()``, ``(0,)``, ``(5,)``, ``(2, 3)``, ``(2, 3, 4)``, ``(1, 1, 7)``; files
  numpy was told to write as format 2.0 and 3.0; special float values; and
  bool arrays, dtypes neurovox refuses (float16, longdouble, structured, object,
  strings, datetime, void), including a structured dtype whose header needs
  format 2.0 by itself (and is over numpy's ``max_header_size``);
* ``npz/``: ``np.savez`` and ``np.savez_compressed`` archives with named and
  positional (``arr_0``) members of several dtypes, and the seed example;
* ``memmap/``: raw files written through ``np.memmap(mode='w+')`` with
  various dtypes, shapes, orders, byte orders and offsets;
* ``manifest.json``: what each file holds, in the schema below.

Every entry's ``values`` is the flat C-order list of its elements (ints as
ints, floats as floats or the strings ``"nan"``, ``"inf"``, ``"-inf"``,
complex as ``[re, im]``), or null for arrays of more than 64 elements.
``npy`` entries also carry ``error_kind`` (null, ``"unsupported"`` or
``"limit"``): the neurovox error kind expected for files neurovox refuses.

The output is deterministic: values come from ``np.arange`` and fixed integer
formulas, and numpy writes zip members with a fixed 1980 timestamp.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import _format_impl

SUPPORTED_CODES = ('u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8', 'c8', 'c16')
SHAPES = ((), (0,), (5,), (2, 3), (2, 3, 4), (1, 1, 7))
MAX_LISTED_VALUES = 64
# numpy's format module reads headers up to this size unless told otherwise.
NUMPY_MAX_HEADER_SIZE = 10000


# ----------------------------------------------------------------------------
# Values


def sample_array(dtype, shape):
    """A deterministic array of ``dtype`` and ``shape`` whose values use every byte."""
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    if dtype.kind in 'iu':
        info = np.iinfo(dtype)
        span = int(info.max) - int(info.min) + 1
        values = [(i * 2654435761 + 12345) % span + int(info.min) for i in range(count)]
        base = np.array(values, dtype=dtype.newbyteorder('='))
    elif dtype.kind == 'f':
        base = (np.arange(count, dtype='f8') - count // 2) / 3.0 + 0.25
    elif dtype.kind == 'c':
        real = (np.arange(count, dtype='f8') - count // 2) / 3.0 + 0.25
        imag = -(np.arange(count, dtype='f8') + 1) * 0.5
        base = real + 1j * imag
    else:
        raise ValueError(f'no sample values for {dtype}')
    return base.astype(dtype).reshape(shape)


def json_scalar(value):
    """One element as the manifest stores it."""
    if isinstance(value, (complex, np.complexfloating)):
        return [json_scalar(float(value.real)), json_scalar(float(value.imag))]
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return 'nan'
        if math.isinf(value):
            return 'inf' if value > 0 else '-inf'
        return value
    return int(value)


def json_values(arr):
    """The flat C-order values of ``arr``, or None when there are too many."""
    if arr.size > MAX_LISTED_VALUES:
        return None
    return [json_scalar(v) for v in np.asarray(arr).ravel(order='C').tolist()]


# ----------------------------------------------------------------------------
# .npy


def read_npy_header(fobj):
    """(version, shape, fortran_order, dtype, header_len) as numpy reads them."""
    version = np.lib.format.read_magic(fobj)
    # numpy's private _read_array_header is its one reader for all three
    # versions (the public read_array_header_1_0/2_0 cover only two); numpy is
    # pinned in requirements.txt.
    shape, fortran_order, dtype = _format_impl._read_array_header(
        fobj, version, max_header_size=2**31)
    return version, shape, fortran_order, dtype, fobj.tell()


def npy_entry(outdir, path, *, why_unsupported=None, error_kind=None):
    """Describe a .npy file numpy wrote."""
    with open(path, 'rb') as fobj:
        version, shape, fortran_order, dtype, header_len = read_npy_header(fobj)
        data = fobj.read()
    supported = why_unsupported is None
    values = None
    if supported:
        values = json_values(np.load(path))
    return {
        'path': str(path.relative_to(outdir)),
        'dtype': dtype.str if supported else None,
        'fortran_order': bool(fortran_order),
        'shape': list(shape),
        'version': list(version),
        'header_len': header_len,
        'data_sha256': hashlib.sha256(data).hexdigest() if supported else None,
        'values': values,
        'supported': supported,
        'why_unsupported': why_unsupported,
        'error_kind': None if supported else (error_kind or 'unsupported'),
    }


def shape_name(shape):
    return 'x'.join(map(str, shape)) if shape else 'scalar'


def with_order(code, order):
    """The dtype for ``code`` in byte order ``order`` ('<' or '>')."""
    return np.dtype(code).newbyteorder(order)


def write_npy_matrix(outdir):
    """np.save for every supported dtype x byte order x shape x memory order."""
    entries = []
    for code in SUPPORTED_CODES:
        orders = ('<',) if np.dtype(code).itemsize == 1 else ('<', '>')
        for byte_order in orders:
            dtype = with_order(code, byte_order)
            for shape in SHAPES:
                layouts = ('C', 'F') if len(shape) >= 2 else ('C',)
                for layout in layouts:
                    arr = sample_array(dtype, shape)
                    if layout == 'F':
                        arr = np.asfortranarray(arr)
                    name = f'{code}-{"be" if byte_order == ">" else "le"}-{shape_name(shape)}-{layout}.npy'
                    path = outdir / 'npy' / name
                    np.save(path, arr)
                    entries.append(npy_entry(outdir, path))
    return entries


def write_npy_versions(outdir):
    """Files numpy was told to write as format 2.0 or 3.0."""
    cases = (
        ('<f8', (2, 3), 'C'),
        ('>i2', (2, 3, 4), 'F'),
        ('<c8', (5,), 'C'),
        ('|u1', (), 'C'),
    )
    entries = []
    for version in ((2, 0), (3, 0)):
        for code, shape, layout in cases:
            arr = sample_array(code, shape)
            if layout == 'F':
                arr = np.asfortranarray(arr)
            name = f'v{version[0]}-{code[1:]}-{shape_name(shape)}-{layout}.npy'
            path = outdir / 'npy' / name
            with open(path, 'wb') as fobj:
                np.lib.format.write_array(fobj, arr, version=version)
            entries.append(npy_entry(outdir, path))
    return entries


def write_npy_specials(outdir):
    """Non-finite, signed-zero, subnormal and extreme floats, and a > 64-element array."""
    specials = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 1.0]
    entries = []
    for code in ('<f8', '>f4', '>c16'):
        arr = np.array(specials, dtype='f8')
        if code[1] == 'c':
            # set the parts directly: arithmetic with 1j would turn inf into nan
            parts = arr
            arr = np.empty(len(parts), dtype='c16')
            arr.real, arr.imag = parts, parts[::-1]
        path = outdir / 'npy' / f'specials-{code[1:]}-{"be" if code[0] == ">" else "le"}.npy'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # overflow to inf in float32 is the point
            np.save(path, arr.astype(code))
        entries.append(npy_entry(outdir, path))
    for code, shape in (('<i4', (10, 10)), ('>f8', (4, 5, 6))):
        path = outdir / 'npy' / f'large-{code[1:]}-{shape_name(shape)}.npy'
        np.save(path, np.asfortranarray(sample_array(code, shape)))
        entries.append(npy_entry(outdir, path))
    return entries


def write_npy_bools(outdir):
    """bool arrays ('|b1') of every shape, C and Fortran order, and a > 64-element mask."""
    entries = []
    for shape in SHAPES + ((4, 5, 6),):
        layouts = ('C', 'F') if len(shape) >= 2 else ('C',)
        for layout in layouts:
            arr = (np.arange(int(np.prod(shape))).reshape(shape) * 7) % 3 == 0
            if layout == 'F':
                arr = np.asfortranarray(arr)
            path = outdir / 'npy' / f'b1-{shape_name(shape)}-{layout}.npy'
            np.save(path, arr)
            entries.append(npy_entry(outdir, path))
    return entries


def zero_padded(dtype, values):
    """An array of a long double type with its padding bytes zeroed.

    On x86-64 a long double is an 80-bit value padded to 16 bytes, and numpy
    stores only the 10 value bytes, so the padding is whatever memory held and
    the file would differ from run to run.
    """
    arr = np.array(values, dtype=dtype)
    real_type = np.dtype(dtype).type(0).real.dtype
    if np.finfo(real_type).nmant == 63 and real_type.itemsize == 16:
        parts = arr.view(real_type).reshape(-1).view(np.uint8).reshape(-1, 16)
        parts[:, 10:] = 0
    return arr


def unsupported_arrays():
    """(name, array, why neurovox refuses it) for dtypes numpy writes that we do not read."""
    big_structured = np.dtype([(f'field_{i:05d}', 'u1') for i in range(5000)])
    return (
        ('float16', np.arange(4, dtype='f2'), 'float16 arrays are not supported'),
        ('longdouble', zero_padded(np.longdouble, [0.5, 1.5, 2.5]),
         'numpy longdouble is not IEEE binary128 on x86-64'),
        ('clongdouble', zero_padded(np.clongdouble, [0.5 - 1j, 1.5, 2.5j]),
         'numpy clongdouble likewise'),
        ('structured', np.zeros(3, dtype=[('a', '<i4'), ('b', '<f8')]),
         'structured dtypes are not supported'),
        ('object', np.array([1, 'two', None], dtype=object),
         'object arrays are not supported (numpy needs pickle for them)'),
        ('unicode', np.array(['ab', 'c']), 'unicode string arrays are not supported'),
        ('bytes', np.array([b'ab', b'c']), 'byte-string arrays are not supported'),
        ('datetime', np.array(['2020-01-01', '2021-06-30'], dtype='M8[D]'),
         'datetime64 arrays are not supported'),
        ('void', np.zeros(3, dtype='V4'), 'void arrays are not supported'),
        ('structured-needs-v2', np.zeros(2, dtype=big_structured),
         'the header needs format 2.0 and is over max_header_size'),
    )


def write_npy_unsupported(outdir):
    entries = []
    for name, arr, why in unsupported_arrays():
        path = outdir / 'npy' / f'unsupported-{name}.npy'
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # "Stored array in format 2.0"
            np.save(path, arr, allow_pickle=True)
        entry = npy_entry(outdir, path, why_unsupported=why)
        if entry['header_len'] - 12 > NUMPY_MAX_HEADER_SIZE:
            entry['error_kind'] = 'limit'
        entries.append(entry)
    return entries


# ----------------------------------------------------------------------------
# .npz


def npz_cases():
    """(name, positional arrays, named arrays) for each archive."""
    seed = {'a': np.array([[1.0, 2.0], [3.0, 4.0]]), 'b': np.array([0.5, 1.5])}
    mixed_positional = (
        sample_array('<i4', (2, 3)),
        sample_array('|u1', (4,)),
    )
    mixed_named = {
        'big_i2': sample_array('>i2', (3, 4)),
        'cplx': sample_array('<c8', (2, 2)),
        'fortran_f4': np.asfortranarray(sample_array('<f4', (2, 3, 4))),
        'scalar': np.array(2.5),
        'empty': np.zeros((0, 3), dtype='u1'),
        'u8_be': sample_array('>u8', (5,)),
        'long_f8': np.arange(1000, dtype='<f8') / 7.0,
    }
    return (('seed', (), seed), ('mixed', mixed_positional, mixed_named))


def npz_member(archive, info, loaded):
    name = info.filename[:-len('.npy')]
    with archive.open(info) as fobj:
        _, shape, fortran_order, dtype, _ = read_npy_header(fobj)
    return {
        'name': name,
        'dtype': dtype.str,
        'shape': list(shape),
        'fortran_order': bool(fortran_order),
        'values': json_values(loaded[name]),
    }


def write_npz(outdir):
    entries = []
    for name, positional, named in npz_cases():
        for compressed in (False, True):
            save = np.savez_compressed if compressed else np.savez
            path = outdir / 'npz' / f'{name}{"-compressed" if compressed else ""}.npz'
            save(path, *positional, **named)
            with zipfile.ZipFile(path) as archive, np.load(path) as loaded:
                members = [npz_member(archive, info, loaded) for info in archive.infolist()]
            entries.append({
                'path': str(path.relative_to(outdir)),
                'compressed': compressed,
                'members': members,
            })
    return entries


# ----------------------------------------------------------------------------
# np.memmap


MEMMAP_CASES = (
    ('<f4', (3, 4), 'C', 0),
    ('>i2', (2, 3, 4), 'F', 16),
    ('|u1', (10,), 'C', 352),
    ('>f8', (5, 6), 'C', 4096 + 3),
    ('<c8', (4,), 'C', 0),
    ('<i8', (2, 2, 2), 'F', 0),
    ('>u4', (3, 5), 'F', 352),
    ('>c16', (3, 2), 'F', 7),
    ('<u2', (1, 1, 7), 'C', 4096),
)


def write_memmaps(outdir):
    entries = []
    for code, shape, order, offset in MEMMAP_CASES:
        name = f'{code[1:]}-{"be" if code[0] == ">" else "le"}-{shape_name(shape)}-{order}-off{offset}.dat'
        path = outdir / 'memmap' / name
        arr = sample_array(code, shape)
        mapped = np.memmap(path, dtype=code, mode='w+', shape=shape, order=order, offset=offset)
        mapped[...] = arr
        mapped.flush()
        del mapped
        entries.append({
            'path': str(path.relative_to(outdir)),
            'dtype': np.dtype(code).str,
            'shape': list(shape),
            'order': order,
            'offset': offset,
            'values': [json_scalar(v) for v in arr.ravel(order='C').tolist()],
        })
    return entries


# ----------------------------------------------------------------------------


def prepare_outdir(outdir):
    outdir = Path(outdir)
    if outdir.exists():
        shutil.rmtree(outdir)
    for sub in ('npy', 'npz', 'memmap'):
        (outdir / sub).mkdir(parents=True)
    return outdir


def main(argv):
    if len(argv) != 2:
        print('usage: python tests/oracle/make_numpy_fixtures.py OUTDIR', file=sys.stderr)
        return 2
    started = time.monotonic()
    outdir = prepare_outdir(argv[1])
    npy = (write_npy_matrix(outdir) + write_npy_versions(outdir)
           + write_npy_specials(outdir) + write_npy_bools(outdir)
           + write_npy_unsupported(outdir))
    manifest = {
        'numpy_version': np.__version__,
        'npy': npy,
        'npz': write_npz(outdir),
        'memmap': write_memmaps(outdir),
    }
    with open(outdir / 'manifest.json', 'w') as fobj:
        json.dump(manifest, fobj, allow_nan=False, indent=1)
    unsupported = sum(not e['supported'] for e in npy)
    print(f'numpy {np.__version__}: {len(npy)} .npy ({unsupported} unsupported), '
          f'{len(manifest["npz"])} .npz, {len(manifest["memmap"])} memmap files '
          f'in {time.monotonic() - started:.1f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
