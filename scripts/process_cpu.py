"""Where a test run's CPU goes, by process: sample every process's CPU time once a second, then group it.

The suite is bound by CPU on two cores (docs/testing.md#suite-time), so a cut must remove work; this shows
which processes do it (the pytest workers, each app, Chromium, training and bench commands, Weaviate...), with
non-Python processes included, which a ``sitecustomize`` cannot log. Processes shorter than a second may be
missed, and a reused pid merges two processes: fine for finding the big ones.

Usage::

    python scripts/process_cpu.py sample /tmp/cpu.json &      # SIGTERM (kill %1) writes the file
    CI=true bash .ci/run; kill %1
    python scripts/process_cpu.py report /tmp/cpu.json
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections import Counter
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def sample(out: Path, every_s: float = 1.0) -> None:
    """``{pid: [cpu seconds, first seen, command line]}`` until SIGTERM, then written to ``out``."""
    seen: dict[str, list] = {}

    def write(*_args) -> None:
        out.write_text(json.dumps(seen))
        sys.exit(0)

    signal.signal(signal.SIGTERM, write)
    while True:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                fields = stat[stat.rindex(")") + 2:].split()
                cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
                if pid in seen:
                    seen[pid][0] = max(seen[pid][0], cpu)
                else:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    seen[pid] = [cpu, time.time(), command[:300]]
            except (OSError, ValueError, IndexError):
                pass  # the process ended between the listing and the read
        time.sleep(every_s)


def kind(command: str) -> str:
    """A process's group: what it is, not which run of it."""
    rules = [("chromium", "chromium"), ("postgres", "postgresql"), ("weaviate-server", "weaviate"),
             ("exec(eval(sys.stdin.readline()))", "pytest worker"),  # execnet's bootstrap
             ("app.py", "app"),
             ("transformers serve", "transformers serve"), ("pipelines.training", "training command"),
             ("pipelines.evaluation", "evaluation command"), ("convert_lora_to_gguf", "GGUF LoRA converter"),
             ("forkserver", "fork server (kill-point tests)")]
    for needle, name in rules:
        if needle in command:
            return name
    bench = re.search(r"bench/(\S+)", command)
    if bench:
        return f"bench {bench.group(1)}"
    return "other python" if "python" in command else (command.split(" ")[0].rsplit("/", 1)[-1] or "?")


def report(samples: Path) -> str:
    seen = json.loads(samples.read_text())
    cpu: Counter[str] = Counter()
    count: Counter[str] = Counter()
    for seconds, _started, command in seen.values():
        cpu[kind(command)] += seconds
        count[kind(command)] += 1
    lines = [f"{sum(cpu.values()):.0f} s of CPU in all", "| processes | kind | CPU s |", "|---|---|---|"]
    lines += [f"| {count[name]} | {name} | {seconds:.1f} |" for name, seconds in cpu.most_common()]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("sample", "report"):
        sys.exit(__doc__)
    if sys.argv[1] == "sample":
        sample(Path(sys.argv[2]))
    print(report(Path(sys.argv[2])))
