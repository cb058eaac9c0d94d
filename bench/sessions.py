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

Only real answers count: a column that answered with an error (its ``error`` field through ``/ask_both``, a
"⚠️" message in the streamed chat) counts neither as an answer nor as a first token, and every such error is
printed with the figures. Needs only what the README's first command installs (the app is started by
``bench/app_process.py``, not by the test helpers).

    python bench/sessions.py [--sessions 20] [--tokens 8] [--levels 1,5,20] [--modes off,on] [--engine auto]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


ERROR_MARK = "⚠️"  # how the arena tab shows a column's error in its chat (components/arena_view.py)


@dataclass
class Session:
    """One question's timing and what its columns gave: real answers, and the errors of the others."""

    seconds: float
    answers: int
    errors: list[str] = field(default_factory=list)
    first_token_s: float | None = None  # streamed sessions: the first real answer text


def one_session(url: str, number: int) -> Session:
    """Ask both pipelines and vote through the API, as a program would."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    result = client.predict(question=f"Session {number}: who founded Lumenhollow?", api_name="/ask_both")
    client.predict(exchange_id=result["exchange_id"], choice="tie", api_name="/vote")
    return Session(time.perf_counter() - started, *column_outcomes(result))


def column_outcomes(result: dict) -> tuple[int, list[str]]:
    """(columns that answered, the errors of those that did not) of an ``/ask_both`` result."""
    errors = [f"{name}: {answer['error']}" for name, answer in result["answers"].items() if answer.get("error")]
    answered = sum(1 for answer in result["answers"].values()
                   if not answer.get("error") and str(answer.get("answer") or "").strip())
    return answered, errors


def assistant_texts(value: object) -> list[str]:
    """Every assistant message's content in a streamed update (nested as gradio_client gives it)."""
    if isinstance(value, dict):
        own = [str(value.get("content") or "")] if value.get("role") == "assistant" else []
        return own + [text for v in value.values() for text in assistant_texts(v)]
    if isinstance(value, (list, tuple)):
        return [text for v in value for text in assistant_texts(v)]
    return []


def _has_answer_text(value: object) -> bool:
    """Whether a streamed update holds answer text yet: an assistant message with content that is not an error."""
    return any(text.strip() and not text.lstrip().startswith(ERROR_MARK) for text in assistant_texts(value))


def streamed_session(url: str, number: int) -> Session:
    """One question through ``/ask``, as a browser asks: the first real answer text's time, and the end."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    started = time.perf_counter()
    job = client.submit(f"Session {number}: who founded Lumenhollow?", [], [], [], api_name="/ask")
    first, last = None, None
    for update in job:
        last = update
        if first is None and _has_answer_text(update):
            first = time.perf_counter() - started
    job.result()
    total = time.perf_counter() - started
    texts = [text.strip() for text in assistant_texts(last)]
    errors = [text for text in texts if text.startswith(ERROR_MARK)]
    return Session(total, sum(1 for text in texts if text and text not in errors), errors, first)


def error_lines(sessions: list[Session], what: str) -> list[str]:
    """A line per distinct column error (with its count), or nothing when every column answered."""
    counts = Counter(error for session in sessions for error in session.errors)
    if not counts:
        return []
    failed = sum(1 for session in sessions if session.errors)
    return [f"  ERRORS in {what}: {failed} of {len(sessions)} sessions had a column fail (not counted as answers):",
            *(f"    {count} x {error[:200]}" for error, count in counts.most_common())]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def load_levels(url: str, levels: list[int]) -> list[str]:
    """Answers per second and time to first token for each number of concurrent sessions (one run). An answer is
    a session whose every column answered; a session with a failed column counts for nothing, and its errors are
    listed under the table."""
    rows, errors, base_rate, base_p95 = [], [], None, None
    for count in levels:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=count) as pool:
            sessions = list(pool.map(lambda n, c=count: streamed_session(url, 1000 * c + n), range(count)))
        elapsed = time.perf_counter() - started
        whole = [session for session in sessions if session.answers and not session.errors]
        rate = len(whole) / elapsed
        firsts = [session.first_token_s for session in whole if session.first_token_s is not None]
        errors += error_lines(sessions, f"{count} concurrent sessions")
        if not firsts:
            rows.append(f"| {count} | 0.00 | - | - | - | - | {count - len(whole)} |")
            continue
        p50, p95 = percentile(firsts, 0.5), percentile(firsts, 0.95)
        base_rate = base_rate or rate
        base_p95 = base_p95 or p95
        rows.append(f"| {count} | {rate:.2f} | {rate / base_rate:.2f} | {p50:.2f} s | {p95:.2f} s | "
                    f"{p95 / base_p95:.1f} | {count - len(whole)} |")
    return ["| concurrent sessions | answers/s | vs 1 session | first token p50 | first token p95 | "
            "p95 vs 1 session | sessions with an error |", "|---|---|---|---|---|---|---|", *rows, *errors]


def measure(mode: str, args: argparse.Namespace) -> list[str]:
    """One app with batching across sessions ``on`` or ``off``: its lines of the report."""
    from bench.app_process import AppProcess

    with tempfile.TemporaryDirectory() as tmp:
        app = AppProcess(Path(tmp) / "data", ARENA_MAX_NEW_TOKENS=str(args.tokens), ARENA_VOTES_PER_MINUTE="1000",
                         ARENA_BATCH_SESSIONS="true" if mode == "on" else "false", ARENA_ENGINE=args.engine).start()
        try:
            one_session(app.url, -1)  # warm-up
            alone_runs = [one_session(app.url, n) for n in range(3)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.sessions) as pool:
                concurrent = list(pool.map(lambda n: one_session(app.url, n), range(args.sessions)))
            together = (time.perf_counter() - started) / args.sessions
            streamed_session(app.url, -2)  # warm-up of the streaming path
            levels = load_levels(app.url, [int(n) for n in args.levels.split(",") if n.strip()])
        finally:
            app.stop()
    alone = sum(run.seconds for run in alone_runs) / len(alone_runs)
    lines = [f"engine {args.engine}, batching across sessions {mode}: {args.sessions} concurrent clients (ask both "
             f"pipelines + vote, {args.tokens} new tokens)"]
    errors = error_lines(alone_runs, "sessions alone") + error_lines(concurrent, f"{args.sessions} concurrent sessions")
    if errors:  # a session that failed fast is no measure of speed: no ratio for the table
        lines += ["  seconds per session: not measured, columns failed", *errors]
    else:
        lines.append(f"  seconds per session, {args.sessions} concurrent / 1 alone : {together / alone:.2f}  "
                     f"({together:.2f} s vs {alone:.2f} s)")
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
    failed = False
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        lines = measure(mode, args)
        failed = failed or any("ERRORS" in line for line in lines)
        print("\n".join(lines), "\n", flush=True)
    if failed:
        raise SystemExit("some columns answered with an error (listed above): their sessions were not counted")


if __name__ == "__main__":
    main()
