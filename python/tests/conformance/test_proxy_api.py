"""nibabel's proxy API validators (nibabel/tests/test_proxy_api.py), ported
(docs/nibabel-rules.md §18).

For each header class of the Analyze family and MGH, every combination of shape, dtype,
offset, slope and intercept is written as Fortran-order bytes to a BytesIO and to a file, and
`api(lib, 'ArrayProxy')(file_like, header)` must behave as nibabel's does. As in nibabel, one test
runs one validator over every combination of a class.
"""

import warnings
from io import BytesIO
from itertools import product

import numpy as np
import pytest
from nibabel.volumeutils import apply_read_scaling
from numpy.testing import assert_allclose, assert_array_equal

from nvlib import api


def assert_dt_equal(a, b):
    """Byte order is part of the dtype check, as in nibabel's tests."""
    assert np.dtype(a).str == np.dtype(b).str


BASE_DTYPES = (np.uint8, np.int16, np.int32, np.float32, np.complex64, np.float64)
NIFTI_DTYPES = BASE_DTYPES + (np.int8, np.uint16, np.uint32, np.int64, np.uint64, np.complex128)
SHAPES = ((2,), (2, 3), (2, 3, 4), (2, 3, 4, 5))

# name: (header class, shapes, dtypes, has_slope, has_inter, settable_offset, data_endian)
CLASSES = {
    'Analyze': ('AnalyzeHeader', SHAPES, BASE_DTYPES, False, False, True, '='),
    'Spm99Analyze': ('Spm99AnalyzeHeader', SHAPES, BASE_DTYPES, True, False, True, '='),
    'Spm2Analyze': ('Spm2AnalyzeHeader', SHAPES, BASE_DTYPES, True, False, True, '='),
    'Nifti1': ('Nifti1Header', SHAPES, NIFTI_DTYPES, True, True, True, '='),
    'MGH': (
        'MGHHeader',
        ((2, 3, 4), (2, 3, 4, 5)),
        (np.uint8, np.int16, np.int32, np.float32),
        False,
        False,
        False,
        '>',
    ),
}


def obj_params(lib, name, tmp_path):
    """Yields (maker, params) pairs as nibabel's TestAnalyzeProxyAPI.obj_params does."""
    hdr_name, shapes, dtypes, has_slope, has_inter, settable_offset, endian = CLASSES[name]
    klass = api(lib, hdr_name)
    offsets = (0, 16) if settable_offset else (klass().get_data_offset(),)
    slopes = (1.0, 2.0, float(np.float32(3.1416))) if has_slope else (1.0,)
    inters = (0.0, 10.0, float(np.float32(2.7183))) if has_inter else (0.0,)
    for n, (shape, dtype, offset, slope, inter) in enumerate(
        product(shapes, dtypes, offsets, slopes, inters)
    ):
        dtype = np.dtype(dtype).newbyteorder(endian)
        arr = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
        data = arr.tobytes(order='F')
        hdr = klass()
        hdr.set_data_dtype(dtype)
        hdr.set_data_shape(shape)
        if settable_offset:
            hdr.set_data_offset(offset)
        if (slope, inter) == (1, 0):
            dtype_out = dtype
        else:
            hdr.set_slope_inter(slope, inter)
            s, i = hdr.get_slope_inter()
            tmp = apply_read_scaling(arr, 1.0 if s is None else s, 0.0 if i is None else i)
            dtype_out = tmp.dtype.type
        params = dict(
            dtype=dtype,
            dtype_out=dtype_out,
            arr=arr.copy(),
            arr_out=arr.astype(dtype_out) * slope + inter,
            shape=shape,
            offset=offset,
            slope=slope,
            inter=inter,
        )

        def sio_func(hdr=hdr, offset=offset, data=data):
            fio = BytesIO()
            fio.seek(offset)
            fio.write(data)
            new_hdr = hdr.copy()
            return api(lib, 'ArrayProxy')(fio, new_hdr), fio, new_hdr

        yield sio_func, params

        fname = str(tmp_path / f'data{n}.bin')

        def fname_func(hdr=hdr, offset=offset, data=data, fname=fname):
            with open(fname, 'wb') as fio:
                fio.seek(offset)
                fio.write(data)
            new_hdr = hdr.copy()
            return api(lib, 'ArrayProxy')(fname, new_hdr), fname, new_hdr

        yield fname_func, dict(params)


def some_slicers(shape):
    """nibabel's _some_slicers: one non-full item per axis, and a new axis in the middle."""
    ndim = len(shape)
    out = []
    for i in range(ndim):
        key = [slice(None)] * ndim
        key[i] = -1 if i % 2 else (0 if shape[i] < 2 else 1)
        key.insert(ndim // 2, None)
        out.append(tuple(key))
    return out


def validate_shape(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    assert_array_equal(prox.shape, params['shape'])
    with pytest.raises(AttributeError):
        prox.shape = params['shape']


def validate_ndim(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    assert prox.ndim == len(params['shape'])
    with pytest.raises(AttributeError):
        prox.ndim = len(params['shape'])


def validate_is_proxy(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    assert prox.is_proxy
    assert api(lib, 'is_proxy')(prox)
    assert not api(lib, 'is_proxy')(np.arange(10))
    with pytest.raises(AttributeError):
        prox.is_proxy = False


def validate_asarray(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    out = np.asarray(prox)
    assert_array_equal(out, params['arr_out'])
    assert_dt_equal(out.dtype, params['dtype_out'])
    assert out.shape == params['shape']


def validate_array_interface_with_dtype(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    orig = np.array(prox, dtype=None)
    assert_array_equal(orig, params['arr_out'])
    assert_dt_equal(orig.dtype, params['dtype_out'])
    types = [np.float16, np.float32, np.float64, np.longdouble]
    types += [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', np.exceptions.ComplexWarning)
        for dtype in types:
            direct = dtype(prox)
            rtol = 1e-03 if dtype == np.float16 else 1e-05
            assert_allclose(direct, orig.astype(dtype), rtol=rtol, atol=1e-08)
            assert_dt_equal(direct.dtype, np.dtype(dtype))
            assert direct.shape == params['shape']
            for arrmethod in (np.array, np.asarray, np.asanyarray):
                out = arrmethod(prox, dtype=dtype)
                assert_array_equal(out, direct)
                assert_dt_equal(out.dtype, np.dtype(dtype))
                assert out.shape == params['shape']


def validate_header_isolated(lib, pmaker, params, settable_offset):
    prox, fio, hdr = pmaker()
    assert_array_equal(prox, params['arr_out'])
    if hdr.get_data_dtype() == np.uint8:
        hdr.set_data_dtype(np.int16)
    else:
        hdr.set_data_dtype(np.uint8)
    hdr.set_data_shape(np.array(hdr.get_data_shape()) + 1)
    if settable_offset:
        hdr.set_data_offset(32)
    assert_array_equal(prox, params['arr_out'])


def validate_fileobj_isolated(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    if isinstance(fio, str):
        return
    assert_array_equal(prox, params['arr_out'])
    fio.read()  # move to the end of the file
    assert_array_equal(prox, params['arr_out'])


def validate_proxy_slicing(lib, pmaker, params):
    arr = params['arr_out']
    prox, fio, hdr = pmaker()
    for key in some_slicers(arr.shape):
        assert_array_equal(arr[key], prox[key])


def validate_dtype(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    assert_dt_equal(prox.dtype, params['dtype'])
    with pytest.raises(AttributeError):
        prox.dtype = np.dtype(prox.dtype)


def validate_slope_inter_offset(lib, pmaker, params):
    prox, fio, hdr = pmaker()
    for attr_name in ('slope', 'inter', 'offset'):
        expected = params[attr_name]
        assert_array_equal(getattr(prox, attr_name), expected)
        with pytest.raises(AttributeError):
            setattr(prox, attr_name, expected)


VALIDATORS = {
    'shape': validate_shape,
    'ndim': validate_ndim,
    'is_proxy': validate_is_proxy,
    'asarray': validate_asarray,
    'array_interface_with_dtype': validate_array_interface_with_dtype,
    'header_isolated': validate_header_isolated,
    'fileobj_isolated': validate_fileobj_isolated,
    'proxy_slicing': validate_proxy_slicing,
    'dtype': validate_dtype,
    'slope_inter_offset': validate_slope_inter_offset,
}


@pytest.mark.parametrize('validator', list(VALIDATORS))
@pytest.mark.parametrize('klass', list(CLASSES))
def test_proxy_api(lib, klass, validator, tmp_path):
    check = VALIDATORS[validator]
    count = 0
    for pmaker, params in obj_params(lib, klass, tmp_path):
        if validator == 'header_isolated':
            check(lib, pmaker, params, settable_offset=CLASSES[klass][5])
        else:
            check(lib, pmaker, params)
        count += 1
    assert count >= 16  # every class has at least 8 combinations, each as BytesIO and file


# nibabel's TestEcatAPI: the generic proxy validators on tinypet.v's frames (its header
# validator is skipped there: an ECAT header has no data dtype to change).
ECAT_VALIDATORS = ['shape', 'ndim', 'is_proxy', 'asarray', 'array_interface_with_dtype',
                   'fileobj_isolated', 'proxy_slicing']


# tinypet's values (up to 2.5e11) overflow the integer types the interface validator casts to.
@pytest.mark.filterwarnings('ignore:overflow encountered in cast:RuntimeWarning',
                            'ignore:invalid value encountered in cast:RuntimeWarning')
@pytest.mark.parametrize('validator', ECAT_VALIDATORS)
def test_ecat_proxy_api(lib, validator):
    import os

    import nibabel
    import nibabel.ecat
    from nibabel.testing import data_path

    ecat = nibabel.ecat if lib is nibabel else lib.ecat
    path = os.path.join(data_path, 'tinypet.v')

    def pmaker():
        img = ecat.load(path)
        sh = img.get_subheaders()
        return ecat.EcatImageArrayProxy(sh), open(path, 'rb'), sh

    params = dict(shape=(10, 10, 3, 1), dtype_out=np.float64,
                  arr_out=nibabel.ecat.load(path).get_fdata())
    VALIDATORS[validator](lib, pmaker, params)


# nibabel's TestPARRECAPI: the generic proxy validators (header_isolated too: a PAR header's
# dtype and shape can be set, its offset cannot) on proxies made with
# PARRECArrayProxy(rec_name, img.header, scaling='dv') from nibabel's EG_REC and VARY_REC.
PARREC_VALIDATORS = ['shape', 'ndim', 'is_proxy', 'asarray', 'array_interface_with_dtype',
                     'header_isolated', 'fileobj_isolated', 'proxy_slicing']


@pytest.mark.parametrize('validator', PARREC_VALIDATORS)
@pytest.mark.parametrize('rec', ['phantom_EPI_asc_CLEAR_2_1.REC', 'phantom_varscale.REC'])
def test_parrec_proxy_api(lib, validator, rec):
    import os

    import nibabel
    import nibabel.parrec
    from nibabel.testing import data_path

    parrec = nibabel.parrec if lib is nibabel else lib.parrec
    rec_name = os.path.join(data_path, rec)
    opened = []

    def pmaker():
        img = parrec.load(rec_name)
        prox = parrec.PARRECArrayProxy(rec_name, img.header, scaling='dv')
        fobj = open(rec_name, 'rb')
        opened.append(fobj)
        return prox, fobj, img.header

    img = nibabel.parrec.load(rec_name)
    params = dict(shape=img.shape, dtype_out=np.float64, arr_out=img.get_fdata())
    try:
        if validator == 'header_isolated':
            VALIDATORS[validator](lib, pmaker, params, settable_offset=False)
        else:
            VALIDATORS[validator](lib, pmaker, params)
    finally:
        for fobj in opened:
            fobj.close()


# nibabel's TestMinc1API / TestMinc2API: the generic proxy validators on the proxy of tiny.mnc
# (MINC1) and small.mnc (MINC2). nibabel makes the proxy from its internal Minc1File /
# Minc2File (MincImageArrayProxy(minc_file)); neurovox's comes from loading the image.
MINC_VALIDATORS = ['shape', 'ndim', 'is_proxy', 'asarray', 'array_interface_with_dtype',
                   'header_isolated', 'fileobj_isolated', 'proxy_slicing']


@pytest.mark.parametrize('validator', MINC_VALIDATORS)
@pytest.mark.parametrize('module,fname', [('minc1', 'tiny.mnc'), ('minc2', 'small.mnc')])
def test_minc_proxy_api(lib, validator, module, fname):
    import importlib
    import os

    import nibabel
    from nibabel.testing import data_path

    if module == 'minc2':
        pytest.importorskip('h5py')
    minc = importlib.import_module(f'nibabel.{module}') if lib is nibabel else getattr(lib, module)
    path = os.path.join(data_path, fname)
    opened = []

    def pmaker():
        img = minc.load(path)
        fobj = open(path, 'rb')
        opened.append(fobj)
        return img.dataobj, fobj, img.header

    img = nibabel.load(path)
    params = dict(shape=img.shape, dtype_out=np.float64, arr_out=img.get_fdata())
    try:
        if validator == 'header_isolated':
            VALIDATORS[validator](lib, pmaker, params, settable_offset=False)
        else:
            VALIDATORS[validator](lib, pmaker, params)
    finally:
        for fobj in opened:
            fobj.close()
