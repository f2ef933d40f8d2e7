"""The ``neurovox`` command that the Python package installs (its console script, and
``python -m neurovox``): it runs the Rust command with the binary's output and exit statuses.

Nothing is built here: the package must already be installed (scripts/test.sh installs it in
development mode), as a user's ``pip install .`` does.
"""

import os
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

nv = pytest.importorskip('neurovox')


def _script():
    name = 'neurovox.exe' if os.name == 'nt' else 'neurovox'
    return Path(sysconfig.get_path('scripts')) / name


COMMANDS = {
    'script': lambda: [str(_script())],
    'module': lambda: [sys.executable, '-m', 'neurovox'],
}


def _run(command, *args, **kwargs):
    return subprocess.run([*COMMANDS[command](), *args], capture_output=True, text=True,
                          timeout=120, **kwargs)


def test_the_console_script_is_installed():
    script = _script()
    assert script.is_file(), f'{script} is missing: is the package installed?'
    assert os.access(script, os.X_OK)


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_version(command):
    done = _run(command, '--version')
    assert done.returncode == 0, done.stderr
    assert done.stdout == f'neurovox {nv.__version__}\n'
    assert done.stderr == ''


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_info_example(command, tmp_path):
    # The example images go to a new directory under TMPDIR, which the command keeps.
    done = _run(command, 'info', '--example', env={**os.environ, 'TMPDIR': str(tmp_path)})
    assert done.returncode == 0, done.stderr
    first, *rows = done.stdout.splitlines()
    assert first.startswith(f'Wrote 4 example images to {tmp_path}'), done.stdout
    # One line for each of the four example images (NIfTI-1, NIfTI-2, Analyze, MGH).
    assert len(rows) == 4, done.stdout
    for name in ('Nifti1Image', 'Nifti2Image', 'AnalyzeImage', 'MGHImage'):
        assert any(name in row for row in rows), done.stdout


@pytest.mark.parametrize('command', sorted(COMMANDS))
def test_a_bad_file_exits_1_naming_it(command, tmp_path):
    bad = tmp_path / 'not-an-image.nii'
    bad.write_bytes(b'this is not a NIfTI header' * 20)
    done = _run(command, 'info', str(bad))
    assert done.returncode == 1
    assert 'not-an-image.nii' in done.stderr
    assert done.stdout == ''


def test_help_and_usage_errors_are_clap_s():
    done = _run('script', '--help')
    assert done.returncode == 0
    assert 'Usage: neurovox <COMMAND>' in done.stdout
    assert done.stderr == ''
    done = _run('script', 'info')
    assert done.returncode == 2
    assert 'Usage: neurovox info' in done.stderr
    assert done.stdout == ''
    done = _run('module', 'no-such-subcommand')
    assert done.returncode == 2
    assert 'Usage: python -m neurovox <COMMAND>' in done.stderr


def test_diff_statuses_pass_through(tmp_path):
    import numpy as np
    a, b = tmp_path / 'a.nii', tmp_path / 'b.nii'
    nv.save(nv.Nifti1Image(np.zeros((3, 3, 3), np.int16), np.eye(4)), a)
    nv.save(nv.Nifti1Image(np.ones((3, 3, 3), np.int16), np.eye(4)), b)
    assert _run('script', 'diff', str(a), str(a)).returncode == 0
    assert _run('script', 'diff', str(a), str(b)).returncode == 1


@pytest.mark.skipif(not os.path.exists('/proc/self/maps'), reason='needs Linux /proc')
def test_ctrl_c_stops_the_command(tmp_path):
    # A sparse int16 .nii of ~60 GB of zeros: `stats` streams it for minutes, on no disk.
    import nibabel
    header = nibabel.Nifti1Header()
    header.set_data_dtype('int16')
    header.set_data_shape((20000, 20000, 80))
    header['vox_offset'] = 352
    path = tmp_path / 'huge.nii'
    with open(path, 'wb') as f:
        f.write(header.binaryblock + b'\0' * 4)
        f.truncate(352 + 2 * 20000 * 20000 * 80)
    proc = subprocess.Popen([str(_script()), 'stats', str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        # SIGINT during Python's start-up would be a KeyboardInterrupt, which proves nothing:
        # wait until the extension module is loaded, then a little for the command to start.
        deadline = time.monotonic() + 60
        maps = Path(f'/proc/{proc.pid}/maps')
        while '_neurovox' not in maps.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        # Without the default SIGINT action the command would go on for minutes.
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGINT
    assert b'KeyboardInterrupt' not in err
