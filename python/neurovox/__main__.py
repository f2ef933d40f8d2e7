"""``python -m neurovox``: the ``neurovox`` command (see ``neurovox._cli``)."""

import sys

from ._cli import main

if __name__ == '__main__':
    main(['python -m neurovox', *sys.argv[1:]])
