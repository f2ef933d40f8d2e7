"""Side by side: summing a memory-mapped float32 .npy file with numpy and with neurovox.

    python benches/memmap_sum.py [--gib 1.0] [--repeats 3] [--file PATH]

Writes a float32 .npy of the given size (once, in a temporary directory unless --file is
given), reads it once so both runs find it in the page cache, then runs each side in its
own process: numpy's ``np.load(path, mmap_mode='r').sum(dtype=np.float64)`` and neurovox's
``load_npy::<f32>(path, Some(MapMode::Read))`` plus a float64 sum (the `npy_sum` example,
built in release mode). Each process reports its best wall time over the repeats (opening
the map included, process start excluded); the script adds each process's peak resident
memory and prints the ratios. Both sides are single-threaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

NUMPY_SIDE = """
import json, sys, time
import numpy as np
path, repeats = sys.argv[1], int(sys.argv[2])
best = float('inf')
for _ in range(repeats):
    start = time.perf_counter()
    total = float(np.load(path, mmap_mode='r').sum(dtype=np.float64))
    best = min(best, time.perf_counter() - start)
print(json.dumps({'seconds': best, 'sum': total}))
"""


def write_npy(path: Path, gib: float) -> None:
    n = int(gib * 2**30) // 4
    out = np.lib.format.open_memmap(path, mode='w+', dtype='<f4', shape=(n,))
    step = 1 << 24
    rng = np.random.default_rng(0)
    for start in range(0, n, step):
        stop = min(n, start + step)
        out[start:stop] = rng.random(stop - start, dtype=np.float32)
    out.flush()
    del out


def warm_page_cache(path: Path) -> None:
    with open(path, 'rb') as f:
        while f.read(1 << 24):
            pass


def run_side(cmd: list[str]) -> dict:
    """Runs one side in its own process; returns its JSON report plus its peak RSS in MiB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f'{cmd[0]} failed with exit code {proc.returncode}')
    report = json.loads(out.strip().splitlines()[-1])
    report['peak_rss_mib'] = usage.ru_maxrss / 1024
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gib', type=float, default=1.0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--file', type=Path)
    args = parser.parse_args()

    subprocess.run(['cargo', 'build', '--release', '-q', '-p', 'neurovox', '--example', 'npy_sum'],
                   cwd=ROOT, check=True)
    exe = ROOT / 'target' / 'release' / 'examples' / 'npy_sum'
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or Path(tmp) / 'big.npy'
        if not path.exists():
            write_npy(path, args.gib)
        size_gib = path.stat().st_size / 2**30
        warm_page_cache(path)
        numpy = run_side([sys.executable, '-c', NUMPY_SIDE, str(path), str(args.repeats)])
        neurovox = run_side([str(exe), str(path), str(args.repeats)])
    if abs(numpy['sum'] - neurovox['sum']) > 1e-6 * abs(numpy['sum']):
        sys.exit(f"sums differ: numpy {numpy['sum']} neurovox {neurovox['sum']}")
    print(f'sum of a memory-mapped float32 .npy, {size_gib:.2f} GiB, warm page cache, '
          f'best of {args.repeats}, one thread each')
    print(f"{'':10} {'seconds':>9} {'GiB/s':>7} {'peak RSS MiB':>13}")
    for name, r in (('numpy', numpy), ('neurovox', neurovox)):
        print(f"{name:10} {r['seconds']:9.3f} {size_gib / r['seconds']:7.2f} {r['peak_rss_mib']:13.0f}")
    print(f"time ratio numpy/neurovox: {numpy['seconds'] / neurovox['seconds']:.2f}x; "
          f"peak memory ratio numpy/neurovox: {numpy['peak_rss_mib'] / neurovox['peak_rss_mib']:.2f}x")


if __name__ == '__main__':
    main()
