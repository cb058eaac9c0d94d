"""Twenty users at once vs one: the running app (``python app.py``) over loopback, ask then vote.

Prints a ratio measured in one run:

  seconds per session, 20 concurrent / 1 alone   (generation is one batch at a time on one model, so
                                                   about 1.0 means no overhead from concurrency itself;
                                                   votes and page calls never wait for generation)

    python bench/sessions.py [--sessions 20] [--tokens 8]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=8)
    args = parser.parse_args()
    from tests.conftest import RunningApp

    with tempfile.TemporaryDirectory() as tmp:
        app = RunningApp(Path(tmp) / "data", ARENA_MAX_NEW_TOKENS=str(args.tokens),
                         ARENA_VOTES_PER_MINUTE="1000").start()
        try:
            one_session(app.url, -1)  # warm-up
            alone = sum(one_session(app.url, n) for n in range(3)) / 3
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.sessions) as pool:
                list(pool.map(lambda n: one_session(app.url, n), range(args.sessions)))
            together = (time.perf_counter() - started) / args.sessions
        finally:
            app.stop()
    print(f"sessions ({args.sessions} concurrent clients, ask both pipelines + vote, {args.tokens} new tokens)")
    print(f"  seconds per session, {args.sessions} concurrent / 1 alone : {together / alone:.2f}  "
          f"({together:.2f} s vs {alone:.2f} s)")


if __name__ == "__main__":
    main()
