"""AFNI BRIK/HEAD datasets (nibabel's ``nibabel.brikhead``): read only, as in nibabel.

An AFNI dataset is a text ``.HEAD`` of attributes and a ``.BRIK`` (often ``.BRIK.gz``) of
sub-bricks. ``neurovox.load`` opens either file as an :class:`AFNIImage`; the data is read
lazily, each sub-brick scaled by its own factor (``BRICK_FLOAT_FACS``).
"""

from __future__ import annotations

import os

from . import _neurovox
from .arrayproxy import AFNIArrayProxy
from .errors import AFNIHeaderError, AFNIImageError, _afni_errors
from .headers import AFNIHeader
from .images import AFNIImage


def parse_AFNI_header(fobj):
    """The attributes of a ``.HEAD`` file as a dict (nibabel's ``parse_AFNI_header``).

    Parameters
    ----------
    fobj : str, os.PathLike or file object
        The ``.HEAD`` file, or a file object open on it (text or binary mode).

    Returns
    -------
    dict
        Attribute names to values: strings as ``str`` (without AFNI's quote and ``~``), one
        number as ``int`` or ``float``, more as a list.

    Raises
    ------
    AFNIHeaderError
        If an attribute is malformed (the message names it and its byte offset).

    Examples
    --------
    >>> import os, nibabel, neurovox.brikhead as bh
    >>> data = os.path.join(os.path.dirname(nibabel.__file__), 'tests', 'data')
    >>> bh.parse_AFNI_header(os.path.join(data, 'example4d+orig.HEAD'))['BRICK_TYPES']
    [1, 1, 1]
    """
    if isinstance(fobj, (str, os.PathLike)):
        with open(fobj, 'rb') as f:
            return parse_AFNI_header(f)
    data = fobj.read()
    if isinstance(data, str):
        data = data.encode('utf-8')
    with _afni_errors():
        return _neurovox.NativeHeader.parse_afni_attributes(bytes(data))


load = AFNIImage.from_filename

__all__ = ['AFNIArrayProxy', 'AFNIHeader', 'AFNIHeaderError', 'AFNIImage', 'AFNIImageError',
           'load', 'parse_AFNI_header']
