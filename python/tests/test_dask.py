"""neurovox proxies under dask: threads, processes, and a dask.distributed cluster (issue 7)."""

import numpy as np
import pytest

import nibabel as nib

nv = pytest.importorskip('neurovox')
da = pytest.importorskip('dask.array')
import dask  # noqa: E402
import neurovox.dask  # noqa: E402

SHAPE = (12, 13, 14, 5)


def write_images(tmp_path, n, scaled=True, suffix='.nii.gz'):
    """n nibabel-written images with different values; returns paths and the arrays nibabel reads."""
    paths, arrays = [], []
    for i in range(n):
        data = ((np.arange(np.prod(SHAPE)).reshape(SHAPE) * (i + 3)) % 2000 - 700).astype(np.int16)
        img = nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.5, 1.0]))
        if scaled:
            img.header.set_slope_inter(0.25 * (i + 1), 10.0 - i)
        path = str(tmp_path / f'img{i}{suffix}')
        img.to_filename(path)
        paths.append(path)
        arrays.append(np.asanyarray(nib.load(path).dataobj))
    return paths, arrays


@pytest.mark.parametrize('scheduler', ['threads', 'processes'])
@pytest.mark.parametrize('suffix', ['.nii', '.nii.gz'])
def test_from_array_on_a_proxy(tmp_path, scheduler, suffix):
    paths, arrays = write_images(tmp_path, 1, suffix=suffix)
    proxy = nv.load(paths[0]).dataobj
    x = da.from_array(neurovox.dask.ScaledValues(proxy), chunks=(12, 13, 7, 1))
    assert x.dtype == np.float64
    with dask.config.set(scheduler=scheduler):
        whole = x.compute()
        means = x.mean(axis=(0, 1, 2)).compute()
        piece = x[3:9, ::2, -1, 1:4].compute()
    np.testing.assert_array_equal(whole, arrays[0])
    np.testing.assert_allclose(means, arrays[0].mean(axis=(0, 1, 2)))
    np.testing.assert_array_equal(piece, arrays[0][3:9, ::2, -1, 1:4])


def test_from_array_without_meta_still_reads_the_values(tmp_path):
    # As with nibabel, dask takes the proxy's stored dtype as the array's; the values computed
    # are the scaled ones.
    paths, arrays = write_images(tmp_path, 1)
    x = da.from_array(nv.load(paths[0]).dataobj, chunks=(12, 13, 14, 1))
    with dask.config.set(scheduler='threads'):
        np.testing.assert_array_equal(x.compute(), arrays[0])


def test_from_images_stacks_lazily_with_volume_chunks(tmp_path):
    paths, arrays = write_images(tmp_path, 3)
    stack = neurovox.dask.from_images(paths)
    assert stack.shape == (3,) + SHAPE
    assert stack.dtype == np.float64
    assert stack.chunksize == (1, 12, 13, 14, 1)
    with dask.config.set(scheduler='threads'):
        np.testing.assert_array_equal(stack[1, ..., 4].compute(), arrays[1][..., 4])


def test_from_images_checks_shapes_and_dtypes(tmp_path):
    paths, _ = write_images(tmp_path, 2, scaled=False, suffix='.nii')
    odd = tmp_path / 'odd.nii'
    nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)).to_filename(odd)
    with pytest.raises(ValueError, match='odd.nii'):
        neurovox.dask.from_images(paths + [odd])
    with pytest.raises(ValueError):
        neurovox.dask.from_images([])
    # Unscaled int16 images stay int16; chunks can be given.
    stack = neurovox.dask.from_images(paths, chunks=(6, 13, 14, 5))
    assert stack.dtype == np.int16
    assert stack.chunks[1] == (6, 6)


def test_eight_images_on_a_local_cluster_with_two_worker_processes(tmp_path):
    distributed = pytest.importorskip('distributed')
    paths, arrays = write_images(tmp_path, 8)
    expected = np.stack(arrays).mean(axis=(0, 4))
    stack = neurovox.dask.from_images(paths)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as client:
        result = client.compute(stack.mean(axis=(0, 4))).result()
        per_image_max = client.compute(stack.max(axis=(1, 2, 3, 4))).result()
        workers = client.run(lambda: __import__('os').getpid())
    assert len(set(workers.values())) == 2
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    np.testing.assert_array_equal(per_image_max, [a.max() for a in arrays])


def test_without_dask_the_error_says_what_to_install(monkeypatch, tmp_path):
    # None in sys.modules makes `import dask.array` raise ImportError, as if not installed.
    monkeypatch.setitem(__import__('sys').modules, 'dask.array', None)
    with pytest.raises(ImportError, match=r'pip install "neurovox\[dask\]"'):
        neurovox.dask.from_images([tmp_path / 'a.nii'])
