"""Leave a finished process at once, skipping Python's teardown of the ML libraries' modules.

After a clean stop nothing is left to do, yet the interpreter's own teardown of torch, transformers and gradio
took 2-4 s of CPU per process here (about 10 s on a busy 2-core machine): time a restarting Space, a training job's
caller or a script waits through. The exit handlers still run and the output is flushed; files written in ``with``
blocks are closed already. Only for a clean end: an error still leaves the normal way, with its traceback. Threads
are not waited for (nor ``threading``'s own exit callbacks run): call it once the process's work is done, as the
app does after closing its runtime (its threads are daemons) and the commands do when ``main`` returns.

    if __name__ == "__main__":
        exit_now(main())
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn


def exit_now(code: int | None = 0) -> NoReturn:
    """Run the exit handlers, flush logs and the standard streams, and end the process with ``code``."""
    atexit._run_exitfuncs()  # what a normal exit would run (Gradio's and tqdm's handlers among them)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or gone: nothing left to flush
            stream.flush()
    os._exit(code or 0)
