"""Both libraries load the same files and must agree (issue 7, "cross-check suite").

Every NIfTI, Analyze and MGH file in the installed nibabel package's tests/data, and every
file of the nibabel oracle matrix ($NEUROVOX_ORACLE_DIR, written by
tests/oracle/make_fixtures.py), is loaded by nibabel and by neurovox; the class name, shape,
data dtype, affine, every header field, the dataobj array (values and dtype), get_fdata()
and a few slices must be equal.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import nibabel
from nvlib import _neurovox

# Both libraries are asked for float reads of complex data on purpose (to compare them); each
# warns that the imaginary part is dropped, as numpy does. Other warnings stay visible.
pytestmark = pytest.mark.filterwarnings(
    'ignore:Casting complex values to real discards the imaginary part:'
    'numpy.exceptions.ComplexWarning')

NIBABEL_DATA = Path(nibabel.__file__).parent / 'tests' / 'data'
SUFFIXES = ('.nii', '.nii.gz', '.hdr', '.hdr.gz', '.mgh', '.mgz')


def nibabel_test_files():
    files = []
    for path in sorted(NIBABEL_DATA.iterdir()):
        name = path.name.lower()
        if not name.endswith(SUFFIXES):
            continue
        try:
            img = nibabel.load(path)
            np.asanyarray(img.dataobj)
        except Exception:  # files nibabel cannot load are tested elsewhere (errors)
            continue
        if type(img).__name__ in CLASSES:
            files.append(str(path))
    return files


def oracle_files():
    root = os.environ.get('NEUROVOX_ORACLE_DIR')
    if not root or not (Path(root) / 'manifest.json').exists():
        return []
    manifest = json.loads((Path(root) / 'manifest.json').read_text())
    out = []
    for entry in manifest['files']:
        if entry.get('load_error') or entry['source'] != 'matrix':
            continue
        paths = entry['paths']
        out.append(str(Path(root) / paths.get('header', paths['image'])))
    return out


CLASSES = {
    'Nifti1Image', 'Nifti1Pair', 'Nifti2Image', 'Nifti2Pair', 'AnalyzeImage',
    'Spm99AnalyzeImage', 'Spm2AnalyzeImage', 'MGHImage',
}
FILES = nibabel_test_files() + oracle_files()


def slices(shape):
    keys = [(0,), (-1,), (Ellipsis, 0), (slice(None, None, -1),)]
    if len(shape) >= 3:
        keys += [(slice(None), 1 % shape[1], slice(None, None, 2)), (None, Ellipsis, -1)]
    return keys


def test_there_are_files():
    assert len(nibabel_test_files()) >= 8  # the .hdr files there have no .img
    if os.environ.get('NEUROVOX_ORACLE_DIR'):
        assert len(oracle_files()) > 1000


@pytest.mark.parametrize('path', FILES, ids=[Path(f).name for f in FILES])
def test_both_libraries_agree(path):
    nv = _neurovox()
    a = nibabel.load(path)
    b = nv.load(path)
    assert type(b).__name__ == type(a).__name__
    assert b.shape == a.shape
    # Equal and spelled alike: dtype('<i2') and dtype('int16') are equal but print apart.
    assert repr(b.get_data_dtype()) == repr(a.get_data_dtype())
    assert repr(b.dataobj.dtype) == repr(a.dataobj.dtype)
    # qform rotations: nibabel computes in 80-bit long double, neurovox in float64 (compat.md,
    # header codecs #9): equal to 4 ulp of the affine's largest entry.
    scale = max(1.0, float(np.abs(a.affine).max()))
    assert_allclose(b.affine, a.affine, rtol=0, atol=4 * np.finfo(np.float64).eps * scale)
    for key in a.header.keys():
        assert_array_equal(np.asarray(b.header[key]), np.asarray(a.header[key]), err_msg=key)
    arr_a = np.asanyarray(a.dataobj)
    arr_b = np.asanyarray(b.dataobj)
    assert repr(arr_b.dtype) == repr(arr_a.dtype)
    assert_array_equal(arr_b, arr_a)
    if arr_a.dtype.kind in 'biufc':
        assert_array_equal(b.get_fdata(), a.get_fdata())
    for key in slices(a.shape):
        slice_a, slice_b = np.asanyarray(a.dataobj[key]), np.asanyarray(b.dataobj[key])
        assert repr(slice_b.dtype) == repr(slice_a.dtype), key
        assert_array_equal(slice_b, slice_a, err_msg=str(key))
