"""Saving array images: the array is read where it lies (NativeImage.save_array: no copy into
the core, converted a piece or a gzip member at a time on every core) and the file holds what nibabel's save writes for
the same image — the same stored values, scale factors and header — for every layout an array
can have (C or Fortran order, byte-swapped, strided) and shapes large enough to be cut into
many pieces.
"""

import nibabel
import numpy as np
import pytest

import neurovox as nv

AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])


def _arrays():
    rng = np.random.default_rng(11)
    # 3-D with more than 1 Mi values (pieces are 2-D slabs) and 4-D (pieces are volumes).
    big3 = rng.normal(100.0, 40.0, size=(130, 96, 90))
    big3[3, 4, 5], big3[100, 50, 60], big3[0, 0, 89] = np.nan, np.inf, -np.inf
    vol4 = rng.normal(0.0, 1e3, size=(40, 30, 20, 5))
    ints = rng.integers(-3000, 3000, size=(64, 48, 40, 3)).astype(np.int16)
    # 3-byte values: after the 352-byte header, gzip members (1 MiB) end inside a value.
    rgb = np.zeros((130, 96, 40), dtype=[('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
    for channel in 'RGB':
        rgb[channel] = rng.integers(0, 256, size=rgb.shape)
    cplx = rng.normal(size=(60, 50, 40, 3)) + 1j * rng.normal(size=(60, 50, 40, 3))
    return {
        'f8 3-D to int16 (scaling writer)': (big3, np.int16),
        'f8 4-D C order to int16': (np.ascontiguousarray(vol4), np.int16),
        'f8 4-D Fortran order to uint8': (np.asfortranarray(vol4), np.uint8),
        'f4 as stored': (big3.astype(np.float32), None),
        'f4 big-endian': (big3.astype('>f4'), None),
        'i2 as stored': (ints, None),
        'i2 strided view': (ints[::2, :, ::3], None),
        'i2 to f4': (ints, np.float32),
        'u1 as stored': (np.abs(ints).astype(np.uint8), None),
        'RGB C order': (rgb, None),
        'complex128 C order': (cplx, None),
    }


@pytest.mark.parametrize('case', list(_arrays()))
@pytest.mark.parametrize('suffix', ['.nii', '.nii.gz'])
def test_array_saves_hold_what_nibabel_writes(tmp_path, case, suffix):
    data, dtype = _arrays()[case]
    theirs_img = nibabel.Nifti1Image(data, AFFINE)
    ours_img = nv.Nifti1Image(data, AFFINE)
    if dtype is not None:
        theirs_img.set_data_dtype(dtype)
        ours_img.set_data_dtype(dtype)
    theirs_path, ours_path = tmp_path / f'theirs{suffix}', tmp_path / f'ours{suffix}'
    nibabel.save(theirs_img, theirs_path)
    nv.save(ours_img, ours_path)
    theirs, ours = nibabel.load(theirs_path), nibabel.load(ours_path)
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    np.testing.assert_array_equal(ours.dataobj.get_unscaled(), theirs.dataobj.get_unscaled())
    np.testing.assert_array_equal(ours.dataobj.slope, theirs.dataobj.slope)
    np.testing.assert_array_equal(ours.dataobj.inter, theirs.dataobj.inter)
    for key in theirs.header:
        if key != 'vox_offset':
            np.testing.assert_array_equal(ours.header[key], theirs.header[key], err_msg=key)


def test_an_array_image_saved_with_a_cast_names_its_file_and_does_not_match_it(tmp_path):
    data = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    img = nv.Nifti1Image(data, AFFINE)
    img.set_data_dtype(np.int16)
    path = tmp_path / 'a.nii'
    img.to_filename(path)
    assert img.get_filename() == str(path)
    assert img.is_dirty  # the file holds int16 values, the image float64 ones
    assert any('float64 values stored as int16' in r for r in img.dirty_reasons())
    img.mark_clean()
    assert not img.is_dirty
    assert img.as_filename() == str(path)
    img.header['descrip'] = b'changed'
    assert img.is_dirty


def test_a_save_the_writer_refuses_leaves_no_file(tmp_path):
    # Analyze cannot store a slope: float data that needs scaling to uint8 is refused with
    # nibabel's error and message, and nothing is left behind.
    data = np.linspace(-1e4, 1e4, 2 * 3 * 4).reshape(2, 3, 4)
    theirs = nibabel.AnalyzeImage(data, AFFINE)
    theirs.set_data_dtype(np.uint8)
    with pytest.raises(nibabel.arraywriters.WriterError, match='Scaling needed but cannot scale'):
        nibabel.save(theirs, tmp_path / 'theirs.img')
    ours = nv.AnalyzeImage(data, AFFINE)
    ours.set_data_dtype(np.uint8)
    with pytest.raises(nv.WriterError, match='Scaling needed but cannot scale'):
        nv.save(ours, tmp_path / 'ours.img')
    assert not list(tmp_path.glob('ours*'))
