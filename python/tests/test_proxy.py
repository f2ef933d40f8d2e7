"""ArrayProxy: numpy's answer for random basic-indexing keys, nibabel's API and errors,
zero-copy memory maps, pickling, and many threads reading one proxy."""

from __future__ import annotations

import pickle
import threading

import nibabel
import numpy as np
import pytest

import neurovox as nv

SHAPE = (7, 6, 5, 4)


@pytest.fixture(params=['.nii', '.nii.gz'])
def files(request, tmp_path):
    data = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE) * 3 - 500
    path = tmp_path / f'a{request.param}'
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    scaled = tmp_path / f's{request.param}'
    img = nibabel.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.5, -2.0)
    nibabel.save(img, scaled)
    return data, path, scaled


def random_item(rng, dim):
    kind = rng.integers(0, 4)
    if kind == 0:
        return int(rng.integers(-dim, dim))
    if kind == 1:
        return np.int64(rng.integers(-dim, dim))
    def bound():
        return None if rng.random() < 0.3 else int(rng.integers(-dim - 2, dim + 3))
    step = int(rng.choice([1, 1, 2, 3, -1, -2, -4]))
    return slice(bound(), bound(), None if step == 1 and rng.random() < 0.5 else step)


def random_key(rng, ndim):
    n = int(rng.integers(0, ndim + 1))
    items = [random_item(rng, SHAPE[i]) for i in range(n)]
    if rng.random() < 0.3:
        items.append(Ellipsis)  # the remaining axes
    for _ in range(int(rng.integers(0, 3))):
        items.insert(int(rng.integers(0, len(items) + 1)), None)
    if len(items) == 1 and rng.random() < 0.5:
        return items[0]
    return tuple(items)


def test_random_keys_match_numpy(files):
    data, path, scaled = files
    rng = np.random.default_rng(7)
    proxy = nv.load(path).dataobj
    sproxy = nv.load(scaled).dataobj
    sdata = data * 0.5 - 2.0
    for _ in range(400):
        key = random_key(rng, len(SHAPE))
        expected = data[key]
        got = proxy[key]
        assert np.shape(got) == np.shape(expected), key
        np.testing.assert_array_equal(got, expected, err_msg=str(key))
        assert np.asarray(got).dtype == expected.dtype
        np.testing.assert_array_equal(sproxy[key], sdata[key], err_msg=str(key))


def test_scalars_and_zero_d(files):
    data, path, scaled = files
    p = nv.load(path).dataobj
    value = p[1, 2, 3, 0]
    assert isinstance(value, np.int16) and value == data[1, 2, 3, 0]
    s = nv.load(scaled).dataobj[1, 2, 3, 0]
    assert isinstance(s, np.ndarray) and s.shape == () and s == data[1, 2, 3, 0] * 0.5 - 2


def test_indexing_errors(files):
    _, path, _ = files
    p = nv.load(path).dataobj
    for key in ([0, 1], np.array([0, 1]), (slice(None), [0]), np.ones(SHAPE[0], bool)):
        with pytest.raises(ValueError, match='Cannot handle fancy indexing'):
            p[key]
    with pytest.raises(IndexError):
        p[7]
    with pytest.raises(IndexError):
        p[-8]
    with pytest.raises(IndexError):
        p[0, 0, 0, 0, 0]
    with pytest.raises(IndexError):
        p[..., ...]
    with pytest.raises(IndexError):
        p[1.5]
    with pytest.raises(ValueError):
        p[::0]


def test_proxy_api_like_nibabel(files):
    data, path, scaled = files
    ours, theirs = nv.load(scaled).dataobj, nibabel.load(scaled).dataobj
    assert ours.shape == theirs.shape and ours.ndim == theirs.ndim
    assert ours.dtype == theirs.dtype and ours.offset == theirs.offset
    assert ours.slope == theirs.slope and ours.inter == theirs.inter
    assert ours.is_proxy and nv.is_proxy(ours) and not nv.is_proxy(data)
    for attr in ('shape', 'ndim', 'dtype', 'offset', 'slope', 'inter', 'is_proxy'):
        with pytest.raises(AttributeError):
            setattr(ours, attr, 1)
    np.testing.assert_array_equal(ours.get_unscaled(), theirs.get_unscaled())
    for shape in [(7 * 6, 5, 4), (-1, 4), (7, 6, 20)]:
        np.testing.assert_array_equal(np.asarray(ours.reshape(shape)),
                                      np.asarray(theirs.reshape(shape)))
        np.testing.assert_array_equal(np.asarray(nv.reshape_dataobj(ours, shape)),
                                      np.asarray(nibabel.arrayproxy.reshape_dataobj(theirs, shape)))
    with pytest.raises(ValueError):
        ours.reshape((-1, -1))
    with pytest.raises(ValueError):
        ours.reshape((11, -1))
    for dtype in (None, np.float32, np.float64, np.int32, np.complex128):
        a = np.asarray(ours, dtype=dtype)
        b = np.asarray(theirs, dtype=dtype)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_array_copy_semantics(files):
    data, path, scaled = files
    p = nv.load(path).dataobj
    arr = np.asarray(p)
    np.testing.assert_array_equal(arr, data)
    copied = np.array(p, copy=True)
    np.testing.assert_array_equal(copied, data)
    if path.suffix == '.nii':
        assert np.asarray(p, copy=False) is not None  # a memory map: no copy needed
    else:
        with pytest.raises(ValueError):
            np.asarray(p, copy=False)
    with pytest.raises(ValueError):
        np.asarray(nv.load(scaled).dataobj, copy=False)


def test_memory_map_views(tmp_path):
    data = np.arange(120, dtype='>i2').reshape(2, 3, 4, 5)
    path = tmp_path / 'big.nii'
    hdr = nibabel.Nifti1Header(endianness='>')
    hdr.set_data_dtype('>i2')
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4), hdr), path)
    c = np.asanyarray(nv.load(path).dataobj)
    assert isinstance(c, np.memmap) and c.mode == 'c' and c.flags.writeable
    assert c.dtype == np.dtype('>i2')
    owner = c.base.base
    assert type(owner).__name__ == 'MmapOwner' and owner.mode == 'c'
    c[0, 0, 0, 0] = 1234  # private to this array
    np.testing.assert_array_equal(np.asarray(nv.load(path).dataobj), data)
    view = c[1]
    del c
    assert view[0, 0, 0] == data[1, 0, 0, 0]  # the map lives while a view does
    r = np.asanyarray(nv.load(path, mmap='r').dataobj)
    assert not r.flags.writeable
    with pytest.raises(ValueError):
        r[0, 0, 0, 0] = 1
    n = np.asanyarray(nv.load(path, mmap=False).dataobj)
    assert not isinstance(n, np.memmap)
    np.testing.assert_array_equal(n, data)


def test_pickled_proxy_is_small_and_reads_lazily(files):
    data, path, scaled = files
    for p in (nv.load(path).dataobj, nv.load(scaled).dataobj):
        payload = pickle.dumps(p)
        assert len(payload) < 1000
        back = pickle.loads(payload)
        np.testing.assert_array_equal(np.asarray(back), np.asarray(p))
        np.testing.assert_array_equal(back[..., 2], p[..., 2])


def test_threads_read_one_proxy(files):
    data, path, scaled = files
    p = nv.load(path).dataobj
    errors = []

    def work(k):
        try:
            for i in range(30):
                t = (i + k) % SHAPE[3]
                np.testing.assert_array_equal(p[..., t], data[..., t])
                np.testing.assert_array_equal(p[k % SHAPE[0]], data[k % SHAPE[0]])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_constructor_from_spec(files):
    data, path, scaled = files
    if path.suffix != '.nii':
        return
    p = nv.ArrayProxy(path, ((7, 6, 5, 4), '<i2', 352))
    np.testing.assert_array_equal(np.asarray(p), data)
    q = nv.ArrayProxy(str(path), nv.Nifti1Header(path.read_bytes()[:352]))
    assert q.shape == SHAPE
    with pytest.raises(TypeError):
        nv.ArrayProxy(path, [(7, 6, 5, 4), '<i2'])
    with pytest.raises(TypeError):
        nv.ArrayProxy(path, object())
    with pytest.raises(ValueError, match='mmap'):
        nv.ArrayProxy(path, ((7, 6, 5, 4), '<i2', 352), mmap='r+')
    with pytest.raises(TypeError):
        nv.ArrayProxy(path, ((7, 6, 5, 4), '<i2', 352), True)
