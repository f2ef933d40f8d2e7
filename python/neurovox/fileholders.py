"""File holders, openers and file names of images (nibabel's ``fileholders``, ``openers`` and
``filename_parser``).

An image's ``file_map`` maps each kind of file it is stored in (``'image'``, ``'header'``,
``'mat'``) to a :class:`FileHolder`: a file name, or a file object (``BytesIO``, an open
file) with the position at which the image starts in it.
"""

from __future__ import annotations

import bz2
import gzip
import os
import pathlib


class FileHolderError(Exception):
    """A file holder with neither a file name nor a file object was asked for a file."""


def _compressed_open(name, mode, compresslevel=None):
    """``open`` for ``name``, compressed as its suffix says (``.gz``/``.mgz``, ``.bz2``);
    ``compresslevel`` for writing (default: gzip 1, as nibabel writes, bzip2 9)."""
    lower = name.lower()
    if lower.endswith(('.gz', '.mgz')):
        # Level 1 and mtime 0, as nibabel writes gzip files.
        if 'w' in mode:
            level = 1 if compresslevel is None else compresslevel
            return gzip.GzipFile(name, mode, compresslevel=level, mtime=0)
        return gzip.open(name, mode)
    if lower.endswith('.bz2'):
        if 'w' in mode and compresslevel is not None:
            return bz2.open(name, mode, compresslevel=compresslevel)
        return bz2.open(name, mode)
    if lower.endswith('.zst'):
        try:
            from compression import zstd  # Python 3.14+
        except ImportError:
            raise OSError(f'cannot open {name!r}: no zstd module in this Python') from None
        return zstd.open(name, mode)
    return open(name, mode)


class Opener:
    """A file object, or a file opened by name (compressed as its suffix says), usable as a
    context manager that closes only what it opened (nibabel's ``ImageOpener``)."""

    def __init__(self, fileish, *args, **kwargs):
        if hasattr(fileish, 'read') or hasattr(fileish, 'write'):
            self.fobj = fileish
            self.me_opened = False
            self._name = getattr(fileish, 'name', None)
            return
        name = _stringify_path(fileish)
        mode = args[0] if args else kwargs.get('mode', 'rb')
        if 'b' not in mode:
            mode += 'b'
        self.fobj = _compressed_open(name, mode, kwargs.get('compresslevel'))
        self.me_opened = True
        self._name = name

    @property
    def name(self):
        return self._name

    @property
    def mode(self):
        return self.fobj.mode

    @property
    def closed(self):
        return self.fobj.closed

    def fileno(self):
        return self.fobj.fileno()

    def read(self, *args, **kwargs):
        return self.fobj.read(*args, **kwargs)

    def readinto(self, *args, **kwargs):
        return self.fobj.readinto(*args, **kwargs)

    def readline(self, *args, **kwargs):
        return self.fobj.readline(*args, **kwargs)

    def write(self, *args, **kwargs):
        return self.fobj.write(*args, **kwargs)

    def seek(self, *args, **kwargs):
        return self.fobj.seek(*args, **kwargs)

    def tell(self, *args, **kwargs):
        return self.fobj.tell(*args, **kwargs)

    def seekable(self):
        return self.fobj.seekable()

    def flush(self):
        return self.fobj.flush()

    def close(self, *args, **kwargs):
        return self.fobj.close(*args, **kwargs)

    def close_if_mine(self):
        """Closes the file if this opener opened it."""
        if self.me_opened:
            self.close()

    def __iter__(self):
        return iter(self.fobj)

    def __getattr__(self, name):
        if name == 'fobj':  # not set yet: __init__ failed
            raise AttributeError(name)
        return getattr(self.fobj, name)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close_if_mine()


class FileHolder:
    """A file name or a file object, and the position at which the image starts in it
    (nibabel's ``FileHolder``)."""

    def __init__(self, filename=None, fileobj=None, pos=0):
        self.filename = filename
        self.fileobj = fileobj
        self.pos = pos

    def get_prepare_fileobj(self, *args, **kwargs):
        """An :class:`Opener` of the file object (moved to ``pos``), or of the file opened by
        name with ``args`` (``'rb'``, ``'wb'``); the opener closes only a file it opened."""
        if self.fileobj is not None:
            obj = Opener(self.fileobj)
            obj.seek(self.pos)
        elif self.filename is not None:
            obj = Opener(self.filename, *args, **kwargs)
            if self.pos != 0:
                obj.seek(self.pos)
        else:
            raise FileHolderError('No filename or fileobj present')
        return obj

    def same_file_as(self, other):
        """True if ``other`` has the same file name and the same file object."""
        return self.filename == other.filename and self.fileobj == other.fileobj

    @property
    def file_like(self):
        """The file object if there is one, else the file name."""
        return self.fileobj if self.fileobj is not None else self.filename

    def __repr__(self):
        return f'FileHolder(filename={self.filename!r}, fileobj={self.fileobj!r}, pos={self.pos})'


def copy_file_map(file_map):
    """A copy of a file map, with shallow copies of its holders."""
    return {key: FileHolder(h.filename, h.fileobj, h.pos) for key, h in file_map.items()}


class TypesFilenamesError(Exception):
    """A file name that does not fit the file types of an image class."""


def _stringify_path(path):
    return pathlib.Path(path).expanduser().as_posix()


def _iendswith(whole, end):
    return whole.lower().endswith(end.lower())


def parse_filename(filename, types_exts, trailing_suffixes):
    """``(root, extension, compression suffix, file type)`` of a file name, as nibabel's
    ``parse_filename`` splits it (case-insensitively)."""
    filename = _stringify_path(filename)
    ignored = None
    for ext in trailing_suffixes:
        if _iendswith(filename, ext):
            ignored = filename[-len(ext):]
            filename = filename[:-len(ext)]
            break
    guessed_name = None
    found_ext = None
    for name, type_ext in types_exts:
        if type_ext and _iendswith(filename, type_ext):
            found_ext = filename[-len(type_ext):]
            filename = filename[:-len(type_ext)]
            guessed_name = name
            break
    else:
        filename, found_ext = os.path.splitext(filename)
    return filename, found_ext, ignored, guessed_name


def types_filenames(template_fname, types_exts, trailing_suffixes=('.gz', '.bz2')):
    """The file name of each file type for a file name of one of them (nibabel's
    ``types_filenames``, extensions enforced): ``a.img`` gives ``{'image': 'a.img',
    'header': 'a.hdr'}``; an all-upper or all-lower extension sets the case of the others."""
    template_fname = _stringify_path(template_fname).removesuffix('.')
    filename, found_ext, ignored, guessed_name = parse_filename(
        template_fname, types_exts, trailing_suffixes)
    if guessed_name is None:
        if found_ext:
            raise TypesFilenamesError(
                f'File extension "{found_ext}" was not in expected list: '
                f'{[e for t, e in types_exts]}')
        if ignored:
            raise TypesFilenamesError(f'Confusing ignored suffix {ignored} without extension')
    proc_ext = str
    if found_ext:
        if found_ext == found_ext.upper():
            proc_ext = str.upper
        elif found_ext == found_ext.lower():
            proc_ext = str.lower
    names = {}
    for name, ext in types_exts:
        fname = filename
        if ext:
            fname += proc_ext(ext)
        if ignored:
            fname += ignored
        names[name] = fname
    return names
