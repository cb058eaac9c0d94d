"""Vote throughput of the feedback store under concurrent writers vs a bare SQLite insert loop.

Ours is the app's path: SQLAlchemy Core on SQLite, the per-rater limit counted in the same
transaction, the foreign key checking the exchange.

Both sides write the same number of rows to a fresh WAL database with synchronous=FULL
(a vote must be on disk before it is acknowledged; the bare loop commits each row alone, the store
commits the votes that queued behind a commit together). Prints the throughput ratio (ours / bare,
the median of alternating rounds: a noisy neighbour's disk or CPU hits both sides alike), each side's
milliseconds per vote, and the p50/p99 acknowledgement latency of our path.

    python bench/votes.py [--writers 20] [--votes 50]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.store import FeedbackStore

ROUNDS = 3


def bare_sqlite(path: Path, total: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE votes (id INTEGER PRIMARY KEY, exchange_id TEXT, choice TEXT, session_id TEXT,"
                 " created_at TEXT)")
    started = time.perf_counter()
    for i in range(total):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO votes (exchange_id, choice, session_id, created_at) VALUES (?, ?, ?, ?)",
                     ("e", "rag", f"s{i % 20}", "now"))
        conn.execute("COMMIT")
    return time.perf_counter() - started


def our_store(path: Path, writers: int, votes: int) -> tuple[float, list[float]]:
    store = FeedbackStore.open(path)
    results = [PipelineResult("rag", "a", [], None, Timings(0.1, 1.0), "m"),
               PipelineResult("finetuned", "b", [], None, Timings(0.1, 1.0), "m")]
    exchanges = [store.record_exchange(f"s{w}", "q", results) for w in range(writers)]
    latencies: list[float] = []
    lock = threading.Lock()

    def writer(exchange_id: str, session: str) -> None:
        mine = []
        for _ in range(votes):
            t = time.perf_counter()
            # The app's path: the per-rater limit is counted in the store (set high enough never to refuse).
            store.add_vote(exchange_id, "rag", session_id=session, limit_per_minute=votes + 1)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer, args=(e, f"s{i}")) for i, e in enumerate(exchanges)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--votes", type=int, default=50, help="votes per writer")
    args = parser.parse_args()
    total = args.writers * args.votes
    bare_rounds, ours_rounds, latencies = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_number in range(ROUNDS):
            bare_rounds.append(bare_sqlite(Path(tmp) / f"bare{round_number}.sqlite3", total))
            ours_s, round_latencies = our_store(Path(tmp) / f"ours{round_number}.sqlite3", args.writers, args.votes)
            ours_rounds.append(ours_s)
            latencies.extend(round_latencies)
    ratio = statistics.median(bare / ours for bare, ours in zip(bare_rounds, ours_rounds, strict=True))
    latencies.sort()
    p99 = latencies[int(0.99 * (len(latencies) - 1))]
    print(f"votes ({args.writers} concurrent writers x {args.votes} votes, WAL + synchronous=FULL)")
    print(f"  throughput ours / bare single-writer insert loop : {ratio:.2f}  (goal >= 0.8; median of {ROUNDS}"
          f" rounds; {statistics.median(ours_rounds) / total * 1000:.2f} vs"
          f" {statistics.median(bare_rounds) / total * 1000:.2f} ms a vote)")
    print(f"  ack latency p50 / p99 (ours)                     : {statistics.median(latencies) * 1000:.1f} ms"
          f" / {p99 * 1000:.1f} ms")


if __name__ == "__main__":
    main()
