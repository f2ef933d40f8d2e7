"""``load`` and ``save`` (nibabel's ``loadsave``)."""

from __future__ import annotations

import os
from stat import S_ISDIR, S_ISFIFO, S_ISREG

from . import _neurovox
from ._url import is_url
from .arrayproxy import _mmap_mode
from .errors import ImageFileError, _afni_errors, _minc_errors
from .images import IMAGE_CLASSES, PARRECImage


def load(filename, *, mmap=True, keep_file_open=None, **kwargs):
    """Loads the image in ``filename``, reading only its header.

    The class follows the file's format, recognised by its content (compression by magic
    bytes, so a ``.nii.gz`` that is not compressed still loads). The data stays in the file
    until it is asked for: ``img.dataobj[...]`` reads only the bytes a slice needs (in
    ``.nii.gz`` files too), ``img.get_fdata()`` reads it all.

    Parameters
    ----------
    filename : str or os.PathLike
        The image file (for a pair, either the ``.img`` or the ``.hdr``; ``~`` is
        expanded), or an ``http://``, ``https://`` or ``s3://`` URL of an image in any of
        these formats (a pair's sibling, an SPM ``.mat``, a PAR's REC are found next to
        it), of which only the bytes each read needs are fetched (``s3://`` with the AWS
        credentials the AWS CLI would find: of the environment, of the profile in ``~/.aws``
        (keys, its ``credential_process``, its SSO session, or the role its ``role_arn``
        names), of a web identity token (``AWS_ROLE_ARN``,
        ``AWS_WEB_IDENTITY_TOKEN_FILE``), of an ECS/EKS container's endpoint, else
        anonymously — public buckets such as OpenNeuro's — and, when an anonymous read is
        refused on EC2, with the instance's role).
    mmap : {True, False, 'c', 'r'}, optional
        Whether a full read of an uncompressed, unscaled image may memory-map the file
        instead of reading it into memory. ``True`` or ``'c'`` (the default): a
        copy-on-write map, whose changes stay in memory and never reach the file; ``'r'``:
        a read-only map; ``False``: always read into memory. Compressed or scaled data is
        always read into memory.
    keep_file_open : {None, True, False}, optional
        ``True`` keeps one file handle open for the image's life, which saves opening the
        file at every read (and, for ``.gz`` files, keeps what was decompressed to find
        later slices); ``False`` or ``None`` (the default) opens the file for each read.

    Returns
    -------
    SpatialImage
        A ``Nifti1Image``, ``Nifti2Image``, ``Nifti1Pair``, ``Nifti2Pair``,
        ``AnalyzeImage``, ``Spm99AnalyzeImage``, ``Spm2AnalyzeImage``, ``MGHImage``,
        ``AFNIImage``, ``EcatImage``, ``PARRECImage``, ``Minc1Image`` or ``Minc2Image``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist or cannot be accessed.
    ImageFileError
        If the file is empty, not a regular file (a FIFO, a directory, a device), or holds
        no image neurovox reads. Messages name the file and, for a bad header, the field.
    ValueError
        If ``mmap`` or ``keep_file_open`` is not one of the values above.

    Examples
    --------
    >>> import numpy as np, neurovox as nib
    >>> nib.save(nib.Nifti1Image(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4)),
    ...          'example.nii.gz')
    >>> img = nib.load('example.nii.gz')
    >>> img.in_memory
    False
    >>> img.dataobj[1, 2, :]
    array([20, 21, 22, 23], dtype=int16)
    >>> img.get_fdata().dtype
    dtype('float64')
    """
    mode = _mmap_mode(mmap)
    filename = os.fspath(filename)
    remote = is_url(filename)
    if not remote:
        filename = os.path.expanduser(filename)
        _check_regular_file(filename)
    # A URL is read remotely with range requests (docs/compat.md, "URLs"), every format as
    # from a file; its name without the query tells the format's extension.
    name = filename.split('?')[0].split('#')[0] if remote else filename
    stem, compression = os.path.splitext(name)
    if compression.lower() not in ('.gz', '.bz2', '.zst'):
        stem = name
    ext = os.path.splitext(stem)[1].lower()
    if ext in ('.par', '.rec'):
        return PARRECImage.from_filename(filename, mmap=mmap, keep_file_open=keep_file_open,
                                         **kwargs)
    if kwargs:
        raise TypeError(f'load() got unexpected keyword arguments {sorted(kwargs)} for '
                        f"'{filename}'")
    if ext in ('.head', '.brik'):
        # nibabel's AFNI error classes for AFNI datasets.
        with _afni_errors():
            native = _neurovox.NativeImage.load(filename, None, mode, keep_file_open)
    elif ext == '.mnc':
        with _minc_errors():
            native = _neurovox.NativeImage.load(filename, None, mode, keep_file_open)
            return IMAGE_CLASSES[native.format]._from_native(native, mmap)
    else:
        native = _neurovox.NativeImage.load(filename, None, mode, keep_file_open)
    return IMAGE_CLASSES[native.format]._from_native(native, mmap)


def _check_regular_file(filename):
    """What nibabel's load finds wrong with a path before reading it, said at once: a missing
    file, one that is not a regular file (a FIFO would block the first read forever; a device
    or a directory holds no image), an empty file."""
    try:
        stat = os.stat(filename)
    except OSError:
        raise FileNotFoundError(f"No such file or no access: '{filename}'") from None
    if not S_ISREG(stat.st_mode):
        kind = 'a FIFO (named pipe)' if S_ISFIFO(stat.st_mode) else (
            'a directory' if S_ISDIR(stat.st_mode) else 'a device or a socket')
        raise ImageFileError(f"'{filename}' is not a regular file but {kind}; neurovox reads "
                             'images only from regular files')
    if stat.st_size <= 0:
        raise ImageFileError(f"Empty file: '{filename}'")


def save(img, filename, **kwargs):
    """Saves ``img`` to ``filename`` (atomically); the format follows the extension as in
    nibabel (``.nii`` NIfTI, ``.img``/``.hdr`` pairs, ``.mgh``/``.mgz``, any of them
    compressed with ``.gz``).

    The save writes a temporary file beside the target and renames it over the target, so
    a reader never sees half a file and a failed save leaves the old file as it was.

    Parameters
    ----------
    img : SpatialImage
        The image to save (converted to the class the extension asks for, as nibabel does).
    filename : str or os.PathLike
        Where to save.
    dtype : numpy dtype, optional
        Store the data as this type (the header's, ``img.get_data_dtype()``, otherwise).
    compresslevel : int, optional
        For a compressed file name: gzip 0-12 (0 stores, 1-9 as zlib's, 10-12 smaller and
        slower, on libdeflate's scale; by default ISA-L's fast level 2, no larger than
        nibabel's files), bzip2 1-9, zstd 1-22. An addition to nibabel, whose saves always
        use gzip level 1.
    hard_links : {'refuse', 'replace', 'in_place'}, optional
        What to do when the file being replaced has other hard links (names): ``'refuse'``
        (the default) raises rather than leave the other names with the old data;
        ``'replace'`` gives this name a new file anyway; ``'in_place'`` writes into the
        shared file as nibabel does (every name sees the new data; not atomic).
    **kwargs
        Passed with the above to ``img.to_filename``.

    Raises
    ------
    ImageFileError
        If the file name's extension fits no image format.
    HeaderDataError
        If the format cannot store the data type asked for.
    WriterError
        If the values cannot be stored as asked (they would need scaling the format or
        type cannot hold), or, with ``hard_links='refuse'``, if the file being replaced
        has other hard links. A ``ValueError`` too.

    Examples
    --------
    >>> import numpy as np, neurovox as nv, os, tempfile
    >>> img = nv.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    >>> path = os.path.join(tempfile.mkdtemp(), 'small.nii.gz')
    >>> nv.save(img, path, compresslevel=9)
    >>> nv.load(path).shape
    (4, 4, 4)
    """
    from .images import (AFNIImage, MGHImage, Nifti1Image, Nifti1Pair, Nifti2Image, Nifti2Pair,
                         PARRECImage, SpatialImage)
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
    elif ext in ('.img', '.hdr') and klass in (MGHImage, AFNIImage, PARRECImage):
        # nibabel's first class for the extension that can be made: Nifti1Pair.
        converted = Nifti1Pair
    if converted is not None and isinstance(img, SpatialImage):
        img = converted.from_image(img)
    img.to_filename(filename, **kwargs)
