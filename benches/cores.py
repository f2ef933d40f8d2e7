"""One core against two: neurovox's reads of `.nii.gz` files that have an index, with rayon's
pool at 1 and at 2 threads, beside nibabel (issue 13 item 3: ≥ 1.7× one core on 2 cores).

    python benches/cores.py [--quick] [--repeats N] [--dir DIR]

The files are the benchmark matrix's (`benches/matrix.py`, same `--dir`): the int16 run
written by nibabel, read through the neurovox index file built for it untimed before the
runs (a second process finding the index), and the same run written by neurovox (its own
member index). Each cell is its own process (`benches/matrix_side.py`), best of `--repeats`;
neurovox's Python package is the side measured, `RAYON_NUM_THREADS` sets its threads (keys:
the matrix's items, and `[start, stop]` for a slice). The
table prints seconds and two ratios: 1 thread ÷ 2 threads, and nibabel ÷ neurovox on two.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import matrix  # noqa: E402  (the matrix's data, sides and processes)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    matrix.add_data_arguments(parser)
    args = parser.parse_args()

    for ensure in (matrix.ensure_py, matrix.ensure_rust):
        ok, why = ensure()
        if not ok:
            sys.exit(why)
    shapes = matrix.Shapes.of(args.quick)
    X, Y, Z, T = shapes.bold
    ops = [
        ('np.asarray(dataobj)', {'op': 'asarray'}),
        ('get_fdata()', {'op': 'fdata', 'dtype': 'float64'}),
        ('get_fdata(dtype=float32)', {'op': 'fdata', 'dtype': 'float32'}),
        (f'slab dataobj[..., {T // 4}:{3 * T // 4}]', {'op': 'slice',
                                                        'key': ['...', [T // 4, 3 * T // 4]]}),
        (f'slab dataobj[{X // 2}] (every volume)', {'op': 'slice', 'key': [X // 2]}),
    ]
    with tempfile.TemporaryDirectory(prefix='nvcores-') as tmp:
        root = args.dir or Path(tmp)
        data = matrix.Data(root, shapes, args.quick, {'nibabel', 'py', 'rust'}, [])
        files = []
        for name, who in (('bold.nii.gz', 'nibabel-written, index file'),
                          ('bold_neurovox.nii.gz', 'neurovox-written')):
            path = data.path(name)
            if path is None:
                sys.exit(f'{name} could not be made: {data.missing}')
            env = {}
            if name == 'bold.nii.gz':
                env = {'NEUROVOX_GZIP_INDEX_DIR': str(Path(tmp) / 'index'),
                       'NEUROVOX_GZIP_INDEX': None}
                report = matrix.run_side('rust', {'op': 'gzip_index', 'path': str(path)},
                                         env=env)
                if 'error' in report:
                    sys.exit(f"building neurovox's index: {report['error']}")
            files.append((who, path, env))

        print(f'| file | operation | nibabel | neurovox 1 thread | neurovox 2 threads '
              f'| 1 ÷ 2 threads | vs nibabel (2 threads) |')
        print('|---|---|--:|--:|--:|--:|--:|')
        for who, path, env in files:
            for label, op in ops:
                spec = dict(op, path=str(path), repeats=args.repeats)
                seconds = {}
                for side, threads in (('nibabel', None), ('py', '1'), ('py', '2')):
                    side_env = dict(env, RAYON_NUM_THREADS=threads) if threads else None
                    report = matrix.run_side(side, spec, env=side_env)
                    if 'error' in report:
                        sys.exit(f'{who} {label} {side} {threads}: {report["error"]}')
                    seconds[(side, threads)] = report['seconds']
                nib, one, two = (seconds[('nibabel', None)], seconds[('py', '1')],
                                 seconds[('py', '2')])
                print(f'| {who} | {label} | {nib:.3f} s | {one:.3f} s | {two:.3f} s '
                      f'| {one / two:.2f}× | {nib / two:.2f}× |', flush=True)


if __name__ == '__main__':
    main()
