"""Images as lazy dask arrays, read by any scheduler (threads, processes, dask.distributed).

A neurovox proxy pickles as a few hundred bytes (its file name, array spec and options, never
data), so dask ships it to worker processes and each worker reads only the chunks it is given,
straight from the file (from ``.nii.gz`` too, through neurovox's random-access index).

``dask.array.from_array(img.dataobj, chunks=...)`` works as with nibabel. Like nibabel's, a
proxy's ``dtype`` is the *stored* type, which dask takes as the array's dtype even when the
values are scaled to float64 (dask reads ``x.dtype`` and nothing else). :func:`from_images`
wraps each proxy in :class:`ScaledValues`, whose ``dtype`` is the values' type, so the dask
array's dtype is right; use ``da.from_array(ScaledValues(img.dataobj))`` for one image.

dask is an optional dependency: ``pip install "neurovox[dask]"``.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ._url import is_url
from .arrayproxy import get_obj_dtype
from .loadsave import load

__all__ = ['ScaledValues', 'from_images']


def _dask_array():
    """``dask.array`` and ``dask.base.tokenize``, or an ImportError that says how to get them.

    Imported when needed, not with this module: ``ScaledValues`` works without dask.
    """
    try:
        import dask.array as da
        from dask.base import tokenize
    except ImportError as e:
        raise ImportError('neurovox.dask needs dask with its array module, which is not '
                          'installed: pip install "neurovox[dask]" (or pip install '
                          '"dask[array]")') from e
    return da, tokenize


class ScaledValues:
    """A proxy seen as the array of its values: ``dtype`` is the type its reads return
    (``get_obj_dtype``), or ``dtype`` if given (values are cast). Pickles as the proxy does."""

    def __init__(self, proxy, dtype=None):
        self.proxy = proxy
        self.dtype = np.dtype(get_obj_dtype(proxy) if dtype is None else dtype)
        self.shape = tuple(proxy.shape)
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        return np.asarray(self.proxy[key], dtype=self.dtype)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.proxy, dtype=self.dtype if dtype is None else dtype)


def _volume_chunks(shape):
    """One chunk per 3-D volume: whole spatial axes, 1 along every later axis."""
    return tuple(n if axis < 3 else 1 for axis, n in enumerate(shape))


def from_images(paths: Sequence[str | os.PathLike], chunks=None, *, mmap=False):
    """Stacks images into one lazy dask array of shape ``(len(paths),) + shape``.

    ``paths`` may be URLs (``https://``, ``s3://``): each worker then reads the ranges of its
    chunks from the server itself. Only headers are read here. Every image must have the same shape (a ValueError names the
    first that does not). ``chunks`` applies to each image's axes (dask's syntax: a tuple, a
    dict, ``'auto'``...); by default one chunk per 3-D volume. The stacked axis has chunks of
    one image. The dtype is the type all images' values share (``numpy.result_type`` of what
    each proxy returns: float64 for scaled images).

    >>> import neurovox.dask  # doctest: +SKIP
    >>> stack = neurovox.dask.from_images(['a.nii.gz', 'b.nii.gz'])  # doctest: +SKIP
    >>> stack.mean(axis=0).compute()  # doctest: +SKIP
    """
    da, tokenize = _dask_array()
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError('from_images needs at least one image')
    images = [load(p, mmap=mmap) for p in paths]
    shape = images[0].shape
    for path, img in zip(paths, images):
        if img.shape != shape:
            raise ValueError(f'{path}: shape {img.shape} differs from {paths[0]}: {shape}')
    dtype = np.result_type(*[get_obj_dtype(img.dataobj) for img in images])
    per_image = _volume_chunks(shape) if chunks is None else chunks
    arrays = []
    for path, img in zip(paths, images):
        proxy = img.dataobj
        if is_url(path):
            # An object's version is its fingerprint (size, ETag, Last-Modified).
            version = proxy._native.fingerprint
        else:
            stat = os.stat(path)
            version = (stat.st_mtime_ns, stat.st_size)
        name = 'neurovox-' + tokenize(path, version, shape, str(dtype))
        values = ScaledValues(proxy, dtype)
        arrays.append(da.from_array(values, chunks=per_image, name=name, asarray=False))
    return da.stack(arrays, axis=0)
