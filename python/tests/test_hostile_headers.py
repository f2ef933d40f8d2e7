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
