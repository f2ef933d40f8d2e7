"""Types nibabel users rely on (issue 15 #8): ``get_zooms`` returns numpy floats of the
header's field type, and a file cut short raises an error that code written for nibabel
catches (``EOFError`` or ``OSError``, depending on where nibabel notices)."""

import gzip

import nibabel
import numpy as np
import pytest

import neurovox as nv

AFFINE = np.diag([2.0, 2.5, 3.5, 1.0])


@pytest.mark.parametrize('klass, name', [
    ('Nifti1Image', 'a.nii'), ('Nifti2Image', 'a.nii'), ('Nifti1Pair', 'a.img'),
    ('AnalyzeImage', 'a.img'), ('Spm2AnalyzeImage', 'a.img'), ('MGHImage', 'a.mgz')])
@pytest.mark.parametrize('shape', [(4, 5, 6), (4, 5, 6, 3)])
def test_get_zooms_has_nibabels_types_and_values(tmp_path, klass, name, shape):
    data = np.zeros(shape, np.float32)
    path = str(tmp_path / name)
    theirs_img = getattr(nibabel, klass)(data, AFFINE)
    if len(shape) == 4:
        theirs_img.header.set_zooms((2.0, 2.5, 3.5, 0.8))
    nibabel.save(theirs_img, path)
    theirs = nibabel.load(path).header.get_zooms()
    ours = nv.load(path).header.get_zooms()
    for z, t in zip(ours, theirs, strict=True):
        # nibabel gives an MGH image's TR as a 0-d array; neurovox as the scalar it holds.
        t = t[()] if isinstance(t, np.ndarray) and t.ndim == 0 else t
        assert type(z) is type(t) and z == t, (ours, theirs)


@pytest.mark.parametrize('cut', ['header', 'data', 'trailer'])
def test_a_truncated_gzip_file_raises_eof_and_os_errors(tmp_path, cut):
    path = tmp_path / 'a.nii.gz'
    nibabel.save(nibabel.Nifti1Image(np.random.default_rng(1).random((20, 20, 20)), AFFINE),
                 path)
    whole = path.read_bytes()
    end = {'header': 100, 'data': len(whole) // 2, 'trailer': len(whole) - 3}[cut]
    path.write_bytes(whole[:end])
    with pytest.raises(Exception) as raised:
        nv.load(str(path)).get_fdata()
    err = raised.value
    assert isinstance(err, nv.ImageFileError), type(err).__mro__
    if cut != 'header':
        # Cut inside the data: the truncation error, which is all of these at once.
        assert isinstance(err, nv.ImageTruncatedError), type(err).__mro__
        assert isinstance(err, EOFError) and isinstance(err, OSError)
        assert 'a.nii.gz' in str(err) and 'truncated' in str(err)
    with gzip.open(path) as f, pytest.raises(EOFError):
        f.read()


def test_a_truncated_plain_file_read_raises_the_truncation_error(tmp_path):
    path = tmp_path / 'a.nii'
    nibabel.save(nibabel.Nifti1Image(np.zeros((10, 10, 10), np.float32), AFFINE), path)
    img = nv.load(str(path), mmap=False)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(OSError) as raised:
        np.asarray(img.dataobj)
    assert isinstance(raised.value, nv.ImageTruncatedError), type(raised.value).__mro__
