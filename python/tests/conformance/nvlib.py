"""Shared helpers of the conformance suite: which library module a test runs on, and where
nibabel keeps the names neurovox exports at its top level. (A module of its own, not conftest:
python/tests has a conftest.py too, and `from conftest import` would find either.)"""

import importlib
import os

import pytest

import nibabel


def _neurovox():
    try:
        return importlib.import_module('neurovox')
    except ImportError:
        if os.environ.get('NEUROVOX_REQUIRE_PACKAGE') == '1':
            raise
        pytest.skip('the neurovox Python package is not built')


# Where nibabel keeps the names neurovox exports at the top level.
NIBABEL_HOMES = {
    'ArrayProxy': 'nibabel.arrayproxy',
    'is_proxy': 'nibabel.arrayproxy',
    'reshape_dataobj': 'nibabel.arrayproxy',
    'get_obj_dtype': 'nibabel.arrayproxy',
    'MGHHeader': 'nibabel.freesurfer.mghformat',
    'ImageFileError': 'nibabel.filebasedimages',
    'HeaderDataError': 'nibabel.spatialimages',
    'FileHolder': 'nibabel.fileholders',
    'DataobjImage': 'nibabel.dataobj_images',
    'FileBasedHeader': 'nibabel.filebasedimages',
    'AFNIImage': 'nibabel.brikhead',
    'AFNIHeader': 'nibabel.brikhead',
    'PARRECImage': 'nibabel.parrec',
    'PARRECHeader': 'nibabel.parrec',
}


def api(lib, name):
    """`lib.name`, or for nibabel the module that defines it."""
    if hasattr(lib, name):
        return getattr(lib, name)
    if lib is nibabel and name in NIBABEL_HOMES:
        return getattr(importlib.import_module(NIBABEL_HOMES[name]), name)
    raise AttributeError(f'{lib.__name__} has no {name}')
