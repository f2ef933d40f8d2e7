"""Every public name of neurovox has a docstring, and the examples in them run.

Public: every name in ``neurovox.__all__``, and for its classes every method, class method,
static method and property not starting with ``_`` that a class of neurovox's own modules
defines (members of object, builtins such as ``list``, or ``collections.abc`` are not ours).
Each definition must carry its own docstring: a class's docstring does not count for its
methods, nor a base's for an override. Plain class attributes (``files_types``,
``sizeof_hdr``...) cannot hold docstrings; they must be named in the ``Attributes`` section
of the docstring of a neurovox class they belong to.
"""

import doctest
import inspect
import re

import pytest

import neurovox

def _ours(klass):
    return klass.__module__.split('.')[0] == 'neurovox'


def _members(klass):
    """``(qualified name, object)`` for the public callables and properties ``klass`` and its
    neurovox bases define, and the names of their plain class attributes."""
    found, data = {}, {}
    for base in klass.__mro__:
        if not _ours(base):
            continue
        for attr, value in vars(base).items():
            if attr.startswith('_'):
                continue
            raw = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
            where = f'{base.__module__}.{base.__qualname__}.{attr}'
            if isinstance(raw, property) or inspect.isfunction(raw):
                found[where] = raw
            else:
                data[where] = (base, attr)
    return found, data


def public_names():
    """``{qualified name: object}`` for every public callable and property, and
    ``{qualified name: (class, attribute)}`` for every public plain class attribute."""
    found, data = {}, {}
    for name in neurovox.__all__:
        obj = getattr(neurovox, name)
        if not callable(obj):  # __version__: a string, whose docstring is str's
            continue
        found[f'neurovox.{name}'] = obj
        if inspect.isclass(obj):
            members, attrs = _members(obj)
            found.update(members)
            data.update(attrs)
    return found, data


def _has_doc(obj):
    # obj.__doc__, not inspect.getdoc: getdoc falls back to a base class's docstring.
    doc = obj.__doc__
    return isinstance(doc, str) and bool(doc.strip())


def _attributes_section(klass):
    """The names listed in the numpydoc ``Attributes`` section of ``klass``'s docstring."""
    doc = inspect.cleandoc(klass.__doc__ or '')
    match = re.search(r'^Attributes\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)', doc, re.S | re.M)
    if match is None:
        return set()
    return set(re.findall(r'^(\w+) :', match.group(1), re.M))


def test_the_walk_finds_the_public_names():
    found, data = public_names()
    assert len(found) > 100, sorted(found)
    # Spot checks that the walk reaches each kind of member.
    for name in ('neurovox.load', 'neurovox.Nifti1Image',
                 'neurovox.images.DataobjImage.dataobj',           # a property
                 'neurovox.images.SpatialImage.from_filename',     # a class method
                 'neurovox.headers.Nifti1PairHeader.get_qform',
                 'neurovox.arrayproxy.ArrayProxy.shape'):
        assert name in found, name
    assert 'neurovox.images.FileBasedImage.files_types' in data
    assert not any('.__' in name or name.endswith('.append') for name in found)


def test_every_public_name_has_a_docstring():
    found, _ = public_names()
    missing = sorted(name for name, obj in found.items()
                     if not _has_doc(obj))
    assert not missing, f'{len(missing)} public names have no docstring:\n' + '\n'.join(missing)


def test_every_public_class_attribute_is_documented():
    _, data = public_names()
    missing = []
    for where, (klass, attr) in sorted(data.items()):
        if not any(attr in _attributes_section(base) for base in klass.__mro__ if _ours(base)):
            missing.append(where)
    assert not missing, ('class attributes named in no Attributes section of their class or '
                         'its bases:\n' + '\n'.join(missing))


def _doctests():
    finder = doctest.DocTestFinder()
    modules = {inspect.getmodule(obj) for obj in public_names()[0].values()}
    modules.discard(None)
    tests = [t for module in sorted(modules, key=lambda m: m.__name__)
             for t in finder.find(module) if t.examples]
    return tests


def test_docstring_examples_are_found():
    names = [t.name for t in _doctests()]
    assert 'neurovox.loadsave.load' in names and 'neurovox.images.Nifti1Image' in names


@pytest.mark.parametrize('test', _doctests(), ids=lambda t: t.name)
def test_docstring_examples_run(test, tmp_path, monkeypatch):
    # Examples save to plain names ('example.nii.gz'), as a user would in a session.
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0
