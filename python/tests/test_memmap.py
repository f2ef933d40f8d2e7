"""neurovox.memmap, load_npy/save_npy, load_npz and savez against numpy, the oracle, at test
time: files numpy writes, and the same calls made to numpy and to neurovox on twin copies of a
file, compared array for array and byte for byte.

The numpy fixture tests need ``NEUROVOX_NUMPY_ORACLE_DIR`` (``scripts/test.sh`` sets it and
runs ``tests/oracle/make_numpy_fixtures.py``); without it they are skipped, the rest run.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import neurovox as nv

ORACLE_DIR = os.environ.get('NEUROVOX_NUMPY_ORACLE_DIR')
ORACLE = pathlib.Path(ORACLE_DIR) if ORACLE_DIR else None


def oracle_manifest():
    if ORACLE is None or not (ORACLE / 'manifest.json').is_file():
        return None
    with open(ORACLE / 'manifest.json') as fobj:
        return json.load(fobj)


MANIFEST = oracle_manifest()


def oracle_entries(key, supported=None):
    if MANIFEST is None:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason='NEUROVOX_NUMPY_ORACLE_DIR with a manifest is not set (scripts/test.sh)'))]
    entries = MANIFEST[key]
    if supported is not None:
        entries = [e for e in entries if e['supported'] == supported]
    return [pytest.param(e, id=e['path']) for e in entries]


def assert_same(ours, theirs):
    """Same class, dtype (byte order included), shape, memory order and values."""
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    assert ours.dtype.str == theirs.dtype.str
    assert repr(ours.dtype) == repr(theirs.dtype)  # dtype('<i2') and dtype('int16') print apart
    assert ours.shape == theirs.shape
    assert ours.flags.c_contiguous == theirs.flags.c_contiguous
    assert ours.flags.f_contiguous == theirs.flags.f_contiguous
    assert ours.flags.writeable == theirs.flags.writeable
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs), strict=True)


def assert_same_memmap(ours, theirs):
    assert_same(ours, theirs)
    assert isinstance(ours, np.memmap)
    assert (ours.filename, ours.offset, ours.mode) == (theirs.filename, theirs.offset,
                                                       theirs.mode)


def twins(tmp_path, content: bytes | None):
    """Two paths with the same content (or none): one for numpy, one for neurovox."""
    ours, theirs = tmp_path / 'ours.dat', tmp_path / 'theirs.dat'
    if content is not None:
        ours.write_bytes(content)
        theirs.write_bytes(content)
    return ours, theirs


def outcome(call):
    """A call's result, or its exception type (for comparing numpy's errors with ours)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - we compare whatever numpy raises
        return type(exc)


# ----------------------------------------------------------------------------
# neurovox.memmap: every mode, against numpy.memmap on a twin file

CONTENT = bytes(range(64))


@pytest.mark.parametrize('mode', ['r', 'r+', 'c', 'readonly', 'readwrite', 'copyonwrite'])
@pytest.mark.parametrize('dtype,shape,offset,order', [
    ('u1', None, 0, 'C'),
    ('<i2', None, 4, 'C'),
    ('>f4', (3, 4), 8, 'C'),
    ('<u4', (2, 3), 3, 'F'),       # misaligned offset, Fortran order
    ('<c8', (2, 2), 16, 'F'),
    ('i4,u2', 4, 0, 'C'),          # structured: the map is bytes, numpy interprets them
    (('<i2', (2,)), (2, 3), 0, 'F'),  # subarray dtype
    ('V3', (5,), 1, 'C'),
    ('u8', 7, 8, 'A'),
])
def test_memmap_matches_numpy(tmp_path, mode, dtype, shape, offset, order):
    ours_path, theirs_path = twins(tmp_path, CONTENT)
    theirs = np.memmap(theirs_path, dtype=dtype, mode=mode, offset=offset, shape=shape,
                       order=order)
    ours = nv.memmap(ours_path, dtype=dtype, mode=mode, offset=offset, shape=shape, order=order)
    assert_same(ours, theirs)
    assert ours.offset == theirs.offset and ours.mode == theirs.mode
    assert ours.filename == ours_path.resolve()
    assert type(ours.base).__name__ == 'MmapOwner'


def test_memmap_filename_forms_match_numpy(tmp_path, monkeypatch):
    path = tmp_path / 'f.dat'
    path.write_bytes(CONTENT)
    monkeypatch.chdir(tmp_path)
    for name in (path, str(path), 'f.dat', pathlib.Path('f.dat')):
        assert nv.memmap(name, mode='r').filename == np.memmap(name, mode='r').filename
    assert nv.memmap(b'f.dat', mode='r').filename is None is np.memmap(b'f.dat', mode='r').filename


def test_read_mode_refuses_writes_like_numpy(tmp_path):
    ours_path, theirs_path = twins(tmp_path, CONTENT)
    ours = nv.memmap(ours_path, mode='r', shape=(8, 8))
    theirs = np.memmap(theirs_path, mode='r', shape=(8, 8))
    for array in (ours, theirs):
        assert not array.flags.writeable
        with pytest.raises(ValueError, match='read-only'):
            array[0, 0] = 1
        with pytest.raises(ValueError):
            array.flags.writeable = True
        array.flush()  # a no-op in mode r, as in numpy
    assert ours_path.read_bytes() == CONTENT


@pytest.mark.parametrize('mode', ['r+', 'w+'])
def test_write_modes_reach_the_file(tmp_path, mode):
    ours_path, theirs_path = twins(tmp_path, CONTENT)
    for make, path in ((np.memmap, theirs_path), (nv.memmap, ours_path)):
        array = make(path, dtype='<u2', mode=mode, shape=(4, 3), offset=6)
        array[1:3, ::2] = 0xABCD
        array[3] += 1
        array.flush()
        view = array[2:]
        assert isinstance(view, np.memmap) and view.filename == array.filename
        view[0, 1] = 7
        view.flush()  # a view flushes through its parent's map
        del array, view
    assert ours_path.read_bytes() == theirs_path.read_bytes()
    if mode == 'w+':
        assert ours_path.stat().st_size == 6 + 24


def test_copy_on_write_never_changes_the_file(tmp_path):
    path = tmp_path / 'c.dat'
    path.write_bytes(CONTENT)
    c = nv.memmap(path, mode='c', shape=(8, 8))
    assert c.flags.writeable
    c[1] = ord('B')
    c.flush()
    assert (c[1] == ord('B')).all()
    assert path.read_bytes() == CONTENT
    del c
    assert path.read_bytes() == CONTENT


def test_w_plus_creates_and_truncates(tmp_path):
    ours_path, theirs_path = twins(tmp_path, b'x' * 100)
    for make, path in ((np.memmap, theirs_path), (nv.memmap, ours_path)):
        q = make(path, mode='w+', shape=(2, 5))
        assert (q == 0).all()
        q[:] = ord('A')
        q.flush()
    assert ours_path.read_bytes() == theirs_path.read_bytes() == b'A' * 10
    new = tmp_path / 'new.dat'
    nv.memmap(new, mode='w+', dtype='f8', shape=3, offset=5)
    assert new.stat().st_size == 5 + 24


@pytest.mark.parametrize('mode', ['r+', 'w+'])
@pytest.mark.parametrize('shape,offset', [((10,), 0), ((3, 4), 70), ((0,), 0), ((0,), 9)])
def test_growth_matches_numpy(tmp_path, mode, shape, offset):
    ours_path, theirs_path = twins(tmp_path, b'\x07' * 9)
    theirs = np.memmap(theirs_path, dtype='<i4', mode=mode, shape=shape, offset=offset)
    ours = nv.memmap(ours_path, dtype='<i4', mode=mode, shape=shape, offset=offset)
    assert_same(ours, theirs)
    del ours, theirs
    assert ours_path.read_bytes() == theirs_path.read_bytes()


@pytest.mark.parametrize('mode', ['r', 'r+', 'c', 'w+'])
@pytest.mark.parametrize('content,kwargs', [
    (b'', {}),                                  # empty file, shape None
    (b'', {'shape': 0}),
    (b'', {'shape': (0, 3)}),
    (b'abc', {'shape': 0, 'offset': 3}),
    (b'abc', {'shape': 0, 'offset': 4}),
    (b'abcd', {'shape': 0}),
    (b'abcdefgh', {'dtype': 'u2', 'offset': 8}),
])
def test_empty_arrays_match_numpy(tmp_path, mode, content, kwargs):
    ours_path, theirs_path = twins(tmp_path, content)
    theirs = outcome(lambda: np.memmap(theirs_path, mode=mode, **kwargs))
    ours = outcome(lambda: nv.memmap(ours_path, mode=mode, **kwargs))
    if isinstance(theirs, type):
        assert ours is theirs
    else:
        assert_same(ours, theirs)
        del ours, theirs
    assert ours_path.read_bytes() == theirs_path.read_bytes()


@pytest.mark.parametrize('mode', ['r', 'c'])
@pytest.mark.parametrize('kwargs', [{'shape': 65}, {'shape': (8, 9)}, {'offset': 60, 'shape': 5},
                                    {'offset': 65}])
def test_too_short_files_are_value_errors_naming_the_file(tmp_path, mode, kwargs):
    path = tmp_path / 'short.dat'
    path.write_bytes(CONTENT)
    with pytest.raises(ValueError):
        np.memmap(path, mode=mode, **kwargs)
    with pytest.raises(ValueError, match='short.dat') as info:
        nv.memmap(path, mode=mode, **kwargs)
    if 'shape' in kwargs:
        assert 'mmap length is greater than file size' in str(info.value)
    assert path.read_bytes() == CONTENT


def test_argument_errors_match_numpy(tmp_path):
    path = tmp_path / 'a.dat'
    path.write_bytes(CONTENT)
    missing = tmp_path / 'missing.dat'
    cases = [
        dict(filename=missing, mode='r'),
        dict(filename=missing, mode='r+'),
        dict(filename=missing, mode='c'),
        dict(filename=path, mode='x'),
        dict(filename=path, mode='w+'),                 # no shape
        dict(filename=path, mode='r', order='X', shape=(2, 2)),
        dict(filename=path, mode='r', offset=-1),
        dict(filename=path, mode='r', dtype='u8', offset=4),   # 60 bytes: not whole u8s
        dict(filename=path, mode='r', shape=2.5),
    ]
    for kwargs in cases:
        theirs = outcome(lambda: np.memmap(**kwargs))
        ours = outcome(lambda: nv.memmap(**kwargs))
        assert isinstance(theirs, type) and ours is theirs, (kwargs, ours, theirs)
    # numpy's answer to a negative dimension depends on the mode (OverflowError from mmap in
    # r and c, a 1-element map in r+ for shape (-1,)); neurovox always says what
    # numpy.ndarray says.
    with pytest.raises(ValueError, match='negative dimensions are not allowed'):
        nv.memmap(path, mode='r', shape=(2, -1))
    with pytest.raises(ValueError, match=r"mode must be one of \['r', 'c', 'r\+', 'w\+'"):
        nv.memmap(path, mode='a')
    assert path.read_bytes() == CONTENT, 'w+ without a shape must not truncate'
    assert not missing.exists()


def test_object_dtypes_are_refused(tmp_path):
    path = tmp_path / 'o.dat'
    path.write_bytes(CONTENT)
    # numpy maps pointers read from the file as Python objects; neurovox refuses.
    with pytest.raises(TypeError, match='Python objects'):
        nv.memmap(path, dtype=object, mode='r')
    with pytest.raises(TypeError, match='Python objects'):
        nv.memmap(path, dtype=[('a', 'i4'), ('b', object)], mode='r')


@pytest.mark.parametrize('mode', ['r', 'r+', 'c', 'w+'])
def test_file_objects_match_numpy(tmp_path, mode):
    ours_path, theirs_path = twins(tmp_path, CONTENT)
    file_mode = {'r': 'rb', 'c': 'rb', 'r+': 'r+b', 'w+': 'r+b'}[mode]
    with open(ours_path, file_mode) as ours_f, open(theirs_path, file_mode) as theirs_f:
        ours_f.seek(5)
        theirs_f.seek(5)
        # r+ and w+ grow the file (a file object is not truncated by w+); r maps the rest.
        shape = {'r': None, 'c': (31,), 'r+': (40,), 'w+': (40,)}[mode]
        theirs = np.memmap(theirs_f, dtype='u2', mode=mode, shape=shape, offset=2)
        ours = nv.memmap(ours_f, dtype='u2', mode=mode, shape=shape, offset=2)
        assert_same(ours, theirs)
        assert ours.filename == os.path.abspath(ours_f.name)
        assert ours_f.tell() == theirs_f.tell()
        if mode != 'r':
            ours[-1] = theirs[-1] = 0x4241
            ours.flush()
            theirs.flush()
        del ours, theirs
    assert ours_path.read_bytes() == theirs_path.read_bytes()


def test_file_objects_without_a_descriptor_fail_like_numpy():
    for make in (np.memmap, nv.memmap):
        with pytest.raises(io.UnsupportedOperation):
            make(io.BytesIO(CONTENT), mode='r')


def test_a_map_is_shared_with_another_process(tmp_path):
    path = tmp_path / 'shared.dat'
    here = nv.memmap(path, dtype='<i4', mode='w+', shape=(4,))
    here[:] = [1, 2, 3, 4]
    here.flush()
    child = textwrap.dedent(f"""
        import neurovox as nv
        m = nv.memmap({str(path)!r}, dtype='<i4', mode='r+')
        assert list(m) == [1, 2, 3, 4], list(m)
        m[2] = 300
        m.flush()
    """)
    subprocess.run([sys.executable, '-c', child], check=True)
    assert here[2] == 300, 'the other process wrote through its map into ours'
    assert np.fromfile(path, dtype='<i4').tolist() == [1, 2, 300, 4]


def test_memmap_arithmetic_and_views_behave_like_numpy(tmp_path):
    ours_path, theirs_path = twins(tmp_path, CONTENT)
    ours = nv.memmap(ours_path, dtype='u2', mode='r', shape=(4, 8))
    theirs = np.memmap(theirs_path, dtype='u2', mode='r', shape=(4, 8))
    for op in (lambda a: a * .5, lambda a: a.mean(), lambda a: a.sum(axis=0), lambda a: a[1:, 2],
               lambda a: a.T, lambda a: a.reshape(-1), lambda a: a[[0, 2]], lambda a: a[1, 1]):
        a, b = op(ours), op(theirs)
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize('entry', oracle_entries('memmap'))
def test_memmap_reads_numpys_raw_files(entry):
    path = ORACLE / entry['path']
    kwargs = dict(dtype=entry['dtype'], mode='r', shape=tuple(entry['shape']),
                  order=entry['order'], offset=entry['offset'])
    assert_same_memmap(nv.memmap(path, **kwargs), np.memmap(path, **kwargs))


# ----------------------------------------------------------------------------
# load_npy / save_npy


@pytest.mark.parametrize('entry', oracle_entries('npy', supported=True))
def test_load_npy_matches_numpy(entry):
    path = ORACLE / entry['path']
    assert_same(nv.load_npy(path), np.load(path))
    for mode in ('r', 'c', 'r+'):
        if mode == 'r+' and not os.access(path, os.W_OK):
            continue
        assert_same_memmap(nv.load_npy(path, mmap_mode=mode), np.load(path, mmap_mode=mode))


@pytest.mark.parametrize('entry', oracle_entries('npy', supported=False))
def test_load_npy_refuses_unsupported_dtypes_naming_file_and_dtype(entry):
    path = ORACLE / entry['path']
    for mode in (None, 'r'):
        with pytest.raises(ValueError) as info:
            nv.load_npy(path, mmap_mode=mode)
        message = str(info.value)
        assert path.name in message
        if entry['error_kind'] == 'unsupported':
            assert 'descr' in message or entry['dtype'] in message, message


def test_load_npy_from_file_objects(tmp_path):
    path = tmp_path / 'a.npy'
    array = np.arange(12, dtype='>i2').reshape(3, 4, order='F')
    np.save(path, array)
    with open(path, 'rb') as f:
        assert_same(nv.load_npy(f), array)
        assert f.tell() == path.stat().st_size
    buffer = io.BytesIO()
    np.save(buffer, array)
    buffer.seek(0)
    assert_same(nv.load_npy(buffer), np.load(io.BytesIO(buffer.getvalue())))
    with open(path, 'rb') as f:
        with pytest.raises(ValueError, match='Memmap cannot use existing file handles'):
            nv.load_npy(f, mmap_mode='r')


def test_load_npy_errors(tmp_path):
    path = tmp_path / 'a.npy'
    np.save(path, np.arange(10.0))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="'w\\+'"):
        nv.load_npy(path, mmap_mode='w+')
    assert path.read_bytes() == before, "numpy truncates the file here; neurovox must not"
    with pytest.raises(FileNotFoundError):
        nv.load_npy(tmp_path / 'missing.npy')
    short = tmp_path / 'short.npy'
    short.write_bytes(before[:-8])
    with pytest.raises(ValueError):
        np.load(short)
    for mode in (None, 'r', 'c'):
        with pytest.raises(ValueError, match='short.npy'):
            nv.load_npy(short, mmap_mode=mode)
    not_npy = tmp_path / 'text.npy'
    not_npy.write_bytes(b'hello world, not an array at all')
    with pytest.raises(ValueError, match='text.npy'):
        nv.load_npy(not_npy)
    huge = tmp_path / 'huge.npy'
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header['shape'] = (10**12,)
    with open(huge, 'wb') as f:
        np.lib.format.write_array_header_1_0(f, header)
    with pytest.raises(ValueError, match='huge.npy'):
        nv.load_npy(huge)  # refused before allocating 8 TB


def test_load_npy_r_plus_writes_reach_the_file(tmp_path):
    path = tmp_path / 'w.npy'
    np.save(path, np.zeros((3, 2), dtype='<f4'))
    m = nv.load_npy(path, mmap_mode='r+')
    m[1] = [1.5, -2]
    m.flush()
    expected = np.zeros((3, 2), dtype='<f4')
    expected[1] = [1.5, -2]
    assert_same(np.load(path), expected)


def save_cases():
    cases = []
    for dtype in ('u1', 'i1', '<u2', '>i2', '<u4', '>i4', '<u8', '>i8', '<f4', '>f4', '<f8',
                  '>f8', '<c8', '>c16'):
        for shape in ((), (0,), (5,), (2, 3), (2, 3, 4), (1, 1, 7), (3, 0, 2)):
            cases.append(pytest.param(dtype, shape, id=f'{dtype}-{shape}'))
    return cases


def sample(dtype, shape):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    values = (np.arange(n) * 37 - n) % 251 - 100 if dtype.kind != 'u' else np.arange(n) % 251
    if dtype.kind == 'c':
        values = values + 1j * values[::-1]
    return values.astype(dtype).reshape(shape)


@pytest.mark.parametrize('dtype,shape', save_cases())
def test_save_npy_is_byte_identical_to_numpy(tmp_path, dtype, shape):
    array = sample(dtype, shape)
    layouts = [array, np.asfortranarray(array)]
    if array.ndim >= 2 and array.size:
        layouts.append(array[:, ::-1])  # neither C nor Fortran contiguous
        layouts.append(np.asfortranarray(array)[..., ::2])
    for variant in layouts:
        np.save(tmp_path / 'theirs.npy', variant)
        nv.save_npy(tmp_path / 'ours.npy', variant)
        assert (tmp_path / 'ours.npy').read_bytes() == (tmp_path / 'theirs.npy').read_bytes()
        buffer = io.BytesIO()
        nv.save_npy(buffer, variant)
        assert buffer.getvalue() == (tmp_path / 'theirs.npy').read_bytes()


def test_save_npy_names_and_sources_like_numpy(tmp_path):
    nv.save_npy(tmp_path / 'noext', [[1, 2], [3, 4]])
    np.save(tmp_path / 'noext_np', [[1, 2], [3, 4]])
    assert (tmp_path / 'noext.npy').read_bytes() == (tmp_path / 'noext_np.npy').read_bytes()
    nv.save_npy(str(tmp_path / 'scalar.npy'), 3.5)
    assert_same(np.load(tmp_path / 'scalar.npy'), np.asarray(3.5))
    # A memmap saved over its own file: the save is atomic, the old map stays valid.
    path = tmp_path / 'self.npy'
    np.save(path, np.arange(6.0))
    m = nv.load_npy(path, mmap_mode='r')
    nv.save_npy(path, m * 2)
    assert_same(np.load(path), np.arange(6.0) * 2)
    np.testing.assert_array_equal(m, np.arange(6.0))


@pytest.mark.parametrize('dtype', ['f2', 'U3', 'S2', 'M8[s]', 'i4,f8', object])
def test_save_npy_refuses_unsupported_dtypes(tmp_path, dtype):
    array = np.zeros(3, dtype=dtype)
    target = tmp_path / 'bad.npy'
    with pytest.raises(TypeError, match='bad.npy') as info:
        nv.save_npy(target, array)
    assert str(np.dtype(dtype)) in str(info.value) or np.dtype(dtype).str in str(info.value)
    assert not target.exists()
    with pytest.raises(TypeError, match='bad.npz'):
        nv.savez(tmp_path / 'bad.npz', good=np.ones(2), bad=array)
    assert not (tmp_path / 'bad.npz').exists()


# ----------------------------------------------------------------------------
# load_npz / savez


@pytest.mark.parametrize('entry', oracle_entries('npz'))
@pytest.mark.parametrize('mmap_mode', [None, 'r', 'c'])
def test_load_npz_matches_numpy(entry, mmap_mode):
    path = ORACLE / entry['path']
    with np.load(path) as theirs, nv.load_npz(path, mmap_mode=mmap_mode) as ours:
        assert ours.files == theirs.files
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        assert list(ours.keys()) == list(theirs.keys())
        for name in theirs.files:
            assert name in ours and f'{name}.npy' in ours
            member = ours[name]
            np.testing.assert_array_equal(np.asarray(member), theirs[name], strict=True)
            assert member.dtype.str == theirs[name].dtype.str
            mapped = mmap_mode is not None and not entry['compressed']
            assert isinstance(member, np.memmap) == mapped
            if mapped:
                assert member.filename == path.resolve()
                assert member.mode == mmap_mode
                assert member.flags.writeable == (mmap_mode == 'c')
            np.testing.assert_array_equal(np.asarray(ours[f'{name}.npy']), theirs[name])
        assert 'nope' not in ours
        with pytest.raises(KeyError, match='nope is not a file in the archive'):
            ours['nope']
        assert repr(ours) == repr(theirs)


def test_npz_members_are_mapped_in_place(tmp_path):
    path = tmp_path / 'ab.npz'
    a = np.arange(1000, dtype='<f8').reshape(10, 100)
    np.savez(path, a=a, b=np.array([0.5, 1.5]))
    with nv.load_npz(path, mmap_mode='r') as f:
        member = f['a']
    assert isinstance(member, np.memmap) and member.filename == path.resolve()
    # The map views the archive's own bytes: the data sits at member.offset in the zip.
    raw = path.read_bytes()
    assert raw[member.offset:member.offset + a.nbytes] == a.tobytes()
    np.testing.assert_array_equal(member, a)
    c = nv.load_npz(path, mmap_mode='c')['a']
    c[0, 0] = -1
    assert path.read_bytes() == raw
    with pytest.raises(ValueError, match="'r' or 'c'"):
        nv.load_npz(path, mmap_mode='r+')


def test_npz_interface(tmp_path):
    path = tmp_path / 'x.npz'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('notes.txt', b'not an array')
    np.savez(tmp_path / 'y.npz', 1, 2, k=np.ones(3))
    with zipfile.ZipFile(tmp_path / 'y.npz') as src, zipfile.ZipFile(path, 'a') as z:
        for info in src.infolist():
            z.writestr(info, src.read(info))
    theirs, ours = np.load(path), nv.load_npz(path)
    assert ours.files == theirs.files
    assert ours['notes.txt'] == theirs['notes.txt'] == b'not an array'
    assert dict(ours.items()).keys() == dict(theirs.items()).keys()
    np.testing.assert_array_equal(ours.f.k, theirs.f.k)
    assert ours.get('missing') is None
    ours.close()
    with pytest.raises(ValueError, match='closed'):
        ours['k']
    with pytest.raises(TypeError, match='file name'):
        nv.load_npz(open(path, 'rb'))


@pytest.mark.parametrize('save', ['savez', 'savez_compressed'])
def test_savez_is_read_by_numpy(tmp_path, save):
    arrays = dict(a=np.arange(6, dtype='>i4').reshape(2, 3), b=np.array([0.5, 1.5]),
                  f=np.asfortranarray(np.ones((2, 3, 4), 'c8')), e=np.zeros((0, 2), 'u2'))
    positional = (np.float64(3.0), [[1, 2], [3, 4]])
    getattr(nv, save)(tmp_path / 'ours', *positional, **arrays)
    getattr(np, save)(tmp_path / 'theirs', *positional, **arrays)
    with np.load(tmp_path / 'ours.npz') as ours, np.load(tmp_path / 'theirs.npz') as theirs:
        assert ours.files == theirs.files
        for name in theirs.files:
            assert_same(ours[name], theirs[name])
    method = zipfile.ZIP_DEFLATED if save == 'savez_compressed' else zipfile.ZIP_STORED
    with zipfile.ZipFile(tmp_path / 'ours.npz') as z:
        assert z.testzip() is None
        assert {i.compress_type for i in z.infolist()} == {method}
    with pytest.raises(ValueError, match='arr_0'):
        getattr(nv, save)(tmp_path / 'clash.npz', np.ones(1), arr_0=np.ones(1))


# ----------------------------------------------------------------------------
# bool arrays ('|b1'): numpy's header bytes, its values, its memory order


def bool_cases():
    mask = (np.arange(60).reshape(3, 4, 5) * 7) % 3 == 0
    return [
        pytest.param(np.array(True), id='0-d-true'),
        pytest.param(np.array(False), id='0-d-false'),
        pytest.param(np.zeros(0, bool), id='empty'),
        pytest.param(np.zeros((0, 3), bool), id='empty-2d'),
        pytest.param(np.array([True, False, True]), id='1-d'),
        pytest.param(mask, id='3-d-C'),
        pytest.param(np.asfortranarray(mask), id='3-d-F'),
        pytest.param(np.asfortranarray(mask[:, :, 0]), id='2-d-F'),
    ]


@pytest.mark.parametrize('array', bool_cases())
def test_bool_npy_written_by_numpy_reads_as_numpy_reads_it(tmp_path, array):
    path = tmp_path / 'mask.npy'
    np.save(path, array)
    ours = nv.load_npy(path)
    assert_same(ours, np.load(path))
    assert ours.dtype == np.bool_ and ours.dtype.str == '|b1'
    for mode in ('r', 'c', 'r+'):
        assert_same_memmap(nv.load_npy(path, mmap_mode=mode), np.load(path, mmap_mode=mode))
    with open(path, 'rb') as f:
        assert_same(nv.load_npy(f), np.load(path))


@pytest.mark.parametrize('array', bool_cases())
def test_bool_save_npy_is_byte_identical_to_numpy(tmp_path, array):
    layouts = [array, np.asfortranarray(array), np.ascontiguousarray(array)]
    if array.ndim >= 2 and array.size:
        layouts.append(array[:, ::-1])  # neither C nor Fortran contiguous
    for variant in layouts:
        np.save(tmp_path / 'theirs.npy', variant)
        nv.save_npy(tmp_path / 'ours.npy', variant)
        theirs = (tmp_path / 'theirs.npy').read_bytes()
        assert (tmp_path / 'ours.npy').read_bytes() == theirs
        assert b"'descr': '|b1'" in theirs
        assert_same(np.load(tmp_path / 'ours.npy'), np.load(tmp_path / 'theirs.npy'))
        buffer = io.BytesIO()
        nv.save_npy(buffer, variant)
        assert buffer.getvalue() == theirs


def test_bool_bytes_other_than_0_and_1_pass_through_as_numpy_leaves_them(tmp_path):
    # numpy.load views the stored bytes: a byte of 2 stays 2 underneath, and reads as True.
    path = tmp_path / 'odd.npy'
    np.save(path, np.zeros(4, bool))
    raw = bytearray(path.read_bytes())
    raw[-4:] = b'\x00\x01\x02\xff'
    path.write_bytes(bytes(raw))
    theirs = np.load(path)
    for ours in (nv.load_npy(path), nv.load_npy(path, mmap_mode='r')):
        assert ours.view(np.uint8).tolist() == theirs.view(np.uint8).tolist() == [0, 1, 2, 255]
        assert ours.tolist() == theirs.tolist() == [False, True, True, True]
        assert (ours == True).tolist() == (theirs == True).tolist()  # noqa: E712
    nv.save_npy(tmp_path / 'ours.npy', nv.load_npy(path))
    np.save(tmp_path / 'theirs.npy', theirs)
    assert (tmp_path / 'ours.npy').read_bytes() == (tmp_path / 'theirs.npy').read_bytes()


@pytest.mark.parametrize('mode', ['r', 'c', 'r+'])
def test_memmap_of_bool_matches_numpy(tmp_path, mode):
    ours, theirs = twins(tmp_path, bytes([0, 1, 1, 0, 1, 0, 0, 1, 1]))
    kwargs = dict(dtype=bool, mode=mode, offset=1, shape=(2, 4), order='F')
    mapped = nv.memmap(ours, **kwargs)
    assert_same(mapped, np.memmap(theirs, **kwargs))
    assert (mapped.filename, mapped.offset, mapped.mode) == (ours.resolve(), 1, mode)
    created = nv.memmap(tmp_path / 'new.dat', dtype=np.bool_, mode='w+', shape=(3,))
    created[1] = True
    created.flush()
    assert (tmp_path / 'new.dat').read_bytes() == b'\x00\x01\x00'


def npz_member_bytes(path):
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


@pytest.mark.parametrize('save', ['savez', 'savez_compressed'])
def test_npz_with_a_bool_member_matches_numpy(tmp_path, save):
    bold = np.arange(2 * 3 * 4 * 5, dtype='<f4').reshape(2, 3, 4, 5) / 7
    mask = np.asfortranarray(bold.mean(axis=-1) > 4)
    arrays = dict(bold=bold, mask=mask, flag=np.array(True), none=np.zeros(0, bool),
                  affine=np.eye(4))
    getattr(nv, save)(tmp_path / 'ours.npz', **arrays)
    getattr(np, save)(tmp_path / 'theirs.npz', **arrays)
    # every member is byte for byte np.save's .npy
    assert npz_member_bytes(tmp_path / 'ours.npz') == npz_member_bytes(tmp_path / 'theirs.npz')
    with np.load(tmp_path / 'ours.npz') as ours, np.load(tmp_path / 'theirs.npz') as theirs:
        assert ours.files == theirs.files
        for name in theirs.files:
            assert_same(ours[name], theirs[name])
    compressed = save == 'savez_compressed'
    for path in (tmp_path / 'ours.npz', tmp_path / 'theirs.npz'):
        for mode in (None, 'r', 'c'):
            with nv.load_npz(path, mmap_mode=mode) as f, np.load(path) as theirs:
                for name in theirs.files:
                    member = f[name]
                    assert isinstance(member, np.memmap) == (mode is not None and not compressed)
                    assert member.dtype.str == theirs[name].dtype.str
                    np.testing.assert_array_equal(np.asarray(member), theirs[name], strict=True)
                    assert member.flags.f_contiguous == theirs[name].flags.f_contiguous


def test_readme_savez_example_with_a_bool_mask(tmp_path, monkeypatch):
    """README.md's npz lines, with the usual boolean mask."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez('run.npz', bold=rng.standard_normal((4, 5, 6, 3)).astype('f4'))
    with nv.load_npz('run.npz', mmap_mode='r') as f:     # savez members mapped inside the zip,
        bold = f['bold']                                 # which numpy.load cannot do
    mask = bold.mean(axis=-1) > 0
    nv.savez('run.npz', bold=bold, mask=mask)            # or savez_compressed
    with np.load('run.npz') as f:
        assert f.files == ['bold', 'mask']
        np.testing.assert_array_equal(f['bold'], bold)
        assert_same(f['mask'], mask)
    nv.savez_compressed('run.npz', bold=bold, mask=mask)
    with nv.load_npz('run.npz') as f:
        assert_same(f['mask'], mask)
