"""nibabel's DataobjImage tests (nibabel/tests/test_dataobj_images.py), ported
(docs/nibabel-rules.md §18).

A minimal image stored as `.npy`, subclassing `lib.DataobjImage`, goes through the generic
image validators and the data-interface validators of test_image_api: the caching,
`in_memory` and `mmap` contracts belong to DataobjImage itself, not to images with affines.
"""

from itertools import product

import numpy as np
import pytest

from nvlib import api
from test_image_api import (
    validate_data_interface,
    validate_dtype,
    validate_filenames,
    validate_get_data,
    validate_header,
    validate_mmap_parameter,
    validate_ndim,
    validate_no_slicing,
    validate_shape,
)


def do_numpy_image_class(lib):
    class DoNumpyImage(api(lib, 'DataobjImage')):
        header_class = api(lib, 'FileBasedHeader')
        valid_exts = ('.npy',)
        files_types = (('image', '.npy'),)

        @classmethod
        def from_file_map(klass, file_map, mmap=True, keep_file_open=None):
            if mmap not in (True, False, 'c', 'r'):
                raise ValueError("mmap should be one of {True, False, 'c', 'r'}")
            with file_map['image'].get_prepare_fileobj('rb') as fobj:
                arr = np.load(fobj)
            return klass(arr)

        def to_file_map(self, file_map=None):
            file_map = self.file_map if file_map is None else file_map
            with file_map['image'].get_prepare_fileobj('wb') as fobj:
                np.save(fobj, self.dataobj)

        def get_data_dtype(self):
            return self.dataobj.dtype

        def set_data_dtype(self, dtype):
            self._dataobj = self._dataobj.astype(dtype)

    return DoNumpyImage


FLAGS = dict(has_scaling=False, ext='.npy')
VALIDATORS = [
    validate_header,
    validate_filenames,
    validate_no_slicing,
    validate_get_data,
    validate_dtype,
    validate_data_interface,
    validate_shape,
    validate_ndim,
    validate_mmap_parameter,
]


@pytest.mark.parametrize('validator', VALIDATORS, ids=lambda f: f.__name__)
def test_dataobj_api(lib, validator, tmp_path):
    klass = do_numpy_image_class(lib)
    count = 0
    shapes = ((2,), (2, 3), (2, 3, 4), (2, 3, 4, 5))
    for n, (shape, dtype) in enumerate(product(shapes, (np.int8, np.uint16, np.int32, np.float32))):
        arr = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
        hdr = klass.header_class()
        params = dict(dtype=dtype, data=arr, shape=shape, is_proxy=False)
        case_dir = tmp_path / str(n)
        case_dir.mkdir()
        validator(lib, FLAGS, lambda arr=arr.copy(), hdr=hdr: klass(arr, hdr), params, case_dir)
        count += 1
    assert count == 16
