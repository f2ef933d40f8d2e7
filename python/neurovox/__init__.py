"""neurovox: neuroimaging volumes (NIfTI-1/2, Analyze/SPM, MGH/MGZ; AFNI, ECAT7, PAR/REC read)
with nibabel's API.

Change one import — ``import neurovox as nib`` — and the nibabel calls work: ``nib.load``,
``img.dataobj[..., 3]``, ``img.get_fdata(caching='unchanged')``, ``img.uncache()``,
``nib.save``. Reads go through a Rust core that reads only the bytes a slice needs (also in
``.nii.gz`` files) with the GIL released; saves are atomic. What nibabel lacks:
``img.is_dirty``, ``img.mark_clean()``, ``img.as_filename()``.

numpy's memory maps and array files too (module ``neurovox.npyio``): ``memmap``, ``load_npy`` /
``save_npy``, ``load_npz`` (stored members memory-mapped inside the zip, which numpy cannot
do), ``savez`` / ``savez_compressed``.
"""

from ._neurovox import __version__
from .arrayproxy import ArrayProxy, get_obj_dtype, is_proxy, reshape_dataobj
from .errors import (HeaderDataError, HeaderTypeError, ImageFileError, ImageLimitError,
                     ImageTruncatedError, StaleFileError, WriterError)
from .fileholders import FileHolder, FileHolderError
from .headers import (AFNIHeader, AnalyzeHeader, EcatHeader, FileBasedHeader, MGHHeader,
                      Minc1Header, Minc2Header, Nifti1Extension, Nifti1Extensions, Nifti1Header, Nifti1PairHeader,
                      Nifti2Header, Nifti2PairHeader, PARRECHeader, Spm2AnalyzeHeader,
                      Spm99AnalyzeHeader)
from .images import (AFNIImage, AnalyzeImage, DataobjImage, EcatImage, FileBasedImage, MGHImage,
                     Minc1Image, Minc2Image, Nifti1Image, Nifti1Pair, Nifti2Image, Nifti2Pair, PARRECImage,
                     SerializableImage,
                     SpatialImage, Spm2AnalyzeImage, Spm99AnalyzeImage, from_handle_json)
from .loadsave import load, save
from .npyio import load_npy, load_npz, memmap, save_npy, savez, savez_compressed
from . import brikhead, ecat, minc1, minc2, parrec

__all__ = [
    '__version__', 'load', 'save', 'ArrayProxy', 'is_proxy', 'reshape_dataobj', 'get_obj_dtype',
    'ImageFileError', 'ImageLimitError', 'ImageTruncatedError', 'HeaderDataError', 'HeaderTypeError', 'StaleFileError', 'WriterError',
    'AnalyzeHeader', 'Spm99AnalyzeHeader', 'Spm2AnalyzeHeader', 'Nifti1Header',
    'Nifti1PairHeader', 'Nifti2Header', 'Nifti2PairHeader', 'MGHHeader', 'Nifti1Extension',
    'Nifti1Extensions', 'FileBasedHeader', 'FileBasedImage', 'SerializableImage', 'DataobjImage',
    'SpatialImage', 'FileHolder', 'FileHolderError', 'AnalyzeImage',
    'Spm99AnalyzeImage', 'Spm2AnalyzeImage', 'Nifti1Pair', 'Nifti1Image', 'Nifti2Pair',
    'Nifti2Image', 'MGHImage', 'memmap', 'load_npy', 'save_npy', 'load_npz', 'savez',
    'savez_compressed', 'from_handle_json', 'AFNIHeader', 'AFNIImage', 'brikhead',
    'EcatHeader', 'EcatImage', 'ecat', 'PARRECHeader', 'PARRECImage', 'parrec',
    'Minc1Header', 'Minc1Image', 'minc1', 'Minc2Header', 'Minc2Image', 'minc2',
]
