"""neurovox and nibabel load the same files and agree on everything they report.

Files: every NIfTI, Analyze and MGH file in the installed nibabel's ``tests/data``, and a
matrix of files written by nibabel into ``tmp_path`` (format × dtype × byte order × scaling ×
compression). For each: class, shape, dtype, affine, every header field, ``dataobj``
arrays, ``get_fdata`` (float64 and float32), proxy attributes and slices.
"""

from __future__ import annotations

import itertools

import nibabel
import numpy as np
import pytest

import neurovox as nv
from oracle_helpers import assert_same_array, assert_same_header, nibabel_data_files

NIBABEL_FILES = nibabel_data_files()
# nibabel loads this NIfTI-2 file as a CIFTI-2 image; both libraries read it as NIfTI-2 here.
CIFTI = {'row_major.dconn.nii'}


def load_both(path):
    if path.name in CIFTI:
        return nv.Nifti2Image.from_filename(path), nibabel.Nifti2Image.from_filename(path)
    return nv.load(path), nibabel.load(path)


def compare_images(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.shape == theirs.shape
    assert ours.ndim == theirs.ndim
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    np.testing.assert_array_equal(ours.affine, theirs.affine)
    assert_same_header(ours.header, theirs.header)
    assert nv.is_proxy(ours.dataobj) and nibabel.is_proxy(theirs.dataobj)
    p, q = ours.dataobj, theirs.dataobj
    assert tuple(p.shape) == tuple(q.shape)
    assert p.ndim == q.ndim
    assert p.dtype == q.dtype
    assert p.offset == q.offset
    assert float(p.slope) == float(q.slope)
    assert float(p.inter) == float(q.inter) or (np.isnan(p.inter) and np.isnan(q.inter))
    assert_same_array(np.asarray(p), np.asarray(q))
    assert_same_array(p.get_unscaled(), q.get_unscaled())
    assert_same_array(ours.get_fdata(), theirs.get_fdata())
    assert_same_array(ours.get_fdata(caching='unchanged', dtype=np.float32),
                      theirs.get_fdata(caching='unchanged', dtype=np.float32))
    # A few slices, through the read planner, against nibabel's fileslice.
    shape = ours.shape
    keys = [(0,), (slice(None), -1), (Ellipsis, 0), (slice(None, None, 2),),
            (slice(None, None, -1), None), tuple(n // 2 for n in shape)]
    for key in keys:
        if len([k for k in key if k is not None and k is not Ellipsis]) > len(shape):
            continue
        a, b = p[key], q[key]
        assert_same_array(a, b)


def header_only(path):
    """A .hdr shipped without its .img: nibabel's data holds a few of these."""
    if not path.name.lower().startswith(path.name) or not path.name.endswith(('.hdr', '.hdr.gz')):
        return False
    img = path.with_name(path.name.replace('.hdr', '.img'))
    return not img.exists()


HEADER_CLASSES = {348: [(nv.Nifti1PairHeader, nibabel.nifti1.Nifti1PairHeader),
                        (nv.AnalyzeHeader, nibabel.analyze.AnalyzeHeader),
                        (nv.Spm99AnalyzeHeader, nibabel.spm99analyze.Spm99AnalyzeHeader),
                        (nv.Spm2AnalyzeHeader, nibabel.spm2analyze.Spm2AnalyzeHeader)],
                  540: [(nv.Nifti2PairHeader, nibabel.nifti2.Nifti2PairHeader)]}


@pytest.mark.parametrize('path', NIBABEL_FILES, ids=[p.name for p in NIBABEL_FILES])
def test_nibabel_test_data(path):
    if header_only(path):
        # nibabel loads these lazily and fails at the first data read; neurovox fails at
        # load (docs/compat.md, proxies #11). The headers must still agree.
        with pytest.raises(FileNotFoundError):
            nv.load(path)
        theirs = nibabel.load(path).header
        for ours_cls, theirs_cls in HEADER_CLASSES[theirs.sizeof_hdr]:
            if type(theirs) is theirs_cls:
                with open(path, 'rb') as f:
                    theirs = theirs_cls.from_fileobj(f)
                ours = ours_cls(path.read_bytes())
                assert_same_header(ours, theirs)
                return
        raise AssertionError(f'no header class for {type(theirs)}')
    ours, theirs = load_both(path)
    compare_images(ours, theirs)


def test_nibabel_test_data_found():
    names = {p.name for p in NIBABEL_FILES}
    assert {'example4d.nii.gz', 'analyze.hdr', 'test.mgz', 'example_nifti2.nii.gz'} <= names


# --- files nibabel writes -----------------------------------------------------------------

FORMATS = {
    'nifti1': (nibabel.Nifti1Image, '.nii'),
    'nifti1_gz': (nibabel.Nifti1Image, '.nii.gz'),
    'nifti1_pair': (nibabel.Nifti1Pair, '.img'),
    'nifti2': (nibabel.Nifti2Image, '.nii'),
    'nifti2_pair_gz': (nibabel.Nifti2Pair, '.img.gz'),
    'analyze': (nibabel.AnalyzeImage, '.img'),
    'spm99': (nibabel.Spm99AnalyzeImage, '.img'),
    'spm2': (nibabel.Spm2AnalyzeImage, '.img'),
    'mgh': (nibabel.MGHImage, '.mgh'),
    'mgz': (nibabel.MGHImage, '.mgz'),
}
DTYPES = ['u1', 'i2', 'i4', 'f4', 'f8']
MGH_DTYPES = {'u1', 'i2', 'i4', 'f4'}


def write_with_nibabel(tmp_path, fmt, dtype, endian, scaled):
    klass, ext = FORMATS[fmt]
    rng = np.random.default_rng(hash((fmt, dtype, endian, scaled)) % 2**32)
    shape = (5, 4, 3, 2)
    if dtype.startswith('f'):
        data = rng.normal(size=shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape,
                            dtype=dtype)
    affine = np.array([[2.0, 0, 0, -10], [0, 2.5, 0, 20], [0, 0, 3, 5], [0, 0, 0, 1]])
    if fmt.startswith('mgh') or fmt == 'mgz':
        img = klass(data, affine)
    else:
        header = klass.header_class(endianness=endian)
        header.set_data_dtype(np.dtype(dtype))
        img = klass(data, affine, header)
        if scaled and header.has_data_slope:
            img.header.set_slope_inter(2.0, 1.0 if header.has_data_intercept else None)
    path = tmp_path / f'{fmt}_{dtype}_{endian}{"_s" if scaled else ""}{ext}'
    nibabel.save(img, path)
    return path


CASES = [
    (fmt, dtype, endian, scaled)
    for fmt, dtype, endian, scaled in itertools.product(FORMATS, DTYPES, '<>', (False, True))
    if not ((fmt in ('mgh', 'mgz')) and (dtype not in MGH_DTYPES or endian == '<' or scaled))
    and not (fmt in ('analyze',) and scaled)
]


@pytest.mark.parametrize('fmt,dtype,endian,scaled', CASES)
def test_files_nibabel_wrote(tmp_path, fmt, dtype, endian, scaled):
    path = write_with_nibabel(tmp_path, fmt, dtype, endian, scaled)
    ours, theirs = nv.load(path), nibabel.load(path)
    compare_images(ours, theirs)


@pytest.mark.parametrize('mmap', [True, False, 'c', 'r'])
def test_mmap_modes_match_nibabel(tmp_path, mmap):
    path = write_with_nibabel(tmp_path, 'nifti1', 'i2', '<', False)
    ours = nv.load(path, mmap=mmap)
    theirs = nibabel.load(path, mmap=mmap)
    a, b = np.asanyarray(ours.dataobj), np.asanyarray(theirs.dataobj)
    assert_same_array(a, b)
    assert isinstance(a, np.memmap) == isinstance(b, np.memmap)
    assert a.flags.writeable == b.flags.writeable
    if isinstance(b, np.memmap):
        assert a.mode == b.mode


def test_bad_mmap_and_missing_files(tmp_path):
    with pytest.raises(ValueError, match="mmap should be one of"):
        nv.load(NIBABEL_FILES[0], mmap='r+')
    missing = tmp_path / 'nothing.nii'
    with pytest.raises(FileNotFoundError, match='No such file or no access'):
        nv.load(missing)
    empty = tmp_path / 'empty.nii'
    empty.write_bytes(b'')
    with pytest.raises(nv.ImageFileError, match='Empty file'):
        nv.load(empty)
    junk = tmp_path / 'junk.nii'
    junk.write_bytes(b'\x01' * 400)
    with pytest.raises(nv.ImageFileError) as info:
        nv.load(junk)
    assert 'junk.nii' in str(info.value)
    assert issubclass(nv.ImageFileError, Exception)
    assert issubclass(nv.HeaderDataError, Exception)
