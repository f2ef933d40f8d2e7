"""Side by side: nibabel and neurovox on the same image operations, in one run, as ratios.

    python benches/bench_vs_nibabel.py [--quick] [--repeats 3] [--dir DIR] [--only OP ...]

Writes (once, with nibabel; into a temporary directory unless --dir is given, where files
already there are reused) a synthetic 4-D int16 fMRI run, 96x96x60x180 (199 MB), as .nii and
as .nii.gz (gzip level 1, as nibabel writes), with scl_slope 0.5 and scl_inter 10 so reads
scale to float64; and 200 distinct small runs (64x64x32x8 int16, about 1 MB each as .nii.gz)
for the header-only loads. Every file is read once first, so both sides find them in the
page cache (cold below means a freshly loaded image, not a dropped page cache).

Then each operation runs on each side in its own process: nibabel in this Python, neurovox
in the `bench_io` example (`crates/neurovox/examples/bench_io.rs`, built in release mode),
and, when the neurovox Python package is installed in this Python, neurovox through its
Python API: nibabel's own side script run with `import neurovox as nib` (the "py" columns:
what a nibabel user gains by changing the import).
Each process times its operation itself and reports the best of --repeats (process start
and imports excluded) and its peak resident memory (VmHWM from /proc/self/status: the peak
of its own address space since exec; `os.wait4`'s ru_maxrss would also count this script's
memory from before the exec). The script compares the results' checksums (the float64 sum
of the values), then prints one table: seconds, nibabel/neurovox time ratio, peak MiB and
memory ratio. A Python process holds ~40 MiB with numpy and nibabel imported, a Rust one
~2 MiB: on small operations the memory ratio is mostly that.

Operations (nibabel's call; neurovox's is the same in Rust, see bench_io.rs):
  header x200   nib.load(p) for 200 .nii.gz files (only headers are read)
  full load     np.asanyarray(nib.load(p).dataobj)             [scaled: float64]
  get_fdata     nib.load(p).get_fdata() / get_fdata(dtype=np.float32)
  volume cold   nib.load(p).dataobj[..., 100]                  [a new image, a new proxy]
  volume warm   the same read again on the same image          [second read timed]
  slab          nib.load(p).dataobj[48]                        [a sagittal slab, strided]
  save .nii     nib.save(nib.load(p), out) from the .nii          [load untimed; sizes shown]
  save .nii.gz  the same to .nii.gz (nibabel: gzip level 1, one member; neurovox: its
                default level, indexed members compressed on all cores)
  neurovox-written .nii.gz: a copy of the run saved by neurovox (rewritten each run), read
  in full (asanyarray(dataobj)) and one late volume [..., 170] cold by both libraries

For the saves, nibabel reads the whole scaled array (float64) and recomputes int16 scale
factors; neurovox copies the stored int16 bytes volume by volume, scaling kept, and syncs
the file to disk before renaming it into place (nibabel does not sync). Each side checks
its own output by reading it back after the timed part and after its peak memory was
taken; the read-back checksums agree to within nibabel's requantisation (rtol 1e-4).

--quick uses a 64x64x30x20 image and 20 small files, for smoke tests (volume 10, late
volume 19, slab 32).
No timing is asserted anywhere; this only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.openers import Opener

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / 'target' / 'release' / 'examples' / 'bench_io'

FULL_SHAPE = (96, 96, 60, 180)
QUICK_SHAPE = (64, 64, 30, 20)
SMALL_SHAPE = (64, 64, 32, 8)
QUICK_SMALL_SHAPE = (16, 16, 8, 4)
SLOPE, INTER = 0.5, 10.0

# nibabel's side: one operation, timed in-process, best of the repeats. Results are local to
# run_once, so one repeat's arrays are freed before the next starts (peak RSS is one run's).
NIBABEL_SIDE = r"""
import json, os, sys, time
import numpy as np
import nibabel as nib

op, repeats, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = sys.argv[4] if len(sys.argv) > 4 else None

def volume_key(shape):
    t = 100 if shape[-1] > 100 else shape[-1] // 2
    return (Ellipsis, t)

def late_volume_key(shape):
    return (Ellipsis, min(170, shape[-1] - 1))

def summary(arr):
    return list(arr.shape), float(np.sum(arr, dtype=np.float64))

def run_once():
    if op == 'header_many':
        files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith('.nii.gz'))
        start = time.perf_counter()
        voxels = 0
        for f in files:
            voxels += int(np.prod(nib.load(f).shape))
        return time.perf_counter() - start, [len(files)], float(voxels)
    if op == 'full_load':
        start = time.perf_counter()
        data = np.asanyarray(nib.load(path).dataobj)
        return (time.perf_counter() - start, *summary(data))
    if op == 'fdata_f64':
        start = time.perf_counter()
        data = nib.load(path).get_fdata()
        return (time.perf_counter() - start, *summary(data))
    if op == 'fdata_f32':
        start = time.perf_counter()
        data = nib.load(path).get_fdata(dtype=np.float32)
        return (time.perf_counter() - start, *summary(data))
    if op == 'volume_cold':
        start = time.perf_counter()
        img = nib.load(path)
        data = img.dataobj[volume_key(img.shape)]
        return (time.perf_counter() - start, *summary(data))
    if op == 'volume_warm':
        img = nib.load(path)
        key = volume_key(img.shape)
        img.dataobj[key]
        start = time.perf_counter()
        data = img.dataobj[key]
        return (time.perf_counter() - start, *summary(data))
    if op == 'volume_late':
        start = time.perf_counter()
        img = nib.load(path)
        data = img.dataobj[late_volume_key(img.shape)]
        return (time.perf_counter() - start, *summary(data))
    if op == 'save':
        img = nib.load(path)
        start = time.perf_counter()
        nib.save(img, out)
        return time.perf_counter() - start, None, None
    if op == 'slab':
        start = time.perf_counter()
        img = nib.load(path)
        data = img.dataobj[min(48, img.shape[0] // 2)]
        return (time.perf_counter() - start, *summary(data))
    raise SystemExit(f'unknown operation {op}')

def peak_rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')

best = float('inf')
for _ in range(max(1, repeats)):
    seconds, shape, checksum = run_once()
    best = min(best, seconds)
report = {'operation': op, 'seconds': best, 'shape': shape, 'checksum': checksum,
          'peak_rss_mib': peak_rss_mib()}
if op == 'save':  # read the output back, after the peak memory was taken
    report['bytes'] = os.path.getsize(out)
    report['shape'], report['checksum'] = summary(np.asanyarray(nib.load(out).dataobj))
print(json.dumps(report))
"""


def synthetic_run(shape: tuple[int, ...], seed: int = 0):
    """Yields the volumes of an fMRI-like int16 run: a smooth bright ellipsoid (600-1200)
    with temporal noise and a slow drift inside, faint noise outside."""
    rng = np.random.default_rng(seed)
    axes = [np.linspace(-1, 1, n) for n in shape[:3]]
    x, y, z = np.meshgrid(*axes, indexing='ij')
    r2 = (x / 0.85) ** 2 + (y / 0.95) ** 2 + (z / 0.8) ** 2
    inside = r2 < 1
    base = np.where(inside, 900 + 300 * np.cos(3 * x) * np.sin(2 * y + z), 0.0)
    for t in range(shape[3]):
        noise = rng.normal(0.0, 15.0, size=shape[:3])
        drift = 5.0 * np.sin(t / 20.0)
        vol = np.where(inside, base + noise + drift, np.abs(noise) / 5.0)
        yield np.round(vol).astype(np.int16)


def write_big(path: Path, shape: tuple[int, ...]) -> None:
    """Writes the run with nibabel's own header writer and opener (gzip level 1 for .gz),
    scaled by scl_slope/scl_inter. nibabel's `save` recomputes the scaling of int16 data and
    would drop it, so the header is written directly."""
    hdr = nib.Nifti1Header()
    hdr.set_data_shape(shape)
    hdr.set_data_dtype(np.int16)
    affine = np.diag([-2.5, 2.5, 2.5, 1.0])
    affine[:3, 3] = [118.75, -118.75, -73.75]
    hdr.set_sform(affine, code=1)
    hdr.set_qform(affine, code=1)
    hdr.set_zooms((2.5, 2.5, 2.5, 2.0))
    hdr.set_xyzt_units('mm', 'sec')
    hdr.set_slope_inter(SLOPE, INTER)
    tmp = path.with_name('partial-' + path.name)  # Opener picks gzip by the extension
    with Opener(str(tmp), 'wb') as f:
        hdr.write_to(f)
        for vol in synthetic_run(shape):
            f.write(vol.tobytes(order='F'))
    tmp.rename(path)


def write_small(directory: Path, count: int, shape: tuple[int, ...]) -> None:
    """`count` distinct small .nii.gz runs, saved with nib.save."""
    directory.mkdir(exist_ok=True)
    base = np.stack(list(synthetic_run(shape, seed=1)), axis=-1)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    for i in range(count):
        path = directory / f'run{i:03d}.nii.gz'
        if not path.exists():
            nib.save(nib.Nifti1Image(base + np.int16(i), affine), path)


def warm_page_cache(paths: list[Path]) -> None:
    for path in paths:
        with open(path, 'rb') as f:
            while f.read(1 << 24):
                pass


def run_side(cmd: list[str]) -> dict:
    """Runs one side in its own process; returns its JSON report, whose `peak_rss_mib` the
    process measured itself (VmHWM). `os.wait4`'s ru_maxrss is kept as `wait4_maxrss_mib`
    but not shown: on Linux it includes the launching process's resident memory before the
    exec (this script's ~40-60 MiB of numpy and nibabel), so it never goes below that."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f'{" ".join(cmd[:2])} ... failed with exit code {code}')
    report = json.loads(out.strip().splitlines()[-1])
    report['wait4_maxrss_mib'] = usage.ru_maxrss / 1024
    return report


NEUROVOX_PY_SIDE = NIBABEL_SIDE.replace('import nibabel as nib', 'import neurovox as nib')


def have_neurovox_python() -> bool:
    try:
        import neurovox  # noqa: F401
    except ImportError:
        return False
    return True


def operations(big_nii: Path, big_gz: Path, nv_gz: Path, small_dir: Path, n_small: int):
    """(label, operation, path, output suffix or None) for every row of the table."""
    rows = [(f'header-only load x{n_small} (.nii.gz)', 'header_many', small_dir, None)]
    for op, label in [
        ('full_load', 'full load, asanyarray(dataobj)'),
        ('fdata_f64', 'get_fdata() float64'),
        ('fdata_f32', 'get_fdata(dtype=float32)'),
        ('volume_cold', 'one volume [..., 100], cold'),
        ('volume_warm', 'one volume [..., 100], warm'),
        ('slab', 'sagittal slab [48]'),
    ]:
        for path, kind in [(big_nii, '.nii'), (big_gz, '.nii.gz')]:
            rows.append((f'{label}, {kind}', op, path, None))
    rows.append(('save .nii', 'save', big_nii, '.nii'))
    rows.append(('save .nii.gz', 'save', big_nii, '.nii.gz'))
    rows.append(('full load, asanyarray(dataobj), neurovox-written .nii.gz', 'full_load', nv_gz, None))
    rows.append(('one volume [..., 170], cold, neurovox-written .nii.gz', 'volume_late', nv_gz, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='small image, for smoke tests')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--dir', type=Path, help='where to write (and reuse) the images')
    parser.add_argument('--only', nargs='*', help='run only these operations (e.g. slab full_load)')
    args = parser.parse_args()
    with_python = have_neurovox_python()
    if not with_python:
        print('the neurovox Python package is not installed here: no "py" columns', file=sys.stderr)

    subprocess.run(['cargo', 'build', '--release', '-q', '-p', 'neurovox', '--example', 'bench_io'],
                   cwd=ROOT, check=True)
    shape = QUICK_SHAPE if args.quick else FULL_SHAPE
    small_shape = QUICK_SMALL_SHAPE if args.quick else SMALL_SHAPE
    n_small = 20 if args.quick else 200
    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tag = 'x'.join(map(str, shape))
        big_nii, big_gz = work / f'bold_{tag}.nii', work / f'bold_{tag}.nii.gz'
        small_dir = work / f'small_{"x".join(map(str, small_shape))}_{n_small}'
        for path in (big_nii, big_gz):
            if not path.exists():
                print(f'writing {path} ...', file=sys.stderr)
                write_big(path, shape)
        write_small(small_dir, n_small, small_shape)
        small_files = sorted(small_dir.glob('*.nii.gz'))[:n_small]
        # The run as neurovox saves it (parallel indexed gzip members), for the read rows.
        nv_gz = work / f'bold_{tag}_neurovox.nii.gz'
        print(f'writing {nv_gz} with neurovox ...', file=sys.stderr)
        run_side([str(EXAMPLE), 'save', '1', str(big_nii), str(nv_gz)])
        out_dir = work / 'saved'
        out_dir.mkdir(exist_ok=True)
        warm_page_cache([big_nii, big_gz, nv_gz, *small_files])

        results = []
        for label, op, path, suffix in operations(big_nii, big_gz, nv_gz, small_dir, n_small):
            if args.only and op not in args.only:
                continue
            print(f'{label} ...', file=sys.stderr)
            nb_cmd = [sys.executable, '-c', NIBABEL_SIDE, op, str(args.repeats), str(path)]
            nv_cmd = [str(EXAMPLE), op, str(args.repeats), str(path)]
            if suffix:
                nb_out, nv_out = out_dir / f'nibabel{suffix}', out_dir / f'neurovox{suffix}'
                nb_cmd.append(str(nb_out))
                nv_cmd.append(str(nv_out))
            nb = run_side(nb_cmd)
            nv = run_side(nv_cmd)
            py = None
            if with_python:
                py_cmd = [sys.executable, '-c', NEUROVOX_PY_SIDE, *nb_cmd[3:]]
                if suffix:
                    py_cmd[-1] = str(out_dir / f'neurovox-py{suffix}')
                py = run_side(py_cmd)
            if suffix:
                nb_out.unlink()
                nv_out.unlink()
                if py is not None:
                    Path(py_cmd[-1]).unlink()
                label += (f" (nibabel {nb['bytes'] / 1e6:.1f} MB, "
                          f"neurovox {nv['bytes'] / 1e6:.1f} MB)")
            # nibabel's saves requantise the float64 data to int16 with new scale factors.
            rtol = 1e-4 if op == 'save' else 1e-9
            if nb['shape'] != nv['shape'] or not np.isclose(nb['checksum'], nv['checksum'], rtol=rtol):
                sys.exit(f'{label}: results differ: nibabel {nb} neurovox {nv}')
            if py is not None and (nb['shape'] != py['shape']
                                   or not np.isclose(nb['checksum'], py['checksum'], rtol=rtol)):
                sys.exit(f'{label}: results differ: nibabel {nb} neurovox (Python) {py}')
            results.append((label, nb, nv, py))
        out_dir.rmdir()
        gz_mib = big_gz.stat().st_size / 2**20
        nv_gz_mib = nv_gz.stat().st_size / 2**20
        small_mib = sum(p.stat().st_size for p in small_files) / len(small_files) / 2**20

    print(f'nibabel {nib.__version__} vs neurovox, {"x".join(map(str, shape))} int16 '
          f'({np.prod(shape) * 2 / 1e6:.0f} MB; .nii.gz {gz_mib:.0f} MiB, neurovox-written '
          f'{nv_gz_mib:.0f} MiB), scaled to float64; '
          f'{n_small} small .nii.gz of {small_mib:.2f} MiB; best of {args.repeats}, '
          'one process per operation and side; ratios are nibabel/neurovox (>1: neurovox better)')
    print()
    py_head = ' neurovox py s | py time ratio | neurovox py MiB | py memory ratio |' if with_python else ''
    print('| operation | nibabel s | neurovox s | time ratio | nibabel MiB | neurovox MiB | memory ratio |'
          + py_head)
    print('|---|--:|--:|--:|--:|--:|--:|' + ('--:|--:|--:|--:|' if with_python else ''))
    for label, nb, nv, py in results:
        line = (f"| {label} | {nb['seconds']:.4f} | {nv['seconds']:.4f} | "
                f"{nb['seconds'] / nv['seconds']:.2f}x | {nb['peak_rss_mib']:.0f} | "
                f"{nv['peak_rss_mib']:.0f} | {nb['peak_rss_mib'] / nv['peak_rss_mib']:.2f}x |")
        if py is not None:
            line += (f" {py['seconds']:.4f} | {nb['seconds'] / py['seconds']:.2f}x | "
                     f"{py['peak_rss_mib']:.0f} | {nb['peak_rss_mib'] / py['peak_rss_mib']:.2f}x |")
        print(line)


if __name__ == '__main__':
    main()
