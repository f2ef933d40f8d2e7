"""One side of one cell of the benchmark matrix (`benches/matrix.py`), in its own process.

    python benches/matrix_side.py LIBRARY SPEC

LIBRARY is `nibabel`, `neurovox` (the same code with `import neurovox as nib`: nibabel's own
calls), `sitk` (SimpleITK), or one of the gzip anchors `igzip` (indexed_gzip) and `rapidgzip`.
SPEC is the JSON object the matrix gives every side (the Rust
side, `crates/neurovox/examples/bench_io.rs`, reads the same), e.g.
`{"op": "slice", "repeats": 3, "path": "bold.nii.gz", "key": [null, 48]}`.

The process imports its library, runs the operation `repeats` times, timing each run itself
(process start and imports excluded), and prints one JSON line: the best time in seconds; the
last run's result summarised as shape, numpy dtype name and checksum (the float64 sum of the
values, computed after the clock stopped); the peak resident memory of this process (VmHWM
from /proc/self/status: the peak since exec, so it counts the imports, the result and the
checksum pass); and `extra` facts (`is_dirty_s`, `pickle_bytes`). Each run's objects are local
to `run_once`, so they are freed before the next run starts. Saves report no checksum: the
matrix reads every side's output back with nibabel.

SimpleITK's arrays are indexed the other way round ([t, z, y, x]): its shapes are reported
reversed so they compare with nibabel's, and arrays it saves are given transposed (`arr.T`,
a view) so its files hold the same image as nibabel's.

The gzip anchors only read a whole `.nii.gz` (`gz_whole`): the data bytes after the header
(`offset`, from nibabel's header in the matrix, as are `shape` and `dtype`) read into a numpy
array, through the index file `index` when the spec names one; `gz_index` (untimed preparation)
builds the whole index of `path` and exports it to `index`, in the tool's own format.
"""

import json
import os
import pickle
import sys
import time

import numpy as np

LIBRARY, SPEC = sys.argv[1], json.loads(sys.argv[2])

if LIBRARY == 'sitk':
    import SimpleITK as sitk
elif LIBRARY == 'igzip':
    import indexed_gzip
elif LIBRARY == 'rapidgzip':
    import rapidgzip
else:
    import importlib
    nib = importlib.import_module(LIBRARY)
    if LIBRARY == 'nibabel':
        # nibabel's load does not open ECAT7 (.v) files; its ecat module does.
        from nibabel import ecat as _ecat
        _nib_load = nib.load
        nib.load = lambda path, **kw: (_ecat.load(path) if str(path).endswith('.v')
                                       else _nib_load(path, **kw))

# The affine every save gives its array image (bench_io.rs has the same).
AFFINE = np.array([[-2.5, 0.0, 0.0, 118.75],
                   [0.0, 2.5, 0.0, -118.75],
                   [0.0, 0.0, 2.5, -73.75],
                   [0.0, 0.0, 0.0, 1.0]])


def summary(arr, reverse=False):
    shape = list(arr.shape)
    return {'shape': shape[::-1] if reverse else shape,
            'checksum': float(np.sum(arr, dtype=np.float64)),
            'dtype': arr.dtype.name}


def key_of(spec):
    """The spec's key: ints, '...', None (a whole axis) and [start, stop] (a slice)."""
    def item(k):
        if k is None:
            return slice(None)
        if k == '...':
            return Ellipsis
        if isinstance(k, list):
            return slice(*k)
        return k
    return tuple(item(k) for k in spec['key'])


def image_files(directory):
    return sorted(os.path.join(directory, f) for f in os.listdir(directory)
                  if f.endswith(('.nii', '.nii.gz')))


# nibabel's calls (and neurovox's, the same calls): each returns (seconds, summary, extra).

def nib_header_many(spec):
    files = image_files(spec['dir'])
    start = time.perf_counter()
    voxels = 0
    for f in files:
        voxels += int(np.prod(nib.load(f).shape))
    return time.perf_counter() - start, {'shape': [len(files)], 'checksum': float(voxels),
                                         'dtype': 'header'}, {}


def nib_fdata(spec):
    start = time.perf_counter()
    data = nib.load(spec['path']).get_fdata(dtype=np.dtype(spec['dtype']))
    return time.perf_counter() - start, summary(data), {}


def nib_asarray(spec):
    start = time.perf_counter()
    data = np.asarray(nib.load(spec['path']).dataobj)
    return time.perf_counter() - start, summary(data), {}


def nib_slice(spec):
    key = key_of(spec)
    start = time.perf_counter()
    data = nib.load(spec['path']).dataobj[key]
    return time.perf_counter() - start, summary(data), {}


def nib_keys(spec):
    img = nib.load(spec['path'])
    keys = [key_of({'key': k}) for k in spec['keys']]
    rounds = []
    for _ in range(2):
        start = time.perf_counter()
        results = [np.asarray(img.dataobj[key]) for key in keys]
        rounds.append(time.perf_counter() - start)
    result = {'shape': [len(results)], 'dtype': results[0].dtype.name,
              'checksum': sum(summary(r)['checksum'] for r in results)}
    return rounds[0], result, {'warm_s': rounds[1]}


def nib_volumes_warm(spec):
    img = nib.load(spec['path'])
    img.get_fdata()
    start = time.perf_counter()
    volumes = [img.dataobj[..., t] for t in spec['volumes']]
    seconds = time.perf_counter() - start
    result = summary(volumes[0])
    result['shape'].insert(0, len(volumes))
    result['checksum'] = sum(summary(v)['checksum'] for v in volumes)
    return seconds, result, {}


def nib_fdata_is_dirty(spec):
    start = time.perf_counter()
    img = nib.load(spec['path'])
    data = img.get_fdata()
    asked = time.perf_counter()
    extra = {}
    if hasattr(type(img), 'is_dirty'):  # neurovox; nibabel has no such attribute
        extra['is_dirty'] = bool(img.is_dirty)
    end = time.perf_counter()
    if 'is_dirty' in extra:
        extra['is_dirty_s'] = end - asked
    return end - start, summary(data), extra


def nib_save_array(spec):
    arr = np.load(spec['npy'])  # untimed; a Fortran-ordered array, as get_fdata gives
    start = time.perf_counter()
    img = nib.Nifti1Image(arr, AFFINE)
    if spec.get('set_dtype'):
        img.set_data_dtype(np.dtype(spec['set_dtype']))
    nib.save(img, spec['out'])
    return time.perf_counter() - start, None, {}


def nib_convert(spec):
    start = time.perf_counter()
    nib.save(nib.load(spec['path']), spec['out'])
    return time.perf_counter() - start, None, {}


def nib_pickle(spec):
    img = nib.load(spec['path'])
    if spec.get('fdata_first'):
        img.get_fdata()
    key = key_of(spec)
    start = time.perf_counter()
    blob = pickle.dumps(img)
    data = pickle.loads(blob).dataobj[key]
    seconds = time.perf_counter() - start
    return seconds, summary(data), {'pickle_bytes': len(blob)}


def nib_real_many(spec):
    # Each file's load and get_fdata are timed; its sum (NaNs left out) is taken between the
    # clocks. The sums per file go in `extra` for the matrix to compare file by file.
    seconds, sums = 0.0, {}
    for f in image_files(spec['dir']):
        start = time.perf_counter()
        data = nib.load(f).get_fdata()
        seconds += time.perf_counter() - start
        sums[os.path.basename(f)] = float(np.nansum(data, dtype=np.float64))
        del data
    return seconds, {'shape': [len(sums)], 'checksum': sum(sums.values()),
                     'dtype': 'float64'}, {'sums': sums}


# SimpleITK's whole reads and writes.

SITK_TYPES = {None: None, 'float64': 'sitkFloat64', 'float32': 'sitkFloat32',
              'int16': 'sitkInt16', 'uint8': 'sitkUInt8'}


def sitk_read(path, dtype):
    name = SITK_TYPES[dtype]
    if name is None:
        return sitk.ReadImage(path)
    return sitk.ReadImage(path, getattr(sitk, name))


def sitk_header_many(spec):
    files = image_files(spec['dir'])
    start = time.perf_counter()
    voxels = 0
    for f in files:
        reader = sitk.ImageFileReader()
        reader.SetFileName(f)
        reader.ReadImageInformation()
        voxels += int(np.prod(reader.GetSize()))
    return time.perf_counter() - start, {'shape': [len(files)], 'checksum': float(voxels),
                                         'dtype': 'header'}, {}


def sitk_fdata(spec):
    start = time.perf_counter()
    data = sitk.GetArrayFromImage(sitk_read(spec['path'], spec['dtype']))
    return time.perf_counter() - start, summary(data, reverse=True), {}


def sitk_asarray(spec):
    start = time.perf_counter()
    data = sitk.GetArrayFromImage(sitk_read(spec['path'], spec.get('sitk_dtype')))
    return time.perf_counter() - start, summary(data, reverse=True), {}


def sitk_save_array(spec):
    arr = np.load(spec['npy']).T  # untimed; C-ordered view of the same image
    start = time.perf_counter()
    img = sitk.GetImageFromArray(arr, isVector=False)
    sitk.WriteImage(img, spec['out'], useCompression=spec['out'].endswith('.gz'))
    return time.perf_counter() - start, None, {}


def sitk_convert(spec):
    start = time.perf_counter()
    sitk.WriteImage(sitk.ReadImage(spec['path']), spec['out'],
                    useCompression=spec['out'].endswith('.gz'))
    return time.perf_counter() - start, None, {}


def sitk_real_many(spec):
    # As nib_real_many; a file SimpleITK cannot read (e.g. NIfTI-2 .nii.gz) is left out and
    # named in `extra`.
    seconds, sums, skipped = 0.0, {}, []
    for f in image_files(spec['dir']):
        start = time.perf_counter()
        try:
            data = sitk.GetArrayFromImage(sitk.ReadImage(f, sitk.sitkFloat64))
        except RuntimeError:
            skipped.append(os.path.basename(f))
            continue
        seconds += time.perf_counter() - start
        sums[os.path.basename(f)] = float(np.nansum(data, dtype=np.float64))
        del data
    return seconds, {'shape': [len(sums)], 'checksum': sum(sums.values()),
                     'dtype': 'float64'}, {'sums': sums, 'skipped': skipped}


# The gzip anchors: indexed_gzip (one thread) and rapidgzip (a thread per CPU).

def read_data(f, spec):
    """The image data of an open decompressed stream: the bytes after the header, read into
    a fresh array of the header's type and shape (Fortran order, as NIfTI stores it)."""
    arr = np.empty(int(np.prod(spec['shape'])), np.dtype(spec['dtype']))
    view = arr.view(np.uint8)
    f.seek(spec['offset'])
    got = 0
    while got < view.size:
        n = f.readinto(view[got:])
        if not n:
            raise EOFError(f'the stream ends {view.size - got} bytes short of the data')
        got += n
    return arr.reshape(spec['shape'], order='F')


def igzip_gz_whole(spec):
    start = time.perf_counter()
    with indexed_gzip.IndexedGzipFile(spec['path'], index_file=spec.get('index')) as f:
        data = read_data(f, spec)
    return time.perf_counter() - start, summary(data), {}


def igzip_gz_index(spec):
    start = time.perf_counter()
    with indexed_gzip.IndexedGzipFile(spec['path']) as f:
        f.build_full_index()
        f.export_index(spec['index'])
    return time.perf_counter() - start, None, {'index_bytes': os.path.getsize(spec['index'])}


def rapidgzip_gz_whole(spec):
    start = time.perf_counter()
    with rapidgzip.open(spec['path'], parallelization=os.cpu_count()) as f:
        if spec.get('index'):
            f.import_index(spec['index'])
        data = read_data(f, spec)
    return time.perf_counter() - start, summary(data), {}


def rapidgzip_gz_index(spec):
    start = time.perf_counter()
    with rapidgzip.open(spec['path'], parallelization=os.cpu_count()) as f:
        f.seek(0, os.SEEK_END)  # the whole file inflated once: every block offset known
        f.export_index(spec['index'])
    return time.perf_counter() - start, None, {'index_bytes': os.path.getsize(spec['index'])}


def peak_rss_mib():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def main():
    prefix = {'sitk': 'sitk_', 'igzip': 'igzip_', 'rapidgzip': 'rapidgzip_'}.get(LIBRARY, 'nib_')
    run_once = globals().get(prefix + SPEC['op'])
    if run_once is None:
        sys.exit(f'{LIBRARY} has no operation {SPEC["op"]!r}')
    best, result, extra = float('inf'), None, {}
    for _ in range(max(1, SPEC.get('repeats', 1))):
        seconds, result, extra = run_once(SPEC)
        best = min(best, seconds)
    report = {'op': SPEC['op'], 'seconds': best, 'peak_rss_mib': peak_rss_mib(), 'extra': extra}
    report.update(result or {'shape': [], 'checksum': 0.0, 'dtype': ''})
    print(json.dumps(report))


if __name__ == '__main__':
    main()
