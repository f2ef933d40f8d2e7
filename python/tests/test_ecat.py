"""ECAT7 images against nibabel's ``ecat`` reader, the oracle at test time: nibabel's own
tinypet.v, and files written here block by block with nibabel's header and subheader dtypes —
several frames, stored out of order, with and without a second matrix-list block, every
patient orientation, int16 and float32 frames, both byte orders."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from oracle_helpers import NIBABEL_DATA, assert_same_array

import neurovox as nv

nibabel = pytest.importorskip('nibabel')
from nibabel import ecat as nib_ecat  # noqa: E402

KEYS = [(0,), (slice(1, 4), slice(None, None, 2), 1), (Ellipsis, 0), (Ellipsis, -1),
        (slice(None, None, -1), 2, slice(None), slice(0, 2)), (None, 1, Ellipsis)]


def write_ecat(path, frames, *, order='>', orientation=8, calibration=2.5, scales=None,
               ids=None, per_block=31, offsets=(1.5, -2.0, 3.0)):
    """An ECAT7 file of `frames` (x, y, z arrays, one dtype), as scanners lay it out: main
    header, matrix-list blocks of up to `per_block` rows (chained), then each frame's subheader
    block and data blocks. `ids` are the frames' matrix-list ids (stored order)."""
    hdr_dt = nib_ecat.hdr_dtype.newbyteorder(order)
    sub_dt = nib_ecat.subhdr_dtype.newbyteorder(order)
    n = len(frames)
    ids = list(range(1, n + 1)) if ids is None else ids
    scales = [0.5 + k for k in range(n)] if scales is None else scales
    code = {np.dtype('i2'): 6, np.dtype('f4'): 5, np.dtype('i4'): 7, np.dtype('u1'): 1}[
        frames[0].dtype.newbyteorder('=')]
    mlist_blocks = -(-n // per_block)
    block = 2 + mlist_blocks  # 1-based: the first subheader's block
    rows = []
    body = bytearray()
    for k, frame in enumerate(frames):
        sub = np.zeros((), sub_dt)
        sub['data_type'] = code
        sub['num_dimensions'] = 3
        sub['x_dimension'], sub['y_dimension'], sub['z_dimension'] = frame.shape
        sub['x_offset'], sub['y_offset'], sub['z_offset'] = offsets
        sub['scale_factor'] = scales[k]
        sub['x_pixel_size'], sub['y_pixel_size'], sub['z_pixel_size'] = 0.2, 0.25, 0.3125
        data = np.asarray(frame, frame.dtype.newbyteorder(order)).tobytes(order='F')
        nblocks = -(-len(data) // 512)
        rows.append([ids[k], block, block + nblocks, 1])
        body += sub.tobytes().ljust(512, b'\0') + data.ljust(nblocks * 512, b'\0')
        block += 1 + nblocks
    main = np.zeros((), hdr_dt)
    main['magic_number'] = b'MATRIX72v'
    main['sw_version'] = 74
    main['file_type'] = 7
    main['num_frames'] = n
    main['num_planes'] = frames[0].shape[2]
    main['ecat_calibration_factor'] = calibration
    main['patient_orientation'] = orientation
    out = bytearray(main.tobytes())
    for b in range(mlist_blocks):
        chunk = rows[b * per_block:(b + 1) * per_block]
        next_block = 3 + b if b + 1 < mlist_blocks else 2
        table = np.zeros((32, 4), np.dtype('i4').newbyteorder(order))
        table[0] = [31 - len(chunk), next_block, 0, len(chunk)]
        table[1:len(chunk) + 1] = chunk
        out += table.tobytes()
    out += body
    with open(path, 'wb') as f:
        f.write(out)
    return path


def _frames(dtype, n=3, shape=(5, 4, 3), seed=1):
    rng = np.random.default_rng(seed)
    return [rng.integers(-300, 300, size=shape).astype(dtype) + (0.25 if dtype == 'f4' else 0)
            for _ in range(n)]


def assert_same_image(ours, theirs):
    assert type(ours).__name__ == 'EcatImage'
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.affine, theirs.affine)
    assert_same_array(ours.get_mlist(), theirs.get_mlist())
    for key in theirs.header.keys():
        np.testing.assert_array_equal(ours.header[key], theirs.header[key])
    assert ours.header.endianness == theirs.header.endianness
    subs_a, subs_b = ours.get_subheaders(), theirs.get_subheaders()
    assert subs_a.get_nframes() == subs_b.get_nframes()
    for a, b in zip(subs_a.subheaders, subs_b.subheaders):
        assert a.tobytes() == b.tobytes()
    assert_same_array(ours.get_fdata(), theirs.get_fdata())
    assert_same_array(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    for key in KEYS:
        try:
            want = theirs.dataobj[key]
        except (IndexError, ValueError):  # a key this shape lacks: nibabel's ValueError
            with pytest.raises(IndexError):
                ours.dataobj[key]
            continue
        np.testing.assert_array_equal(ours.dataobj[key], want)
    for frame in range(len(theirs.get_mlist())):
        assert ours.get_data_dtype(frame) == theirs.get_data_dtype(frame)
        np.testing.assert_array_equal(ours.get_frame_affine(frame),
                                      theirs.get_frame_affine(frame))
        for orientation in (None, 'neurological', 'radiological'):
            assert_same_array(ours.get_frame(frame, orientation),
                              theirs.get_frame(frame, orientation))


def test_nibabels_tinypet_reads_as_nibabel_reads_it():
    path = os.path.join(NIBABEL_DATA, 'tinypet.v')
    theirs = nib_ecat.load(path)
    for ours in (nv.ecat.load(path), nv.load(path), nv.EcatImage.from_filename(path)):
        assert ours.in_memory is False
        assert_same_image(ours, theirs)
    assert nv.ecat.get_frame_order(theirs.get_mlist()) == nib_ecat.get_frame_order(
        theirs.get_mlist())


@pytest.mark.parametrize('dtype', ['i2', 'f4'])
@pytest.mark.parametrize('order', ['>', '<'])
@pytest.mark.parametrize('orientation', [0, 1, 3, 8])
def test_written_files_read_as_nibabel_reads_them(tmp_path, dtype, order, orientation):
    path = write_ecat(str(tmp_path / 'pet.v'), _frames(dtype), order=order,
                      orientation=orientation)
    assert_same_image(nv.ecat.load(path), nib_ecat.load(path))


@pytest.mark.filterwarnings('ignore:Frames stored out of order:UserWarning')
def test_frames_out_of_order_and_chained_matrix_lists(tmp_path):
    frames = _frames('i2', n=40, shape=(3, 2, 2))
    ids = list(range(40, 0, -1))  # stored last frame first
    path = write_ecat(str(tmp_path / 'many.v'), frames, ids=ids, per_block=31,
                      scales=[0.01 * (k + 1) for k in range(40)])
    theirs = nib_ecat.load(path)
    ours = nv.ecat.load(path)
    assert ours.shape == (3, 2, 2, 40)
    assert_same_image(ours, theirs)
    # Array frame 0 is the smallest id: the last frame stored.
    np.testing.assert_array_equal(
        ours.dataobj[..., 0], frames[-1] * np.float64(2.5) * np.float32(0.4).item())


def test_only_the_frames_a_slice_needs_are_read(tmp_path):
    frames = _frames('i2', n=6, shape=(16, 16, 8))
    path = write_ecat(str(tmp_path / 'pet.v'), frames)
    img = nv.ecat.load(path)
    with open(path, 'r+b') as f:  # damage every frame but the fourth
        for k in (0, 1, 2, 4, 5):
            start = int(img.get_mlist()[k][1]) * 512
            f.seek(start)
            f.write(b'\xff' * 512)
    np.testing.assert_array_equal(
        nv.ecat.load(path).dataobj[..., 3], frames[3] * 2.5 * np.float32(3.5).item())


def test_malformed_files_are_clear_errors(tmp_path):
    path = write_ecat(str(tmp_path / 'pet.v'), _frames('i2'))
    with open(path, 'rb') as f:
        good = f.read()
    # A frame's data cut off: the read names the file.
    with open(tmp_path / 'cut.v', 'wb') as f:
        f.write(good[:-700])
    with pytest.raises(nv.ImageFileError, match='cut.v'):
        nv.ecat.load(str(tmp_path / 'cut.v')).get_fdata()
    # An unknown data type names the field.
    bad = bytearray(good)
    first_sub = int(np.frombuffer(good[512 + 16:512 + 32], '>i4')[1] - 1) * 512
    bad[first_sub:first_sub + 2] = (99).to_bytes(2, 'big')
    with open(tmp_path / 'type.v', 'wb') as f:
        f.write(bad)
    with pytest.raises(nv.HeaderDataError, match='data_type'):
        nv.ecat.load(str(tmp_path / 'type.v'))
    # A matrix list longer than num_frames is refused, naming num_frames.
    short = bytearray(good)
    short[354:356] = (1).to_bytes(2, 'big')
    with open(tmp_path / 'frames.v', 'wb') as f:
        f.write(short)
    with pytest.raises(nv.HeaderDataError, match='num_frames'):
        nv.ecat.load(str(tmp_path / 'frames.v'))


def test_pickles_conversions_and_read_only(tmp_path):
    path = write_ecat(str(tmp_path / 'pet.v'), _frames('f4'), orientation=3)
    img = nv.ecat.load(path)
    assert_same_array(pickle.loads(pickle.dumps(img.dataobj))[...], img.dataobj[...])
    assert_same_array(pickle.loads(pickle.dumps(img)).get_fdata(), img.get_fdata())
    with pytest.raises(NotImplementedError):
        img.to_filename(str(tmp_path / 'copy.v'))
    with pytest.raises(NotImplementedError):
        nv.EcatImage.from_image(img)
    with pytest.raises(NotImplementedError):
        img.header.get_data_dtype()
    out = tmp_path / 'pet.nii.gz'
    subprocess.run([sys.executable, '-m', 'neurovox', 'convert', path, str(out)], check=True,
                   capture_output=True)
    back = nibabel.load(str(out))
    theirs = nib_ecat.load(path)
    np.testing.assert_allclose(back.get_fdata(), theirs.get_fdata(), rtol=1e-6)
    np.testing.assert_array_equal(back.affine, theirs.affine)
    # One frame through `neurovox slice` (nibabel's ECAT images have no slicer).
    one = tmp_path / 'frame.nii'
    subprocess.run([sys.executable, '-m', 'neurovox', 'slice', path, '...,2', '-o', str(one)],
                   check=True, capture_output=True)
    frame = nibabel.load(str(one))
    np.testing.assert_array_equal(frame.get_fdata(), theirs.get_fdata()[..., 2])
    np.testing.assert_array_equal(frame.affine, theirs.affine)
