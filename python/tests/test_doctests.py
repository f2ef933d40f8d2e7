"""The seeds' examples (seeds 000, 001 and 004) as doctests, with neurovox in place of
nibabel and numpy."""

import doctest
from pathlib import Path

import pytest

HERE = Path(__file__).parent / 'doctests'


@pytest.mark.parametrize('name', sorted(p.name for p in HERE.glob('*.txt')))
def test_seed_doctest(name):
    result = doctest.testfile(str(HERE / name), module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 10
    assert result.failed == 0
