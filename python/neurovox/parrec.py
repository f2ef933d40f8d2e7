"""Philips PAR/REC recordings (nibabel's ``nibabel.parrec``): read only, as in nibabel.

A recording is a ``.PAR`` text header — general information and one line per slice — and a
``.REC`` of 8- or 16-bit slices. ``neurovox.load`` (or :func:`load`, with nibabel's keywords
``permit_truncated``, ``scaling`` and ``strict_sort``) opens either file as a
:class:`PARRECImage`; the slices are read lazily, sorted into ``(x, y, slice[, volume])`` and
scaled slice by slice.
"""

from __future__ import annotations

import io
from locale import getpreferredencoding

import numpy as np

from .arrayproxy import PARRECArrayProxy
from .errors import PARRECError
from .headers import IMAGE_DEF_DTDS, PARRECHeader, _parse_par_fileobj
from .images import PARRECImage

#: PAR versions read (nibabel's ``supported_versions``).
supported_versions = list(IMAGE_DEF_DTDS)

#: nibabel's ``image_def_dtds``: the image definition fields of each version.
image_def_dtds = IMAGE_DEF_DTDS

#: PSL (Philips' ap, fh, rl axes as posterior, superior, left) to RAS.
PSL_TO_RAS = np.array([[0, 0, -1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]])

#: Voxel axes of each slice orientation as PSL axes (nibabel's ``ACQ_TO_PSL``).
ACQ_TO_PSL = dict(
    transverse=np.array([[0, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]),
    sagittal=np.diag([1, -1, -1, 1]),
    coronal=np.array([[0, 0, 1, 0], [0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]]),
)

DEG2RAD = np.pi / 180.0


def parse_PAR_header(fobj):  # noqa: N802 - nibabel's name
    """The general information and image definitions of a ``.PAR``.

    Parameters
    ----------
    fobj : file object
        The ``.PAR``, open in text or binary mode.

    Returns
    -------
    general_info : dict
        General information by nibabel's short names (``'max_slices'``, ``'angulation'``…).
    image_defs : numpy.ndarray
        A structured array, one row per image line, with the version's fields.

    Raises
    ------
    PARRECError
        If a line is malformed or the version is not V4, V4.1 or V4.2.

    Examples
    --------
    >>> import os, nibabel, neurovox.parrec as pr
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> with open(os.path.join(data, 'T2.PAR')) as f:
    ...     info, defs = pr.parse_PAR_header(f)
    >>> info['max_slices'], defs['slice number'][:3]
    (10, array([1, 2, 3]))
    """
    return _parse_par_fileobj(fobj)


def vol_numbers(slice_nos):
    """The volume number of each slice: how often its slice number came before.

    Parameters
    ----------
    slice_nos : sequence of int
        Slice numbers, e.g. ``[1, 2, 3, 4, 1, 2, 3, 4]``.

    Returns
    -------
    list of int
    """
    counter = {}
    vol_nos = []
    for s_no in slice_nos:
        count = counter.setdefault(s_no, 0)
        vol_nos.append(count)
        counter[s_no] += 1
    return vol_nos


def vol_is_full(slice_nos, slice_max, slice_min=1):
    """True for the slices of volumes that have every slice number from ``slice_min`` to
    ``slice_max``.

    Parameters
    ----------
    slice_nos : sequence of int
        Slice numbers.
    slice_max : int
        The highest slice number of a full volume.
    slice_min : int, optional
        The lowest (default 1).

    Returns
    -------
    numpy.ndarray
        bool, one per slice.

    Raises
    ------
    ValueError
        If a slice number is outside the range.
    """
    slice_set = set(range(slice_min, slice_max + 1))
    if not slice_set.issuperset(slice_nos):
        raise ValueError(f'Slice numbers outside inclusive range {slice_min} to {slice_max}')
    vol_nos = np.array(vol_numbers(slice_nos))
    slice_nos = np.asarray(slice_nos)
    is_full = np.ones(slice_nos.shape, dtype=bool)
    for vol_no in set(vol_nos):
        ours = vol_nos == vol_no
        if not set(slice_nos[ours]) == slice_set:
            is_full[ours] = False
    return is_full


def one_line(long_str):
    """``long_str``'s lines, stripped and joined by spaces."""
    return ' '.join(line.strip() for line in long_str.splitlines())


def exts2pars(exts_source):
    """The PAR headers kept in NIfTI extensions (``parrec2nii --store-header``).

    Parameters
    ----------
    exts_source : sequence of extensions, or a header or image holding them

    Returns
    -------
    list of PARRECHeader
    """
    headers = []
    exts_source = exts_source.header if hasattr(exts_source, 'header') else exts_source
    exts_source = exts_source.extensions if hasattr(exts_source, 'extensions') else exts_source
    for extension in exts_source:
        content = extension.get_content()
        content = content.decode(getpreferredencoding(False))
        if not content.startswith('# === DATA DESCRIPTION FILE ==='):
            continue
        gen_info, image_info = parse_PAR_header(io.StringIO(content))
        headers.append(PARRECHeader(gen_info, image_info))
    return headers


load = PARRECImage.from_filename

__all__ = ['ACQ_TO_PSL', 'DEG2RAD', 'PARRECArrayProxy', 'PARRECError', 'PARRECHeader',
           'PARRECImage', 'PSL_TO_RAS', 'exts2pars', 'image_def_dtds', 'load', 'one_line',
           'parse_PAR_header', 'supported_versions', 'vol_is_full', 'vol_numbers']
