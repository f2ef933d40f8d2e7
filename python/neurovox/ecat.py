"""ECAT7 PET images (nibabel's ``nibabel.ecat``): read only.

``neurovox.ecat.load`` (and ``neurovox.load``, which nibabel's does not do) opens a ``.v``
file as an :class:`EcatImage`: a main header, a matrix list and one subheader per frame; the
frames read lazily as one 4-D float64 array.
"""

from __future__ import annotations

import numpy as np

from .headers import EcatHeader
from .images import EcatImage, EcatSubHeader


def get_frame_order(mlist):
    """The frames of a matrix list in order of their ids (nibabel's ``get_frame_order``).

    Parameters
    ----------
    mlist : (N, 4) array
        The matrix list (``EcatImage.get_mlist()``).

    Returns
    -------
    dict
        Frame number (from 0) to ``[matrix-list row, frame id]``, for the rows with an id
        above 0.
    """
    ids = np.asarray(mlist)[:, 0].copy()
    n_valid = int(np.sum(ids > 0))
    if len(ids):
        ids[ids <= 0] = ids.max() + 1
    order = np.argsort(ids, kind='stable')
    return {i: [order[i], ids[order[i]]] for i in range(n_valid)}


def EcatImageArrayProxy(subheader):  # noqa: N802 - nibabel's class name
    """The proxy of the frames a subheader object describes (nibabel's
    ``EcatImageArrayProxy(subheader)``): a new proxy over the same image's file.

    Parameters
    ----------
    subheader : EcatSubHeader
        ``img.get_subheaders()`` of a loaded image.

    Returns
    -------
    EcatArrayProxy
    """
    return subheader._proxy.copy()


def load(filespec):
    """Loads an ECAT7 image (nibabel's ``ecat.load``), reading only its headers.

    Parameters
    ----------
    filespec : str or os.PathLike
        The ``.v`` file.

    Returns
    -------
    EcatImage
    """
    return EcatImage.from_filename(filespec)


__all__ = ['EcatHeader', 'EcatImage', 'EcatImageArrayProxy', 'EcatSubHeader', 'get_frame_order',
           'load']
