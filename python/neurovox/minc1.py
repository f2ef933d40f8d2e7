"""MINC1 images (nibabel's ``nibabel.minc1``): netCDF files, read only.

``neurovox.minc1.load`` (and ``neurovox.load``) opens a ``.mnc`` netCDF file (also
``.mnc.gz``, ``.mnc.bz2``, ``.mnc.zst``) as a :class:`Minc1Image`. ``load`` here also reads
the 64-bit offset netCDF variant, which ``neurovox.load``, like nibabel's, does not recognise.
"""

from __future__ import annotations

from .arrayproxy import MincImageArrayProxy
from .errors import MincError
from .headers import Minc1Header, MincHeader
from .images import Minc1Image

load = Minc1Image.from_filename

__all__ = ['Minc1Header', 'Minc1Image', 'MincError', 'MincHeader', 'MincImageArrayProxy', 'load']
