"""``neurovox convert X.PAR out.nii`` against nibabel's ``parrec2nii``, the oracle run at test
time on the same files with the same options: the NIfTI written (every header field, the
stored values and their type) and the files beside it (``.bvals``, ``.bvecs``,
``.ordering.csv``, ``.dwell_time``).

The recordings are nibabel's three with a ``.REC``, and nibabel's DTI, diffusion-sorting and
multi-echo ``.PAR`` files with a ``.REC`` written here (the values do not matter to the
headers, so they are a counter), which exercise the volume sorting, the b vectors turned
with the axes and the dropped DTI trace volumes. The one difference allowed is ``descrip``:
nibabel means to copy the ``.PAR``'s description but never does (docs/compat.md, PAR/REC).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import numpy as np
import pytest

from oracle_helpers import NIBABEL_DATA

nv = pytest.importorskip('neurovox')
nibabel = pytest.importorskip('nibabel')


def _tool(name):
    return str(Path(sysconfig.get_path('scripts')) / name)


RECORDINGS = ['phantom_EPI_asc_CLEAR_2_1', 'phantom_varscale', 'phantom_truncated']
#: .PAR files given a .REC here: DTI (trace volume, b vectors), V4 DTI (no vectors), ASL
#: with echoes (strict sorting), the multi-echo sagittal T1 (another orientation).
SYNTHETIC = ['DTI', 'DTIv40', 'ASL_3D_Multiecho', 'T1_3echo_mag_real_imag_phase']
OPTIONS = [
    [],
    ['--scaling', 'fp'],
    ['--scaling', 'off'],
    ['--strict-sort'],
    ['--origin', 'fov'],
    ['--minmax', '1.5', 'parse'],
    ['--keep-trace'],
]


def _with_rec(tmp_path, stem):
    """nibabel's .PAR with a .REC of counting uint16 values, in `tmp_path`."""
    par = tmp_path / f'{stem}.PAR'
    shutil.copy(os.path.join(NIBABEL_DATA, f'{stem}.PAR'), par)
    with open(par) as f:
        hdr = nibabel.parrec.PARRECHeader.from_fileobj(f, permit_truncated=True)
    nx, ny, n = hdr.get_rec_shape()
    bits = int(hdr.image_defs['image pixel size'][0])
    dtype = np.uint8 if bits == 8 else np.uint16
    values = (np.arange(nx * ny * n) * 7919 % 4093).astype(dtype)
    values.tofile(tmp_path / f'{stem}.REC')
    return par


def _run_both(tmp_path, par, options):
    ours_dir, theirs_dir = tmp_path / 'ours', tmp_path / 'theirs'
    for d in (ours_dir, theirs_dir):
        d.mkdir(exist_ok=True)
    stem = Path(par).stem
    theirs = subprocess.run([_tool('parrec2nii'), '--overwrite', '-o', str(theirs_dir),
                             *options, str(par)], capture_output=True, text=True, timeout=300)
    ours = subprocess.run([_tool('neurovox'), 'convert', str(par),
                           str(ours_dir / f'{stem}.nii'), *options],
                          capture_output=True, text=True, timeout=300)
    return ours, theirs, ours_dir / stem, theirs_dir / stem


def _raw_header(path):
    """The header as stored (a loaded image's header has its scaling consumed)."""
    with nibabel.openers.ImageOpener(str(path), 'rb') as f:
        return nibabel.Nifti1Header.from_fileobj(f)


def _descrip(par):
    """What the .PAR's as_analyze_map says the description is."""
    with open(par) as f, warnings.catch_warnings():
        warnings.simplefilter('ignore')
        hdr = nibabel.parrec.PARRECHeader.from_fileobj(f, permit_truncated=True)
    return hdr.as_analyze_map()['descr'].encode()[:80]


def _assert_same_nifti(ours, theirs, par):
    a, b = _raw_header(ours), _raw_header(theirs)
    for key in a.keys():
        if key == 'descrip':
            continue
        x, y = a[key], b[key]
        if key.startswith('quatern') or key.startswith('qoffset'):
            # nibabel's quaternion carries rounding noise (1e-16) where ours is exact.
            np.testing.assert_allclose(x, y, atol=1e-6, err_msg=key)
        else:
            np.testing.assert_array_equal(x, y, err_msg=key)
    assert b['descrip'] == b''
    assert a['descrip'] == _descrip(par)
    ia, ib = nibabel.load(str(ours)), nibabel.load(str(theirs))
    assert ia.get_data_dtype() == ib.get_data_dtype()
    np.testing.assert_array_equal(np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj))
    np.testing.assert_array_equal(ia.get_fdata(), ib.get_fdata())
    assert [(e.get_code(), e.get_content()) for e in ia.header.extensions] == \
        [(e.get_code(), e.get_content()) for e in ib.header.extensions]


def _recording_cases():
    """Every option on the recording whose slices have different factors (each scaling case
    of parrec2nii), the defaults and one scaling on the other two."""
    for options in OPTIONS:
        yield pytest.param('phantom_varscale', options,
                           id='phantom_varscale-' + ('_'.join(options) or 'default'))
    for stem in ('phantom_EPI_asc_CLEAR_2_1', 'phantom_truncated'):
        for options in (OPTIONS[0], OPTIONS[1]):
            yield pytest.param(stem, options, id=f"{stem}-{'_'.join(options) or 'default'}")


@pytest.mark.parametrize('stem, options', list(_recording_cases()))
def test_convert_writes_what_parrec2nii_writes(tmp_path, stem, options):
    par = tmp_path / f'{stem}.PAR'
    for ext in ('.PAR', '.REC'):
        shutil.copy(os.path.join(NIBABEL_DATA, stem + ext), tmp_path / (stem + ext))
    if stem == 'phantom_truncated':
        options = [*options, '--permit-truncated']
    ours, theirs, ours_stem, theirs_stem = _run_both(tmp_path, par, options)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.startswith(f'{ours_stem}.nii: NIfTI-1 ')
    _assert_same_nifti(f'{ours_stem}.nii', f'{theirs_stem}.nii', par)


def _side_file_cases():
    """The DTI recording (trace volume, b vectors turned with the axes) under each sorting
    and trace option; the others with the defaults and strict sorting."""
    for options in ([], ['--strict-sort'], ['--keep-trace'], ['--scaling', 'fp', '--strict-sort']):
        yield pytest.param('DTI', options, id='DTI-' + ('_'.join(options) or 'default'))
    for stem in SYNTHETIC[1:]:
        for options in ([], ['--strict-sort']):
            yield pytest.param(stem, options, id=f"{stem}-{'_'.join(options) or 'default'}")


@pytest.mark.parametrize('stem, options', list(_side_file_cases()))
def test_side_files_are_parrec2niis(tmp_path, stem, options):
    par = _with_rec(tmp_path, stem)
    options = [*options, '--bvs', '--volume-info', '--dwell-time', '--field-strength', '3',
               '--store-header', '--permit-truncated']
    ours, theirs, ours_stem, theirs_stem = _run_both(tmp_path, par, options)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    _assert_same_nifti(f'{ours_stem}.nii', f'{theirs_stem}.nii', par)
    for suffix in ('.bvals', '.bvecs', '.ordering.csv', '.dwell_time'):
        mine, their = Path(f'{ours_stem}{suffix}'), Path(f'{theirs_stem}{suffix}')
        assert mine.exists() == their.exists(), suffix
        if their.exists():
            assert mine.read_bytes() == their.read_bytes(), suffix


def test_gzip_output_and_errors(tmp_path):
    stem = 'phantom_varscale'
    for ext in ('.PAR', '.REC'):
        shutil.copy(os.path.join(NIBABEL_DATA, stem + ext), tmp_path / (stem + ext))
    par = tmp_path / f'{stem}.PAR'
    ours, theirs, ours_stem, theirs_stem = _run_both(tmp_path, par, [])
    out = tmp_path / 'x.nii.gz'
    run = subprocess.run([_tool('neurovox'), 'convert', str(par), str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    _assert_same_nifti(str(out), f'{theirs_stem}.nii', par)
    # A truncated recording needs the option, as in parrec2nii.
    for ext in ('.PAR', '.REC'):
        shutil.copy(os.path.join(NIBABEL_DATA, 'phantom_truncated' + ext), tmp_path)
    run = subprocess.run([_tool('neurovox'), 'convert', str(tmp_path / 'phantom_truncated.PAR'),
                          str(tmp_path / 't.nii')], capture_output=True, text=True, timeout=300)
    assert run.returncode == 1
    assert 'permit_truncated' in run.stderr and 'phantom_truncated.PAR' in run.stderr
    # PAR/REC options on another format are refused, naming the file.
    nv.save(nv.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.eye(4)), str(tmp_path / 'n.nii'))
    run = subprocess.run([_tool('neurovox'), 'convert', str(tmp_path / 'n.nii'),
                          str(tmp_path / 'm.nii'), '--strict-sort'],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and 'PAR/REC input' in run.stderr
    # --dwell-time needs the field strength, as parrec2nii says.
    run = subprocess.run([_tool('neurovox'), 'convert', str(par), str(tmp_path / 'd.nii'),
                          '--dwell-time'], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and 'field-strength' in run.stderr


def test_the_library_conversion_from_python_matches(tmp_path):
    """``neurovox.save`` of a loaded recording (nibabel's ``nib.save``): the image as loaded,
    not reoriented (parrec2nii's reorientation is the command's)."""
    par = os.path.join(NIBABEL_DATA, 'phantom_varscale.PAR')
    nv.save(nv.load(par, scaling='fp'), str(tmp_path / 'a.nii'))
    nibabel.save(nibabel.load(par, scaling='fp'), str(tmp_path / 'b.nii'))
    a, b = nibabel.load(str(tmp_path / 'a.nii')), nibabel.load(str(tmp_path / 'b.nii'))
    np.testing.assert_array_equal(a.affine, b.affine)
    np.testing.assert_array_equal(a.get_fdata(), b.get_fdata())
    assert sys.platform  # the files above are the assertion's subject
