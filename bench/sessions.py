"""Twenty users at once vs one: the running app (``python app.py``) over loopback, ask then vote.

Prints, measured in one run on one app per serving mode:

  seconds per session, 20 concurrent / 1 alone   (below 1.0: sessions share decode steps; about 1.0 with
                                                   batching off means no overhead from concurrency itself;
                                                   votes and page calls never wait for generation)

and, for 1, 5 and 20 concurrent sessions asking through the arena tab's streaming ``/ask`` (what a browser
does), answers per second (each answer is every column's) with its ratio to one session, and the p50/p95 time
to the first streamed token, with p95 as a multiple of the unloaded one: the numbers batching across sessions
(issue #18) is to move (goal: 20 sessions >= 1.5x the answers per second of one, p95 < 3x unloaded).

Both serving modes are measured in one run, each on its own app: batching across sessions off (the baseline:
one question's columns at a time) and on (continuous batching, the default).

    python bench/sessions.py [--sessions 20] [--tokens 8] [--levels 1,5,20] [--modes off,on] [--engine auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def one_session(url: str, number: int) -> float:
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    result = client.predict(question=f"Session {number}: who founded Lumenhollow?", api_name="/ask_both")
    client.predict(exchange_id=result["exchange_id"], choice="tie", api_name="/vote")
    return time.perf_counter() - started


def _has_answer_text(value: object) -> bool:
    """Whether a streamed update holds any assistant text (a chat message with content) yet."""
    if isinstance(value, dict):
        return (value.get("role") == "assistant" and bool(str(value.get("content") or "").strip())) or any(
            _has_answer_text(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_answer_text(v) for v in value)
    return False


def streamed_session(url: str, number: int) -> tuple[float, float]:
    """(seconds to the first streamed answer text, seconds to the end) for one question through ``/ask``."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    job = client.submit(f"Session {number}: who founded Lumenhollow?", [], [], [], api_name="/ask")
    first = None
    for update in job:
        if first is None and _has_answer_text(update):
            first = time.perf_counter() - started
    job.result()
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def load_levels(url: str, levels: list[int]) -> list[str]:
    """Answers per second and time to first token for each number of concurrent sessions (one run)."""
    rows, base_rate, base_p95 = [], None, None
    for count in levels:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=count) as pool:
            timings = list(pool.map(lambda n, c=count: streamed_session(url, 1000 * c + n), range(count)))
        rate = count / (time.perf_counter() - started)
        firsts = [first for first, _total in timings]
        p50, p95 = percentile(firsts, 0.5), percentile(firsts, 0.95)
        base_rate = base_rate or rate
        base_p95 = base_p95 or p95
        rows.append(f"| {count} | {rate:.2f} | {rate / base_rate:.2f} | {p50:.2f} s | {p95:.2f} s | "
                    f"{p95 / base_p95:.1f} |")
    return ["| concurrent sessions | answers/s | vs 1 session | first token p50 | first token p95 | "
            "p95 vs 1 session |", "|---|---|---|---|---|---|", *rows]


def measure(mode: str, args: argparse.Namespace) -> list[str]:
    """One app with batching across sessions ``on`` or ``off``: its lines of the report."""
    from tests.conftest import RunningApp

    with tempfile.TemporaryDirectory() as tmp:
        app = RunningApp(Path(tmp) / "data", ARENA_MAX_NEW_TOKENS=str(args.tokens), ARENA_VOTES_PER_MINUTE="1000",
                         ARENA_BATCH_SESSIONS="true" if mode == "on" else "false", ARENA_ENGINE=args.engine).start()
        try:
            one_session(app.url, -1)  # warm-up
            alone = sum(one_session(app.url, n) for n in range(3)) / 3
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.sessions) as pool:
                list(pool.map(lambda n: one_session(app.url, n), range(args.sessions)))
            together = (time.perf_counter() - started) / args.sessions
            streamed_session(app.url, -2)  # warm-up of the streaming path
            levels = load_levels(app.url, [int(n) for n in args.levels.split(",") if n.strip()])
        finally:
            app.stop()
    lines = [f"engine {args.engine}, batching across sessions {mode}: {args.sessions} concurrent clients (ask both "
             f"pipelines + vote, {args.tokens} new tokens)",
             f"  seconds per session, {args.sessions} concurrent / 1 alone : {together / alone:.2f}  "
             f"({together:.2f} s vs {alone:.2f} s)"]
    if levels[2:]:
        lines += [f"throughput and first token under load (streaming /ask, {args.tokens} new tokens):", *levels]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--levels", default="1,5,20", help="concurrent sessions for the throughput table ('': skip)")
    parser.add_argument("--engine", default="auto", choices=["auto", "transformers", "llama.cpp"],
                        help="ARENA_ENGINE of the app (auto: what the app serves by default here)")
    parser.add_argument("--modes", default="off,on",
                        help="batching across sessions off (the baseline: one question at a time) and/or on")
    args = parser.parse_args()
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        print("\n".join(measure(mode, args)), "\n", flush=True)


if __name__ == "__main__":
    main()
