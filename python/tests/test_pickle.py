"""Pickling: proxies and clean images travel as file names, specs and fingerprints (a few
hundred bytes) and are read lazily by the receiver; a file changed in between is a
StaleFileError naming it; array images and changed state travel whole. nibabel writes the
files and numpy gives the expected values."""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys

import nibabel
import numpy as np
import pytest

import neurovox as nv

SHAPE = (6, 5, 4, 3)
# (suffix, nibabel class); neurovox's class of the same name loads each.
CASES = [
    ('.nii', 'Nifti1Image'), ('.nii.gz', 'Nifti1Image'), ('.img', 'Nifti1Pair'),
    ('.nii', 'Nifti2Image'), ('.img', 'AnalyzeImage'), ('.img', 'Spm2AnalyzeImage'),
    ('.mgz', 'MGHImage'),
]

# Run in a fresh interpreter: unpickle what arrives on stdin and describe it as JSON.
RECEIVER = r'''
import json, pickle, sys
import numpy as np
obj = pickle.loads(sys.stdin.buffer.read())
out = {'type': type(obj).__name__}
if hasattr(obj, 'dataobj'):
    out.update(in_memory=obj.in_memory, dirty=obj.is_dirty, proxy=nv_is_proxy(obj.dataobj))
    data = obj.get_fdata()
else:
    data = np.asarray(obj, dtype=np.float64)
out.update(shape=list(data.shape), values=data.ravel(order='F').tolist())
print(json.dumps(out))
'''.replace('nv_is_proxy', '__import__("neurovox").is_proxy')


def receive(payload):
    """What another Python process finds when it unpickles ``payload``."""
    done = subprocess.run([sys.executable, '-c', RECEIVER], input=payload,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.fixture(params=CASES, ids=[f'{c}{s}' for s, c in CASES])
def image_file(request, tmp_path):
    suffix, cls = request.param
    data = (np.arange(np.prod(SHAPE)).reshape(SHAPE) % 200).astype(np.int16)
    if cls == 'MGHImage':
        data = data.astype(np.float32)
    img = getattr(nibabel, cls)(data, np.diag([2.0, 3.0, 4.0, 1.0]))
    if cls in ('Nifti1Image', 'Nifti2Image', 'Nifti1Pair'):
        img.header.set_slope_inter(0.5, 2.0)
        img.header.extensions.append(nibabel.nifti1.Nifti1Extension(6, b'a comment'))
    path = tmp_path / f'img{suffix}'
    nibabel.save(img, path)
    return path, cls, nibabel.load(path).get_fdata()


def test_clean_images_and_proxies_travel_without_data(image_file):
    path, cls, expected = image_file
    img = getattr(nv, cls).from_filename(path)  # nv.load, like nibabel's, picks SPM2 for .img
    for obj, limit in ((img, 700), (img.dataobj, 400)):
        payload = pickle.dumps(obj)
        assert len(payload) < limit, (type(obj).__name__, len(payload))
        got = receive(payload)
        assert got['shape'] == list(SHAPE)
        np.testing.assert_array_equal(np.array(got['values']), expected.ravel(order='F'))
        if obj is img:
            assert got['type'] == cls
            assert got['proxy'] and not got['in_memory']  # lazy until get_fdata
            assert got['dirty'] is False  # it still matches its files
    back = pickle.loads(pickle.dumps(img))
    assert type(back) is type(img) and not back.in_memory and not back.is_dirty
    np.testing.assert_array_equal(back.affine, img.affine)
    assert back.header.binaryblock == img.header.binaryblock
    assert [(e.get_code(), e.get_content()) for e in getattr(back.header, 'extensions', [])] == \
        [(e.get_code(), e.get_content()) for e in getattr(img.header, 'extensions', [])]


def test_a_file_changed_after_pickling_is_stale(image_file):
    path, cls, expected = image_file
    img = getattr(nv, cls).from_filename(path)
    pickles = [pickle.dumps(img), pickle.dumps(img.dataobj)]
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    for payload in pickles:
        with pytest.raises(nv.StaleFileError) as caught:
            pickle.loads(payload)
        assert os.fspath(path) in str(caught.value) or \
            os.fspath(path.with_suffix('.hdr')) in str(caught.value)
        assert 'modification time' in str(caught.value)


def test_a_replaced_file_is_stale_even_with_the_same_size(tmp_path):
    path = tmp_path / 'a.nii'
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    payload = pickle.dumps(nv.load(path).dataobj)
    nibabel.save(nibabel.Nifti1Image(data[::-1].copy(), np.eye(4)), tmp_path / 'b.nii')
    os.replace(tmp_path / 'b.nii', path)
    with pytest.raises(nv.StaleFileError, match='replaced'):
        pickle.loads(payload)
    path.unlink()
    with pytest.raises(nv.StaleFileError, match='no longer exists'):
        pickle.loads(payload)


def test_array_images_travel_with_their_data():
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 7.5
    img = nv.Nifti1Image(data, np.diag([1.0, 2.0, 3.0, 1.0]))
    img.header['descrip'] = b'in memory'
    payload = pickle.dumps(img)
    assert len(payload) > data.nbytes
    got = receive(payload)
    assert got['type'] == 'Nifti1Image' and got['in_memory'] and got['dirty'] is True
    np.testing.assert_array_equal(np.array(got['values']), data.ravel(order='F'))
    back = pickle.loads(payload)
    assert back.header['descrip'] == b'in memory'
    np.testing.assert_array_equal(back.affine, img.affine)


def test_changed_state_travels_and_unchanged_caches_do_not(tmp_path):
    path = tmp_path / 'a.nii'
    data = np.arange(6 * 5 * 4 * 3, dtype=np.int16).reshape(SHAPE)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)

    img = nv.load(path)
    img.get_fdata()  # filled from the file: the receiver can read it again
    assert len(pickle.dumps(img)) < 700

    img.header['descrip'] = b'edited'  # dirty: the state travels, the data stays a proxy
    img.extra['note'] = 'kept'
    payload = pickle.dumps(img)
    assert len(payload) < 4000
    back = pickle.loads(payload)
    assert back.header['descrip'] == b'edited' and back.extra == {'note': 'kept'}
    assert nv.is_proxy(back.dataobj) and not back.in_memory and back.is_dirty
    np.testing.assert_array_equal(back.get_fdata(), data)

    img = nv.load(path)
    fdata = img.get_fdata()
    fdata[0, 0, 0, 0] = -99.0  # changed in place: exists nowhere else, so it travels
    payload = pickle.dumps(img)
    assert len(payload) > fdata.nbytes
    got = receive(payload)
    assert got['values'][0] == -99.0 and got['dirty'] is True
    np.testing.assert_array_equal(np.array(got['values'][1:]), data.ravel(order='F')[1:])


@pytest.mark.parametrize('cls', ['Nifti1Header', 'Nifti2Header', 'Nifti1PairHeader',
                                 'AnalyzeHeader', 'Spm99AnalyzeHeader', 'Spm2AnalyzeHeader',
                                 'MGHHeader'])
def test_headers_pickle_and_deepcopy_byte_for_byte(cls):
    hdr = getattr(nv, cls)()
    hdr.set_data_shape((4, 5, 6))
    hdr.set_data_dtype(np.int16)
    if cls.startswith('Nifti'):
        hdr['descrip'] = b'kept as is'
        hdr['dim_info'] = 57
        hdr.extensions.append(nv.Nifti1Extension(4, b'<xml/>'))
        hdr['scl_slope'] = np.nan  # no fix may run on the way
    for back in (pickle.loads(pickle.dumps(hdr)), copy.deepcopy(hdr)):
        assert type(back) is type(hdr)
        assert back.binaryblock == hdr.binaryblock
        assert back.endianness == hdr.endianness
        assert [(e.get_code(), e.get_content()) for e in getattr(back, 'extensions', [])] == \
            [(e.get_code(), e.get_content()) for e in getattr(hdr, 'extensions', [])]


def test_mgh_tags_travel_with_the_header():
    from nibabel.testing import data_path
    path = os.path.join(data_path, 'test.mgz')
    img = nv.load(path)
    hdr = img.header
    back = pickle.loads(pickle.dumps(hdr))
    assert back.binaryblock == hdr.binaryblock
    assert back._native.to_prefix_bytes() == hdr._native.to_prefix_bytes()
    assert back._native == hdr._native  # the core compares the tags after the footer too
