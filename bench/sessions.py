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

``--queue`` measures the rating queue instead (issue #33): stored answer pairs, no generation. The bench stores
the items (questions with two answers and three retrieved passages each, from the sample documents) and two
queues before the app starts, then ``--sessions`` raters at once, each calling ``/queue_next`` and
``/queue_vote`` by plain HTTP for ``--queue-items`` items, against one rater alone; it prints votes per second,
the time from "next" to the item in hand (p50/p95), and each rater's speed at once as a share of one alone (goal:
p95 < 0.5 s, >= 0.9 of one rater's speed per rater). ``--think`` is a rater's mean reading time between an item
and its vote (each read lasts 0.5x-1.5x of it), one run per value (0: back to back, what the server can take).

    python bench/sessions.py --queue [--sessions 20] [--queue-items 15] [--think 0,1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import urllib.error
import urllib.request
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


@dataclass
class RaterRun:
    """One rater's pass through a queue: seconds from each "next" to the item in hand, votes, errors, time."""

    shown_s: list[float] = field(default_factory=list)
    votes: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def seed_queue_items(data_dir: Path, items: int) -> list[str]:
    """Store ``items`` exchanges (a RAG answer with three passages of the sample documents, a fine-tuned answer)
    in the app's SQLite file before it starts: what a batch run leaves, without the generation."""
    from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
    from pipelines.common.settings import Settings
    from pipelines.feedback.store import FeedbackStore

    texts = [path.read_text()[:1500] for path in sorted(Settings().corpus_dir.iterdir()) if path.is_file()]
    store = FeedbackStore.open(data_dir / "feedback.sqlite3")
    try:
        ids = []
        for n in range(items):
            chunks = [RetrievedChunk(texts[(n + k) % len(texts)][k * 400 : k * 400 + 500], f"doc{(n + k) % 9}.md",
                                     k, 0.9 - k / 10, k + 1, heading="Overview") for k in range(3)]
            answer = f"Item {n}: " + " ".join(texts[n % len(texts)].split()[:60])
            results = [PipelineResult("rag", answer + " [1]", chunks, timings=Timings(0.2, 1.0, 0.01, 60)),
                       PipelineResult("finetuned", answer[::-1][:300], timings=Timings(0.2, 1.0, None, 60))]
            ids.append(store.record_exchange(f"batch-bench-{n // 50}", f"Bench question {n}: who founded it?",
                                             results))
        return ids
    finally:
        store.close()


def create_queue(data_dir: Path, name: str, exchange_ids: list[str], raters_per_item: int) -> str:
    from pipelines.feedback.queues import RatingQueues
    from pipelines.feedback.store import FeedbackStore

    store = FeedbackStore.open(data_dir / "feedback.sqlite3")
    try:
        return RatingQueues(store).create(name, exchange_ids, raters_per_item=raters_per_item, blind=True).id
    finally:
        store.close()


def api_call(url: str, name: str, session: str | None = None, **arguments: object) -> dict:
    """One public endpoint by plain HTTP (``POST /gradio_api/run/NAME``: one request, JSON back), as a script or
    another service calls it; the queue endpoints skip Gradio's event queue, so this is their whole path.
    ``session``: the caller's Gradio session hash, kept across calls as a browser or ``gradio_client`` keeps it
    (without one Gradio builds a new session state of every component for each call: ~30 ms of CPU here). A
    refusal (HTTP 500 with Gradio's error) raises RuntimeError with the app's message."""
    body = {"data": list(arguments.values()), **({"session_hash": session} if session else {})}
    request = urllib.request.Request(f"{url}/gradio_api/run/{name}", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["data"][0]
    except urllib.error.HTTPError as refused:
        raise RuntimeError(refused.read().decode(errors="replace")[:300]) from None


def rate_queue(url: str, queue_id: str, rater: str, items: int, think_s: float) -> RaterRun:
    """One rater: next, read, vote "A", ``items`` times or until the queue has nothing left for them. The reading
    time varies around ``think_s`` (0.5x-1.5x, seeded by the rater), as people's does: raters who all read for
    exactly one second would ask in lock-step, 20 requests in the same millisecond every second."""
    run, started, pace = RaterRun(), time.perf_counter(), random.Random(rater)
    for _ in range(items):
        asked = time.perf_counter()
        try:
            item = api_call(url, "queue_next", session=rater, queue_id=queue_id, rater=rater)
        except (OSError, RuntimeError) as exc:
            run.errors.append(f"queue_next: {exc}")
            continue
        run.shown_s.append(time.perf_counter() - asked)
        if not item.get("exchange_id"):
            break
        time.sleep(think_s * pace.uniform(0.5, 1.5))
        try:
            api_call(url, "queue_vote", session=rater, queue_id=queue_id, exchange_id=item["exchange_id"], choice="A",
                     rater=rater)
            run.votes += 1
        except (OSError, RuntimeError) as exc:
            run.errors.append(f"queue_vote: {exc}")
    run.seconds = time.perf_counter() - started
    return run


def queue_lines(label: str, runs: list[RaterRun], elapsed: float) -> tuple[float, list[str]]:
    """(votes per second, the table row and any errors) of raters who rated at the same time."""
    votes = sum(run.votes for run in runs)
    shown = [s for run in runs for s in run.shown_s]
    rate = votes / elapsed if elapsed else 0.0
    row = (f"| {label} | {votes} | {rate:.1f} | {rate / len(runs):.2f} | {percentile(shown, 0.5) * 1000:.0f} ms | "
           f"{percentile(shown, 0.95) * 1000:.0f} ms |" if shown else f"| {label} | {votes} | - | - | - | - |")
    counts = Counter(error[:200] for run in runs for error in run.errors)
    return rate, [row, *(f"  ERRORS ({label}): {count} x {error}" for error, count in counts.most_common())]


def measure_queue(args: argparse.Namespace) -> list[str]:
    """One app; for each think time two queues of stored items: ``--sessions`` raters at once on one, one rater
    alone on the other."""
    from bench.app_process import AppProcess

    raters, items = args.sessions, args.queue_items
    thinks = [float(t) for t in str(args.think).split(",") if t.strip()]
    lines = [f"rating queue, stored items (no generation): {items} items per rater, blind, next + vote by HTTP "
             "(/gradio_api/run/queue_next, /queue_vote)",
             "| think time | raters | votes | votes/s | votes/s per rater | next→shown p50 | next→shown p95 |",
             "|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        stored = seed_queue_items(data_dir, items + 2)
        queues = [(create_queue(data_dir, f"bench: one rater, think {t:g} s", stored[:items], 1),
                   create_queue(data_dir, f"bench: raters at once, think {t:g} s", stored[:items], raters))
                  for t in thinks]
        warm_id = create_queue(data_dir, "bench: warm-up", stored[items:], raters)
        app = AppProcess(data_dir, ARENA_MAX_NEW_TOKENS="8", ARENA_ENGINE=args.engine).start()
        try:
            rate_queue(app.url, warm_id, "warm-up", 2, 0.0)  # first calls: imports, pools, caches
            for think, (alone_id, together_id) in zip(thinks, queues, strict=True):
                started = time.perf_counter()
                alone = [rate_queue(app.url, alone_id, "alone", items, think)]
                alone_rate, alone_rows = queue_lines("1 alone", alone, time.perf_counter() - started)
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=raters) as pool:
                    together = list(pool.map(lambda n, t=think, q=together_id: rate_queue(
                        app.url, q, f"rater-{n}", items, t), range(raters)))
                together_rate, together_rows = queue_lines(f"{raters} at once", together,
                                                           time.perf_counter() - started)
                per_rater = together_rate / raters / alone_rate if alone_rate else float("nan")
                lines += [f"| {think:g} s |{row[1:]}" if row.startswith("|") else row
                          for row in (*alone_rows, *together_rows)]
                lines.append(f"  think {think:g} s: per rater, {raters} at once / 1 alone = {per_rater:.2f}")
        finally:
            app.stop()
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
    parser.add_argument("--queue", action="store_true", help="measure the rating queue (stored items) instead")
    parser.add_argument("--queue-items", type=int, default=15, help="queue mode: items each rater rates")
    parser.add_argument("--think", default="0,1", help="queue mode: seconds a rater reads before voting, one run "
                        "each (0: back to back, what the server can take; 1: a fast human)")
    args = parser.parse_args()
    if args.queue:
        lines = measure_queue(args)
        print("\n".join(lines), flush=True)
        if any("ERRORS" in line for line in lines):
            raise SystemExit("some queue calls failed (listed above)")
        return
    failed = False
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        lines = measure(mode, args)
        failed = failed or any("ERRORS" in line for line in lines)
        print("\n".join(lines), "\n", flush=True)
    if failed:
        raise SystemExit("some columns answered with an error (listed above): their sessions were not counted")


if __name__ == "__main__":
    main()
