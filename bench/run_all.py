"""Every benchmark behind one command: runs each script (short settings by default) and prints one table.

    python bench/run_all.py [--full] [--only side_by_side votes ...]

Each script measures its ratio in one run against its own baseline on the same data; this only
collects the lines they print ("label : ratio (goal ...)") into a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: script -> (quick arguments, full arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "side_by_side": (["--prompts", "4", "--tokens", "48"], []),
    "generation": (["--prompts", "4", "--tokens", "64"], ["--prompts", "8", "--tokens", "128"]),
    "ingest": (["--docs", "30", "--search-chunks", "2000", "--queries", "20"], []),
    "decode_columns": (["--prompts", "4", "--tokens", "48"], []),
    "train": (["--steps", "8"], []),
    "qlora_vs_lora": (["--model-id", "offline:smollm2-135m-instruct", "--steps", "6", "--batch-size", "4",
                       "--max-length", "256", "--rank", "8"], ["--model-id", "offline:smollm2-135m-instruct"]),
    "evaluation": (["--exchanges", "30"], []),
    "votes": (["--writers", "20", "--votes", "20"], []),
    "sessions": (["--sessions", "20", "--tokens", "8"], []),
    "train_throughput": (["--batch-sizes", "4", "--only", "packed,bare"], []),
    "generation_steps": (["--steps"], ["--steps"]),
    "embedder_start": (["--rounds", "1"], []),
}
#: a row whose script is another's with other arguments
SCRIPT_OF = {"generation_steps": "generation"}
RATIO_LINE = re.compile(r"^\s+(?P<label>.+?)\s*:\s*(?P<value>[0-9.]+)\s*(?P<rest>.*)$")


def run(name: str, arguments: list[str]) -> tuple[list[dict], float, str]:
    started = time.perf_counter()
    script = SCRIPT_OF.get(name, name)
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{script}.py"), *arguments], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return [], seconds, f"failed (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    rows = []
    for line in done.stdout.splitlines():
        if match := RATIO_LINE.match(line):
            goal = re.search(r"goal ([<>]=? ?[0-9.]+)", match["rest"])
            rows.append({"measure": " ".join(match["label"].split()), "value": match["value"],
                         "goal": goal[1] if goal else "",
                         "detail": re.sub(r"\(?goal [<>]=? ?[0-9.]+;? ?", "", match["rest"]).strip(" ()")})
    first = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    return rows, seconds, "" if rows else first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="each script's default (longer) settings")
    parser.add_argument("--only", nargs="*", choices=list(BENCHES), default=list(BENCHES))
    args = parser.parse_args()
    import torch

    print(f"Machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}, torch {torch.__version__}"
          f"{', CUDA ' + torch.cuda.get_device_name() if torch.cuda.is_available() else ', CPU only'}\n")
    print("| bench | measure | ratio | goal | detail |\n|---|---|---|---|---|")
    for name in args.only:
        quick, full = BENCHES[name]
        rows, seconds, note = run(name, full if args.full else quick)
        for row in rows:
            print(f"| {name} | {row['measure']} | {row['value']} | {row['goal']} | {row['detail']} |", flush=True)
        if note:
            print(f"| {name} | {note} | | | |", flush=True)
        print(f"<!-- {name}: {seconds:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
