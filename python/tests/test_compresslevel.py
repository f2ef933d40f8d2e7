"""``compresslevel`` on saves (issue 13; nibabel #382 asks for it): every level writes a file
that gzip, nibabel and neurovox read back equal, higher levels write smaller files, and a
level the codec does not have is a clear error that leaves no file behind."""

import gzip

import nibabel
import numpy as np
import pytest

import neurovox as nv


def _run():
    rng = np.random.default_rng(382)
    data = np.zeros((48, 40, 24, 6), np.int16)
    data[8:40, 6:34, 3:21] = rng.normal(700, 60, size=(32, 28, 18, 6)).astype(np.int16)
    return data


@pytest.mark.parametrize('how', ['save', 'to_filename', 'proxy'])
def test_levels_round_trip_and_trade_size_for_time(tmp_path, how):
    data = _run()
    source = tmp_path / 'source.nii'
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), source)
    sizes = {}
    for level in (0, 1, 6, 9, 12):
        path = tmp_path / f'level{level}.nii.gz'
        img = nv.load(source) if how == 'proxy' else nv.Nifti1Image(data, np.eye(4))
        if how == 'to_filename':
            img.to_filename(path, compresslevel=level)
        else:
            nv.save(img, path, compresslevel=level)
        sizes[level] = path.stat().st_size
        raw = gzip.decompress(path.read_bytes())  # any gzip reader
        assert len(raw) == 352 + data.nbytes
        assert np.array_equal(np.asarray(nibabel.load(path).dataobj), data)
        assert np.array_equal(np.asarray(nv.load(path).dataobj), data)
    assert sizes[0] > 352 + data.nbytes  # stored blocks
    # libdeflate's levels are not strictly ordered on noisy data (its level 1 uses another
    # match finder and can beat 2-9), but 12 is the smallest and 0 the largest.
    assert sizes[0] > max(sizes[level] for level in (1, 6, 9)) >= sizes[12]
    assert sizes[12] <= min(sizes[level] for level in (1, 6, 9))


def test_other_codecs_and_plain_files(tmp_path):
    data = _run()
    img = nv.Nifti1Image(data, np.eye(4))
    for name, level in [('run.nii.bz2', 1), ('run.nii.zst', 19), ('run.nii', 5)]:
        nv.save(img, tmp_path / name, compresslevel=level)
        assert np.array_equal(np.asarray(nv.load(tmp_path / name).dataobj), data)


@pytest.mark.parametrize('name, level', [('bad.nii.gz', 13), ('bad.nii.bz2', 0),
                                         ('bad.nii.zst', 23)])
def test_a_level_the_codec_lacks_is_an_error_and_writes_nothing(tmp_path, name, level):
    img = nv.Nifti1Image(_run(), np.eye(4))
    with pytest.raises(ValueError, match=f'compression level {level} is outside'):
        nv.save(img, tmp_path / name, compresslevel=level)
    assert list(tmp_path.iterdir()) == []
