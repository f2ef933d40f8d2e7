"""Issue 14's reproducers: tiny `.nii.gz` files whose headers claim enormous shapes must give
a clean error naming the file, never an abort from reserving memory for the claim before the
data shows it is there. Each runs in a child process under a 4 GB address-space limit, so an
abort fails the test instead of the test run."""

import base64
import resource
import subprocess
import sys

import pytest

# 70 bytes: a header whose dimensions put `dataobj[:, 0:2]` at ~17 GB of segments.
SLICE_ABORT = ('H4sIALkrFGsC/4thZCAKsDAwMfyvB0FGBhBEA4wcYKrBHj/e4MzAcKAeggcDYMIjB3IvuWIMDHnahlhNBQBJ'
               'UmjacAEAAA==')
# 77 bytes: a header claiming about 10^18 volumes.
MANY_VOLUMES = ('H4sICD8lFGsAA21hbnl2b2xzLm5paQCLYWQgCrAzMIHh/3oIRJVlYuAA0w32+PEGZwg9WAATHjls7iRWj'
                'IEhT9sQxU0AVz81oWgBAAA=')


def _limit():
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def _run(args, cwd):
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60,
                          preexec_fn=_limit)


@pytest.mark.parametrize('name, payload, code', [
    ('p.nii.gz', SLICE_ABORT, 'img.dataobj[:, 0:2]'),
    ('p.nii.gz', SLICE_ABORT, 'img.get_fdata()'),
    ('many.nii.gz', MANY_VOLUMES, 'img.dataobj[..., 0]'),
    ('many.nii.gz', MANY_VOLUMES, 'img.get_fdata()'),
])
def test_python_reads_raise_instead_of_aborting(tmp_path, name, payload, code):
    (tmp_path / name).write_bytes(base64.b64decode(payload))
    script = (
        'import neurovox as nv\n'
        f'img = nv.load({name!r})\n'
        'try:\n'
        f'    {code}\n'
        'except Exception as e:\n'
        '    print(type(e).__name__, e)\n'
        'else:\n'
        '    print("read")\n'
    )
    done = _run([sys.executable, '-c', script], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert name in done.stdout, done.stdout


def test_cli_commands_fail_cleanly(tmp_path):
    from test_gzip_integrity import _cli
    exe = _cli()
    (tmp_path / 'p.nii.gz').write_bytes(base64.b64decode(SLICE_ABORT))
    (tmp_path / 'many.nii.gz').write_bytes(base64.b64decode(MANY_VOLUMES))
    for args in ([exe, 'slice', 'p.nii.gz', ':, 0:2', '-o', 'out.nii'],
                 [exe, 'stats', 'many.nii.gz'], [exe, 'stats', 'p.nii.gz'],
                 [exe, 'convert', 'many.nii.gz', 'out.nii']):
        done = _run(args, tmp_path)
        assert done.returncode == 1, (args, done.returncode, done.stderr[-2000:])
        assert args[2] in done.stderr, done.stderr
        assert 'panicked' not in done.stderr


def test_an_affine_without_a_qform_still_converts_and_slices(tmp_path):
    """Issue 14 item 11: a NaN sform (the data is fine) used to fail `convert` and `slice`
    with an error against `qform_code`. The sform is kept as it is and the qform, which the
    affine cannot be decomposed into, left unset (code 0)."""
    import nibabel as nib
    import numpy as np
    from test_gzip_integrity import _cli
    import neurovox as nv
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header['srow_x'] = [np.nan, 0, 0, 0]
    img.header['sform_code'] = 1
    nib.save(nib.Nifti1Image(data, None, img.header), tmp_path / 'nan.nii')
    exe = _cli()
    for args, out in ((['convert', 'nan.nii', 'c.nii.gz'], 'c.nii.gz'),
                      (['convert', 'nan.nii', 'c.img'], 'c.img'),
                      (['slice', 'nan.nii', '1', '-o', 's.nii'], 's.nii')):
        done = _run([exe, *args], tmp_path)
        assert done.returncode == 0, (args, done.stderr)
        back = nib.load(tmp_path / out)
        assert np.isnan(back.header.get_sform()[0, 0]), out
        assert int(back.header['qform_code']) == 0
        expected = data[1] if out == 's.nii' else data
        assert np.array_equal(np.squeeze(back.get_fdata()), expected), out
    nv.save(nv.load(str(tmp_path / 'nan.nii')), str(tmp_path / 'py.nii.gz'))
    assert np.array_equal(nib.load(tmp_path / 'py.nii.gz').get_fdata(), data)


def test_nifti2_geometry_beyond_float32_and_flat_axes_still_convert_to_mgh(tmp_path):
    """Issue 14 item 11: a NIfTI-2 affine beyond MGH's float32 fields (1e300 voxels) and an
    affine with a zero column used to fail `convert` to `.mgh` and `MGHImage.from_image`
    ("zero or non-finite voxel size"), where nibabel writes the file. The data converts; the
    zero column reads back as given (nibabel's division stores NaN there), the 1e300 sizes as
    float32 infinity."""
    import nibabel as nib
    import numpy as np
    from test_gzip_integrity import _cli
    import neurovox as nv
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    huge = np.diag([1e300, 1e300, 1e300, 1.0])
    flat = np.array([[2.0, 0, 0, -3], [0, 2.0, 0, 4], [0, 0, 0, 5], [0, 0, 0, 1]])
    for name, affine in (('huge', huge), ('flat', flat)):
        # nibabel's qform cannot hold the flat affine: the sform carries both.
        header = nib.Nifti2Image(data, np.eye(4)).header
        header.set_sform(affine, 1)
        header.set_qform(None, 0)
        nib.save(nib.Nifti2Image(data, None, header), tmp_path / f'{name}.nii')
    exe = _cli()
    for name in ('huge', 'flat'):
        done = _run([exe, 'convert', f'{name}.nii', f'{name}.mgh'], tmp_path)
        assert done.returncode == 0, (name, done.stderr)
        nv.save(nv.MGHImage.from_image(nv.load(str(tmp_path / f'{name}.nii'))),
                str(tmp_path / f'{name}_py.mgz'))
        for out in (f'{name}.mgh', f'{name}_py.mgz'):
            back = nib.load(tmp_path / out)
            assert np.array_equal(back.get_fdata(), data), out
            if name == 'flat':
                assert np.array_equal(back.affine, flat), out
                assert np.array_equal(nv.load(str(tmp_path / out)).affine, flat), out
            else:
                # nibabel's image re-derives its header from the affine (inf * 0 = NaN):
                # the header as stored is read on its own.
                from nibabel.freesurfer.mghformat import MGHHeader
                from nibabel.openers import ImageOpener
                with ImageOpener(str(tmp_path / out)) as f:
                    stored = MGHHeader.from_fileobj(f)
                assert np.all(np.isinf(stored['delta'])), out
                assert np.array_equal(stored['Mdc'], np.eye(3)), out


def test_a_file_asking_for_more_than_it_holds_is_an_image_file_error_and_an_os_error(tmp_path):
    """Issue 14 item 11: limits used to raise a bare OSError, which code written for
    nibabel's ImageFileError does not catch; nibabel's own short reads are OSErrors."""
    import nibabel as nib
    import numpy as np
    import neurovox as nv
    path = tmp_path / 'short.nii'
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8), np.int16), np.eye(4)), path)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(nv.ImageLimitError, match='short.nii') as caught:
        nv.load(str(path)).get_fdata()
    assert isinstance(caught.value, nv.ImageFileError) and isinstance(caught.value, OSError)
    with pytest.raises(OSError):
        nib.load(path).get_fdata()
