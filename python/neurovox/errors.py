"""The exceptions neurovox raises, named as nibabel names them.

``ImageFileError`` and ``HeaderDataError`` are plain ``Exception`` subclasses, as in nibabel;
missing files raise ``FileNotFoundError`` and bad arguments ``ValueError``; a save whose data
the format cannot hold as asked raises ``WriterError`` (a ``ValueError``); a file that asks for
more than it holds raises ``ImageLimitError``, both an ``ImageFileError`` and an ``OSError``
(nibabel's short-read error); a file that ends before the data it declares raises
``ImageTruncatedError``, an ``ImageFileError``, ``EOFError`` and ``OSError`` at once (nibabel
raises ``EOFError`` or ``OSError`` for it, depending on where the file ends). Every message from
the Rust core names the file and, where known, the header field and byte offset.
"""

from ._neurovox import (HeaderDataError, HeaderTypeError, ImageFileError, ImageLimitError,
                        ImageTruncatedError, StaleFileError, WriterError)


class ExpiredDeprecationError(RuntimeError):
    """nibabel's error for removed APIs (kept for code that catches it)."""


__all__ = ['ImageFileError', 'ImageLimitError', 'ImageTruncatedError', 'HeaderDataError', 'HeaderTypeError',
           'StaleFileError', 'WriterError', 'ExpiredDeprecationError']
