"""MINC1 (netCDF-3) and MINC2 (HDF5) images against nibabel's ``minc1`` / ``minc2`` readers,
the oracle at test time: every ``.mnc`` nibabel ships, and files written here
(python/tests/minc_files.py) in every stored type, both netCDF-3 formats (CDF-1 classic and CDF-2
64-bit offset, with and without a record dimension, plain, gzip and bzip2), MINC2 contiguous and
chunked (gzip, shuffle, chunks that do not divide the shape, big-endian, the newest HDF5 format),
scaled over 0, 1 and 2 leading dimensions, with and without a valid range, 4-D, in permuted
dimension orders and rotated, flipped or attribute-less geometry. Each file is read by nibabel and
by neurovox — class, header dtype (byte order included), shape, zooms, affine, the whole array and
many slices, equal in dtype and value — and compared with what the writer says a correct reader
gives (the MINC scaling formula computed independently of either reader). Files nibabel refuses
are refused with nibabel's exception class (at load or when the data are read); damaged and
truncated files must load and read or raise an ``Exception``, in a child process so that an
abort fails the test rather than the test run. The MINC2 files need h5py (to write them and for
nibabel to read them), not neurovox.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import pathlib
import pickle
import re
import resource
import subprocess
import sys
import warnings

import numpy as np
import pytest

from minc_files import check_with_nibabel, write_minc1, write_minc2
from oracle_helpers import NIBABEL_DATA, assert_same_array

import neurovox as nv

nibabel = pytest.importorskip('nibabel')

MINC1_FILES = ['minc1-no-att.mnc', 'minc1_1_scale.mnc', 'minc1_4d.mnc', 'tiny.mnc']
MINC2_FILES = ['minc2-4d-d.mnc', 'minc2-no-att.mnc', 'minc2_1_scale.mnc', 'minc2_4d.mnc',
               'minc2_baddim.mnc', 'small.mnc']
INT_DTYPES = ['u1', 'i1', 'u2', 'i2', 'u4', 'i4']
DTYPES = INT_DTYPES + ['f4', 'f8']
SHAPE3 = (4, 5, 6)
SHAPE4 = (2, 3, 4, 5)
TIME4 = ('time', 'zspace', 'yspace', 'xspace')
# Keys valid for both SHAPE3 and SHAPE4 (and nibabel's files, all at least 10 long per axis
# but for the 2 or 5 time points of the 4-D ones, which index 0, 1 and -1 fit).
KEYS = [(), 0, -1, (0,), Ellipsis, (Ellipsis,), (slice(None),), (1, 2), (np.int64(1), -1),
        (-1, slice(None, None, -1)), (slice(1, None, 2), Ellipsis, 3), (Ellipsis, -2),
        (None, 1, Ellipsis, None), (slice(None, None, -1), slice(3, 0, -2), 2), (1, 2, 3),
        (slice(2, 2),), (slice(None), None, slice(1, 3)), (slice(3, 0, -1), slice(None, None, 2)),
        (Ellipsis, slice(None, None, -3), None), (slice(-1, None), Ellipsis, slice(-2, -5, -1))]


def _needs_h5py():
    pytest.importorskip('h5py')


def _data(dtype, shape=SHAPE3, seed=0):
    """Values over the whole range of an integer type (so that clipping and scaling show);
    for floats, values with NaN, infinities and a negative zero among them (read as stored)."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        values = (rng.standard_normal(shape) * 100).astype(dtype)
        flat = values.reshape(-1)
        flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
        return values
    info = np.iinfo(dtype)
    values = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    flat = values.reshape(-1)
    flat[:2] = [info.min, info.max]
    return values


def random_keys(shape, rng, n=20):
    """``n`` keys for an array of ``shape``: per axis an index (negative too, sometimes a numpy
    integer), a full slice or a slice with random bounds and a step of either sign; then maybe
    fewer axes than the array has, an Ellipsis in place of some axes, and new axes."""
    keys = []
    for _ in range(n):
        parts = []
        for length in shape:
            kind = rng.integers(4)
            if kind == 0:
                index = int(rng.integers(-length, length))
                parts.append(np.intp(index) if rng.integers(4) == 0 else index)
            elif kind == 1:
                parts.append(slice(None))
            else:
                step = [None, 1, 2, 3, -1, -2, -3][int(rng.integers(7))]
                start = None if rng.integers(3) == 0 else int(rng.integers(-length, length + 1))
                stop = None if rng.integers(3) == 0 else int(rng.integers(-length - 1,
                                                                          length + 1))
                parts.append(slice(start, stop, step))
        if rng.integers(3) == 0:
            parts = parts[:int(rng.integers(len(parts) + 1))]
        if parts and rng.integers(3) == 0:
            i = int(rng.integers(len(parts)))
            j = int(rng.integers(i, len(parts) + 1))
            parts[i:j] = [Ellipsis]
        for _ in range(int(rng.integers(3)) if rng.integers(3) == 0 else 0):
            parts.insert(int(rng.integers(len(parts) + 1)), None)
        if len(parts) == 1 and rng.integers(2):
            # A bare key; not a numpy integer, which nibabel's MINC proxies cannot take
            # (``sliceobj == ()`` is then an empty array's truth value: ValueError).
            part = parts[0]
            keys.append(int(part) if isinstance(part, np.integer) else part)
        else:
            keys.append(tuple(parts))
    return keys


def assert_same_affine(ours, theirs):
    """Equal affines: exactly, but for the origin, which nibabel computes with ``np.dot`` (BLAS,
    maybe fused multiply-adds): there, to a few units in the last place."""
    ours = np.asarray(ours)
    assert ours.shape == (4, 4) and ours.dtype == np.float64
    np.testing.assert_array_equal(ours[:, :3], theirs[:, :3])
    np.testing.assert_array_equal(ours[3], theirs[3])
    np.testing.assert_allclose(ours[:3, 3], theirs[:3, 3], rtol=1e-13, atol=1e-11)


def _nibabel_swaps_the_bytes(theirs, whole, key):
    """nibabel's bug: a MINC1 key that takes one value (an integer for every axis) of a type
    wider than a byte gives that value byte-swapped (netCDF's element is a native-order numpy
    scalar, which ``Minc1File.get_scaled_data`` views as big-endian). neurovox gives the value
    the whole array has there (in the dtype nibabel gives)."""
    return (type(theirs).__name__ == 'Minc1Image' and whole[key].ndim == 0
            and theirs.header.get_data_dtype().itemsize > 1)


def assert_same_image(ours, theirs, written=None, keys=KEYS):
    """neurovox's image ``ours`` is nibabel's ``theirs`` (and what ``written`` says)."""
    assert type(ours).__name__ == type(theirs).__name__
    assert type(ours.header).__name__ == type(theirs.header).__name__
    assert isinstance(ours.header, nv.minc1.MincHeader)
    assert ours.shape == theirs.shape
    assert ours.header.get_data_shape() == theirs.header.get_data_shape()
    assert ours.header.get_data_dtype() == theirs.header.get_data_dtype()
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    assert ours.header.get_zooms() == theirs.header.get_zooms()
    assert_same_affine(ours.affine, theirs.affine)
    proxy, their_proxy = ours.dataobj, theirs.dataobj
    assert isinstance(proxy, nv.minc1.MincImageArrayProxy)
    assert proxy.is_proxy is True
    assert proxy.shape == their_proxy.shape
    assert proxy.ndim == their_proxy.ndim
    whole = np.asarray(their_proxy)
    assert_same_array(np.asarray(proxy), whole)
    assert_same_array(np.asarray(proxy, dtype=np.float32),
                      np.asarray(their_proxy, dtype=np.float32))
    fdata = ours.get_fdata()
    assert_same_array(fdata, theirs.get_fdata())
    assert ours.get_fdata() is fdata
    assert_same_array(ours.get_fdata(dtype=np.float32), theirs.get_fdata(dtype=np.float32))
    for key in keys:
        if _nibabel_swaps_the_bytes(theirs, whole, key):
            assert_same_array(proxy[key], np.asarray(whole[key], dtype=whole.dtype))
            continue
        theirs_sliced = their_proxy[key]
        assert_same_array(proxy[key], theirs_sliced)
        assert_same_array(theirs_sliced, whole[key])
    if written is not None:
        assert ours.shape == written.shape
        assert ours.header.get_data_dtype() == written.dtype
        assert ours.header.get_zooms() == written.zooms
        assert_same_affine(ours.affine, written.affine)
        if written.data is not None:
            assert_same_array(np.asarray(proxy), written.data)


def _nib_load(path):
    """nibabel's reader of ``path`` by its content (``nib.load`` sniffs CDF-1 only)."""
    with _opened(path) as f:
        magic = f.read(4)
    if magic == b'\x89HDF':
        return nibabel.minc2.Minc2Image.from_filename(str(path))
    return nibabel.minc1.Minc1Image.from_filename(str(path))


def _opened(path):
    path = str(path)
    if path.endswith('.gz'):
        return gzip.open(path, 'rb')
    if path.endswith('.bz2'):
        return bz2.open(path, 'rb')
    return open(path, 'rb')


def _nv_load(path):
    """neurovox's reader of ``path``: ``nv.load``, or for CDF-2 (which ``load`` refuses, as
    nibabel's does) ``nv.minc1.load``."""
    with _opened(path) as f:
        magic = f.read(4)
    if magic == b'CDF\x02':
        return nv.minc1.load(str(path))
    return nv.load(str(path))


def check_written(written, keys=KEYS, nrandom=8, seed=0):
    """nibabel reads the written file as the writer says; neurovox reads it as nibabel does."""
    theirs = check_with_nibabel(written)
    keys = list(keys) + random_keys(written.shape, np.random.default_rng(seed), nrandom)
    ours = _nv_load(written.path)
    assert_same_image(ours, theirs, written, keys)
    return ours, theirs


def _words(message):
    return [w.lower() for w in re.findall(r'[A-Za-z]+', message)]


def assert_raises_as_nibabel(path, nib_error, nv_error, *, same_message=True):
    """nibabel refuses the file (at load or when its data are read) with ``nib_error``;
    neurovox with ``nv_error`` (a callable giving the class, so that a missing name fails
    this test only), its message saying what nibabel's says (every word of it)."""
    with pytest.raises(nib_error) as theirs:
        _nib_load(path).get_fdata()
    with pytest.raises(nv_error()) as ours:
        _nv_load(path).get_fdata()
    if same_message:
        said = str(ours.value).lower()
        for word in _words(str(theirs.value)):
            assert word in said, (str(ours.value), str(theirs.value))
    return ours.value


# --- nibabel's own files ---------------------------------------------------------------------


@pytest.mark.parametrize('name', MINC1_FILES + MINC2_FILES)
def test_nibabels_minc_files_read_as_nibabel_reads_them(name):
    if name in MINC2_FILES:
        _needs_h5py()
    path = os.path.join(NIBABEL_DATA, name)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # minc2_baddim.mnc's spacing
        theirs = nibabel.load(path)
        ours = nv.load(path)
    keys = KEYS + random_keys(theirs.shape, np.random.default_rng(sum(map(ord, name))), 20)
    assert_same_image(ours, theirs, keys=keys)
    assert type(ours).__name__ == ('Minc1Image' if name in MINC1_FILES else 'Minc2Image')


@pytest.mark.parametrize('name', MINC1_FILES + MINC2_FILES)
def test_every_loader_reads_the_same(name):
    if name in MINC2_FILES:
        _needs_h5py()
    path = os.path.join(NIBABEL_DATA, name)
    module = nv.minc1 if name in MINC1_FILES else nv.minc2
    klass = nv.Minc1Image if name in MINC1_FILES else nv.Minc2Image
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        expected = np.asarray(nibabel.load(path).dataobj)
        loaded = [nv.load(path), nv.load(pathlib.Path(path)), module.load(path),
                  klass.from_filename(path), getattr(module, klass.__name__).from_filename(path)]
    assert klass is getattr(module, klass.__name__)
    for img in loaded:
        assert type(img) is klass
        assert_same_array(np.asarray(img.dataobj), expected)
    other = nv.minc2 if module is nv.minc1 else nv.minc1
    # nibabel: TypeError (not a netCDF file) / OSError (not an HDF5 file).
    with pytest.raises(Exception):
        other.load(path).get_fdata()


def test_module_names_are_nibabels():
    assert nv.minc1.Minc1Image is nv.Minc1Image
    assert nv.minc2.Minc2Image is nv.Minc2Image
    assert issubclass(nv.Minc2Image, nv.Minc1Image)  # as in nibabel
    assert issubclass(nv.minc1.MincError, Exception)
    assert issubclass(nv.minc1.Minc1Header, nv.minc1.MincHeader)
    assert issubclass(nv.minc2.Minc2Header, nv.minc1.MincHeader)
    assert callable(nv.minc1.load) and callable(nv.minc2.load)


def test_minc2_baddim_warns_as_nibabel_warns():
    """minc2_baddim.mnc's xspace has spacing 'xspace': nibabel warns (UserWarning: "Invalid
    spacing declaration: b'xspace'; assuming regular") and reads it as regular."""
    _needs_h5py()
    path = os.path.join(NIBABEL_DATA, 'minc2_baddim.mnc')
    with pytest.warns(UserWarning, match='Invalid spacing declaration') as theirs:
        nibabel.load(path)
    with pytest.warns(UserWarning, match='Invalid spacing declaration.*xspace') as ours:
        img = nv.load(path)
    assert 'xspace' in str(theirs[0].message)
    assert [str(w.message) for w in ours if 'spacing' in str(w.message)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        assert_same_array(np.asarray(img.dataobj), np.asarray(nibabel.load(path).dataobj))


@pytest.mark.parametrize('name', MINC1_FILES)
@pytest.mark.parametrize('compress', ['gz', 'bz2'])
def test_nibabels_minc1_files_compressed(tmp_path, name, compress):
    src = os.path.join(NIBABEL_DATA, name)
    path = tmp_path / f'{name}.{compress}'
    opener = gzip.open if compress == 'gz' else bz2.open
    with open(src, 'rb') as f, opener(path, 'wb') as g:
        g.write(f.read())
    ours, theirs = nv.load(str(path)), nibabel.load(str(path))
    assert_same_image(ours, theirs)
    assert_same_array(np.asarray(ours.dataobj), np.asarray(nibabel.load(src).dataobj))


# --- files written here ----------------------------------------------------------------------


@pytest.mark.parametrize('scale_dims', [0, 1, 2])
@pytest.mark.parametrize('version', [1, 2])
@pytest.mark.parametrize('dtype', DTYPES)
def test_minc1_every_type_format_and_scaling(tmp_path, dtype, version, scale_dims):
    written = write_minc1(tmp_path / 'a.mnc', _data(dtype), version=version,
                          scale_dims=scale_dims)
    check_written(written)


@pytest.mark.parametrize('version', [1, 2])
@pytest.mark.parametrize('dtype', DTYPES)
def test_minc1_record_dimension(tmp_path, dtype, version):
    """The first dimension unlimited: image, image-min and image-max (and the time
    dimension's variable) are record variables, interleaved record by record, each record
    padded to 4 bytes."""
    written = write_minc1(tmp_path / 'r.mnc', _data(dtype), version=version, record=True)
    check_written(written)
    written = write_minc1(tmp_path / 'r4.mnc', _data(dtype, SHAPE4), dim_names=TIME4,
                          version=version, record=True, scale_dims=2)
    check_written(written)


@pytest.mark.parametrize('byteorder', ['<', '>'])
@pytest.mark.parametrize('scale_dims', [0, 1, 2])
@pytest.mark.parametrize('dtype', DTYPES)
def test_minc2_every_type_byte_order_and_scaling(tmp_path, dtype, scale_dims, byteorder):
    _needs_h5py()
    written = write_minc2(tmp_path / 'a.mnc', _data(dtype), scale_dims=scale_dims,
                          byteorder=byteorder)
    check_written(written)


MINC2_LAYOUTS = {
    'contiguous': {},
    'chunked': dict(chunks=(3, 2, 4)),
    'chunked-gzip': dict(chunks=(3, 2, 4), compression='gzip'),
    'chunked-gzip9-shuffle': dict(chunks=(1, 5, 5), compression=9, shuffle=True),
    'one-chunk-gzip': dict(chunks=SHAPE3, compression='gzip'),
    'gzip-big-endian': dict(chunks=(2, 3, 5), compression='gzip', byteorder='>'),
    'latest-format': dict(libver='latest'),
    'latest-format-gzip': dict(libver='latest', chunks=(3, 4, 4), compression='gzip'),
}


@pytest.mark.parametrize('layout', list(MINC2_LAYOUTS))
@pytest.mark.parametrize('dtype', ['u1', 'i2', 'u4', 'f4', 'f8'])
def test_minc2_chunked_compressed_layouts(tmp_path, dtype, layout):
    _needs_h5py()
    written = write_minc2(tmp_path / 'c.mnc', _data(dtype), **MINC2_LAYOUTS[layout])
    check_written(written)


@pytest.mark.parametrize('scale_dims', [0, 1, 2])
def test_minc2_4d_chunks_not_dividing_the_shape(tmp_path, scale_dims):
    _needs_h5py()
    written = write_minc2(tmp_path / 'c4.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                          scale_dims=scale_dims, chunks=(1, 2, 3, 2), compression='gzip')
    check_written(written)


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
@pytest.mark.parametrize('scale_dims', [0, 1, 2])
def test_4d_time_first(tmp_path, fmt, scale_dims):
    """Time the first axis: zooms and affine as nibabel gives them (its header's first three
    zooms are the affine's column norms, whatever the axes)."""
    if fmt == 'minc2':
        _needs_h5py()
    write = write_minc1 if fmt == 'minc1' else write_minc2
    written = write(tmp_path / 't.mnc', _data('u2', SHAPE4), dim_names=TIME4,
                    scale_dims=scale_dims)
    check_written(written)


DIM_ORDERS = [('xspace', 'yspace', 'zspace'), ('yspace', 'zspace', 'xspace'),
              ('zspace', 'xspace', 'yspace'), ('time', 'xspace', 'zspace', 'yspace'),
              ('zspace', 'yspace', 'xspace', 'time'), ('yspace', 'time', 'xspace', 'zspace')]


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
@pytest.mark.parametrize('dim_names', DIM_ORDERS, ids=[','.join(d) for d in DIM_ORDERS])
def test_permuted_dimension_orders(tmp_path, fmt, dim_names):
    if fmt == 'minc2':
        _needs_h5py()
    write = write_minc1 if fmt == 'minc1' else write_minc2
    shape = SHAPE3 if len(dim_names) == 3 else SHAPE4
    written = write(tmp_path / 'p.mnc', _data('i2', shape), dim_names=dim_names, scale_dims=2)
    check_written(written)


def _rotation():
    a, b = 0.3, -0.7
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    rz = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rz @ rx


GEOMETRIES = {
    'rotated': dict(cosines={n: _rotation()[:, i] for i, n in
                             enumerate(('xspace', 'yspace', 'zspace'))}),
    'negative-steps': dict(steps={'xspace': -1.25, 'zspace': -3.5}),
    'rotated-negative': dict(cosines={'yspace': (0.0, 0.6, 0.8), 'zspace': (0.0, -0.8, 0.6)},
                             steps={'yspace': -0.9, 'xspace': 0.7},
                             starts={'xspace': 117.25609125, 'yspace': -138.89861125}),
    'no-steps': dict(steps={'xspace': None, 'yspace': None, 'zspace': None}),
    'no-starts': dict(starts={'xspace': None, 'zspace': None}),
    'no-cosines': dict(cosines={'xspace': None, 'yspace': None, 'zspace': None}),
    'no-geometry': dict(steps={'xspace': None, 'yspace': None, 'zspace': None},
                        starts={'xspace': None, 'yspace': None, 'zspace': None},
                        cosines={'xspace': None, 'yspace': None, 'zspace': None}),
    'zero-step': dict(steps={'yspace': 0.0}),
}


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
@pytest.mark.parametrize('geometry', list(GEOMETRIES))
def test_geometry(tmp_path, fmt, geometry):
    """Direction cosines, steps and starts: rotated, negative steps (zooms their absolute
    values), and left out (cosines the axis's, step 1, start 0)."""
    if fmt == 'minc2':
        _needs_h5py()
    write = write_minc1 if fmt == 'minc1' else write_minc2
    written = write(tmp_path / 'g.mnc', _data('i2'), **GEOMETRIES[geometry])
    check_written(written)
    written = write(tmp_path / 'g4.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                    **GEOMETRIES[geometry])
    check_written(written)


VALID_RANGES = {
    'narrower-clipped': dict(valid_range=(-1000, 2000)),
    'fractional': dict(valid_range=(-10.5, 200.25)),
    'absent': dict(valid_range=None),
    'valid-min-max': dict(valid_range=None, valid_minmax=(-300, 5000)),
    'range-over-min-max': dict(valid_range=(-20, 40), valid_minmax=(-300, 5000)),
    'type-range': dict(valid_range=(-32768, 32767)),
    'one-value': dict(valid_range=(7, 7)),
    'reversed': dict(valid_range=(100, -100)),
}


@pytest.mark.parametrize('fmt', ['minc1', 'minc1-cdf2', 'minc2'])
@pytest.mark.parametrize('case', list(VALID_RANGES))
def test_valid_ranges(tmp_path, fmt, case):
    """The valid range from ``valid_range``, else (MINC1 only: nibabel's MINC2 reader ignores
    them) ``valid_min`` / ``valid_max``, else the type's; values outside it clipped. A range of
    one value divides by zero (NaN and infinities, as nibabel gives); a reversed one clips every
    value to its upper end (numpy's ``clip``)."""
    if fmt == 'minc2':
        _needs_h5py()
        write = write_minc2
    else:
        write = lambda *a, **k: write_minc1(*a, version=2 if 'cdf2' in fmt else 1, **k)  # noqa
    for dtype in ('i2', 'u2') if case != 'type-range' else ('i2',):
        kwargs = dict(VALID_RANGES[case])
        if dtype == 'u2' and kwargs.get('valid_range') and kwargs['valid_range'][0] < 0:
            kwargs['valid_range'] = (0, abs(kwargs['valid_range'][1]) or 40)
        if dtype == 'u2' and kwargs.get('valid_minmax'):
            kwargs['valid_minmax'] = (0, kwargs['valid_minmax'][1])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # nibabel's divide by zero
            for scale_dims in (0, 1):
                written = write(tmp_path / f'v{dtype}{scale_dims}.mnc', _data(dtype),
                                scale_dims=scale_dims, **kwargs)
                check_written(written)


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
@pytest.mark.parametrize('scale_dims', [0, 1, 2])
def test_single_precision_image_min_max(tmp_path, fmt, scale_dims):
    """image-min / image-max stored as float32: nibabel subtracts them in float32 (arrays, and
    MINC2 scalars) before dividing in float64; a MINC1 scalar is read as a Python float."""
    if fmt == 'minc2':
        _needs_h5py()
    write = write_minc1 if fmt == 'minc1' else write_minc2
    written = write(tmp_path / 's.mnc', _data('i2'), scale_dims=scale_dims, minmax_dtype='f4')
    check_written(written)


@pytest.mark.parametrize('signtype', ['unsigned', 'signed__'])
@pytest.mark.parametrize('dtype', INT_DTYPES)
def test_minc1_signtype_decides_the_type(tmp_path, dtype, signtype):
    """netCDF-3 bytes, shorts and ints are signed; MINC1's ``signtype`` says how to read
    them."""
    written = write_minc1(tmp_path / 's.mnc', _data(dtype), signtype=signtype)
    assert written.dtype.kind == ('u' if signtype == 'unsigned' else 'i')
    check_written(written)


def test_float_images_ignore_scaling_and_valid_range(tmp_path):
    """Float images are their stored values: nibabel never looks at their valid range nor at
    the dimensions of image-min / image-max (which it refuses for integer images)."""
    _needs_h5py()
    for dtype in ('f4', 'f8'):
        for kwargs in (dict(valid_range=(-1e10, 1e10)), dict(valid_range=(0, 1)),
                       dict(scale_dims=3), dict(scale_dims=('yspace',)),
                       dict(scale_dims=1, min_scale_dims=2)):
            check_written(write_minc1(tmp_path / 'f.mnc', _data(dtype), **kwargs))
            check_written(write_minc2(tmp_path / 'f2.mnc', _data(dtype), **kwargs))


def test_minc2_spacing_absent_is_regular(tmp_path):
    _needs_h5py()
    written = write_minc2(tmp_path / 's.mnc', _data('i2'),
                          spacing={'xspace': None, 'yspace': None, 'zspace': None})
    check_written(written)


def test_minc2_invalid_spacing_warns_and_reads_as_regular(tmp_path):
    _needs_h5py()
    written = write_minc2(tmp_path / 's.mnc', _data('i2'), spacing={'yspace': b'xyz'})
    with pytest.warns(UserWarning, match='Invalid spacing declaration'):
        theirs = nibabel.minc2.load(written.path)
    with pytest.warns(UserWarning, match='Invalid spacing declaration'):
        ours = nv.minc2.load(written.path)
    assert_same_image(ours, theirs, written)


@pytest.mark.parametrize('compress', ['gz', 'bz2'])
@pytest.mark.parametrize('version', [1, 2])
def test_minc1_compressed(tmp_path, version, compress):
    written = write_minc1(tmp_path / 'z.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                          version=version, scale_dims=2, compress=compress, record=True)
    assert written.path.endswith('.mnc.' + compress)
    check_written(written)
    assert_same_array(np.asarray(nv.minc1.load(written.path).dataobj), written.data)


def test_cdf2_is_read_by_minc1_load_and_refused_by_load_as_in_nibabel(tmp_path):
    """nibabel's load sniffs b'CDF\\x01' only: a 64-bit offset (CDF-2) file is no image type
    it knows (ImageFileError), though Minc1Image reads it."""
    for compress in (None, 'gz'):
        written = write_minc1(tmp_path / 'v2.mnc', _data('i2'), version=2, compress=compress)
        with pytest.raises(nibabel.filebasedimages.ImageFileError):
            nibabel.load(written.path)
        with pytest.raises(nv.ImageFileError):
            nv.load(written.path)
        expected = check_with_nibabel(written)
        for ours in (nv.minc1.load(written.path), nv.Minc1Image.from_filename(written.path),
                     nv.minc1.Minc1Image.from_filename(written.path)):
            assert_same_image(ours, expected, written)


def test_compressed_minc2_is_refused_as_in_nibabel(tmp_path):
    """nibabel's Minc2Image has no compressed suffixes: a gzipped MINC2 file is no image type
    it knows."""
    _needs_h5py()
    written = write_minc2(tmp_path / 'm.mnc', _data('i2'))
    with open(written.path, 'rb') as f, gzip.open(written.path + '.gz', 'wb') as g:
        g.write(f.read())
    with pytest.raises(nibabel.filebasedimages.ImageFileError):
        nibabel.load(written.path + '.gz')
    with pytest.raises(nv.ImageFileError):
        nv.load(written.path + '.gz')


def test_out_of_range_and_fancy_keys_are_refused_as_in_nibabel(tmp_path):
    _needs_h5py()
    for write in (write_minc1, write_minc2):
        written = write(tmp_path / 'k.mnc', _data('i2'))
        theirs, ours = _nib_load(written.path), _nv_load(written.path)
        for key in [(4,), (-5,), (0, 5), (slice(None), 6), (Ellipsis, 6), (0, 0, 0, 0)]:
            with pytest.raises(IndexError):
                theirs.dataobj[key]
            with pytest.raises(IndexError):
                ours.dataobj[key]
        # Scaled per slice: nibabel cannot slice image-min / image-max with a fancy index.
        for key in [([0, 1],), (slice(None), [1, 2])]:
            with pytest.raises(ValueError):
                theirs.dataobj[key]
            with pytest.raises((ValueError, IndexError, TypeError)):
                ours.dataobj[key]


# --- refusals --------------------------------------------------------------------------------

MINC_ERROR = lambda: nv.minc1.MincError  # noqa: E731
VALUE_ERROR = lambda: ValueError  # noqa: E731
VALUE_OR_MINC_ERROR = lambda: (ValueError, nv.minc1.MincError)  # noqa: E731

REFUSALS = {
    # name: (writer kwargs, nibabel's exception, neurovox's, whether neurovox's message must
    # say what nibabel's says)
    'irregular-spacing': (dict(spacing={'yspace': b'irregular'}), ValueError, VALUE_ERROR,
                          True),
    'no-spatial-dims': (dict(dim_names=('time', 'echo', 'phase')), 'MincError', MINC_ERROR,
                        True),
    # nibabel fails to put three direction cosines in a 2x2 (4x4) rotation: numpy's
    # broadcasting ValueError, not its 'Image does not have 3 spatial dimensions' MincError.
    'two-spatial-dims': (dict(dim_names=('time', 'yspace', 'xspace')), ValueError,
                         VALUE_OR_MINC_ERROR, False),
    'four-d-two-spatial': (dict(dim_names=('time', 'zspace', 'yspace', 'echo'), shape=SHAPE4),
                           ValueError, VALUE_OR_MINC_ERROR, False),
    'four-spatial-dims': (dict(dim_names=('zspace', 'yspace', 'xspace', 'wspace'),
                               shape=SHAPE4, cosines={'wspace': (1.0, 0.0, 0.0)}),
                          ValueError, VALUE_OR_MINC_ERROR, False),
    'min-max-different-dims': (dict(scale_dims=1, min_scale_dims=2), 'MincError', MINC_ERROR,
                               True),
    'min-max-different-names': (dict(scale_dims=('zspace',), min_scale_dims=('yspace',)),
                                'MincError', MINC_ERROR, True),
    'three-scale-dims': (dict(scale_dims=3), 'MincError', MINC_ERROR, True),
    'scale-dims-not-leading': (dict(scale_dims=('yspace',)), 'MincError', MINC_ERROR, True),
    'scale-dims-out-of-order': (dict(scale_dims=('yspace', 'zspace')), 'MincError', MINC_ERROR,
                                True),
    'valid-range-below-type': (dict(valid_range=(-32769, 100)), ValueError, VALUE_ERROR, True),
    'valid-range-above-type': (dict(valid_range=(0, 32768)), ValueError, VALUE_ERROR, True),
    'unsigned-negative-range': (dict(valid_range=(-1, 255), dtype='u1'), ValueError,
                                VALUE_ERROR, True),
}


def _nib_error(spec):
    return nibabel.minc1.MincError if spec == 'MincError' else spec


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
@pytest.mark.parametrize('case', list(REFUSALS))
def test_refusals_as_nibabel(tmp_path, fmt, case):
    """What nibabel refuses — irregular spacing (ValueError), other than three spatial
    dimensions, image-min / image-max over different, more than two or not the leading
    dimensions (MincError), a valid range outside the type's (ValueError) — neurovox refuses
    with the same class and message, at load or when the data are read."""
    if fmt == 'minc2':
        _needs_h5py()
    kwargs, nib_error, nv_error, same_message = REFUSALS[case]
    kwargs = dict(kwargs)
    shape = kwargs.pop('shape', SHAPE3)
    dtype = kwargs.pop('dtype', 'i2')
    write = write_minc1 if fmt == 'minc1' else write_minc2
    written = write(tmp_path / 'x.mnc', _data(dtype, shape), **kwargs)
    assert_raises_as_nibabel(written.path, _nib_error(nib_error), nv_error,
                             same_message=same_message)


def test_minc1_refusals_of_its_own(tmp_path):
    """MINC1 only: spacing other than ``regular__`` (even a nonsense one, which MINC2 reads
    with a warning) is irregular (ValueError); valid_min / valid_max outside the type's range
    (ValueError)."""
    written = write_minc1(tmp_path / 's.mnc', _data('i2'), spacing={'xspace': b'xspace'})
    assert_raises_as_nibabel(written.path, ValueError, VALUE_ERROR)
    written = write_minc1(tmp_path / 'm.mnc', _data('u1'), valid_range=None,
                          valid_minmax=(0, 256))
    assert_raises_as_nibabel(written.path, ValueError, VALUE_ERROR)


def test_minc2_image_without_dimorder_has_no_spatial_dimensions(tmp_path):
    _needs_h5py()
    written = write_minc2(tmp_path / 'd.mnc', _data('i2'), dimorder_attr=False)
    assert_raises_as_nibabel(written.path, nibabel.minc1.MincError, MINC_ERROR)


ODD_REFUSALS = {
    # nibabel refuses these with the KeyError / AttributeError of a missing piece; neurovox
    # must refuse them too (with any Exception).
    'minc1-no-image-max': ('minc1', dict(omit=('image-max',))),
    'minc1-no-image-min': ('minc1', dict(omit=('image-min',))),
    'minc1-float-no-image-min-max': ('minc1', dict(omit=('image-min', 'image-max'),
                                                   dtype='f4')),
    'minc1-no-signtype': ('minc1', dict(omit=('signtype',))),
    'minc1-no-spacing': ('minc1', dict(spacing={'xspace': None})),
    'minc1-no-dimension-variable': ('minc1', dict(omit=('yspace',))),
    'minc2-no-image-max': ('minc2', dict(omit=('image-max',))),
    'minc2-float-no-image-min-max': ('minc2', dict(omit=('image-min', 'image-max'),
                                                   dtype='f8')),
    'minc2-no-dimension-dataset': ('minc2', dict(omit=('zspace',))),
}


@pytest.mark.parametrize('case', list(ODD_REFUSALS))
def test_files_missing_what_nibabel_needs_are_refused(tmp_path, case):
    fmt, kwargs = ODD_REFUSALS[case]
    if fmt == 'minc2':
        _needs_h5py()
    kwargs = dict(kwargs)
    dtype = kwargs.pop('dtype', 'i2')
    write = write_minc1 if fmt == 'minc1' else write_minc2
    written = write(tmp_path / 'o.mnc', _data(dtype), **kwargs)
    with pytest.raises((KeyError, AttributeError)):
        _nib_load(written.path).get_fdata()
    with pytest.raises(Exception):
        _nv_load(written.path).get_fdata()


# --- pickles ---------------------------------------------------------------------------------


def test_images_pickle(tmp_path):
    """neurovox's MINC images pickle (nibabel's, holding an open netCDF / HDF5 file, do not)."""
    _needs_h5py()
    paths = [os.path.join(NIBABEL_DATA, 'tiny.mnc'), os.path.join(NIBABEL_DATA, 'small.mnc'),
             write_minc1(tmp_path / 'a.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                         scale_dims=2, version=2, record=True).path,
             write_minc1(tmp_path / 'b.mnc', _data('u1'), compress='gz').path,
             write_minc2(tmp_path / 'c.mnc', _data('f4'), chunks=(3, 2, 4),
                         compression='gzip', byteorder='>').path]
    for path in paths:
        img = _nv_load(path)
        img.get_fdata()  # a filled cache
        clone = pickle.loads(pickle.dumps(img))
        assert type(clone) is type(img)
        assert clone.shape == img.shape
        assert clone.header.get_data_dtype() == img.header.get_data_dtype()
        assert clone.header.get_zooms() == img.header.get_zooms()
        np.testing.assert_array_equal(clone.affine, img.affine)
        assert_same_array(clone.get_fdata(), img.get_fdata())
        assert_same_array(np.asarray(clone.dataobj), np.asarray(_nib_load(path).dataobj))
        for key in KEYS[:8]:
            assert_same_array(clone.dataobj[key], img.dataobj[key])
        fresh = pickle.loads(pickle.dumps(_nv_load(path)))
        assert_same_array(np.asarray(fresh.dataobj), np.asarray(img.dataobj))


# --- damaged files ---------------------------------------------------------------------------


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def _run_child(script, *args, cwd):
    done = subprocess.run([sys.executable, '-c', script, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300, preexec_fn=_limit)
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# Reads every file, each read as a user would; prints what happened to each as JSON. An
# exception not an Exception (a Rust panic is a BaseException) or an abort fails the child.
_READ_ALL = '''
import numpy as np
import neurovox as nv


def read(path, cdf2):
    img = nv.minc1.load(path) if cdf2 else nv.load(path)
    img.affine, img.header.get_zooms(), img.header.get_data_dtype(), img.shape
    whole = np.asarray(img.dataobj)
    img.dataobj[..., 0], img.dataobj[::-1, None], img.dataobj[-1]
    img.get_fdata(dtype=np.float32)
    return whole
'''

_TRUNCATE = _READ_ALL + '''
import json, sys, warnings
warnings.simplefilter('ignore')
src, expected, work, cdf2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1'
full = open(src, 'rb').read()
reference = np.load(expected)
outcomes = {}
for tenth in range(10):
    path = work + f'.{tenth}' + src[src.index('.mnc'):]
    with open(path, 'wb') as f:
        f.write(full[:len(full) * tenth // 10])
    try:
        whole = read(path, cdf2)
    except Exception as e:
        outcomes[tenth] = type(e).__name__
    else:
        same = (whole.dtype == reference.dtype and whole.shape == reference.shape
                and np.array_equal(whole, reference, equal_nan=True))
        outcomes[tenth] = 'same' if same else 'DIFFERENT'
print(json.dumps(outcomes))
'''

_FLIP = _READ_ALL + '''
import json, sys, warnings
warnings.simplefilter('ignore')
src, work, n, seed, cdf2 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \\
    sys.argv[5] == '1'
full = open(src, 'rb').read()
rng = np.random.default_rng(seed)
path = work + src[src.index('.mnc'):]
counts = {}
for _ in range(n):
    buf = bytearray(full)
    for _ in range(int(rng.integers(1, 4))):
        # Half the flips in the first 2 KiB, where the headers are.
        span = min(len(buf), 2048) if rng.integers(2) else len(buf)
        buf[int(rng.integers(span))] ^= int(rng.integers(1, 256))
    with open(path, 'wb') as f:
        f.write(bytes(buf))
    try:
        read(path, cdf2)
        outcome = 'read'
    except Exception as e:
        outcome = type(e).__name__
    counts[outcome] = counts.get(outcome, 0) + 1
print(json.dumps(counts))
'''


def _damage_sources(tmp_path, fmt):
    """(path, whether it is CDF-2) of the files to damage, and what each reads as."""
    if fmt == 'minc1':
        files = [(os.path.join(NIBABEL_DATA, 'tiny.mnc'), False),
                 (write_minc1(tmp_path / 'rec2.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                              scale_dims=2, version=2, record=True).path, True),
                 (write_minc1(tmp_path / 'z.mnc', _data('u1'), compress='gz').path, False)]
    else:
        _needs_h5py()
        files = [(os.path.join(NIBABEL_DATA, 'small.mnc'), False),
                 (write_minc2(tmp_path / 'c4.mnc', _data('i2', SHAPE4), dim_names=TIME4,
                              scale_dims=2, chunks=(1, 2, 3, 2), compression='gzip').path,
                  False),
                 (write_minc2(tmp_path / 'big.mnc', _data('u2'), byteorder='>').path, False)]
    for path, _ in files:
        assert_same_array(np.asarray(_nv_load(path).dataobj),
                          np.asarray(_nib_load(path).dataobj))
    return files


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
def test_truncated_files_raise_or_read_the_true_values(tmp_path, fmt):
    """Every tenth of a few files (0% to 90%) loads and reads the values the whole file holds,
    or raises an Exception; never other values, never an abort."""
    for i, (path, cdf2) in enumerate(_damage_sources(tmp_path, fmt)):
        expected = tmp_path / f'expected{i}.npy'
        np.save(expected, np.asarray(_nib_load(path).dataobj))
        outcomes = _run_child(_TRUNCATE, path, expected, tmp_path / f'cut{i}', int(cdf2),
                              cwd=tmp_path)
        assert 'DIFFERENT' not in outcomes.values(), (path, outcomes)
        assert outcomes['0'] != 'same', (path, outcomes)


@pytest.mark.parametrize('fmt', ['minc1', 'minc2'])
def test_flipped_bytes_raise_or_read(tmp_path, fmt):
    """About 200 copies per format with one to three bytes changed (fixed seed): each loads
    and reads, or raises an Exception; the child process must not abort or panic."""
    sources = _damage_sources(tmp_path, fmt)
    per_file = -(-200 // len(sources))
    for i, (path, cdf2) in enumerate(sources):
        counts = _run_child(_FLIP, path, tmp_path / f'flip{i}', per_file, 1000 + i, int(cdf2),
                            cwd=tmp_path)
        assert sum(counts.values()) == per_file, counts


def _cli(*args):
    import sysconfig

    tool = os.path.join(sysconfig.get_path('scripts'), 'neurovox')
    return subprocess.run([tool, *map(str, args)], capture_output=True, text=True, timeout=120)


NIBABEL_MINC = sorted(f for f in os.listdir(NIBABEL_DATA) if f.endswith('.mnc'))


@pytest.mark.parametrize('name', NIBABEL_MINC)
def test_cli_convert_writes_what_nibabel_saves(tmp_path, name):
    """`neurovox convert X.mnc x.nii.gz` gives the file nibabel's
    `save(Nifti1Image.from_image(load(X.mnc)))` gives: type, scaling, values, affine, zooms."""
    _needs_h5py()
    path = os.path.join(NIBABEL_DATA, name)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        theirs_img = nibabel.load(path)
        nibabel.save(nibabel.Nifti1Image.from_image(theirs_img), tmp_path / 'theirs.nii.gz')
    run = _cli('convert', path, tmp_path / 'ours.nii.gz')
    assert run.returncode == 0, run.stderr
    ours, theirs = nibabel.load(tmp_path / 'ours.nii.gz'), nibabel.load(tmp_path / 'theirs.nii.gz')
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    assert ours.header.get_slope_inter() == theirs.header.get_slope_inter()
    assert_same_array(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    np.testing.assert_allclose(ours.affine, theirs.affine, rtol=0, atol=1e-12)
    assert ours.header.get_zooms() == theirs.header.get_zooms()


def test_cli_info_stats_slice_and_diff(tmp_path):
    """The other commands accept both MINC versions: info names the class and the
    dimensions, stats and slice give numpy's answer, diff compares the two versions of
    one image."""
    _needs_h5py()
    minc1 = os.path.join(NIBABEL_DATA, 'minc1_4d.mnc')
    minc2 = os.path.join(NIBABEL_DATA, 'minc2_4d.mnc')
    info = _cli('info', '--header', minc1)
    assert info.returncode == 0, info.stderr
    assert 'Minc1Image' in info.stdout and 'time (2), zspace (10)' in info.stdout
    stats = _cli('stats', minc2)
    assert stats.returncode == 0, stats.stderr
    expected = nibabel.load(minc2).get_fdata()
    assert f'max {float(expected.max())!r}' in stats.stdout, stats.stdout
    assert f'min {float(expected.min())!r}' in stats.stdout, stats.stdout
    out = tmp_path / 'slab.nii'
    small = os.path.join(NIBABEL_DATA, 'small.mnc')
    sliced = _cli('slice', '--output', out, small, '3:5, ::2, 1:20:4')
    assert sliced.returncode == 0, sliced.stderr
    expected = np.asarray(nibabel.load(small).dataobj[3:5, ::2, 1:20:4])
    assert_same_array(np.asarray(nibabel.load(out).dataobj).reshape(expected.shape), expected)
    diff = _cli('diff', minc1, minc2)
    assert 'values: equal' in diff.stdout, diff.stdout


@pytest.mark.parametrize('name', ['tiny.mnc', 'minc1_4d.mnc', 'small.mnc', 'minc2_4d.mnc'])
def test_file_objects_and_header_affine(name):
    """A MINC image read from a file object (nibabel reads MINC1 ones; its MINC2 needs a file
    name, neurovox does not) gives the file's values; the header's best affine is nibabel's
    SpatialHeader base affine, not the image's."""
    _needs_h5py()
    path = os.path.join(NIBABEL_DATA, name)
    theirs = _nib_load(path)
    klass = getattr(nv, type(theirs).__name__)
    with open(path, 'rb') as fobj:
        ours = klass.from_file_map({'image': nv.FileHolder(fileobj=fobj)})
        assert_same_array(ours.get_fdata(), theirs.get_fdata())
        assert_same_array(np.asarray(ours.dataobj[1, ::2]), np.asarray(theirs.dataobj[1, ::2]))
        np.testing.assert_array_equal(ours.affine, theirs.affine)
    np.testing.assert_array_equal(_nv_load(path).header.get_best_affine(),
                                  theirs.header.get_best_affine())


def test_images_made_in_memory_and_saves():
    """`Minc1Image(data, affine)` works as nibabel's (a header of native float32, the base
    affine); saving one, or a loaded one, to .mnc raises NotImplementedError as nibabel's
    does, while saving to NIfTI converts it."""
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    for name in ('Minc1Image', 'Minc2Image'):
        ours, theirs = getattr(nv, name)(data, affine), getattr(nibabel, name)(data, affine)
        assert ours.header.get_data_dtype() == theirs.header.get_data_dtype()
        assert ours.header.get_zooms() == theirs.header.get_zooms()
        np.testing.assert_array_equal(ours.header.get_best_affine(),
                                      theirs.header.get_best_affine())
        with pytest.raises(NotImplementedError):
            ours.to_filename('never.mnc')
    loaded = _nv_load(os.path.join(NIBABEL_DATA, 'tiny.mnc'))
    with pytest.raises(NotImplementedError):
        loaded.to_filename('never.mnc')


def test_minc2_larger_than_its_file_can_hold_is_refused_at_load(tmp_path):
    """A chunked MINC2 dataset whose chunks were never written reads as its fill value, so a
    file of a few KB can declare terabytes (nibabel loads it; get_fdata would try to allocate
    them). neurovox refuses at load what no deflated file of that size can hold: an
    ImageLimitError naming the image, before anything is allocated."""
    h5py = pytest.importorskip('h5py')
    path = tmp_path / 'huge.mnc'
    with h5py.File(path, 'w') as f:
        image = f.create_dataset('minc-2.0/image/0/image', shape=(1 << 40, 2, 2), dtype='i2',
                                 chunks=(1, 2, 2))
        image.attrs['dimorder'] = np.bytes_('zspace,yspace,xspace')
        for name in ('zspace', 'yspace', 'xspace'):
            dim = f.create_dataset(f'minc-2.0/dimensions/{name}', data=0, dtype='i4')
            dim.attrs['spacing'] = np.bytes_('regular__')
        f.create_dataset('minc-2.0/image/0/image-min', data=0.0)
        f.create_dataset('minc-2.0/image/0/image-max', data=1.0)
    assert os.path.getsize(path) < 100_000
    with pytest.raises(nv.ImageLimitError, match='image'):
        nv.load(path)
