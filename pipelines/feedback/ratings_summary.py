"""Per-answer ratings summed up per pipeline: how many, the mean 1-5 score, and how often each tag was given.

Only each rater's latest rating of an answer counts (ratings are append-only, like votes).

Example::

    rows = rating_summary(store.ratings())   # [{"pipeline": "rag", "ratings": 3, "mean score": 4.0, ...}]
"""

from __future__ import annotations

from collections import defaultdict
from statistics import mean

from pipelines.feedback.store import RATING_TAGS


def latest_ratings(ratings: list[dict]) -> list[dict]:
    """The newest rating per (exchange, answer, rater); ``ratings`` in insertion order."""
    latest: dict[tuple[str, str, str], dict] = {}
    for rating in ratings:
        rater = rating.get("user_name") or rating["session_id"]
        latest[(rating["exchange_id"], rating["pipeline"], rater)] = rating
    return list(latest.values())


def rating_summary(ratings: list[dict]) -> list[dict]:
    """One row per pipeline: ``ratings``, ``mean score`` (None without scores) and a count per tag."""
    by_pipeline: dict[str, list[dict]] = defaultdict(list)
    for rating in latest_ratings(ratings):
        by_pipeline[rating["pipeline"]].append(rating)
    rows = []
    for pipeline, given in sorted(by_pipeline.items()):
        scores = [r["score"] for r in given if r["score"] is not None]
        row = {"pipeline": pipeline, "ratings": len(given),
               "mean score": round(mean(scores), 2) if scores else None}
        row.update({tag: sum(tag in r["tags"] for r in given) for tag in RATING_TAGS})
        rows.append(row)
    return rows
