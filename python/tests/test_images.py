"""Image classes: constructors, headers, caching, saving and dirty tracking, against nibabel."""

from __future__ import annotations

import os

import nibabel
import numpy as np
import pytest

import neurovox as nv
from oracle_helpers import assert_same_array, assert_same_header

AFFINE = np.array([[2.0, 0, 0, -10], [0, 2.5, 0, 20], [0, 0, 3, 5], [0, 0, 0, 1]])
CLASSES = ['Nifti1Image', 'Nifti1Pair', 'Nifti2Image', 'Nifti2Pair', 'AnalyzeImage',
           'Spm99AnalyzeImage', 'Spm2AnalyzeImage', 'MGHImage']
EXT = {'Nifti1Image': '.nii', 'Nifti2Image': '.nii.gz', 'MGHImage': '.mgz'}


def data_for(name):
    dtype = np.int16 if name != 'MGHImage' else np.float32
    return np.arange(4 * 5 * 6, dtype=dtype).reshape(4, 5, 6)


@pytest.mark.parametrize('name', CLASSES)
@pytest.mark.parametrize('affine', [AFFINE, None])
def test_array_images_match_nibabel(name, affine):
    data = data_for(name)
    ours = getattr(nv, name)(data, affine)
    theirs = getattr(nibabel, name)(data, affine)
    assert ours.shape == theirs.shape and ours.in_memory and not nv.is_proxy(ours.dataobj)
    assert ours.dataobj is data
    assert_same_header(ours.header, theirs.header)
    if affine is None:
        assert ours.affine is None
    else:
        np.testing.assert_array_equal(ours.affine, theirs.affine)
    assert_same_array(ours.get_fdata(), theirs.get_fdata())


@pytest.mark.parametrize('name', CLASSES)
def test_saved_files_read_back_in_both_libraries(tmp_path, name):
    data = data_for(name)
    ours = getattr(nv, name)(data, AFFINE)
    path = tmp_path / f'img{EXT.get(name, ".img")}'
    nv.save(ours, path)
    theirs = nibabel.load(path)
    back = nv.load(path)
    assert type(back).__name__ == type(theirs).__name__
    assert_same_array(np.asarray(back.dataobj), np.asarray(theirs.dataobj))
    np.testing.assert_allclose(theirs.get_fdata(), data)
    np.testing.assert_array_equal(back.affine, theirs.affine)
    assert_same_header(back.header, theirs.header)


def test_loaded_images_resave_and_headers_edit(tmp_path):
    data = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    src = tmp_path / 'src.nii'
    nibabel.save(nibabel.Nifti1Image(data, AFFINE), src)
    img = nv.load(src)
    img.header['descrip'] = b'edited by neurovox'
    img.header.set_zooms((1.5, 2.5, 3.5))
    assert img.header['descrip'] == np.bytes_(b'edited by neurovox')
    out = tmp_path / 'out.nii.gz'
    img.to_filename(out)
    assert img.get_filename() == str(out)
    theirs = nibabel.load(out)
    assert theirs.header['descrip'] == b'edited by neurovox'
    np.testing.assert_array_equal(theirs.header.get_zooms(), (1.5, 2.5, 3.5))
    np.testing.assert_array_equal(np.asarray(theirs.dataobj), data)
    # A new image over another image's proxy.
    again = nv.Nifti1Image(img.dataobj, img.affine, img.header)
    assert nv.is_proxy(again.dataobj)
    nv.save(again, tmp_path / 'again.mgh')
    np.testing.assert_array_equal(nibabel.load(tmp_path / 'again.mgh').get_fdata(), data)


def test_header_setters_match_nibabel():
    ours, theirs = nv.Nifti1Header(), nibabel.Nifti1Header()
    for h in (ours, theirs):
        h.set_data_shape((4, 5, 6, 7))
        h.set_data_dtype(np.float32)
        h.set_zooms((1, 2, 3, 0.5))
        h.set_qform(AFFINE, code='scanner')
        h.set_sform(AFFINE @ np.diag([1, 1, 1, 1.0]), code=3)
        h.set_slope_inter(2.0, 10.0)
        h['descrip'] = b'hello'
        h['intent_p1'] = 1.5
        h['dim_info'] = 57
    assert_same_header(ours, theirs)
    np.testing.assert_array_equal(ours.get_qform(), theirs.get_qform())
    np.testing.assert_array_equal(ours.get_sform(coded=True)[0], theirs.get_sform(coded=True)[0])
    assert ours.get_sform(coded=True)[1] == theirs.get_sform(coded=True)[1]
    assert ours.get_slope_inter() == theirs.get_slope_inter()
    ours.set_data_dtype(4)
    assert ours.get_data_dtype() == np.dtype(np.int16)
    ours.set_data_dtype('NIFTI_TYPE_UINT8')
    assert ours.get_data_dtype() == np.dtype(np.uint8)
    with pytest.raises(nv.HeaderDataError):
        ours.set_data_dtype(np.bool_)
    with pytest.raises(nv.HeaderDataError):
        ours.set_zooms((1, 2, 3, -1))
    with pytest.raises(ValueError):
        ours['not_a_field']
    with pytest.raises(nv.HeaderDataError):
        nv.MGHImage(np.zeros((2, 2, 2)), AFFINE)  # float64: MGH cannot store it
    with pytest.raises(ValueError, match='int64'):
        nv.Nifti1Image(np.zeros((2, 2, 2), np.int64), AFFINE)


def test_extensions_round_trip(tmp_path):
    img = nv.Nifti1Image(np.zeros((2, 3, 4), np.uint8), AFFINE)
    img.header.extensions.append(nv.Nifti1Extension(6, b'a comment'))
    path = tmp_path / 'ext.nii'
    img.to_filename(path)
    theirs = nibabel.load(path).header.extensions
    assert [e.get_code() for e in theirs] == [6]
    assert theirs[0].get_content() == b'a comment'
    ours = nv.load(path).header.extensions
    assert ours.get_codes() == [6] and ours[0].get_content() == b'a comment'


def test_caching_rules(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = tmp_path / 'c.nii'
    nibabel.save(nibabel.Nifti1Image(data, AFFINE), path)
    img = nv.load(path)
    assert not img.in_memory
    with pytest.raises(ValueError, match='caching value'):
        img.get_fdata(caching='never')
    with pytest.raises(ValueError, match='floating point'):
        img.get_fdata(dtype=np.int16)
    f = img.get_fdata(caching='unchanged')
    assert not img.in_memory
    f = img.get_fdata()
    assert img.in_memory and img.get_fdata() is f
    f32 = img.get_fdata(caching='unchanged', dtype='f4')
    assert f32.dtype == np.float32 and img.get_fdata() is f
    f32 = img.get_fdata(dtype=np.float32)
    assert img.get_fdata(dtype=np.float32) is f32 and img.get_fdata() is not f
    img.uncache()
    assert not img.in_memory
    arr_img = nv.Nifti1Image(data.astype(np.float64), AFFINE)
    assert arr_img.get_fdata() is arr_img.dataobj


def test_is_dirty_and_as_filename(tmp_path):
    data = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    path = tmp_path / 'd.nii'
    nibabel.save(nibabel.Nifti1Image(data, AFFINE), path)
    img = nv.load(path)
    assert not img.is_dirty
    assert img.as_filename() == str(path)
    img.get_fdata()
    assert not img.is_dirty
    img.header['descrip'] = b'x'
    assert img.is_dirty
    img.header['descrip'] = nibabel.load(path).header['descrip']
    assert not img.is_dirty
    img.get_fdata()[0, 0, 0] = 99
    assert img.is_dirty
    copy = img.as_filename(dir=tmp_path)
    assert copy != str(path)
    assert nibabel.load(copy).get_fdata()[0, 0, 0] == 99
    img.uncache()
    assert not img.is_dirty
    img.mark_dirty()
    assert img.is_dirty
    img.mark_clean()
    assert not img.is_dirty

    assert nv.Nifti1Image(data, AFFINE).is_dirty
    with open(path, 'r+b') as f:
        f.seek(400)
        f.write(b'\x01\x02\x03\x04')
    assert img.is_dirty


@pytest.mark.parametrize('name, stored', [('p.img', np.float64), ('m.mgz', np.float32)])
def test_as_filename_copies_changed_float_data_as_shown(tmp_path, name, stored):
    # A copy of float data changed in the cache: the core names it (a pair's .hdr and .img
    # both written) and stores the floats as they are (float32 for MGH, which has no float64).
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    nibabel.save(nibabel.Nifti1Pair(data, AFFINE) if name.endswith('.img')
                 else nibabel.MGHImage(data.astype(np.int32), AFFINE), tmp_path / name)
    img = nv.load(tmp_path / name)
    img.get_fdata()[1, 2, 3] = 0.25
    out = tmp_path / 'out'
    out.mkdir()
    copy = img.as_filename(dir=out)
    assert os.path.dirname(copy) == str(out)
    files = sorted(os.listdir(out))
    if name.endswith('.img'):
        assert copy.endswith('.img') and files == sorted(
            [os.path.basename(copy), os.path.basename(copy)[:-4] + '.hdr'])
    else:
        assert copy.endswith('.mgh') and files == [os.path.basename(copy)]
    back = nibabel.load(copy)
    assert back.get_data_dtype() == np.dtype(stored).newbyteorder(back.get_data_dtype().byteorder)
    assert back.get_fdata()[1, 2, 3] == 0.25
    assert back.get_fdata()[1, 2, 2] == data[1, 2, 2]


def test_seed_002_is_dirty_as_the_seed_writes_it(tmp_path):
    path = tmp_path / 'some_image.nii'
    nibabel.save(nibabel.Nifti1Image(np.zeros((2, 3, 4), np.int16), AFFINE), path)
    img = nv.load(path)
    assert img.is_dirty == False  # noqa: E712 - the seed's own spelling
    hdr = img.header
    hdr.set_data_dtype(np.complex64)
    assert img.is_dirty == True  # noqa: E712
    assert any('datatype' in r for r in img.dirty_reasons())
    img.is_dirty = False  # the user overrides the checks: the image now counts as its file
    assert img.is_dirty == False  # noqa: E712
    assert img.as_filename() == str(path)
    img.is_dirty = True
    assert img.is_dirty and img.as_filename(dir=tmp_path) != str(path)


def test_slicer_matches_nibabel_where_nibabel_is_right():
    data = np.arange(4 * 5 * 6 * 3, dtype=np.int16).reshape(4, 5, 6, 3)
    ours = nv.Nifti1Image(data, AFFINE)
    theirs = nibabel.Nifti1Image(data, AFFINE)
    for key in [(slice(1, 3),), (slice(None), slice(0, 5, 2), slice(1, None), 1),
                (Ellipsis, slice(0, 2))]:
        a, b = ours.slicer[key], theirs.slicer[key]
        assert_same_array(a.dataobj, b.dataobj)
        np.testing.assert_array_equal(a.affine, b.affine)
    # nibabel puts the origin at `start or 0`; neurovox at the first voxel (compat #7).
    rev = ours.slicer[::-1]
    np.testing.assert_array_equal(rev.affine[:3, 3], AFFINE[:3, :3] @ [3, 0, 0] + AFFINE[:3, 3])
    with pytest.raises(IndexError):
        ours.slicer[0]
    with pytest.raises(IndexError):
        ours.slicer[None]
    with pytest.raises(IndexError):
        ours.slicer[2:2]
    with pytest.raises(TypeError):
        ours[0]
    # nibabel's messages, from the core's rule (image::slicer_transform).
    with pytest.raises(IndexError, match='New axis not permitted in spatial dimensions'):
        ours.slicer[:, None]
    with pytest.raises(IndexError, match='Scalar indices disallowed in spatial dimensions'):
        ours.slicer[:, :, 2]
    with pytest.raises(IndexError, match='Empty slice requested'):
        ours.slicer[:, 3:1]
    with pytest.raises(ValueError, match='slice step cannot be 0'):
        ours.slicer[::0]
    for key in [(slice(None), None), (slice(None), slice(None), 2), (slice(None), slice(3, 1))]:
        with pytest.raises(IndexError):
            theirs.slicer[key]


def test_class_loaders_and_errors(tmp_path):
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = tmp_path / 'p.img'
    nibabel.save(nibabel.Nifti1Pair(data, AFFINE), path)
    img = nv.Nifti1Pair.from_filename(path)
    assert isinstance(img, nv.Nifti1Pair)
    assert img.file_map['header'].filename == str(tmp_path / 'p.hdr')
    np.testing.assert_array_equal(np.asarray(img.dataobj), data)
    img2 = nv.Nifti1Pair.from_file_map(img.file_map)
    np.testing.assert_array_equal(img2.get_fdata(), data)
    with pytest.raises(FileNotFoundError):
        nv.load(tmp_path / 'missing.nii.gz')
    os.remove(tmp_path / 'p.img')
    with pytest.raises(FileNotFoundError) as info:
        nv.load(path.with_suffix('.hdr'))
    assert 'p.img' in str(info.value)
