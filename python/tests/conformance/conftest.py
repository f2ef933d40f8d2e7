"""The conformance suite runs nibabel's API validators (reference §6) against a library module.

Each test takes the `lib` fixture: nibabel itself (which shows the ported checks are right)
and neurovox (which must pass them). neurovox is skipped only while its Python package is not
built; scripts/test.sh sets NEUROVOX_REQUIRE_PACKAGE=1 once it builds it, and then a missing
package is a failure.
"""

import types
from pathlib import Path

import pytest

import nibabel
from nvlib import _neurovox


@pytest.fixture(params=['nibabel', 'neurovox'])
def lib(request) -> types.ModuleType:
    if request.param == 'nibabel':
        return nibabel
    return _neurovox()


# Cases neurovox does not pass yet (issue 7 is open): each is a strict xfail, so a case that
# starts passing fails the run until its line is removed. Regenerate with
#   pytest python/tests/conformance -k neurovox -rf
KNOWN_FAILURES = {
    line.strip()
    for line in (Path(__file__).parent / 'known_failures.txt').read_text().splitlines()
    if line.strip() and not line.startswith('#')
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.split('conformance/')[-1] in KNOWN_FAILURES:
            item.add_marker(
                pytest.mark.xfail(strict=True, reason='not yet supported by neurovox (known_failures.txt)')
            )
