"""After a save, an image matches the file it was just saved to (issue 15 #2): ``is_dirty``
is False and ``as_filename()`` returns that file without writing — unless the save cast or
scaled the values, and then ``dirty_reasons()`` says exactly that. Later changes (the array in
place, a cache, a header field, the file on disk) make it dirty again; nothing is read or
digested until someone asks."""

import os

import numpy as np
import pytest

import neurovox as nv

CASES = [
    ('Nifti1Image', 'a.nii'), ('Nifti1Image', 'a.nii.gz'), ('Nifti1Pair', 'a.img'),
    ('Nifti2Image', 'a.nii'), ('AnalyzeImage', 'a.img'), ('Spm2AnalyzeImage', 'a.img'),
    ('Spm99AnalyzeImage', 'a.img.gz'), ('MGHImage', 'a.mgz'), ('MGHImage', 'a.mgh'),
]


def _array(order='C', dtype=np.int16):
    values = (np.arange(4 * 5 * 6 * 3) % 251 - 100).reshape(4, 5, 6, 3)
    return np.asarray(values, dtype=dtype, order=order)


def _listing(directory):
    return sorted(os.listdir(directory))


@pytest.mark.parametrize('klass, name', CASES)
@pytest.mark.parametrize('order', ['C', 'F'])
def test_an_array_image_saved_as_its_own_type_is_clean(tmp_path, klass, name, order):
    arr = _array(order)
    img = getattr(nv, klass)(arr, np.diag([2.0, 2.0, 2.5, 1.0]))
    path = str(tmp_path / name)
    nv.save(img, path)
    assert not img.is_dirty, img.dirty_reasons()
    assert img.dirty_reasons() == []
    # nibabel's to_filename makes the saved files the image's file map.
    assert img.get_filename() == path
    before = _listing(tmp_path)
    image_file = img.file_map['image'].filename
    assert img.as_filename() == image_file
    assert _listing(tmp_path) == before, 'as_filename wrote nothing'
    # The array changed in place: dirty, and clean again once it holds the file's values.
    arr[1, 2, 3, 0] += 1
    assert img.is_dirty
    assert any('data array changed' in r for r in img.dirty_reasons()), img.dirty_reasons()
    arr[1, 2, 3, 0] -= 1
    assert not img.is_dirty
    # A float cache filled, then changed in place.
    fdata = img.get_fdata()
    assert not img.is_dirty
    fdata[0, 0, 0, 0] += 0.5
    assert img.is_dirty and 'cached data changed in place' in img.dirty_reasons()
    img.uncache()
    assert not img.is_dirty


@pytest.mark.parametrize('klass, name', [('Nifti1Image', 'b.nii'), ('Nifti1Image', 'b.nii.gz'),
                                         ('Nifti1Pair', 'b.img')])
def test_the_issue_reproducer_and_later_changes(tmp_path, klass, name):
    img = getattr(nv, klass)(_array(), np.eye(4))
    path = str(tmp_path / name)
    nv.save(img, path)
    assert img.is_dirty is False
    assert img.as_filename() == path
    assert img.as_filename() == path
    assert _listing(tmp_path) == sorted([name] if not name.endswith('.img')
                                        else ['b.hdr', 'b.img'])
    img.header['descrip'] = b'changed'
    assert img.is_dirty
    assert any('descrip' in r for r in img.dirty_reasons())
    img.to_filename(path)
    assert not img.is_dirty
    img.affine[0, 3] += 1
    assert img.is_dirty
    img.to_filename(path)
    assert not img.is_dirty
    # The file rewritten by someone else.
    assert not img.is_dirty
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert img.is_dirty
    assert any('changed on disk' in r for r in img.dirty_reasons())


def test_big_endian_and_bool_free_arrays_compare_by_value(tmp_path):
    arr = _array(dtype='>i2')
    img = nv.Nifti1Image(arr, np.eye(4))
    nv.save(img, str(tmp_path / 'be.nii'))
    assert not img.is_dirty, img.dirty_reasons()
    arr = _array('F', np.float32)
    arr[0, 0, 0, 0] = np.nan
    img = nv.Nifti1Image(arr, np.eye(4))
    nv.save(img, str(tmp_path / 'nan.nii.gz'))
    assert not img.is_dirty, img.dirty_reasons()


def test_a_save_that_casts_says_so(tmp_path):
    floats = _array(dtype=np.float64) / 3.0
    img = nv.Nifti1Image(floats, np.eye(4))
    img.set_data_dtype(np.int16)
    nv.save(img, str(tmp_path / 'scaled.nii'))
    assert img.is_dirty
    (reason,) = img.dirty_reasons()
    assert 'float64 values stored as int16' in reason and 'scl_slope' in reason, reason
    assert 'mark_clean' in reason
    # as_filename writes a copy (the file does not hold the image's values).
    copy = img.as_filename(dir=str(tmp_path))
    assert copy != str(tmp_path / 'scaled.nii')
    os.unlink(copy)
    # The caller accepts the file: clean, and the array is then watched by digest.
    img.mark_clean()
    assert not img.is_dirty
    img.dataobj[0, 0, 0, 0] += 1
    assert img.is_dirty

    ints = nv.Nifti1Image(_array(), np.eye(4))
    ints.to_filename(str(tmp_path / 'wide.nii'), dtype=np.float32)
    assert ints.is_dirty
    (reason,) = ints.dirty_reasons()
    assert 'int16 values stored as float32' in reason, reason
    assert 'scl_slope' not in reason


def test_a_loaded_image_saved_elsewhere_matches_the_new_file(tmp_path):
    source = str(tmp_path / 'src.nii')
    nv.save(nv.Nifti1Image(_array(), np.eye(4)), source)
    img = nv.load(source)
    fdata = img.get_fdata()
    target = str(tmp_path / 'copy.nii.gz')
    nv.save(img, target)
    assert not img.is_dirty, img.dirty_reasons()
    assert img.as_filename() == target
    # The proxy still reads the source: a change there is a change of the image.
    stat = os.stat(source)
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert img.is_dirty
    assert any('src.nii' in r for r in img.dirty_reasons()), img.dirty_reasons()

    # A cache changed before the save: the save wrote the data object, not the cache, so
    # the image (whose get_fdata shows the cache) does not match the file.
    img = nv.load(source)
    img.get_fdata()[0, 0, 0, 0] = 1234.5
    nv.save(img, str(tmp_path / 'again.nii'))
    assert img.is_dirty
    assert 'cached data changed in place' in img.dirty_reasons()
    del fdata


def test_a_scaled_image_resaved_keeps_its_stored_values_and_is_clean(tmp_path):
    arr = _array()
    img = nv.Nifti1Image(arr, np.eye(4))
    img.header.set_slope_inter(0.5, 10)
    source = str(tmp_path / 'scaled.nii')
    nv.save(img, source)
    loaded = nv.load(source)
    nv.save(loaded, str(tmp_path / 'scaled-copy.nii.gz'))
    assert not loaded.is_dirty, loaded.dirty_reasons()
    saved_over_itself = nv.load(str(tmp_path / 'scaled-copy.nii.gz'))
    before = saved_over_itself.get_fdata().copy()
    nv.save(saved_over_itself, str(tmp_path / 'scaled-copy.nii.gz'))
    assert not saved_over_itself.is_dirty, saved_over_itself.dirty_reasons()
    assert np.array_equal(saved_over_itself.get_fdata(), before)
    assert np.array_equal(nv.load(str(tmp_path / 'scaled-copy.nii.gz')).get_fdata(), before)


def test_a_save_through_another_class_leaves_the_image_without_files(tmp_path):
    # nibabel's save converts a Nifti1Image to a Nifti1Pair for a .img name and saves the
    # copy: the image itself still has no file, so it stays dirty.
    img = nv.Nifti1Image(_array(), np.eye(4))
    nv.save(img, str(tmp_path / 'p.img'))
    assert img.is_dirty
    assert img.get_filename() is None


def test_data_neurovox_cannot_watch_stays_dirty_after_a_save(tmp_path):
    # nibabel's own proxy as the data object: its file is not one neurovox watches, so the
    # image is not claimed to match the new file.
    import nibabel
    source = tmp_path / 'src.nii'
    nibabel.save(nibabel.Nifti1Image(_array(), np.eye(4)), source)
    img = nv.Nifti1Image(nibabel.load(source).dataobj, np.eye(4))
    nv.save(img, str(tmp_path / 'copy.nii'))
    assert img.is_dirty
    assert any('cannot compare' in r for r in img.dirty_reasons()), img.dirty_reasons()
    assert np.array_equal(nv.load(str(tmp_path / 'copy.nii')).get_fdata(), _array())
