"""The examples of doctests/seed00*.txt (images and memory, DataobjImage caching, the array
proxy API, memory maps with NumPy) as doctests, with neurovox in place of nibabel and numpy.

seed003_arrayproxy.txt uses no API nibabel 5 removed, so it also runs with
``import nibabel as nib``: every result it prints is nibabel's own."""

import doctest
from pathlib import Path

import pytest

HERE = Path(__file__).parent / 'doctests'
# Doctest files whose printed results must hold for nibabel too.
ALSO_NIBABEL = ('seed003_arrayproxy.txt',)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def run_doctest(text, name):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {}, name, name, 0)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize('name', sorted(p.name for p in HERE.glob('*.txt')))
def test_seed_doctest(name):
    result = run_doctest((HERE / name).read_text(), name)
    assert result.attempted > 10
    assert result.failed == 0


@pytest.mark.parametrize('name', ALSO_NIBABEL)
def test_the_printed_results_are_nibabels(name):
    text = (HERE / name).read_text()
    assert text.count('>>> import neurovox as nib\n') == 1
    text = text.replace('>>> import neurovox as nib\n', '>>> import nibabel as nib\n')
    text = text.replace('>>> from neurovox.', '>>> from nibabel.')
    assert 'neurovox' not in text.replace('neurovox as nib', '')
    result = run_doctest(text, f'{name} (nibabel)')
    assert result.attempted > 10
    assert result.failed == 0
