"""A visitor of the simulated Space, run in the client's own network namespace (tests/test_space_simulation.py).

Prints one JSON object on stdout.

Example::

    python tests/space_client.py wait http://10.231.0.1:7860 240     # /healthz until it answers 200
    python tests/space_client.py ask-and-vote http://10.231.0.1:7860 "Who founded Lumenhollow Instruments?"
    python tests/space_client.py leaderboard http://10.231.0.1:7860
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request


def wait(url: str, timeout_s: float) -> dict:
    """The app's /healthz once it answers 200; the last answer or error when it never does."""
    deadline, last = time.monotonic() + timeout_s, "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:
                return {"ready": True, "health": json.load(response)}
        except urllib.error.HTTPError as exc:  # 503 while a part is still starting
            last = f"HTTP {exc.code}: {exc.read()[:300]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(1)
    return {"ready": False, "last": last}


def ask_and_vote(url: str, question: str) -> dict:
    from gradio_client import Client

    client = Client(url, verbose=False)
    asked = client.predict(question, [], [], [], api_name="/ask")
    notice = client.predict(api_name="/vote_left")[0]
    match = re.search(r"Vote #(\d+) stored", notice)
    return {"asked": str(asked)[:2000], "notice": notice, "vote_id": int(match.group(1)) if match else None}


def leaderboard(url: str) -> dict:
    from gradio_client import Client

    board = Client(url, verbose=False).predict(False, False, "", "", api_name="/leaderboard")[0]
    return {"headers": board["headers"], "rows": board["data"]}


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "wait":
        result = wait(url, float(rest[0]))
    elif command == "ask-and-vote":
        result = ask_and_vote(url, rest[0])
    elif command == "leaderboard":
        result = leaderboard(url)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
