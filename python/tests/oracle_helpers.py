"""Shared helpers for the Python package's tests: nibabel is the oracle, at test time. (Not a
conftest.py: python/tests/conformance has one, and `from conftest import` would find either.)"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

nibabel = pytest.importorskip('nibabel')
from nibabel.testing import data_path as NIBABEL_DATA  # noqa: E402

IMAGE_SUFFIXES = ('.nii', '.nii.gz', '.hdr', '.hdr.gz', '.mgh', '.mgz')


def nibabel_data_files():
    """Every NIfTI, Analyze and MGH file shipped in the installed nibabel's tests/data."""
    files = []
    for name in sorted(os.listdir(NIBABEL_DATA)):
        if name.lower().endswith(IMAGE_SUFFIXES):
            files.append(Path(NIBABEL_DATA) / name)
    return files


def assert_same_array(ours, theirs):
    ours = np.asanyarray(ours)
    theirs = np.asanyarray(theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours, theirs)


def assert_same_header(ours, theirs):
    """Every field nibabel's header has, equal in value, dtype and shape."""
    assert list(ours.keys()) == list(theirs.keys())
    for key in theirs.keys():
        a, b = np.asarray(ours[key]), np.asarray(theirs[key])
        assert a.dtype == b.dtype, (key, a.dtype, b.dtype)
        assert a.shape == b.shape, key
        if b.dtype.kind == 'f':
            np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            assert np.array_equal(a, b), (key, a, b)
    assert ours.get_data_shape() == theirs.get_data_shape()
    assert ours.get_data_dtype() == theirs.get_data_dtype()
    np.testing.assert_array_equal(ours.get_zooms(), theirs.get_zooms())
    np.testing.assert_array_equal(ours.get_best_affine(), theirs.get_best_affine())
