"""Whole reads of a ``.nii.gz`` inflated in one call (issue 13, item 1).

``np.asarray(img.dataobj)``, and ``get_fdata(dtype=...)`` of the stored float type, inflate a
file another tool wrote in one libdeflate call into an array allocated with the header's bytes
of room before it (``neurovox::io::gzip``, "Whole reads in one call"). The array must be an
ordinary numpy array in every way a user can see — values, dtype, memory order, alignment,
writeable, picklable — and random access afterwards must still work. Files are written by
nibabel at test time; nibabel reads them for the expected values.
"""

import gzip
import pickle

import nibabel
import numpy as np
import pytest

import neurovox as nv


def _scan(dtype, shape):
    rng = np.random.default_rng(7)
    data = np.zeros(shape, dtype)
    inner = tuple(slice(n // 6, n - n // 6) for n in shape[:3])
    data[inner] = rng.normal(500, 120, size=data[inner].shape).astype(dtype)
    return data


@pytest.mark.parametrize(
    "dtype, shape, extension",
    [
        (np.int16, (48, 40, 24, 12), False),
        (np.float32, (64, 60, 44), False),
        (np.float64, (30, 28, 20, 3), False),
        (np.uint8, (50, 50, 50), False),
        # An extension moves the data to a larger offset (more room before it).
        (np.int16, (48, 40, 24, 12), True),
    ],
)
def test_a_whole_read_is_an_ordinary_array_equal_to_nibabels(tmp_path, dtype, shape, extension):
    path = tmp_path / "scan.nii.gz"
    img = nibabel.Nifti1Image(_scan(dtype, shape), np.diag([2.0, 2.0, 2.5, 1.0]))
    if extension:
        img.header.extensions.append(nibabel.nifti1.Nifti1Extension(40, b"x" * 1000))
    nibabel.save(img, path)
    expected = np.asarray(nibabel.load(path).dataobj)

    got = np.asarray(nv.load(path).dataobj)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.flags.f_contiguous and got.flags.aligned and got.flags.writeable
    assert got.ctypes.data % 16 == 0
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(got)), expected)

    if np.issubdtype(dtype, np.floating):
        fdata = nv.load(path).get_fdata(dtype=dtype)
        assert fdata.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(fdata, nibabel.load(path).get_fdata(dtype=dtype))


def test_a_pair_image_file_read_whole_is_equal_to_nibabels(tmp_path):
    # The .img.gz of a pair starts with the data: the one call needs no room.
    path = tmp_path / "pair.img.gz"
    nibabel.save(nibabel.Nifti1Pair(_scan(np.int16, (40, 36, 20, 6)), np.eye(4)), path)
    expected = np.asarray(nibabel.load(path).dataobj)
    got = np.asarray(nv.load(path).dataobj)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_random_access_after_a_whole_read(tmp_path):
    path = tmp_path / "run.nii.gz"
    data = _scan(np.int16, (40, 36, 20, 30))
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    img = nv.load(path)
    whole = np.asarray(img.dataobj)
    np.testing.assert_array_equal(whole, data)
    # The one call recorded no checkpoints; the first pass runs for these.
    np.testing.assert_array_equal(img.dataobj[..., 25], data[..., 25])
    np.testing.assert_array_equal(img.dataobj[20, 18], data[20, 18])
    np.testing.assert_array_equal(img.dataobj[..., 3], data[..., 3])


def test_a_changed_whole_read_cache_makes_the_image_dirty(tmp_path):
    path = tmp_path / "anat.nii.gz"
    data = _scan(np.float32, (40, 40, 30))
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), path)
    img = nv.load(path)
    values = img.get_fdata(dtype=np.float32)
    np.testing.assert_array_equal(values, data)
    assert not img.is_dirty
    values[20, 20, 15] += 1
    assert img.is_dirty


@pytest.mark.parametrize("dtype, volumes", [(np.int16, 24), (np.float32, 12)])
def test_a_large_file_split_across_cores_reads_as_nibabel_does(tmp_path, dtype, volumes):
    # At least 4 MiB compressed: a whole read inflates the one stream in chunks on every core
    # (neurovox::io::gzip, module parallel_inflate); the values must be nibabel's.
    path = tmp_path / "large.nii.gz"
    nibabel.save(nibabel.Nifti1Image(_scan(dtype, (96, 96, 50, volumes)), np.eye(4)), path)
    assert path.stat().st_size >= 4 << 20
    expected = np.asarray(nibabel.load(path).dataobj)
    np.testing.assert_array_equal(np.asarray(nv.load(path).dataobj), expected)
    if dtype == np.float32:
        got = nv.load(path).get_fdata(dtype=np.float32)
        np.testing.assert_array_equal(got, expected)

    # Damage anywhere in the stream is an error naming the file, never other values.
    raw = path.read_bytes()
    bad = tmp_path / "damaged.nii.gz"
    rng = np.random.default_rng(3)
    for pos in rng.integers(len(raw) // 10, len(raw) - 8, size=6):
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << int(rng.integers(8))
        bad.write_bytes(bytes(damaged))
        try:
            values = np.asarray(nv.load(bad).dataobj)
        except Exception as e:  # noqa: BLE001 - any clean error is the point
            assert "damaged.nii.gz" in str(e)
            continue
        np.testing.assert_array_equal(values, expected)


@pytest.mark.parametrize(
    "dtype, volumes, endianness, scaled",
    [
        (np.int16, 24, "<", False),
        (np.int16, 24, "<", True),
        (np.int16, 24, ">", False),
        (np.uint8, 40, "<", False),
        (np.float32, 12, "<", False),
    ],
)
def test_get_fdata_of_a_large_file_is_converted_in_place_as_nibabel_does(
    tmp_path, dtype, volumes, endianness, scaled
):
    # A whole read of at least 4 MiB compressed inflates on every core into the back of the
    # float array, which is then converted in place front to back (neurovox::array::plan,
    # read_then_convert_in_place); the block boundaries the cores passed become the gzip
    # index, so later partial reads start near their bytes. Values, byte order and scaling
    # must be nibabel's throughout.
    header = nibabel.Nifti1Header(endianness=endianness)
    header.set_data_dtype(dtype)
    img = nibabel.Nifti1Image(_scan(dtype, (96, 96, 50, volumes)), np.eye(4), header=header)
    plain = tmp_path / "scan.nii"
    nibabel.save(img, plain)
    raw = bytearray(plain.read_bytes())
    if scaled:
        # scl_slope and scl_inter as another tool would set them, without rescaling the data.
        raw[112:120] = np.array([0.5, 10.0], dtype=endianness + "f4").tobytes()
    plain.write_bytes(bytes(raw))
    path = tmp_path / "scan.nii.gz"
    path.write_bytes(gzip.compress(bytes(raw), compresslevel=6))
    assert path.stat().st_size >= 4 << 20
    # nibabel reads the same bytes uncompressed (a memory map: quicker than inflating).
    reference = nibabel.load(plain)
    assert reference.header.get_data_dtype().byteorder in ("=", "|", endianness)
    assert reference.dataobj.slope == (0.5 if scaled else 1.0)

    img = nv.load(path)
    for want in (np.float64, np.float32):
        got = nv.load(path).get_fdata(dtype=want)
        assert got.dtype == np.dtype(want)
        # np.array_equal: exact, and ~20x quicker than assert_array_equal on 150 MB arrays.
        assert np.array_equal(got, reference.get_fdata(dtype=want)), want
    values = img.get_fdata()
    assert np.array_equal(values, reference.get_fdata())
    assert not img.is_dirty
    for t in (volumes - 1, volumes // 2, 1):
        np.testing.assert_array_equal(img.dataobj[..., t], reference.dataobj[..., t])
    np.testing.assert_array_equal(img.dataobj[50, 40], reference.dataobj[50, 40])
