"""nibabel reads the images neurovox saved as the original nibabel-written images.

`crates/neurovox/tests/save_roundtrip.rs` re-saves part of the nibabel oracle matrix with
neurovox into $NEUROVOX_SAVE_ROUNDTRIP_DIR and lists each file with the path of nibabel's own
array for the original (`np.asanyarray(img.dataobj)`) and its affine. Here nibabel loads each
re-saved file and must find the same values and the same affine.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import nibabel as nib

ROUNDTRIP = os.environ.get('NEUROVOX_SAVE_ROUNDTRIP_DIR')
if ROUNDTRIP is None:
    pytest.skip('NEUROVOX_SAVE_ROUNDTRIP_DIR is not set', allow_module_level=True)

MANIFEST = Path(ROUNDTRIP) / 'manifest.json'
ENTRIES = json.loads(MANIFEST.read_text())['files'] if MANIFEST.exists() else []


def test_manifest_exists():
    assert MANIFEST.exists(), f'{MANIFEST} missing: the Rust save test did not run'
    assert len(ENTRIES) > 3000


def file_header(img):
    """The header as stored in the file (the image's own has its offset and scaling reset)."""
    holder = 'header' if 'header' in img.file_map else 'image'
    with img.file_map[holder].get_prepare_fileobj(mode='rb') as f:
        return img.header_class.from_fileobj(f)


@pytest.mark.parametrize('entry', ENTRIES, ids=[e['path'] for e in ENTRIES])
def test_nibabel_reads_the_saved_file(entry):
    klass = getattr(nib, entry['class'])
    img = klass.from_filename(str(Path(ROUNDTRIP) / entry['path']))
    np.testing.assert_array_equal(img.affine, np.array(entry['affine']))
    original = klass.from_filename(entry['original'])
    ours, theirs = file_header(img), file_header(original)
    # vox_offset: neurovox writes the data right after the header and extensions, as nibabel
    # does for a new save; the corner fixture with an explicit offset of 1024 moves.
    for field in theirs.keys():
        if field != 'vox_offset':
            np.testing.assert_array_equal(ours[field], theirs[field], err_msg=field)
    if hasattr(theirs, 'extensions'):
        assert [(e.get_code(), e.get_content()) for e in ours.extensions] == [
            (e.get_code(), e.get_content()) for e in theirs.extensions
        ]
    if entry['dataobj_npy'] is None:  # RGB: compare the raw fields
        return
    want = np.load(entry['dataobj_npy'])
    got = np.asanyarray(img.dataobj)
    assert got.shape == want.shape
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)
