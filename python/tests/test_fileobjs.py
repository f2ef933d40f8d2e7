"""File objects, streams and bytes: proxies over BytesIO and other file objects, images in
file maps of file objects, to/from_stream and to/from_bytes, against nibabel."""

from __future__ import annotations

import gzip
import io
import pickle
import threading

import nibabel
import numpy as np
import pytest

import neurovox as nv

SERIALIZABLE = ('Nifti1Image', 'Nifti2Image', 'MGHImage')
ALL_CLASSES = ('AnalyzeImage', 'Spm99AnalyzeImage', 'Spm2AnalyzeImage', 'Nifti1Pair',
               'Nifti2Pair') + SERIALIZABLE


def raw_bytes(arr, offset=0, order='F'):
    return b'\0' * offset + arr.tobytes(order=order)


def test_bytesio_proxy_reads_lazily_and_keeps_the_callers_position():
    arr = np.arange(60, dtype='<i2').reshape((3, 4, 5))
    bio = io.BytesIO()
    prox = nv.ArrayProxy(bio, ((3, 4, 5), '<i2', 16, 2.0, 1.0))  # nothing written yet
    assert prox.file_like is bio and prox.shape == (3, 4, 5)
    bio.write(raw_bytes(arr, 16))
    bio.seek(7)
    np.testing.assert_array_equal(prox[1, :, 2:4], arr[1, :, 2:4] * 2.0 + 1.0)
    np.testing.assert_array_equal(np.asarray(prox), arr * 2.0 + 1.0)
    np.testing.assert_array_equal(prox.get_unscaled(), arr)
    assert bio.tell() == 7
    # Written over later: the next read sees the new bytes, as nibabel's proxy does.
    bio.seek(16)
    bio.write(raw_bytes(arr + 1))
    np.testing.assert_array_equal(prox[..., 0], (arr + 1)[..., 0] * 2.0 + 1.0)


def test_short_file_objects_fail_when_read_not_when_made():
    prox = nv.ArrayProxy(io.BytesIO(b'\0' * 10), ((4, 4), np.float64))
    with pytest.raises(Exception, match='ends at byte 10'):
        np.asarray(prox)


def test_gzip_file_objects_and_c_order():
    arr = np.arange(24, dtype=np.float32).reshape((2, 3, 4))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode='wb') as gz:
        gz.write(raw_bytes(arr, order='C'))
    buf.seek(0)
    gz = gzip.GzipFile(fileobj=buf, mode='rb')
    prox = nv.ArrayProxy(gz, ((2, 3, 4), np.float32), order='C')
    ref = nibabel.arrayproxy.ArrayProxy(gz, ((2, 3, 4), np.float32), order='C')
    np.testing.assert_array_equal(prox[:, 1], ref[:, 1])
    np.testing.assert_array_equal(np.asarray(prox), arr)


def test_file_object_proxies_pickle_copy_and_reshape():
    arr = np.arange(24, dtype=np.int32).reshape((2, 3, 4))
    bio = io.BytesIO(raw_bytes(arr, 8))
    prox = nv.ArrayProxy(bio, ((2, 3, 4), np.int32, 8))
    for other in (pickle.loads(pickle.dumps(prox)), prox.copy()):
        np.testing.assert_array_equal(np.asarray(other), arr)
    np.testing.assert_array_equal(np.asarray(prox.reshape((6, -1))), arr.reshape((6, 4),
                                                                                  order='F'))


def test_threads_share_one_file_object():
    arr = np.arange(20 * 30 * 40, dtype=np.float64).reshape((20, 30, 40))
    bio = io.BytesIO(raw_bytes(arr))
    prox = nv.ArrayProxy(bio, (arr.shape, arr.dtype))
    errors = []

    def work(i):
        try:
            for j in range(30):
                np.testing.assert_array_equal(prox[(i + j) % 20, :, j], arr[(i + j) % 20, :, j])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.parametrize('name', SERIALIZABLE)
def test_bytes_and_streams_match_files_and_nibabel(name, tmp_path):
    klass = getattr(nv, name)
    shape = (2, 3, 4, 2)
    arr = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 3
    img = klass(arr, np.diag([2.0, 3.0, 4.0, 1.0]))
    ext = '.mgh' if name == 'MGHImage' else '.nii'
    img.to_filename(tmp_path / f'a{ext}')
    data = img.to_bytes()
    assert data == (tmp_path / f'a{ext}').read_bytes()
    back = klass.from_bytes(data)
    assert back.to_bytes() == data
    np.testing.assert_array_equal(back.get_fdata(), img.get_fdata())
    # nibabel reads neurovox's bytes, and neurovox nibabel's.
    nib_img = getattr(nibabel, name).from_bytes(data)
    np.testing.assert_array_equal(nib_img.get_fdata(), img.get_fdata())
    from_nib = klass.from_bytes(nib_img.to_bytes())
    np.testing.assert_array_equal(from_nib.get_fdata(), img.get_fdata())
    assert from_nib.header == back.header
    # Compressed bytes too (a neurovox extension).
    np.testing.assert_array_equal(klass.from_bytes(gzip.compress(data)).get_fdata(),
                                  img.get_fdata())
    # A holder at a position: the image starts there.
    stream = io.BytesIO(b'junk')
    img.to_file_map({'image': nv.FileHolder(fileobj=stream, pos=4)})
    assert stream.getvalue()[:4] == b'junk' and stream.getvalue()[4:] == data
    again = klass.from_file_map({'image': nv.FileHolder(fileobj=stream, pos=4)})
    np.testing.assert_array_equal(again.get_fdata(), img.get_fdata())


@pytest.mark.parametrize('name', ALL_CLASSES)
def test_file_maps_of_bytesio_round_trip(name):
    klass = getattr(nv, name)
    arr = np.arange(24, dtype=np.int16).reshape((2, 3, 4))
    affine = np.array([[-2.0, 0, 0, 3], [0, 2, 0, -4], [0, 0, 2.5, 5], [0, 0, 0, 1]])
    img = klass(arr, affine)
    file_map = klass.make_file_map({key: io.BytesIO() for key, _ in klass.files_types})
    img.to_file_map(file_map)
    assert img.file_map is file_map
    assert img.is_dirty  # file objects are not files the core can match
    back = klass.from_file_map(file_map)
    np.testing.assert_array_equal(np.asarray(back.dataobj), arr)
    if name != 'AnalyzeImage':  # Analyze stores zooms and an origin only
        np.testing.assert_allclose(back.affine, affine)
    assert back.dataobj.file_like is file_map['image'].fileobj
    # nibabel reads the same file objects (SPM .mat included) alike.
    nib_map = getattr(nibabel, name).make_file_map(
        {key: io.BytesIO(h.fileobj.getvalue()) for key, h in file_map.items()})
    nib_back = getattr(nibabel, name).from_file_map(nib_map)
    np.testing.assert_array_equal(np.asarray(nib_back.dataobj), arr)
    np.testing.assert_allclose(nib_back.affine, back.affine)
    assert nib_back.header.binaryblock == back.header.binaryblock


def test_writer_errors():
    img = nv.AnalyzeImage(np.linspace(0, 1, 24).reshape((2, 3, 4)), np.eye(4))
    file_map = nv.AnalyzeImage.make_file_map({'image': io.BytesIO(), 'header': io.BytesIO()})
    with pytest.raises(nv.WriterError, match='Scaling needed but cannot scale'):
        img.to_file_map(file_map, dtype=np.uint8)
    assert issubclass(nv.WriterError, ValueError)


def test_file_holders_and_file_names(tmp_path):
    holder = nv.FileHolder()
    with pytest.raises(nv.FileHolderError):
        holder.get_prepare_fileobj('rb')
    path = tmp_path / 'x.img.gz'
    fm = nv.Nifti1Pair.filespec_to_file_map(path)
    assert fm['header'].filename == str(tmp_path / 'x.hdr.gz')
    assert nv.Spm2AnalyzeImage.filespec_to_file_map('A.IMG')['mat'].filename == 'A.MAT'
    with pytest.raises(nv.ImageFileError):
        nv.Nifti1Image.filespec_to_file_map('x.img')
    assert nv.MGHImage.filespec_to_file_map('x.mgz')['image'].filename == 'x.mgz'
    # A holder by name writes and reads through its opener (compressed by suffix).
    h = nv.FileHolder(filename=str(tmp_path / 'b.bin.gz'))
    with h.get_prepare_fileobj('wb') as f:
        f.write(b'hello')
    with h.get_prepare_fileobj('rb') as f:
        assert f.read() == b'hello'
    assert gzip.decompress((tmp_path / 'b.bin.gz').read_bytes()) == b'hello'
