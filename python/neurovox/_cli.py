"""The ``neurovox`` command installed with the Python package (its console script).

The command is the Rust one (crates/neurovox-cli), linked into the extension module: the same
subcommands, output, exit statuses, ``--help`` and ``--version`` as the binary that
``cargo install --path crates/neurovox-cli`` installs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from . import _neurovox


def main(argv=None):
    """Runs the ``neurovox`` command and exits the interpreter with its status.

    Parameters
    ----------
    argv : sequence of str, optional
        The program name, then the arguments, as in ``sys.argv`` (the default). The program
        name is what usage messages show.

    Raises
    ------
    SystemExit
        Always, with the command's exit status: 0 on success, 1 when a file could not be read
        or written, 2 for a usage error (and ``neurovox diff``'s own 0, 1 or 2).

    Notes
    -----
    The command runs with the GIL released. Python's own SIGINT handler would only set a flag
    that no Python code checks until the command ends, so while it runs Ctrl-C gets the
    default action, as for the binary: the process stops at once.
    """
    args = list(sys.argv if argv is None else argv)
    if not args:
        args = ['neurovox']
    # The Rust side writes to file descriptors 1 and 2 directly: anything Python buffered
    # must come out first.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    # Only the main thread may set handlers. signal.signal returns None for a handler that C
    # code installed, which Python cannot put back.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        status = _neurovox._cli_main([os.fspath(a) for a in args])
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    raise SystemExit(status)
