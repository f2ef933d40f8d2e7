"""MINC2 images (nibabel's ``nibabel.minc2``): HDF5 files, read only, without h5py.

``neurovox.minc2.load`` (and ``neurovox.load``) opens a ``.mnc`` HDF5 file as a
:class:`Minc2Image`; the image dataset's chunks are read and inflated when a key needs them.
"""

from __future__ import annotations

from .arrayproxy import MincImageArrayProxy
from .errors import MincError
from .headers import Minc2Header, MincHeader
from .images import Minc2Image

load = Minc2Image.from_filename

__all__ = ['Minc2Header', 'Minc2Image', 'MincError', 'MincHeader', 'MincImageArrayProxy', 'load']
