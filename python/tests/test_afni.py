"""AFNI BRIK/HEAD datasets against nibabel, the oracle at test time: nibabel's own AFNI test
data, and datasets written here (a .HEAD of attributes and a .BRIK numpy writes) in every
type, byte order, scaling and compression nibabel reads — plus what AFNI defines and nibabel
refuses or misreads (docs/compat.md, "AFNI"), checked against numpy's answer."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from oracle_helpers import NIBABEL_DATA, assert_same_array

import neurovox as nv

nibabel = pytest.importorskip('nibabel')

NIBABEL_AFNI = ['example4d+orig.HEAD', 'example4d+orig.BRIK.gz', 'scaled+tlrc.HEAD',
                'scaled+tlrc.BRIK']
KEYS = [(), (0,), (slice(1, 5), slice(None, None, 2), 3), (Ellipsis, -1),
        (slice(None, None, -1), 2, slice(3, 1, -1)), (None, 1, Ellipsis, None)]


def _attribute(kind, name, values):
    if kind == 'string':
        text = "'" + values + '~'
        count = len(values) + 1
    else:
        values = list(np.atleast_1d(values))
        text = ' '.join(repr(float(v)) if kind == 'float' else str(int(v)) for v in values)
        count = len(values)
    return f'type = {kind}-attribute\nname = {name}\ncount = {count}\n{text}\n'


def write_dataset(directory, name, data, *, facs=None, byteorder='LSB_FIRST', brick_type=None,
                  affine_attrs=True, compress=False, extra=()):
    """A dataset of `data` (x, y, z, sub-brick) as AFNI writes it: its .HEAD and .BRIK."""
    types = {np.dtype('u1'): 0, np.dtype('i2'): 1, np.dtype('i4'): 2, np.dtype('f4'): 3,
             np.dtype('f8'): 4, np.dtype('c8'): 5}
    code = types[data.dtype.newbyteorder('=')] if brick_type is None else brick_type
    nvols = data.shape[3]
    attrs = [
        _attribute('integer', 'DATASET_RANK', [3, nvols, 0, 0, 0, 0, 0, 0]),
        _attribute('integer', 'DATASET_DIMENSIONS', list(data.shape[:3]) + [0, 0]),
        _attribute('integer', 'BRICK_TYPES', [code] * nvols),
        _attribute('float', 'DELTA', [2.0, -2.5, 3.0]),
        _attribute('float', 'ORIGIN', [10.0, 20.5, -30.0]),
        _attribute('integer', 'ORIENT_SPECIFIC', [0, 3, 4]),
        _attribute('float', 'TAXIS_FLOATS', [0, 2.5, 0, 0, 0]),
        _attribute('string', 'BRICK_LABS', '~'.join(f'v{i}' for i in range(nvols))),
        _attribute('string', 'TEMPLATE_SPACE', 'MNI'),
    ]
    if affine_attrs:
        attrs.append(_attribute('float', 'IJK_TO_DICOM_REAL',
                                [2.0, 0, 0, 10.0, 0, -2.5, 0, 20.5, 0, 0, 3.0, -30.0]))
    if facs is not None:
        attrs.append(_attribute('float', 'BRICK_FLOAT_FACS', facs))
    if byteorder is not None:
        attrs.append(_attribute('string', 'BYTEORDER_STRING', byteorder))
    attrs.extend(extra)
    head = os.path.join(directory, f'{name}+orig.HEAD')
    with open(head, 'w') as f:
        f.write('\n' + '\n'.join(attrs))
    order = {'LSB_FIRST': '<', 'MSB_FIRST': '>', None: '='}[byteorder]
    raw = np.asarray(data, dtype=data.dtype.newbyteorder(order)).tobytes(order='F')
    brik = os.path.join(directory, f'{name}+orig.BRIK')
    if compress:
        brik += '.gz'
        with gzip.open(brik, 'wb') as f:
            f.write(raw)
    else:
        with open(brik, 'wb') as f:
            f.write(raw)
    return head, brik


def _data(dtype, shape=(5, 6, 4, 3), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 200, size=shape)
    if np.dtype(dtype).kind == 'c':
        return (values + 1j * rng.integers(0, 50, size=shape)).astype(dtype)
    return values.astype(dtype)


def assert_same_image(ours, theirs):
    assert type(ours).__name__ == type(theirs).__name__
    assert ours.shape == theirs.shape
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    np.testing.assert_array_equal(ours.affine, theirs.affine)
    assert ours.header.get_zooms() == theirs.header.get_zooms()
    assert ours.header.info == theirs.header.info
    assert ours.header.get_volume_labels() == theirs.header.get_volume_labels()
    assert ours.header.get_space() == theirs.header.get_space()
    ts, os_ = theirs.header.get_data_scaling(), ours.header.get_data_scaling()
    assert (ts is None) == (os_ is None)
    if ts is not None:
        assert_same_array(os_, ts)
    assert_same_array(ours.get_fdata(), theirs.get_fdata())
    assert_same_array(ours.get_fdata(dtype=np.float32), theirs.get_fdata(dtype=np.float32))
    assert_same_array(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
    for key in KEYS:
        assert_same_array(ours.dataobj[key], theirs.dataobj[key])


@pytest.mark.parametrize('name', NIBABEL_AFNI)
def test_nibabels_afni_data_reads_as_nibabel_reads_it(name):
    path = os.path.join(NIBABEL_DATA, name)
    ours, theirs = nv.load(path), nibabel.load(path)
    assert ours.in_memory is False
    assert_same_image(ours, theirs)
    assert_same_array(ours.dataobj.scaling if ours.dataobj.scaling is not None else np.zeros(0),
                      theirs.dataobj.scaling if theirs.dataobj.scaling is not None
                      else np.zeros(0))
    assert nv.brikhead.parse_AFNI_header(path.replace('.BRIK.gz', '.HEAD').replace(
        '.BRIK', '.HEAD')) == nibabel.brikhead.parse_AFNI_header(
            path.replace('.BRIK.gz', '.HEAD').replace('.BRIK', '.HEAD'))


@pytest.mark.parametrize('name, error', [('bad_attribute+orig.HEAD', 'AFNIHeaderError'),
                                         ('bad_datatype+orig.HEAD', 'AFNIImageError')])
def test_files_nibabel_refuses_are_refused_with_its_error_class(name, error):
    path = os.path.join(NIBABEL_DATA, name)
    with pytest.raises(getattr(nibabel.brikhead, error)):
        nibabel.load(path)
    for load in (nv.load, nv.AFNIImage.from_filename, nv.brikhead.load):
        with pytest.raises(getattr(nv.brikhead, error)) as info:
            load(path)
        assert name in str(info.value)
        assert isinstance(info.value, nv.HeaderDataError)
    field = 'BYTEORDER_STRING' if 'attribute' in name else 'BRICK_TYPES'
    assert field in str(info.value)


@pytest.mark.parametrize('dtype', ['u1', 'i2', 'f4'])
@pytest.mark.parametrize('byteorder', ['LSB_FIRST', 'MSB_FIRST'])
@pytest.mark.parametrize('facs', [None, [0.5, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0]])
@pytest.mark.parametrize('compress', [False, True])
def test_written_datasets_read_as_nibabel_reads_them(tmp_path, dtype, byteorder, facs, compress):
    data = _data(dtype)
    head, brik = write_dataset(tmp_path, 'd', data, facs=facs, byteorder=byteorder,
                               compress=compress)
    for path in (head, brik):
        assert_same_image(nv.load(path), nibabel.load(path))


def test_values_are_each_sub_brick_times_its_factor(tmp_path):
    data = _data('i2')
    head, _ = write_dataset(tmp_path, 'd', data, facs=[0.5, 0.0, 3.0])
    expected = data * np.array([0.5, 1.0, 3.0])
    img = nv.load(head)
    assert_same_array(img.get_fdata(), expected)
    assert_same_array(img.dataobj[..., 2], expected[..., 2])
    assert_same_array(img.dataobj.get_unscaled(), data)
    assert_same_array(img.dataobj.scaling, np.array([0.5, 1.0, 3.0]))


def test_what_afni_defines_and_nibabel_refuses_or_misreads(tmp_path):
    """Types 2 (int32), 4 (float64) and 5 (complex64: AFNI's two float32s; nibabel reads
    complex128), no BYTEORDER_STRING (the machine's order) and no IJK_TO_DICOM_REAL (the affine
    from ORIENT_SPECIFIC, ORIGIN and DELTA) read as AFNI defines them (docs/compat.md)."""
    for dtype in ('i4', 'f8', 'c8'):
        data = _data(dtype)
        head, _ = write_dataset(tmp_path, f'd{dtype}', data, facs=[2.0, 0.0, 1.0])
        img = nv.load(head)
        assert img.get_data_dtype() == np.dtype(dtype).newbyteorder('<')
        scaled = np.asarray(img.dataobj)
        expected = data * np.array([2.0, 1.0, 1.0])
        assert_same_array(scaled, expected.astype(np.result_type(data.dtype, np.float64)))
    data = _data('i2')
    head, _ = write_dataset(tmp_path, 'native', data, byteorder=None, affine_attrs=False)
    img = nv.load(head)
    assert img.get_data_dtype() == np.dtype('i2').newbyteorder('=')
    assert_same_array(np.asarray(img.dataobj).view(np.dtype('i2')), data)
    stored, _ = write_dataset(tmp_path, 'stored', data)
    np.testing.assert_array_equal(img.affine, nibabel.load(stored).affine)


def test_rgb_sub_bricks_are_refused_naming_the_field(tmp_path):
    head, _ = write_dataset(tmp_path, 'rgb', _data('u1'), brick_type=6)
    with pytest.raises(nv.brikhead.AFNIImageError, match='BRICK_TYPES'):
        nv.load(head)


@pytest.mark.parametrize('damage, field', [
    (lambda t: t.replace('name = DATASET_RANK', 'name = DATASET_RANKS'), 'DATASET_RANK'),
    (lambda t: t.replace('name = DELTA', 'name = DELTAS'), 'DELTA'),
    (lambda t: t.replace('count = 8\n3 3', 'count = 8\n3 -3'), 'DATASET_RANK'),
    (lambda t: t.replace('count = 5\n5 6', 'count = 5\n5 -6'), 'DATASET_DIMENSIONS'),
    (lambda t: t.replace('-attribute\nname = ORIGIN', '-attr\nname = ORIGIN'), 'type'),
])
def test_damaged_heads_are_header_errors_naming_the_attribute(tmp_path, damage, field):
    head, _ = write_dataset(tmp_path, 'd', _data('i2'))
    with open(head) as f:
        text = f.read()
    damaged = damage(text)
    assert damaged != text
    with open(head, 'w') as f:
        f.write(damaged)
    with pytest.raises(nv.brikhead.AFNIHeaderError, match=field):
        nv.load(head)


def test_a_brik_shorter_than_its_head_says_fails_when_read_not_with_wrong_values(tmp_path):
    head, brik = write_dataset(tmp_path, 'd', _data('i2'))
    with open(brik, 'r+b') as f:
        f.truncate(100)
    with pytest.raises(nv.ImageFileError, match=r'd\+orig\.BRIK'):
        nv.load(head).get_fdata()
    head, brik = write_dataset(tmp_path, 'z', _data('i2'), compress=True)
    with open(brik, 'rb') as f:
        packed = f.read()
    with open(brik, 'wb') as f:
        f.write(packed[:len(packed) // 2])
    with pytest.raises(nv.ImageFileError, match=r'z\+orig\.BRIK\.gz'):
        nv.load(head).get_fdata()


def test_pickles_headers_and_file_maps(tmp_path):
    head, brik = write_dataset(tmp_path, 'd', _data('f4'), facs=[1.5, 0.0, 2.0], compress=True)
    img = nv.load(brik)
    assert {k: os.path.basename(v.filename) for k, v in img.file_map.items()} == {
        'image': 'd+orig.BRIK.gz', 'header': 'd+orig.HEAD'}
    assert_same_array(pickle.loads(pickle.dumps(img)).get_fdata(), img.get_fdata())
    assert_same_array(np.asarray(pickle.loads(pickle.dumps(img.dataobj))),
                      np.asarray(img.dataobj))
    header = pickle.loads(pickle.dumps(img.header))
    assert header == img.header and header is not img.header
    assert nv.AFNIHeader(img.header.info) == img.header
    with open(head) as text:
        assert nv.AFNIHeader.from_fileobj(text) == img.header
    with pytest.raises(nv.brikhead.AFNIHeaderError):
        nv.AFNIHeader.from_header(None)
    with pytest.raises(nv.brikhead.AFNIHeaderError):
        nv.AFNIHeader.from_header(nv.Nifti1Header())
    # File objects hold what they hold: a plain .BRIK (as in nibabel, nothing inflates them).
    head, brik = write_dataset(tmp_path, 'p', _data('f4'), facs=[1.5, 0.0, 2.0])
    with open(head, 'rb') as h, open(brik, 'rb') as b:
        fm = {'header': nv.FileHolder(fileobj=h), 'image': nv.FileHolder(fileobj=b)}
        from_objects = nv.AFNIImage.from_file_map(fm)
        assert type(from_objects.dataobj).__name__ == 'AFNIArrayProxy'
        assert_same_array(from_objects.get_fdata(), img.get_fdata())


def test_read_only_and_saves_convert_as_nibabel_does(tmp_path):
    path = os.path.join(NIBABEL_DATA, 'scaled+tlrc.HEAD')
    img = nv.load(path)
    with pytest.raises(NotImplementedError):
        img.to_filename(str(tmp_path / 'copy+orig.HEAD'))
    for ext in ('.nii', '.nii.gz', '.img'):
        ours, theirs = tmp_path / f'ours{ext}', tmp_path / f'theirs{ext}'
        nv.save(img, str(ours))
        nibabel.save(nibabel.load(path), str(theirs))
        a, b = nibabel.load(str(ours)), nibabel.load(str(theirs))
        assert type(a) is type(b)
        assert a.header.get_zooms() == b.header.get_zooms()
        assert_same_array(a.get_fdata(), b.get_fdata())
        np.testing.assert_array_equal(a.affine, b.affine)
    sliced, theirs = img.slicer[2:5, ::2], nibabel.load(path).slicer[2:5, ::2]
    assert sliced.shape == theirs.shape and sliced.header.get_zooms() == theirs.header.get_zooms()
    np.testing.assert_array_equal(sliced.affine, theirs.affine)
    assert_same_array(sliced.get_fdata(), theirs.get_fdata())


def test_cli_reads_and_converts_afni(tmp_path):
    path = os.path.join(NIBABEL_DATA, 'example4d+orig.HEAD')
    run = [sys.executable, '-m', 'neurovox']
    info = subprocess.run(run + ['info', path], capture_output=True, text=True, check=True)
    assert 'AFNIImage' in info.stdout and '[ 33,  41,  25,   3]' in info.stdout
    out = tmp_path / 'x.nii.gz'
    subprocess.run(run + ['convert', path, str(out)], capture_output=True, check=True)
    theirs = tmp_path / 'y.nii.gz'
    nibabel.save(nibabel.load(path), str(theirs))
    a, b = nibabel.load(str(out)), nibabel.load(str(theirs))
    assert_same_array(a.get_fdata(), b.get_fdata())
    np.testing.assert_array_equal(a.affine, b.affine)
    assert a.header.get_zooms() == b.header.get_zooms()
    stats = subprocess.run(run + ['stats', path], capture_output=True, text=True, check=True)
    assert 'voxels 101475' in stats.stdout
    one = tmp_path / 'one.nii.gz'
    subprocess.run(run + ['slice', path, '...,1', '-o', str(one)], capture_output=True,
                   check=True)
    sliced = nibabel.load(str(one))
    assert_same_array(sliced.get_fdata(), nibabel.load(path).get_fdata()[..., 1])
    # NIfTI keeps the affine in float32.
    np.testing.assert_allclose(sliced.affine, nibabel.load(path).affine, rtol=1e-7, atol=1e-5)
