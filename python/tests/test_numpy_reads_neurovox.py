"""numpy reads the .npy, .npz and memmap files neurovox writes.

The Rust test ``crates/neurovox/tests/numpy_interop.rs`` (test
``neurovox_writes_files_for_numpy``) writes files of known contents into
``$NEUROVOX_NUMPY_ROUNDTRIP_DIR`` with a ``manifest.json`` in the numpy
oracle's style: for every file its path, numpy dtype string (byte order
included), shape, order, offset and the flat C-order ``values`` (floats may be
``"nan"``, ``"inf"``, ``"-inf"``; complex values are ``[re, im]``); for
``.npz`` archives the members in archive order.  This module checks each file
with numpy alone: ``np.load`` (in memory and with ``mmap_mode='r'``) and
``np.memmap``.

Without ``NEUROVOX_NUMPY_ROUNDTRIP_DIR`` the module is skipped; with it set
and no manifest there, the run fails (``scripts/test.sh`` runs the Rust test
first).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROUNDTRIP_DIR = os.environ.get('NEUROVOX_NUMPY_ROUNDTRIP_DIR')
if ROUNDTRIP_DIR is None:
    pytest.skip('NEUROVOX_NUMPY_ROUNDTRIP_DIR is not set (scripts/test.sh sets it)',
                allow_module_level=True)

ROOT = Path(ROUNDTRIP_DIR)
MANIFEST_PATH = ROOT / 'manifest.json'


def read_manifest():
    if not MANIFEST_PATH.is_file():
        return None
    with open(MANIFEST_PATH) as fobj:
        return json.load(fobj)


MANIFEST = read_manifest()


def manifest_entries(key):
    """(id, entry) pairs for pytest.mark.parametrize; none when the manifest is missing."""
    if MANIFEST is None:
        return []
    return [pytest.param(entry, id=entry['path']) for entry in MANIFEST[key]]


# ----------------------------------------------------------------------------
# Expected values


def json_float(value):
    if isinstance(value, str):
        return {'nan': math.nan, 'inf': math.inf, '-inf': -math.inf}[value]
    return float(value)


def json_scalar(value, kind):
    if kind == 'c':
        re, im = value
        return complex(json_float(re), json_float(im))
    if kind == 'f':
        return json_float(value)
    return int(value)


def expected_array(spec):
    """The array a manifest entry (or npz member) describes, in its dtype."""
    dtype = np.dtype(spec['dtype'])
    values = [json_scalar(v, dtype.kind) for v in spec['values']]
    return np.array(values, dtype=dtype).reshape(spec['shape'])


def assert_same_array(actual, spec):
    """Same dtype (byte order included), shape and values; NaN == NaN, -0.0 != 0.0."""
    expected = expected_array(spec)
    assert actual.dtype.str == spec['dtype']
    assert actual.shape == tuple(spec['shape'])
    np.testing.assert_array_equal(actual, expected, strict=True)
    if expected.dtype.kind in 'fc':
        # assert_array_equal treats -0.0 and 0.0 as equal; the sign of zero must survive too
        for part in (np.real, np.imag):
            np.testing.assert_array_equal(np.signbit(part(actual)), np.signbit(part(expected)))


def npy_fortran_order(path):
    """The fortran_order flag of a .npy file's header, as numpy reads it."""
    with open(path, 'rb') as fobj:
        version = np.lib.format.read_magic(fobj)
        assert version == (1, 0), f'neurovox writes format 1.0, not {version}'
        _, fortran_order, _ = np.lib.format.read_array_header_1_0(fobj)
    return fortran_order


# ----------------------------------------------------------------------------
# Tests


def test_manifest_lists_files():
    assert MANIFEST is not None, (
        f'NEUROVOX_NUMPY_ROUNDTRIP_DIR is set but {MANIFEST_PATH} is missing: '
        'run `cargo test -p neurovox --test numpy_interop` first')
    assert MANIFEST['writer'] == 'neurovox'
    for key in ('npy', 'npz', 'memmap'):
        assert MANIFEST[key], f'the manifest lists no {key} files'


@pytest.mark.parametrize('entry', manifest_entries('npy'))
def test_np_load_reads_npy(entry):
    path = ROOT / entry['path']
    assert npy_fortran_order(path) == entry['fortran_order']
    loaded = np.load(path)
    assert_same_array(loaded, entry)
    if entry['fortran_order']:
        assert loaded.flags.f_contiguous
    # byte for byte what np.save writes for the same array, header included
    buffer = io.BytesIO()
    np.save(buffer, loaded)
    assert buffer.getvalue() == path.read_bytes()


@pytest.mark.parametrize('entry', manifest_entries('npy'))
def test_np_load_maps_npy(entry):
    mapped = np.load(ROOT / entry['path'], mmap_mode='r')
    assert isinstance(mapped, np.memmap)
    assert_same_array(np.asarray(mapped), entry)


@pytest.mark.parametrize('entry', manifest_entries('npz'))
def test_np_load_reads_npz(entry):
    path = ROOT / entry['path']
    names = [member['name'] for member in entry['members']]
    expected_method = zipfile.ZIP_DEFLATED if entry['compressed'] else zipfile.ZIP_STORED
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None, 'a member fails its CRC check'
        for info in archive.infolist():
            assert info.compress_type == expected_method, info.filename
    with np.load(path) as archive:
        assert archive.files == names
        for member in entry['members']:
            assert_same_array(archive[member['name']], member)


@pytest.mark.parametrize('entry', manifest_entries('memmap'))
def test_np_memmap_reads_raw_files(entry):
    path = ROOT / entry['path']
    dtype = np.dtype(entry['dtype'])
    shape = tuple(entry['shape'])
    size = entry['offset'] + dtype.itemsize * math.prod(shape)
    assert path.stat().st_size == size
    mapped = np.memmap(path, dtype=dtype, mode='r', shape=shape, order=entry['order'],
                       offset=entry['offset'])
    assert_same_array(np.asarray(mapped), entry)
    # the bytes before the offset are left zero
    assert path.read_bytes()[:entry['offset']] == bytes(entry['offset'])
