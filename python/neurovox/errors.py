"""The exceptions neurovox raises, named as nibabel names them.

``ImageFileError`` and ``HeaderDataError`` are plain ``Exception`` subclasses, as in nibabel;
missing files raise ``FileNotFoundError`` and bad arguments ``ValueError``; a save whose data
the format cannot hold as asked raises ``WriterError`` (a ``ValueError``); a file that asks for
more than it holds raises ``ImageLimitError``, both an ``ImageFileError`` and an ``OSError``
(nibabel's short-read error); a file that ends before the data it declares raises
``ImageTruncatedError``, an ``ImageFileError``, ``EOFError`` and ``OSError`` at once (nibabel
raises ``EOFError`` or ``OSError`` for it, depending on where the file ends). Every message from
the Rust core names the file and, where known, the header field and byte offset. AFNI datasets
raise nibabel's ``AFNIHeaderError`` and ``AFNIImageError``, both ``HeaderDataError`` subclasses;
PAR/REC headers raise nibabel's ``PARRECError``, an ``ImageFileError`` here; MINC files raise
nibabel's ``MincError``, here both an ``ImageFileError`` and a ``ValueError`` (nibabel raises
``ValueError`` for irregular spacing and an impossible valid range, ``MincError`` for the rest).
"""

import contextlib

from ._neurovox import (HeaderDataError, HeaderTypeError, ImageFileError, ImageLimitError,
                        ImageTruncatedError, StaleFileError, WriterError)


class ExpiredDeprecationError(RuntimeError):
    """nibabel's error for removed APIs (kept for code that catches it)."""


class AFNIImageError(HeaderDataError):
    """The dataset's data cannot be read as one array (nibabel's ``AFNIImageError``): its
    sub-bricks have different data types, or a type no array holds. A ``HeaderDataError``
    too, which the core raises for it."""


class AFNIHeaderError(HeaderDataError):
    """A ``.HEAD`` attribute is missing or malformed (nibabel's ``AFNIHeaderError``)."""


@contextlib.contextmanager
def _afni_errors():
    """Raises the core's header errors as nibabel's AFNI error classes."""
    try:
        yield
    except (AFNIHeaderError, AFNIImageError):
        raise
    except HeaderDataError as e:
        # The core names the field: the data type is the image's problem, the rest the
        # header's (nibabel's split between the two classes).
        kind = AFNIImageError if 'BRICK_TYPES' in str(e) else AFNIHeaderError
        raise kind(str(e)) from e


class PARRECError(ImageFileError):
    """A ``.PAR`` header neurovox cannot read as nibabel reads it (nibabel's ``PARRECError``):
    a malformed line, an unsupported version or pixel size, a value that changes between
    slices where it must not, or a truncated recording loaded without ``permit_truncated``.
    An ``ImageFileError`` too."""


@contextlib.contextmanager
def _parrec_errors():
    """Raises the core's errors about a ``.PAR`` as nibabel's ``PARRECError`` (a file too
    short or too large keeps its own class)."""
    try:
        yield
    except (PARRECError, ImageLimitError, ImageTruncatedError, FileNotFoundError):
        raise
    except (HeaderDataError, ImageFileError, ValueError) as e:
        raise PARRECError(str(e)) from e


class MincError(ImageFileError, ValueError):
    """A MINC file neurovox cannot read as nibabel reads it (nibabel's ``MincError``): not
    three spatial dimensions, ``image-min`` / ``image-max`` that do not match the image,
    irregular spacing, a valid range outside the data type's. An ``ImageFileError`` and a
    ``ValueError`` too."""


@contextlib.contextmanager
def _minc_errors():
    """Raises the core's errors about a MINC file's structure as ``MincError`` (a missing
    file, or one too short for what it declares, keeps its own class)."""
    try:
        yield
    except (MincError, ImageLimitError, ImageTruncatedError, FileNotFoundError):
        raise
    except (HeaderDataError, ImageFileError) as e:
        raise MincError(str(e)) from e


__all__ = ['ImageFileError', 'ImageLimitError', 'ImageTruncatedError', 'HeaderDataError', 'HeaderTypeError',
           'StaleFileError', 'WriterError', 'ExpiredDeprecationError', 'AFNIHeaderError',
           'AFNIImageError', 'PARRECError', 'MincError']
