"""The seeds' examples (seed 000 and 001) as doctests with ``import neurovox as nib``."""

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
