"""Damaged ``.nii.gz`` files: a full read never returns values other than the file's.

One flipped bit in the compressed data of a ``.nii.gz`` makes Python's gzip (and so nibabel)
raise; neurovox checks each gzip member's CRC32 and ISIZE on every read that reaches the end
of the data, so the same damage is an error naming the file, never silently different voxels
(issue 13). Files are written by nibabel (Python's zlib, level 1) and by neurovox (its own
indexed members) at test time.
"""

import random

import nibabel
import numpy as np
import pytest

import neurovox as nv


def _volume():
    rng = np.random.default_rng(13)
    data = np.zeros((40, 36, 18, 8), np.int16)
    data[6:34, 5:31, 2:16] = rng.normal(600, 150, size=(28, 26, 14, 8)).astype(np.int16)
    return data


def _flips(raw, count, seed):
    """(position, bit) pairs spread over the compressed bytes after the gzip header."""
    rnd = random.Random(seed)
    return [(rnd.randrange(20, len(raw)), rnd.randrange(8)) for _ in range(count)]


def _reads():
    return {
        "get_fdata": lambda img: img.get_fdata(),
        "get_fdata float32": lambda img: img.get_fdata(dtype=np.float32),
        "asarray(dataobj)": lambda img: np.asarray(img.dataobj),
        "dataobj[...]": lambda img: img.dataobj[...],
    }


@pytest.mark.parametrize("writer", ["nibabel", "neurovox"])
def test_a_flipped_bit_never_reads_as_other_values(tmp_path, writer):
    data = _volume()
    good = tmp_path / "good.nii.gz"
    if writer == "nibabel":
        nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), good)
    else:
        nv.save(nv.Nifti1Image(data, np.eye(4)), good)
    raw = good.read_bytes()
    bad = tmp_path / "damaged.nii.gz"
    errors = 0
    for pos, bit in _flips(raw, 60, seed=len(raw)):
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << bit
        bad.write_bytes(bytes(damaged))
        for name, read in _reads().items():
            try:
                img = nv.load(bad)
                values = read(img)
            except Exception as e:  # noqa: BLE001 - any clean error is the point
                assert "damaged.nii.gz" in str(e), f"{name}: {e}"
                errors += 1
                continue
            assert np.array_equal(np.asarray(values), data.astype(np.asarray(values).dtype)), (
                f"{writer}-written file, bit {bit} of byte {pos} flipped: {name} read "
                "different values without an error"
            )
    # Most flips must be noticed (a few land in bytes that change nothing, such as the
    # gzip header's MTIME or padding bits of a stored block).
    assert errors >= 0.8 * 60 * len(_reads())


def test_the_first_failure_sticks_to_the_image(tmp_path):
    data = _volume()
    path = tmp_path / "crc.nii.gz"
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    raw = bytearray(path.read_bytes())
    raw[-6] ^= 0x01  # the CRC32 in the trailer: the deflate data itself is intact
    path.write_bytes(bytes(raw))
    img = nv.load(path)
    assert np.array_equal(img.dataobj[..., 0], data[..., 0])  # not checkable: served
    with pytest.raises(Exception, match="CRC32 mismatch"):
        img.get_fdata()
    # Once the check has failed, bytes read before it are not trusted either.
    with pytest.raises(Exception, match="CRC32 mismatch"):
        img.dataobj[..., 0]


def _cli():
    """The neurovox command built by the Rust tests (scripts/test.sh runs them first)."""
    import os
    import pathlib
    root = pathlib.Path(__file__).resolve().parents[2]
    for profile in ('release', 'debug'):
        exe = root / 'target' / profile / 'neurovox'
        if exe.exists():
            return exe
    if os.environ.get('NEUROVOX_REQUIRE_PACKAGE'):
        pytest.fail('the neurovox command is not built')
    pytest.skip('the neurovox command is not built')


def test_recompressed_and_indexed_files_read_equal_with_nibabel_and_neurovox(tmp_path):
    """`neurovox recompress` keeps every byte of a nibabel-written file (nibabel, gzip and
    neurovox read it equal); `neurovox index` writes a sidecar that a load uses, and a full
    read through it equals nibabel's."""
    import gzip
    import subprocess
    exe = _cli()
    data = _volume()
    for name in ('recompressed.nii.gz', 'indexed.nii.gz'):
        nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / name)
    original = gzip.decompress((tmp_path / 'recompressed.nii.gz').read_bytes())
    subprocess.run([exe, 'recompress', tmp_path / 'recompressed.nii.gz'], check=True)
    subprocess.run([exe, 'index', tmp_path / 'indexed.nii.gz'], check=True)
    assert (tmp_path / 'indexed.nii.gz.nvgzidx').exists()
    assert gzip.decompress((tmp_path / 'recompressed.nii.gz').read_bytes()) == original
    for name in ('recompressed.nii.gz', 'indexed.nii.gz'):
        path = tmp_path / name
        assert np.array_equal(np.asarray(nibabel.load(path).dataobj), data)
        assert np.array_equal(np.asarray(nv.load(path).dataobj), data)
        assert np.array_equal(nv.load(path).dataobj[..., 5], data[..., 5])
        assert np.array_equal(nv.load(path).get_fdata(), data)


def test_indexes_move_both_ways_between_neurovox_and_indexed_gzip(tmp_path):
    """`neurovox index --gzidx` writes an index indexed_gzip imports and reads through (it
    does not check CRCs after an import, so wrong windows would show as wrong bytes), and
    `--from-gzidx` takes indexed_gzip's export, checks it by one read, and loads use it; an
    index of another file is refused and nothing is stored."""
    import gzip
    import subprocess
    import indexed_gzip
    exe = _cli()
    rng = np.random.default_rng(1058)
    runs = {}
    for name, volumes in (('a.nii.gz', 30), ('b.nii.gz', 26)):
        data = np.zeros((64, 64, 40, volumes), np.int16)
        data[8:56, 8:56, 4:36] = rng.normal(500, 90, size=(48, 48, 32, volumes)).astype(np.int16)
        nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), tmp_path / name)
        runs[name] = (tmp_path / name, data, gzip.decompress((tmp_path / name).read_bytes()))

    # neurovox -> indexed_gzip
    path, data, raw = runs['a.nii.gz']
    export = tmp_path / 'a.gzidx'
    subprocess.run([exe, 'index', path, '--gzidx', export], check=True)
    with indexed_gzip.IndexedGzipFile(str(path), index_file=str(export)) as f:
        assert len(list(f.seek_points())) > 5
        for at in (len(raw) - 5000, len(raw) // 2, 123_456):
            f.seek(at)
            assert f.read(5000) == raw[at:at + 5000]

    # indexed_gzip -> neurovox
    path, data, raw = runs['b.nii.gz']
    theirs = tmp_path / 'b.gzidx'
    with indexed_gzip.IndexedGzipFile(str(path), spacing=1 << 20) as f:
        f.build_full_index()
        f.export_index(str(theirs))
    subprocess.run([exe, 'index', path, '--from-gzidx', theirs], check=True)
    assert (tmp_path / 'b.nii.gz.nvgzidx').exists()
    assert np.array_equal(nv.load(path).dataobj[..., 20], data[..., 20])
    assert np.array_equal(np.asarray(nv.load(path).dataobj), data)

    # Another file's index is refused, and no sidecar is left.
    (tmp_path / 'b.nii.gz.nvgzidx').unlink()
    wrong = subprocess.run([exe, 'index', path, '--from-gzidx', export], capture_output=True,
                           text=True)
    assert wrong.returncode == 1
    assert 'b.nii.gz' in wrong.stderr or 'a.gzidx' in wrong.stderr, wrong.stderr
    assert not (tmp_path / 'b.nii.gz.nvgzidx').exists()
