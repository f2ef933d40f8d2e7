"""Issue 14's file-safety promises, through the Python API and the CLI.

* saves keep the replaced file's permissions, write through symbolic links and refuse to
  break hard links silently;
* a load racing a save reads the header and the data of one save (never a mix), for
  single files and for ``.hdr``/``.img`` pairs;
* memory-mapped reads of a replaced file raise ``StaleFileError`` like every other read;
* ``keep_file_open=False`` holds no descriptor between reads, also for ``.nii.gz``;
* FIFOs are refused at once instead of hanging;
* saves work without ``/proc``.
"""

import os
import resource
import shutil
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import neurovox as nv


def _img(value=7, dtype=np.int16, shape=(4, 5, 6)):
    return nv.Nifti1Image(np.full(shape, value, dtype), np.eye(4))


@pytest.mark.parametrize('name', ['a.nii', 'a.nii.gz', 'a.img'])
def test_a_save_keeps_the_mode_of_the_file_it_replaces(tmp_path, name):
    path = tmp_path / name
    nv.save(_img(1), str(path))
    files = [path] if name != 'a.img' else [path, tmp_path / 'a.hdr']
    for f in files:
        os.chmod(f, 0o600)
    nv.save(_img(2), str(path))
    for f in files:
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600, f
    assert np.all(nv.load(str(path)).get_fdata() == 2)


def test_new_files_get_the_usual_mode(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    nv.save(_img(), str(tmp_path / 'new.nii'))
    assert stat.S_IMODE(os.stat(tmp_path / 'new.nii').st_mode) == 0o666 & ~mask


def test_a_save_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / 'store').mkdir()
    real = tmp_path / 'store' / 'real.nii'
    nv.save(_img(1), str(real))
    link = tmp_path / 'link.nii'
    link.symlink_to('store/real.nii')
    nv.save(_img(2), str(link))
    assert link.is_symlink()
    assert np.all(nv.load(str(real)).get_fdata() == 2)
    assert sorted(os.listdir(tmp_path / 'store')) == ['real.nii']


def test_hard_links_are_refused_unless_asked(tmp_path):
    path, other = tmp_path / 'a.nii', tmp_path / 'b.nii'
    nv.save(_img(1), str(path))
    os.link(path, other)
    with pytest.raises(ValueError, match='hard links'):
        nv.save(_img(2), str(path))
    assert np.all(nv.load(str(path)).get_fdata() == 1)
    nv.save(_img(3), str(path), hard_links='in_place')
    assert np.all(nv.load(str(other)).get_fdata() == 3), 'every name sees the new data'
    nv.save(_img(4), str(path), hard_links='replace')
    assert np.all(nv.load(str(path)).get_fdata() == 4)
    assert np.all(nv.load(str(other)).get_fdata() == 3), 'the other name keeps the old'
    with pytest.raises(ValueError, match='hard_links'):
        nv.save(_img(5), str(path), hard_links='sometimes')


_SAVER = textwrap.dedent('''
    import sys, time, numpy as np, neurovox as nv
    path, seconds = sys.argv[1], float(sys.argv[2])
    # Same number of data bytes, different type and values: a header of one save over the
    # data of the other reads as other values of the same size.
    a = nv.Nifti1Image(np.full((16, 16, 16), 16384, np.int16), np.eye(4))
    b = nv.Nifti1Image(np.full((16, 16, 8), 0.5, np.float32), np.eye(4))
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        nv.save(a if n % 2 else b, path)
        n += 1
    print(n)
''')


@pytest.mark.parametrize('name', ['race.nii', 'race.img', 'race.nii.gz'])
def test_a_load_racing_saves_never_mixes_two_files(tmp_path, name):
    path = str(tmp_path / name)
    nv.save(nv.Nifti1Image(np.full((16, 16, 16), 16384, np.int16), np.eye(4)), path)
    saver = subprocess.Popen([sys.executable, '-c', _SAVER, path, '4'],
                             stdout=subprocess.PIPE, text=True)
    seen = {'a': 0, 'b': 0, 'stale': 0}
    mixes = []
    try:
        while saver.poll() is None:
            try:
                data = nv.load(path).get_fdata()
            except nv.StaleFileError:
                seen['stale'] += 1  # replaced between load and read: a clean refusal
                continue
            if data.shape == (16, 16, 16) and np.all(data == 16384):
                seen['a'] += 1
            elif data.shape == (16, 16, 8) and np.all(data == 0.5):
                seen['b'] += 1
            else:
                mixes.append((data.shape, np.unique(data)[:4]))
    finally:
        saver.wait(timeout=60)
    saves = int(saver.stdout.read())
    assert not mixes, f'{len(mixes)} mixed loads, e.g. {mixes[:3]}'
    assert seen['a'] and seen['b'] and saves > 20, (seen, saves)
    assert sorted(os.listdir(tmp_path)) == sorted(
        [name] if not name.endswith('.img') else ['race.img', 'race.hdr'])


def test_memory_mapped_reads_of_a_replaced_file_are_stale(tmp_path):
    path = str(tmp_path / 'm.nii')
    nv.save(_img(1), path)
    img = nv.load(path)
    assert img.dataobj._native.mmap != 'no' if hasattr(img.dataobj, '_native') else True
    # A replacement of exactly the same size: only the file's identity tells it apart.
    other = str(tmp_path / 'other.nii')
    nv.save(_img(2), other)
    assert os.path.getsize(other) == os.path.getsize(path)
    os.replace(other, path)
    for read in (lambda: np.asarray(img.dataobj), lambda: img.dataobj[:, :, 0],
                 lambda: img.get_fdata()):
        with pytest.raises(nv.StaleFileError, match='m.nii'):
            read()


_MANY_OPEN = textwrap.dedent('''
    import resource, sys, neurovox as nv
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    paths = sys.argv[1:]
    images = [nv.load(p, keep_file_open=False) for p in paths]
    total = sum(float(img.dataobj[1, 2, 3]) for img in images)
    total += sum(float(img.dataobj[0, 0, 0]) for img in images)
    import neurovox.dask
    stack = neurovox.dask.from_images(paths)
    print(len(images), total, float(stack.sum().compute(scheduler='synchronous')))
''')


def test_keep_file_open_false_holds_no_descriptor_for_gzip(tmp_path):
    paths = []
    for i in range(300):
        p = str(tmp_path / f'i{i}.nii.gz')
        if i == 0:
            nv.save(_img(2), p)
        else:
            shutil.copy(paths[0], p)
        paths.append(p)
    done = subprocess.run([sys.executable, '-c', _MANY_OPEN, *paths], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ['300', '1200.0', str(300 * 2.0 * 120)]


@pytest.mark.parametrize('name', ['f.nii', 'f.nii.gz', 'f.img'])
def test_a_fifo_is_refused_at_once(tmp_path, name):
    if name == 'f.img':
        nv.save(_img(), str(tmp_path / 'f.img'))
        os.remove(tmp_path / 'f.img')
    os.mkfifo(tmp_path / name)
    script = textwrap.dedent(f'''
        import neurovox as nv
        try:
            nv.load({name!r}).get_fdata()
        except nv.ImageFileError as e:
            print('refused', e)
    ''')
    done = subprocess.run([sys.executable, '-c', script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'refused' in done.stdout and 'FIFO' in done.stdout and name in done.stdout


def test_cli_commands_refuse_a_fifo(tmp_path):
    from test_gzip_integrity import _cli
    exe = _cli()
    os.mkfifo(tmp_path / 'f.nii')
    for args in (['stats', 'f.nii'], ['info', 'f.nii'], ['slice', 'f.nii', '0', '-o', 'o.nii'],
                 ['convert', 'f.nii', 'o.nii']):
        done = subprocess.run([exe, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode not in (0, 101) and done.returncode > 0, (args, done)
        assert 'FIFO' in done.stderr, (args, done.stderr)


def test_saves_work_without_proc(tmp_path):
    if shutil.which('unshare') is None or subprocess.run(
            ['unshare', '-rm', 'true'], capture_output=True).returncode != 0:
        pytest.skip('no unprivileged mount namespace to hide /proc in')
    script = textwrap.dedent('''
        import os, numpy as np, neurovox as nv
        assert not os.path.exists('/proc/self/fd')
        img = nv.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
        nv.save(img, 'x.nii'); nv.save(img, 'x.nii')
        nv.save(img, 'p.img'); nv.save(img, 'p.img')
        print(sorted(os.listdir('.')), nv.load('p.img').get_fdata().sum())
    ''')
    done = subprocess.run(
        ['unshare', '-rm', 'sh', '-c',
         f'mount -t tmpfs none /proc && exec {sys.executable} -c "$0"', script],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['p.hdr', 'p.img', 'x.nii'] 276.0"


_UNPICKLE_ELSEWHERE = textwrap.dedent('''
    import os, pickle, sys
    import numpy as np
    os.chdir(sys.argv[2])  # another working directory than the one that pickled
    with open(sys.argv[1], 'rb') as f:
        img, proxy = pickle.load(f)
    print(float(np.asarray(img.dataobj).sum()), float(np.asarray(proxy).sum()))
''')


def test_pickles_of_relative_paths_open_from_another_directory(tmp_path, monkeypatch):
    import pickle
    (tmp_path / 'data').mkdir()
    (tmp_path / 'elsewhere').mkdir()
    monkeypatch.chdir(tmp_path / 'data')
    nv.save(_img(3), 'rel.nii')
    img = nv.load('rel.nii')
    with open(tmp_path / 'p.pkl', 'wb') as f:
        pickle.dump((img, img.dataobj), f)
    done = subprocess.run([sys.executable, '-c', _UNPICKLE_ELSEWHERE, str(tmp_path / 'p.pkl'),
                           str(tmp_path / 'elsewhere')], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ['360.0', '360.0']


def test_handles_and_proxies_without_fingerprints_are_refused(tmp_path):
    from neurovox.arrayproxy import _rebuild_proxy
    from neurovox.images import _unpickle_image
    path = str(tmp_path / 'a.nii')
    nv.save(_img(3), path)
    img = nv.load(path)
    func, (klass, handle, mmap, extra) = img.__reduce__()
    assert func is _unpickle_image
    crafted = handle[:5] + ([],) + handle[6:]
    with pytest.raises(ValueError, match='fingerprint'):
        _unpickle_image(klass, crafted, mmap, extra)
    # The real handle still opens.
    assert float(_unpickle_image(klass, handle, mmap, extra).get_fdata().sum()) == 360.0
    func, args = img.dataobj.__reduce__()
    # The arguments end with the fingerprint and the per-index factors (None here).
    assert func is _rebuild_proxy and args[-2] is not None and args[-1] is None
    with pytest.raises(ValueError, match='fingerprint'):
        _rebuild_proxy(*args[:-2], None, None)


def test_json_handles_are_data_only_and_checked(tmp_path):
    import json
    path = str(tmp_path / 'a.nii.gz')
    nv.save(_img(3), path)
    text = nv.load(path).to_handle_json()
    handle = json.loads(text)
    assert os.path.isabs(handle['header_path'])
    back = nv.from_handle_json(text)
    assert type(back) is nv.Nifti1Image and float(back.get_fdata().sum()) == 360.0
    handle['files'] = []
    with pytest.raises(ValueError, match='fingerprint'):
        nv.from_handle_json(json.dumps(handle))
    with pytest.raises(ValueError, match='not an image handle'):
        nv.from_handle_json('{"format": 1}')
    nv.save(_img(4), path)
    with pytest.raises(nv.StaleFileError):
        nv.from_handle_json(text)
    dirty = nv.load(path)
    dirty.header['descrip'] = b'changed'
    with pytest.raises(ValueError, match='clean image'):
        dirty.to_handle_json()
