"""exit_now: a finished process leaves at once, with its exit handlers run and its output flushed."""

import os
import subprocess
import sys
import time

from tests.conftest import ROOT

CHILD = """
import atexit, logging, sys, threading, time
from pipelines.common.process_exit import exit_now
threading.Thread(target=time.sleep, args=(60,), daemon=False).start()  # a normal exit would wait 60 s for it
logging.basicConfig(filename=sys.argv[1], level=logging.INFO)
atexit.register(lambda: open(sys.argv[2], "w").write("handler ran"))
sys.stdout.write("buffered, no newline")  # a pipe is block-buffered: lost unless flushed
logging.getLogger("child").info("logged line")
exit_now(3)
print("never reached")
"""


def test_exit_now_runs_the_exit_handlers_flushes_output_and_keeps_the_status(tmp_path):
    log, marker = tmp_path / "child.log", tmp_path / "atexit.txt"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}  # buffered, as usual
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", CHILD, str(log), str(marker)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=90)
    took = time.monotonic() - started
    assert took < 20, f"the child took {took:.0f} s: it waited for its non-daemon thread, as a plain exit does"
    assert done.returncode == 3, done.stderr
    assert done.stdout == "buffered, no newline"
    assert marker.read_text() == "handler ran"
    assert "logged line" in log.read_text()
