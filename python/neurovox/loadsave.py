"""``load`` and ``save`` (nibabel's ``loadsave``)."""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISFIFO, S_ISREG

from . import _neurovox
from .arrayproxy import _mmap_mode
from .errors import ImageFileError
from .images import IMAGE_CLASSES


def load(filename, *, mmap=True, keep_file_open=None):
    """Loads the image in ``filename``, reading only its header; the class follows the
    file's format, recognised by content (compression by magic bytes)."""
    mode = _mmap_mode(mmap)
    filename = os.path.expanduser(os.fspath(filename))
    try:
        stat = os.stat(filename)
    except OSError:
        raise FileNotFoundError(f"No such file or no access: '{filename}'") from None
    if not S_ISREG(stat.st_mode):
        # A FIFO would block the first read forever (nibabel hangs); a device or a
        # directory holds no image.
        kind = 'a FIFO (named pipe)' if S_ISFIFO(stat.st_mode) else (
            'a directory' if S_ISDIR(stat.st_mode) else 'a device or a socket')
        raise ImageFileError(f"'{filename}' is not a regular file but {kind}; neurovox reads "
                             'images only from regular files')
    if stat.st_size <= 0:
        raise ImageFileError(f"Empty file: '{filename}'")
    native = _neurovox.NativeImage.load(filename, None, mode, keep_file_open)
    return IMAGE_CLASSES[native.format]._from_native(native, mmap)


def save(img, filename, **kwargs):
    """Saves ``img`` to ``filename`` (atomically); the format follows the extension as in
    nibabel (``.nii`` NIfTI, ``.img``/``.hdr`` pairs, ``.mgh``/``.mgz``, any of them
    compressed with ``.gz``).

    Parameters
    ----------
    img : SpatialImage
        The image to save (converted to the class the extension asks for, as nibabel does).
    filename : str or os.PathLike
        Where to save.
    **kwargs
        Passed to ``img.to_filename``: ``dtype`` (store the data as this type) and
        ``compresslevel`` (gzip 0-12, default 2; bzip2 1-9; zstd 1-22), an addition to
        nibabel, whose saves always use gzip level 1; ``hard_links`` (``'refuse'``,
        ``'replace'`` or ``'in_place'``, see ``to_filename``).

    Examples
    --------
    >>> import numpy as np, neurovox as nv, os, tempfile
    >>> img = nv.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    >>> path = os.path.join(tempfile.mkdtemp(), 'small.nii.gz')
    >>> nv.save(img, path, compresslevel=9)
    >>> nv.load(path).shape
    (4, 4, 4)
    """
    from .images import Nifti1Image, Nifti1Pair, Nifti2Image, Nifti2Pair, MGHImage, SpatialImage
    filename = os.path.expanduser(os.fspath(filename))
    lower = filename.lower()
    for suffix in ('.gz', '.bz2', '.zst'):
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
    ext = os.path.splitext(lower)[1]
    klass = type(img)
    converted = None
    if ext == '.nii' and klass not in (Nifti1Image, Nifti2Image):
        converted = Nifti2Image if klass is Nifti2Pair else Nifti1Image
    elif ext in ('.img', '.hdr') and klass in (Nifti1Image, Nifti2Image):
        converted = Nifti2Pair if klass is Nifti2Image else Nifti1Pair
    elif ext in ('.mgh', '.mgz') and klass is not MGHImage:
        converted = MGHImage
    elif ext in ('.img', '.hdr') and klass is MGHImage:
        converted = Nifti1Pair
    if converted is not None and isinstance(img, SpatialImage):
        img = converted.from_image(img)
    img.to_filename(filename, **kwargs)
