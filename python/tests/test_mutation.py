"""Mutated files through neurovox and nibabel: no abort, no hang, no wrong values (issue 14).

What this proves
----------------
For a few thousand damaged files of every format neurovox reads, in child processes limited
to a 4 GB address space (``RLIMIT_AS``):

* neurovox never kills its process (no abort, no panic that escapes as a crash, no signal) and
  never hangs: a worker that dies or stops making progress fails the test, after the file it
  was on has been run alone, once through neurovox only and once through nibabel only, so
  the report names the file, its seed and its mutation and whose fault it was;
* every error neurovox raises is an ordinary ``Exception`` (never pyo3's ``PanicException``
  or a ``SystemError``) and names the file;
* wherever both neurovox and nibabel read a file, they agree: shape and dtype at load, and the
  values of ``get_fdata()`` and of one ``dataobj`` slice (``np.array_equal`` with
  ``equal_nan``; float results within 1e-6 relative are counted apart as "close"), and the
  affines;
* where only the compressed bytes of a ``.gz`` seed (or its sidecar index) were changed, a
  ``get_fdata()`` that succeeds returns the seed's values: nibabel is no oracle there, since
  it can return the same damaged bytes without checking them (issue 13's rule: a full read
  of a damaged stream is an error, never other voxels);
* ``neurovox stats FILE`` and ``neurovox slice -o OUT FILE '..., 0'`` on a sample of the same files
  (inheriting the limit) exit 0, or 1 with a message on stderr: never a signal, never 101 (a
  Rust panic) or 134 (abort), never a timeout; where nibabel reads the file, the slice written
  equals nibabel's ``dataobj[..., 0]``.

Where nibabel reads and neurovox raises, or the reverse, the test only counts (neurovox
refuses some files nibabel reads on purpose, see docs/compat.md, and reads some nibabel
cannot, such as a ``.nii`` that is really gzip). Where the two disagree about compression
because of the file's name, nibabel is also given a copy named after the content, so that
neurovox's read is still checked.

Seeds and mutations
-------------------
Seeds are written at test time by nibabel (nothing is committed): NIfTI-1 ``.nii`` and
``.nii.gz``, NIfTI-2, NIfTI-1 pairs, Analyze, SPM2 and SPM99 pairs (with their ``.mat``), MGH
and MGZ; int16, uint8, int32, float32 and float64; scaled and unscaled; with and without
extensions; 3D and 4D; little and big endian; and ``.gz`` files rewritten by ``neurovox
recompress`` (its indexed gzip) or given a ``neurovox index`` sidecar, three of them with
2 MiB inside (several 1 MiB members, or checkpoints with windows). Each mutant is one to
three mutations, all drawn from one ``random.Random``: bit flips, bytes and 16/32/64-bit
integers set to boundary values (mostly in the header), truncation, appended garbage (random
bytes, zeros, gzip members), inserted and deleted bytes, header fields set through nibabel's
header dtype (``dim``, ``dim[0]``, ``pixdim``, ``vox_offset``, ``datatype``, ``bitpix``,
``scl_slope``, ``scl_inter``, ``sizeof_hdr``, ``magic``, MGH ``dims``/``type``/..., and
shapes and types that still fit the data, so values are compared after a real change),
extension sizes and codes (extreme, shortened, duplicated with or without moving
``vox_offset``), ``.mat`` and ``.img`` damage, a missing ``.img`` or ``.mat``, gzip names on
plain content and the reverse, and for ``.gz`` files the decompressed bytes (recompressed
after) as well as the compressed bytes, neurovox's index members and sidecars (with their
CRC32 put right, so the parser gets past the checksum).

Batches of files go through one worker process each (two at a time); see
``mutation_helpers.py``. A larger campaign::

    NEUROVOX_MUTATION_COUNT=50000 NEUROVOX_MUTATION_REPORT=/tmp/mutation.json \\
        nice .venv/bin/python -m pytest -q -s python/tests/test_mutation.py

or ``python python/tests/mutation_helpers.py campaign --count 50000 --report FILE``.
``NEUROVOX_MUTATION_SEED`` draws other mutants, ``NEUROVOX_MUTATION_CLI_COUNT`` sizes the CLI
sample, ``NEUROVOX_MUTATION_BIG_WEIGHT`` (0.2) how often the seeds of over 1 MiB are drawn.

Bugs it found, fixed, and kept as the regression tests at the end of this module:

1. A full read of a ``.nii.gz`` did not check the CRC32/ISIZE of a damaged member when
   anything followed it (zero padding, an empty gzip member, neurovox's own index members):
   ``get_fdata()`` returned other values without an error.
2. A ``.nii.gz`` whose ``dim`` product overflows loaded, and reads failed with "... is too
   large to address", naming neither the file nor the field.
3. The RGB/RGBA usage errors did not name the file.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import mutation_helpers as mh

nibabel = pytest.importorskip('nibabel')
nv = pytest.importorskip('neurovox')

COUNT = int(os.environ.get('NEUROVOX_MUTATION_COUNT', '5000'))
CLI_COUNT = int(os.environ.get('NEUROVOX_MUTATION_CLI_COUNT', str(max(400, COUNT // 12))))
SEED = int(os.environ.get('NEUROVOX_MUTATION_SEED', '14'))

def _show(items, limit=5):
    return json.dumps(items[:limit], indent=1, default=str)[:6000]


@pytest.fixture(scope='module')
def campaign(tmp_path_factory):
    if mh.cli_path() is None:
        if os.environ.get('NEUROVOX_REQUIRE_PACKAGE'):
            pytest.fail('the neurovox command is not built')
        pytest.skip('the neurovox command is not built')
    # Thousands of small files: on tmpfs where there is one (faster to write and remove).
    shm = '/dev/shm'
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > 2 << 30:
        workdir = tempfile.mkdtemp(prefix='neurovox-mutation-', dir=shm)
    else:
        workdir = tmp_path_factory.mktemp('mutation')
    summary = mh.run_campaign(workdir, COUNT, SEED, CLI_COUNT)
    print('\n' + mh.printable(summary))
    report = os.environ.get('NEUROVOX_MUTATION_REPORT')
    if report:
        with open(report, 'w') as f:
            json.dump(summary, f, indent=1, default=str)
    yield summary
    shutil.rmtree(workdir, ignore_errors=True)  # thousands of small files


def test_every_mutant_has_an_outcome(campaign):
    assert campaign['results'] == campaign['files']
    assert campaign['cli']['results'] == campaign['cli']['files']


def test_the_mutations_reach_the_readers(campaign):
    """Not vacuous: many files are still read by both (so values are compared), many are
    refused by both, and some by each alone."""
    n = campaign['files']
    fdata = campaign['ops']['fdata']
    assert fdata['both read, equal'] >= 0.3 * n, fdata
    assert fdata['both raise'] >= 0.2 * n, fdata
    assert fdata['nibabel reads, neurovox raises'] > 0, fdata
    assert fdata['neurovox reads, nibabel raises'] > 0, fdata
    assert campaign['ops']['slice']['both read, equal'] >= 0.3 * n
    assert campaign['nib_renamed'] > 0


def test_neurovox_never_crashes_or_hangs(campaign):
    """A worker that died or stalled on a file, where the file alone still kills or stalls a
    neurovox-only worker (the events carry the file, seed, mutation and stderr)."""
    assert not campaign['neurovox_crash_or_hang'], _show(campaign['neurovox_crash_or_hang'])


def test_neurovox_raises_only_clean_exceptions(campaign):
    assert not campaign['unclean'], _show(campaign['unclean'])


def test_where_both_read_the_values_agree(campaign):
    assert not campaign['differ'], _show(campaign['differ'])
    assert not campaign['affine_differ'], _show(campaign['affine_differ'])
    assert not campaign['class_differ'], campaign['class_differ']


def test_full_reads_of_a_damaged_gzip_stream_raise_or_give_the_files_values(campaign):
    """The seed oracle: where only the compressed bytes of a seed (or its sidecar index) were
    changed, a ``get_fdata()`` that succeeds must return the seed's values (issue 13: never
    silently different voxels)."""
    assert campaign['seed_checked'] >= 0.02 * campaign['files'], campaign['seed_checked']
    assert not campaign['seed_differ'], _show(campaign['seed_differ'])


def test_neurovox_errors_name_the_file(campaign):
    assert not campaign['unnamed'], (campaign['unnamed'], _show(campaign['unnamed_examples']))


def test_cli_exits_cleanly(campaign):
    """Exit 0, or nonzero with a message naming the file on stderr; never a signal, 101 (a
    Rust panic), 134 (abort) or a timeout; the slices written equal nibabel's."""
    cli = campaign['cli']
    assert not cli['events'], _show(cli['events'])
    assert not cli['bad'], _show(cli['bad'])
    assert cli['unnamed'] == 0
    assert cli['slice_vs_nibabel']['equal'] > 0
    assert cli['rc'].get('stats 0', 0) > 0 and sum(
        v for k, v in cli['rc'].items() if k.startswith('stats ') and k != 'stats 0') > 0


@pytest.mark.parametrize('kind', ['abort', 'hang'])
def test_the_harness_names_a_file_that_kills_or_stalls_its_worker(tmp_path, monkeypatch, kind):
    """The checks above can fail: a worker made to abort (or stop) where neurovox loads one
    file is reported as neurovox's crash (or hang) on that file, and the rest of its batch
    still runs."""
    if mh.cli_path() is None:
        pytest.skip('the neurovox command is not built')
    pytest.importorskip('neurovox')
    seeds = mh.make_seeds(tmp_path / 'seeds')
    tasks = mh.write_mutants(seeds, tmp_path / 'mutants', 12, SEED)
    monkeypatch.setenv('NEUROVOX_MUTATION_FAULT', f'{kind}:m000005')
    results, events = mh.run_tasks(tasks, 'both', tmp_path / 'work', batch=6, stall=3)
    assert [(e['i'], e['lib'], e['kind']) for e in events] == [
        (5, 'nv', 'crash' if kind == 'abort' else 'hang')]
    assert sorted(results) == [i for i in range(12) if i != 5]
    events[0]['confirm'] = mh.confirm(tasks[5], tmp_path / 'work', timeout=3)
    assert events[0]['confirm']['nv'] != 'ok' and events[0]['confirm']['nib'] == 'ok'
    summary = mh.summarise(tasks, results, events, [], {}, [])
    assert [e['task']['stem'] for e in summary['neurovox_crash_or_hang']] == ['m000005']


def _flips(raw, count, seed):
    rnd = random.Random(seed)
    return [(rnd.randrange(20, len(raw) - 8), rnd.randrange(8)) for _ in range(count)]


@pytest.mark.parametrize('tail', ['8 zero bytes', 'an empty gzip member'])
def test_a_damaged_member_followed_by_more_bytes_is_not_read_silently(tmp_path, tail):
    data = np.random.default_rng(0).integers(480, 520, (8, 8, 8), dtype=np.int16)
    good = tmp_path / 'good.nii.gz'
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), good)
    raw = good.read_bytes()
    extra = bytes(8) if tail == '8 zero bytes' else gzip.compress(b'', mtime=0)
    silent = []
    for pos, bit in _flips(raw, 60, 14):
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << bit
        try:
            gzip.decompress(bytes(damaged))
            continue  # the flip changed nothing that gzip checks (MTIME, OS, ...)
        except Exception:  # noqa: BLE001 - the stream is damaged: neurovox must say so
            pass
        path = tmp_path / 'damaged.nii.gz'
        path.write_bytes(bytes(damaged) + extra)
        try:
            values = nv.load(path).get_fdata()
        except Exception as e:  # noqa: BLE001
            assert 'damaged.nii.gz' in str(e)
            continue
        if not np.array_equal(values, data):
            silent.append((pos, bit, int((values != data).sum())))
    assert not silent, f'(byte, bit, voxels that differ) read without an error: {silent}'


def test_the_same_damage_alone_is_an_error(tmp_path):
    """The control of the test above: without anything after the member, every flip that
    gzip notices is an error."""
    data = np.random.default_rng(0).integers(480, 520, (8, 8, 8), dtype=np.int16)
    good = tmp_path / 'good.nii.gz'
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), good)
    raw = good.read_bytes()
    for pos, bit in _flips(raw, 60, 14):
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << bit
        path = tmp_path / 'damaged.nii.gz'
        path.write_bytes(bytes(damaged))
        try:
            values = nv.load(path).get_fdata()
        except Exception:  # noqa: BLE001
            continue
        assert np.array_equal(values, data), (pos, bit)


@pytest.mark.parametrize('read', ['get_fdata()', 'dataobj[0]'])
def test_a_gz_header_claiming_too_much_is_an_error_naming_the_file(tmp_path, read):
    nibabel.save(nibabel.Nifti2Image(np.zeros((5, 4, 3)), np.eye(4)), tmp_path / 'n2.nii')
    raw = bytearray((tmp_path / 'n2.nii').read_bytes())
    hdr = np.frombuffer(bytes(raw[:540]), nibabel.nifti2.header_dtype).copy()
    hdr['dim'][0, 3] = 2**57 + 3
    raw[:540] = hdr.tobytes()
    path = tmp_path / 'huge.nii.gz'
    path.write_bytes(gzip.compress(bytes(raw), mtime=0))
    with pytest.raises(Exception) as info:
        img = nv.load(path)
        eval(f'img.{read}')
    assert 'huge.nii.gz' in str(info.value), str(info.value)


def _rgb(tmp_path, slope):
    rgb = np.zeros((2, 2, 2), dtype=[('R', 'u1'), ('G', 'u1'), ('B', 'u1')])
    path = tmp_path / 'rgb.nii'
    nibabel.save(nibabel.Nifti1Image(rgb, np.eye(4)), path)
    if slope:
        raw = bytearray(path.read_bytes())
        hdr = np.frombuffer(bytes(raw[:348]), nibabel.nifti1.header_dtype).copy()
        hdr['scl_slope'] = 2.0
        raw[:348] = hdr.tobytes()
        path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize('slope, read', [(False, 'img.get_fdata()'),
                                         (True, 'img.dataobj[0]')])
def test_rgb_errors_name_the_file(tmp_path, slope, read):
    path = _rgb(tmp_path, slope)
    code = ('import neurovox as nv, sys\n'
            f'img = nv.load({str(path)!r})\n'
            'try:\n'
            f'    {read}\n'
            'except Exception as e:\n'
            '    print(e)\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'RGB/RGBA' in done.stdout
    assert 'rgb.nii' in done.stdout, done.stdout
