"""MINC1 and MINC2 files written at test time for python/tests/test_minc.py (third-party files
are never committed: nibabel's own are read from the installed package, every other one is
written here into the test's tmp_path).

``write_minc1`` writes netCDF-3 (CDF-1 "classic" or CDF-2 "64-bit offset", optionally with the
first dimension the unlimited record dimension, optionally gzip/bzip2 compressed whole) with
nibabel's own writer, ``nibabel.externals.netcdf.netcdf_file``; ``write_minc2`` writes HDF5
with h5py in the layout of the MINC 2.0 library (``/minc-2.0/image/0/image``, ``image-min``,
``image-max``, ``/minc-2.0/dimensions/<name>``, fixed-length byte string attributes).

Each returns a :class:`Written`: the file's path and what a correct reader gives for it — the
header's data type (byte order included), shape, zooms, affine and the array
``np.asarray(img.dataobj)`` — computed here from what was written, by the formula of the MINC
programmer's guide as nibabel 5.4.2 applies it (``Minc1File._normalize``: clip the stored
values to the valid range, then ``slope = (imax - imin) / (dmax - dmin)``,
``inter = imin - dmin * slope``, ``value * slope + inter`` in float64, ``imax`` / ``imin`` taken
per entry of the leading scaling dimensions), not by reading the file back. ``check_with_nibabel``
reads a written file with nibabel and asserts it gives exactly that.
"""

from __future__ import annotations

import bz2
import gzip
import os
import warnings
from dataclasses import dataclass

import numpy as np

SPATIAL_COSINES = {'xspace': (1.0, 0.0, 0.0), 'yspace': (0.0, 1.0, 0.0),
                   'zspace': (0.0, 0.0, 1.0)}
DEFAULT_STEPS = {'xspace': 2.0, 'yspace': 2.5, 'zspace': 3.0, 'time': 1.5}
DEFAULT_STARTS = {'xspace': -20.25, 'yspace': 30.5, 'zspace': -10.0, 'time': 0.0}
# netCDF-3 has signed integer types only: MINC1's ``signtype`` says how to read them.
NC_TYPES = {'u1': 'b', 'i1': 'b', 'u2': 'h', 'i2': 'h', 'u4': 'i', 'i4': 'i', 'f4': 'f',
            'f8': 'd'}
MINC1_DTYPES = {('b', 'unsigned'): 'u1', ('b', 'signed__'): 'i1', ('h', 'unsigned'): 'u2',
                ('h', 'signed__'): 'i2', ('i', 'unsigned'): 'u4', ('i', 'signed__'): 'i4',
                ('f', None): 'f4', ('d', None): 'f8'}


@dataclass
class Written:
    """A written MINC file and what a correct reader gives for it.

    ``dtype``: ``img.header.get_data_dtype()`` (MINC1: big-endian; MINC2: as stored).
    ``raw``: the stored values, in ``dtype``. ``data``: ``np.asarray(img.dataobj)`` — float64
    for integer images, the stored values in ``dtype`` for float ones — or None where nibabel
    refuses to read the data (scaling dimensions it does not handle, a valid range outside the
    type's). ``affine``: None unless there are exactly three spatial dimensions (nibabel's
    ``MincError`` at load). ``nscales``: the number of leading image dimensions image-min /
    image-max run over, or None when they are not leading dimensions of the image.
    """

    path: str
    raw: np.ndarray
    dtype: np.dtype
    shape: tuple
    zooms: tuple
    affine: np.ndarray | None
    data: np.ndarray | None
    valid_range: np.ndarray | None
    nscales: int | None


def _is_spatial(name):
    return name.endswith('space')


def default_scales(shape, nscales):
    """image-min and image-max of a file scaled over ``shape[:nscales]``: values that are not
    binary fractions, and a different range for each entry, so that each entry's scaling is
    seen."""
    n = int(np.prod(shape[:nscales], dtype=np.int64))
    idx = np.arange(n, dtype=np.float64).reshape(shape[:nscales])
    image_min = -1.7 - 0.31 * idx
    image_max = 55.3 + 1.13 * idx
    if nscales == 0:
        return float(image_min), float(image_max)
    return image_min, image_max


def _scale_dims(dim_names, scale_dims):
    if isinstance(scale_dims, (int, np.integer)):
        return tuple(dim_names[:scale_dims])
    return tuple(scale_dims)


def _dim_attr(values, name, default):
    """``values`` is None (every dimension's default) or a dict of dimension name to value, a
    value of None leaving the attribute out."""
    if values is not None and name in values:
        return values[name]
    return default


def expected_affine(dim_names, steps, starts, cosines):
    """nibabel's MINC affine: direction cosines of the spatial dimensions, in image order, as
    columns, times their steps; origin the cosines times the starts. None unless there are
    three spatial dimensions."""
    spatial = [n for n in dim_names if _is_spatial(n)]
    if len(spatial) != 3:
        return None
    rot = np.eye(3)
    st = np.zeros(3)
    origin_starts = np.zeros(3)
    for i, name in enumerate(spatial):
        cos = _dim_attr(cosines, name, SPATIAL_COSINES.get(name))
        rot[:, i] = SPATIAL_COSINES[name] if cos is None else cos
        step = _dim_attr(steps, name, DEFAULT_STEPS.get(name, 1.0))
        st[i] = 1.0 if step is None else step
        start = _dim_attr(starts, name, DEFAULT_STARTS.get(name, 0.0))
        origin_starts[i] = 0.0 if start is None else start
    aff = np.eye(4)
    aff[:3, :3] = rot * st
    aff[:3, 3] = np.dot(rot, origin_starts)
    return aff


def expected_zooms(dim_names, steps, affine):
    """The header's zooms: each dimension's ``abs(step)`` (1.0 without one), then — as
    nibabel's image replaces them from its affine — the first three (whatever dimensions they
    are: with time first, time's is the first spatial column's) the norms of the affine's
    columns, ``sqrt(sum(RZS * RZS, axis=0))``."""
    zooms = []
    for name in dim_names:
        step = _dim_attr(steps, name, DEFAULT_STEPS.get(name, 1.0))
        zooms.append(1.0 if step is None else abs(float(step)))
    if affine is not None:
        rzs = affine[:3, :3]
        vox = np.sqrt(np.sum(rzs * rzs, axis=0))
        n = min(len(zooms), 3)
        zooms[:n] = [float(v) for v in vox[:n]]
    return tuple(zooms)


def expected_scaled(raw, dtype, valid_range, image_min, image_max, nscales):
    """The array a MINC reader gives for stored values ``raw`` (nibabel's ``_normalize``).

    ``valid_range``: the range the file declares, or None for the type's range. ``image_min``
    / ``image_max``: as stored (numpy values of their stored type: nibabel subtracts them in
    that type), over ``raw.shape[:nscales]``. Float images are their stored values.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == 'f':
        return np.asarray(raw, dtype=dtype)
    if valid_range is None:
        info = np.iinfo(dtype)
        valid_range = (info.min, info.max)
    dmin, dmax = np.asarray(valid_range, dtype=np.float64)
    out = np.clip(np.asarray(raw).astype(np.float64), dmin, dmax)
    if nscales == 0:
        imax, imin = image_max, image_min
    else:
        tail = (1,) * (raw.ndim - nscales)
        imax = np.asarray(image_max).reshape(raw.shape[:nscales] + tail)
        imin = np.asarray(image_min).reshape(raw.shape[:nscales] + tail)
    with np.errstate(divide='ignore', invalid='ignore', over='ignore'):
        slope = (imax - imin) / (dmax - dmin)
        inter = imin - dmin * slope
        out *= slope
        out += inter
    return out


def _valid_range(valid_range, dtype, raw):
    if valid_range is not ...:
        return valid_range
    if dtype.kind == 'f':
        return (float(raw.min()), float(raw.max())) if raw.size else (0.0, 1.0)
    info = np.iinfo(dtype)
    return (info.min, info.max)


def _reader_range(dtype, valid_range, valid_minmax, minc1):
    """The valid range nibabel uses, or False where it refuses it (outside the type's)."""
    if dtype.kind == 'f':
        return None
    declared = valid_range
    if declared is None and minc1 and valid_minmax is not None:
        declared = valid_minmax
    if declared is None:
        return None
    info = np.iinfo(dtype)
    if declared[0] < info.min or declared[1] > info.max:
        return False
    return np.asarray(declared, dtype=np.float64)


def _finish(path, raw, dtype, dim_names, steps, starts, cosines, valid_range, valid_minmax,
            mn_dims, mx_dims, image_min, image_max, minc1, omit):
    nscales = len(mx_dims) if (mn_dims == mx_dims and mx_dims == tuple(dim_names[:len(mx_dims)])
                               and len(mx_dims) <= 2) else None
    reader_range = _reader_range(dtype, valid_range, valid_minmax, minc1)
    data = None
    if dtype.kind == 'f':
        data = expected_scaled(raw, dtype, None, None, None, 0)
    elif nscales is not None and reader_range is not False and not (
            {'image-min', 'image-max'} & set(omit)):
        data = expected_scaled(raw, dtype, reader_range, image_min, image_max, nscales)
    affine = expected_affine(dim_names, steps, starts, cosines)
    return Written(path=str(path), raw=np.asarray(raw, dtype=dtype), dtype=dtype,
                   shape=tuple(raw.shape), zooms=expected_zooms(dim_names, steps, affine),
                   affine=affine, data=data,
                   valid_range=None if reader_range is False else reader_range,
                   nscales=nscales)


def _scales(raw, dim_names, scale_dims, min_scale_dims, image_min, image_max, minmax_dtype):
    mx_dims = _scale_dims(dim_names, scale_dims)
    mn_dims = mx_dims if min_scale_dims is None else _scale_dims(dim_names, min_scale_dims)
    lengths = dict(zip(dim_names, raw.shape))
    mx_shape = tuple(lengths[n] for n in mx_dims)
    mn_shape = tuple(lengths[n] for n in mn_dims)
    dmin_mx, dmax_mx = default_scales(mx_shape, len(mx_shape))
    dmin_mn, _ = default_scales(mn_shape, len(mn_shape))
    image_max = dmax_mx if image_max is None else image_max
    image_min = dmin_mn if image_min is None else image_min
    image_max = np.asarray(np.broadcast_to(image_max, mx_shape), dtype=minmax_dtype)
    image_min = np.asarray(np.broadcast_to(image_min, mn_shape), dtype=minmax_dtype)
    return mn_dims, mx_dims, image_min, image_max


def netcdf_writer():
    """nibabel's ``netcdf_file`` for writing, its variables laid out in the order netCDF-3
    requires: every non-record variable before the records. (Its own writer sorts 0-d
    variables after the record variables, so their data overwrite the second record.)"""
    from nibabel.externals.netcdf import NC_VARIABLE, ABSENT, netcdf_file

    class Writer(netcdf_file):
        def _write_var_array(self):
            if not self.variables:
                self.fp.write(ABSENT)
                return
            self.fp.write(NC_VARIABLE)
            self._pack_int(len(self.variables))

            def sortkey(n):
                v = self.variables[n]
                return (0,) if v.isrec else (1, v._shape)

            variables = sorted(self.variables, key=sortkey, reverse=True)
            for name in variables:
                self._write_var_metadata(name)
            self.__dict__['_recsize'] = sum(
                var._vsize for var in self.variables.values() if var.isrec)
            for name in variables:
                self._write_var_data(name)

    return Writer


def write_minc1(path, data, *, dim_names=('zspace', 'yspace', 'xspace'), dtype=None,
                signtype=None, steps=None, starts=None, cosines=None, spacing=None,
                image_min=None, image_max=None, scale_dims=1, min_scale_dims=None,
                minmax_dtype='f8', valid_range=..., valid_minmax=None, version=1, record=False,
                compress=None, omit=()):
    """Write ``data`` (C order, axes ``dim_names``) as a MINC1 file; return a :class:`Written`.

    ``dtype``: the stored type (default ``data.dtype``): uint8/int8/uint16/int16/uint32/int32
    (netCDF byte/short/int, ``signtype`` 'unsigned' or 'signed__', by default the dtype's) or
    float32/float64. Values are stored as they are (wrapped into the type), not scaled.
    ``steps`` / ``starts`` / ``cosines`` / ``spacing``: dicts of dimension name to the value of
    its dimension variable's ``step`` / ``start`` / ``direction_cosines`` / ``spacing``
    attribute (None: attribute left out); unnamed dimensions get DEFAULT_STEPS,
    DEFAULT_STARTS, their standard cosines and ``regular__``.
    ``scale_dims``: image-min / image-max run over this many leading dimensions (0: scalars),
    or over these dimension names; ``min_scale_dims`` gives image-min other ones.
    ``image_min`` / ``image_max``: their values (default ``default_scales``), stored as
    ``minmax_dtype`` (netCDF double by default).
    ``valid_range``: ``...`` the type's range for integer images and the data's for float
    ones, None no attribute, or a pair. ``valid_minmax``: a pair written as the ``valid_min``
    and ``valid_max`` attributes.
    ``version``: 1 (CDF-1, classic) or 2 (CDF-2, 64-bit offsets). ``record``: the first
    dimension is the unlimited (record) dimension, so each variable over it is a record
    variable, interleaved record by record. ``compress``: None, 'gz' or 'bz2' (the whole file,
    its name given that suffix). ``omit``: variables to leave out ('image-min', 'image-max',
    a dimension variable's name) and 'signtype' to leave out the image's ``signtype``.
    """
    netcdf_file = netcdf_writer()

    data = np.asarray(data)
    dtype = np.dtype(data.dtype if dtype is None else dtype).newbyteorder('=')
    key = dtype.str[1:]
    nc_type = NC_TYPES[key]
    if signtype is None:
        signtype = 'unsigned' if dtype.kind == 'u' else 'signed__'
    out_dtype = np.dtype('>' + MINC1_DTYPES[(nc_type, None if dtype.kind == 'f'
                                             else signtype)])
    raw = data.astype(dtype)
    stored = raw.view(np.dtype(key.replace('u', 'i'))) if dtype.kind == 'u' else raw
    if len(dim_names) != raw.ndim:
        raise ValueError('one name per axis')
    mn_dims, mx_dims, image_min, image_max = _scales(raw, dim_names, scale_dims,
                                                     min_scale_dims, image_min, image_max,
                                                     minmax_dtype)
    # The default range is the type's the file declares (signtype may say another).
    vrange = _valid_range(valid_range, out_dtype.newbyteorder('='), raw)
    path = str(path)
    plain = path
    if compress is not None:
        if not path.endswith('.' + compress):
            path = path + '.' + compress
        plain = path[:-len(compress) - 1] + '.plain'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        f = netcdf_file(plain, 'w', version=version)
        try:
            f.ident = 'neurovox:test'
            f.minc_version = '1.0'
            f.history = 'written by python/tests/minc_files.py'
            for i, (name, n) in enumerate(zip(dim_names, raw.shape)):
                f.createDimension(name, None if (record and i == 0) else n)
            for i, name in enumerate(dim_names):
                if name in omit:
                    continue
                if _is_spatial(name):
                    var = f.createVariable(name, 'i', ())
                    var[()] = 0
                else:
                    var = f.createVariable(name, 'd', (name,))
                    step = _dim_attr(steps, name, DEFAULT_STEPS.get(name, 1.0))
                    start = _dim_attr(starts, name, DEFAULT_STARTS.get(name, 0.0))
                    var[:] = (start or 0.0) + (1.0 if step is None else step) * np.arange(
                        raw.shape[i])
                var.varid = 'MINC standard variable'
                var.vartype = 'dimension____'
                var.version = 'MINC Version    1.0'
                var.length = np.int32(raw.shape[i])
                sp = _dim_attr(spacing, name, b'regular__')
                if sp is not None:
                    var.spacing = sp
                step = _dim_attr(steps, name, DEFAULT_STEPS.get(name, 1.0))
                if step is not None:
                    var.step = np.float64(step)
                start = _dim_attr(starts, name, DEFAULT_STARTS.get(name, 0.0))
                if start is not None:
                    var.start = np.float64(start)
                if _is_spatial(name):
                    cos = _dim_attr(cosines, name, SPATIAL_COSINES.get(name))
                    if cos is not None:
                        var.direction_cosines = np.asarray(cos, dtype=np.float64)
                    var.units = 'mm'
            for vname, dims, values in (('image-max', mx_dims, image_max),
                                        ('image-min', mn_dims, image_min)):
                if vname in omit:
                    continue
                var = f.createVariable(vname, np.dtype(minmax_dtype), dims)
                if dims:
                    var[:] = values
                else:
                    var[()] = values
                var.varid = 'MINC standard variable'
                var.vartype = 'var_attribute'
                var.version = 'MINC Version    1.0'
                var.parent = 'image'
                if dims:
                    var.dimorder = ','.join(dims)
            image = f.createVariable('image', nc_type, tuple(dim_names))
            image[:] = stored
            image.varid = 'MINC standard variable'
            image.vartype = 'group________'
            image.version = 'MINC Version    1.0'
            image.complete = 'true_'
            image.dimorder = ','.join(dim_names)
            if 'signtype' not in omit:
                image.signtype = signtype
            if vrange is not None:
                image.valid_range = np.asarray(vrange, dtype=np.float64)
            if valid_minmax is not None:
                image.valid_min = np.float64(valid_minmax[0])
                image.valid_max = np.float64(valid_minmax[1])
            image.__setattr__('image-max', '--->image-max')
            image.__setattr__('image-min', '--->image-min')
        finally:
            f.close()
    if compress is not None:
        opener = {'gz': gzip.open, 'bz2': bz2.open}[compress]
        with open(plain, 'rb') as src, opener(path, 'wb') as dst:
            dst.write(src.read())
        os.remove(plain)
    reader_raw = raw.view(out_dtype.newbyteorder('=')) if dtype.kind != 'f' else raw
    return _finish(path, reader_raw, out_dtype, dim_names, steps, starts, cosines, vrange,
                   valid_minmax, mn_dims, mx_dims,
                   # A MINC1 scalar is read as a Python float; arrays keep their type.
                   float(image_min) if not mn_dims else image_min,
                   float(image_max) if not mx_dims else image_max, True, omit)


def write_minc2(path, data, *, dim_names=('zspace', 'yspace', 'xspace'), dtype=None,
                steps=None, starts=None, cosines=None, spacing=None, image_min=None,
                image_max=None, scale_dims=1, min_scale_dims=None, minmax_dtype='f8',
                valid_range=..., valid_minmax=None, chunks=None, compression=None,
                shuffle=False, byteorder='<', dimorder_attr=True, libver=None, omit=()):
    """Write ``data`` as a MINC2 (HDF5) file as the MINC 2.0 library lays it out; return a
    :class:`Written`.

    As ``write_minc1`` for ``dim_names`` ... ``valid_minmax`` (MINC2 readers — nibabel — take
    the valid range from ``valid_range`` only: ``valid_min`` / ``valid_max`` are written but
    not used). ``dtype``: any integer or float type, stored in ``byteorder`` ('<' or '>'), as
    are image-min and image-max. ``chunks`` / ``compression`` ('gzip' or a gzip level) /
    ``shuffle``: the image dataset's HDF5 layout and filters (default contiguous).
    ``dimorder_attr``: False leaves out the image's ``dimorder`` (so it has no dimensions).
    ``libver``: h5py's file format bounds (None: the earliest, as the MINC library writes).
    ``omit``: datasets to leave out ('image-min', 'image-max', a dimension's name).
    """
    import h5py

    data = np.asarray(data)
    dtype = np.dtype(data.dtype if dtype is None else dtype).newbyteorder('=')
    stored_dtype = dtype.newbyteorder(byteorder)
    raw = data.astype(dtype)
    if len(dim_names) != raw.ndim:
        raise ValueError('one name per axis')
    mm_dtype = np.dtype(minmax_dtype).newbyteorder(byteorder)
    mn_dims, mx_dims, image_min, image_max = _scales(raw, dim_names, scale_dims,
                                                     min_scale_dims, image_min, image_max,
                                                     mm_dtype)
    vrange = _valid_range(valid_range, dtype, raw)
    bstr = np.bytes_
    kwargs = {} if libver is None else {'libver': libver}
    with h5py.File(str(path), 'w', **kwargs) as f:
        root = f.create_group('minc-2.0')
        root.attrs['ident'] = bstr(b'neurovox:test')
        root.attrs['minc_version'] = bstr(b'2.3.00')
        dims = root.create_group('dimensions')
        for i, name in enumerate(dim_names):
            if name in omit:
                continue
            step = _dim_attr(steps, name, DEFAULT_STEPS.get(name, 1.0))
            start = _dim_attr(starts, name, DEFAULT_STARTS.get(name, 0.0))
            if _is_spatial(name):
                d = dims.create_dataset(name, shape=(), dtype='<i4', data=0)
                d.attrs['vartype'] = bstr(b'dimension____')
            else:
                d = dims.create_dataset(name, data=(start or 0.0) + (
                    1.0 if step is None else step) * np.arange(raw.shape[i], dtype='<f8'))
                d.attrs['vartype'] = bstr(b'dimension____')
                d.attrs['dimorder'] = bstr(name.encode())
            d.attrs['varid'] = bstr(b'MINC standard variable')
            d.attrs['version'] = bstr(b'MINC Version    1.0')
            d.attrs['length'] = np.uint32(raw.shape[i])
            sp = _dim_attr(spacing, name, b'regular__')
            if sp is not None:
                d.attrs['spacing'] = bstr(sp)
            if step is not None:
                d.attrs['step'] = np.float64(step)
            if start is not None:
                d.attrs['start'] = np.float64(start)
            if _is_spatial(name):
                cos = _dim_attr(cosines, name, SPATIAL_COSINES.get(name))
                if cos is not None:
                    d.attrs['direction_cosines'] = np.asarray(cos, dtype=np.float64)
                d.attrs['units'] = bstr(b'mm')
        group = root.create_group('image').create_group('0')
        filters = {}
        if chunks is not None:
            filters['chunks'] = chunks
        if compression is not None:
            if isinstance(compression, int):
                filters['compression'] = 'gzip'
                filters['compression_opts'] = compression
            else:
                filters['compression'] = compression
        if shuffle:
            filters['shuffle'] = True
        image = group.create_dataset('image', data=raw.astype(stored_dtype), **filters)
        if dimorder_attr:
            image.attrs['dimorder'] = bstr(','.join(dim_names).encode())
        image.attrs['varid'] = bstr(b'MINC standard variable')
        image.attrs['vartype'] = bstr(b'group________')
        image.attrs['version'] = bstr(b'MINC Version    1.0')
        image.attrs['complete'] = bstr(b'true_')
        if vrange is not None:
            image.attrs['valid_range'] = np.asarray(vrange, dtype=np.float64)
        if valid_minmax is not None:
            image.attrs['valid_min'] = np.float64(valid_minmax[0])
            image.attrs['valid_max'] = np.float64(valid_minmax[1])
        for vname, vdims, values in (('image-max', mx_dims, image_max),
                                     ('image-min', mn_dims, image_min)):
            if vname in omit:
                continue
            ds = group.create_dataset(vname, data=np.asarray(values, dtype=mm_dtype))
            if vdims:
                ds.attrs['dimorder'] = bstr(','.join(vdims).encode())
            ds.attrs['varid'] = bstr(b'MINC standard variable')
            ds.attrs['vartype'] = bstr(b'var_attribute')
            ds.attrs['version'] = bstr(b'MINC Version    1.0')
        root.create_group('info')
    # nibabel reads MINC2 dimensions from the image's dimorder only.
    names = dim_names if dimorder_attr else ()
    # A MINC2 scalar is read as a numpy scalar of its stored type.
    imin = image_min[()] if not mn_dims else image_min
    imax = image_max[()] if not mx_dims else image_max
    written = _finish(path, raw, stored_dtype, dim_names, steps, starts, cosines, vrange, None,
                      mn_dims, mx_dims, imin, imax, False, omit)
    if not dimorder_attr:
        written.affine = expected_affine(names, steps, starts, cosines)
    return written


def check_with_nibabel(written, minc1=None):
    """Assert nibabel reads ``written`` as the formula says (used by the tests on every file
    they write, so that a wrong writer fails before neurovox is compared with it)."""
    import nibabel

    if minc1 is None:
        minc1 = not _is_hdf5(written.path)
    klass = nibabel.minc1.Minc1Image if minc1 else nibabel.minc2.Minc2Image
    img = klass.from_filename(written.path)
    assert img.shape == written.shape
    assert img.header.get_data_dtype() == written.dtype, (img.header.get_data_dtype(),
                                                          written.dtype)
    assert img.header.get_zooms() == written.zooms
    np.testing.assert_array_equal(img.affine, written.affine)
    if written.data is not None:
        arr = np.asarray(img.dataobj)
        assert arr.dtype == written.data.dtype, (arr.dtype, written.data.dtype)
        np.testing.assert_array_equal(arr, written.data)
    return img


def _is_hdf5(path):
    path = str(path)
    if path.endswith(('.gz', '.bz2')):
        return False
    with open(path, 'rb') as f:
        return f.read(4) == b'\x89HDF'
