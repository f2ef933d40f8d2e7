"""is_dirty for caches filled from the image's proxy: nothing is digested when get_fdata or
get_data fills a cache; when someone asks, the cache is compared with what the file reads now.

Every kind of fill is covered (float64 and float32 get_fdata, scaled and unscaled get_data,
memory-mapped and read caches, big-endian files, .nii.gz, complex data on the fallback path),
with edits at the first and the last voxel of arrays larger than one 4 MiB read piece, and
write-backs of the same values (NaN included), which leave the image clean.
"""

import pickle

import nibabel
import numpy as np
import pytest

import neurovox as nv

AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])
# 64*64*40*9 int16 = 2.8 MiB stored, 23.6 MiB as float64: several read pieces.
SHAPE = (64, 64, 40, 9)


def _write(tmp_path, name, data, slope=None, inter=None, big_endian=False):
    """Writes ``data`` with nibabel's header writer and opener (gzip by the suffix), with
    the scale factors as given (nibabel's save would recompute them)."""
    from nibabel.openers import Opener

    hdr = nibabel.Nifti1Header()
    hdr.set_data_shape(data.shape)
    hdr.set_data_dtype(data.dtype)
    hdr.set_sform(AFFINE, code=1)
    if slope is not None:
        hdr.set_slope_inter(slope, inter)
    if big_endian:
        hdr = hdr.as_byteswapped('>')
        data = data.astype(data.dtype.newbyteorder('>'))
    path = tmp_path / name
    with Opener(str(path), 'wb') as f:
        hdr.write_to(f)
        f.write(data.tobytes(order='F'))
    return path


def _volume(dtype, rng):
    data = rng.integers(-500, 500, size=SHAPE)
    return data.astype(dtype)


@pytest.mark.parametrize('suffix', ['.nii', '.nii.gz'])
@pytest.mark.parametrize('scaled', [False, True])
@pytest.mark.parametrize('fill', ['fdata64', 'fdata32', 'data'])
@pytest.mark.parametrize('mmap', [True, False])
def test_in_place_edits_of_a_cache_are_dirty_and_write_backs_clean(tmp_path, suffix, scaled,
                                                                     fill, mmap):
    rng = np.random.default_rng(3)
    path = _write(tmp_path, 'img' + suffix, _volume(np.int16, rng),
                  *((0.5, 10.0) if scaled else (None, None)))
    img = nv.load(path, mmap=mmap)
    if fill == 'fdata64':
        cache = img.get_fdata()
    elif fill == 'fdata32':
        cache = img.get_fdata(dtype=np.float32)
    else:
        cache = img.get_data()
    assert not img.is_dirty
    if not cache.flags.writeable:  # a read-only memory map cannot change in place
        return
    last = tuple(n - 1 for n in SHAPE)
    for where in [(0, 0, 0, 0), last]:
        old = cache[where]
        cache[where] = old + 1
        assert img.is_dirty, where
        assert 'cached data changed in place' in img.dirty_reasons()
        cache[where] = old
        assert not img.is_dirty, where


def test_big_endian_and_float_files(tmp_path):
    rng = np.random.default_rng(4)
    data = rng.normal(size=SHAPE).astype(np.float32)
    data[1, 2, 3, 4] = np.nan
    path = _write(tmp_path, 'be.nii', data, big_endian=True)
    assert nibabel.load(path).header.endianness == '>'
    for fill in ('get_fdata', 'get_data'):
        img = nv.load(path)
        cache = getattr(img, fill)()
        assert not img.is_dirty
        cache[1, 2, 3, 4] = np.nan  # the same NaN written back
        assert not img.is_dirty
        cache[5, 5, 5, 5] = -cache[5, 5, 5, 5]
        assert img.is_dirty


@pytest.mark.parametrize('slope', [None, 2.0])
def test_complex_data_is_compared_on_the_fallback_path(tmp_path, slope):
    # Scaled complex values have no piecewise comparison: they are read again whole.
    rng = np.random.default_rng(5)
    data = (rng.normal(size=(8, 8, 4)) + 1j * rng.normal(size=(8, 8, 4))).astype(np.complex64)
    path = _write(tmp_path, 'c.nii', data, slope, None if slope is None else 0.0)
    img = nv.load(path, mmap=False)
    cache = img.get_data()
    assert not img.is_dirty
    old = cache[0, 0, 0]
    cache[0, 0, 0] = old + 1j
    assert img.is_dirty
    cache[0, 0, 0] = old
    assert not img.is_dirty


def test_pickles_carry_changed_caches_only(tmp_path):
    rng = np.random.default_rng(6)
    path = _write(tmp_path, 'p.nii.gz', _volume(np.int16, rng), 0.5, 10.0)
    img = nv.load(path)
    cache = img.get_fdata()
    clean = pickle.loads(pickle.dumps(img))
    assert not clean.in_memory  # a clean image travels as its handle
    cache[3, 3, 3, 3] = 12345.0
    dirty = pickle.loads(pickle.dumps(img))
    assert dirty.in_memory and dirty.get_fdata()[3, 3, 3, 3] == 12345.0


def test_mark_clean_accepts_an_edited_cache(tmp_path):
    rng = np.random.default_rng(7)
    path = _write(tmp_path, 'm.nii', _volume(np.int16, rng))
    img = nv.load(path)
    cache = img.get_fdata()
    cache[0, 0, 0, 0] = -1e6
    assert img.is_dirty
    img.mark_clean()  # the edited cache is now the baseline (by digest)
    assert not img.is_dirty
    cache[0, 0, 0, 0] = 0.5
    assert img.is_dirty
