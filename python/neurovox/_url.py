"""Which names are URLs: the one place the URL schemes neurovox reads are spelled."""

from __future__ import annotations

#: The URL schemes read remotely (docs/compat.md, "URLs") instead of opened as paths.
URL_SCHEMES = ('http://', 'https://', 's3://')


def is_url(name) -> bool:
    """Whether ``name`` is a URL neurovox reads remotely.

    Parameters
    ----------
    name : object
        A file name, path or URL; anything that is not a ``str`` is not a URL.

    Returns
    -------
    bool
        True for a ``str`` starting with ``http://``, ``https://`` or ``s3://`` (in any case).

    Examples
    --------
    >>> is_url('s3://openneuro.org/ds000102/sub-01/anat/sub-01_T1w.nii.gz')
    True
    >>> is_url('sub-01_T1w.nii.gz')
    False
    """
    return isinstance(name, str) and name[:8].lower().startswith(URL_SCHEMES)
