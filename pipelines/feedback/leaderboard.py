"""Leaderboard from pairwise votes: win rates and Bradley-Terry strengths with bootstrap intervals.

A tie or "both bad" counts as half a win for each side, as in Chatbot Arena. Only the
latest vote of each exchange counts (earlier ones stay in the append-only history).

Example::

    outcomes = [Outcome("rag", "finetuned", 1.0), Outcome("rag", "finetuned", 0.5)]
    table = leaderboard(outcomes)        # list of LeaderboardRow, strongest first
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from pipelines.common.columns import BOTH_BAD, TIE
from pipelines.common.questions import normalise_question
from pipelines.feedback.store import FeedbackStore

ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0


@dataclass(frozen=True)
class Outcome:
    """One comparison: ``score`` is 1.0 when ``first`` won, 0.0 when ``second`` won, 0.5 for a tie."""

    first: str
    second: str
    score: float


@dataclass(frozen=True)
class LeaderboardRow:
    pipeline: str
    rating: float
    rating_low: float
    rating_high: float
    votes: int
    wins: int
    losses: int
    ties: int

    @property
    def win_rate(self) -> float:
        """Share of decided and tied comparisons won, ties counting half."""
        return (self.wins + 0.5 * self.ties) / self.votes if self.votes else 0.0


def outcomes_from_vote(choice: str, pipelines: list[str]) -> list[Outcome]:
    """A stored vote as pairwise comparisons of the exchange's answering pipelines.

    Two columns give one comparison. With three, the best answer beats each of the
    other two (the two losers are not compared); a tie or "all bad" ties every pair.
    """
    if len(pipelines) < 2:
        return []
    if choice in (TIE, BOTH_BAD):
        return [Outcome(a, b, 0.5) for i, a in enumerate(pipelines) for b in pipelines[i + 1:]]
    if choice not in pipelines:
        return []
    return [Outcome(choice, other, 1.0) for other in pipelines if other != choice]


def bradley_terry(outcomes: list[Outcome], iterations: int = 200, prior: float = 0.5) -> dict[str, float]:
    """Bradley-Terry strengths by Hunter's MM algorithm, as Elo-like ratings (mean 1000).

    ``prior`` adds that many virtual ties between every pair, so a pipeline that won
    every vote still gets a finite rating.
    """
    players = sorted({o.first for o in outcomes} | {o.second for o in outcomes})
    if not players:
        return {}
    wins: dict[str, float] = defaultdict(float)
    games: dict[tuple[str, str], float] = defaultdict(float)
    for o in outcomes:
        wins[o.first] += o.score
        wins[o.second] += 1.0 - o.score
        games[tuple(sorted((o.first, o.second)))] += 1.0
    for i, a in enumerate(players):
        for b in players[i + 1 :]:
            wins[a] += prior / 2
            wins[b] += prior / 2
            games[(a, b)] += prior
    strength = dict.fromkeys(players, 1.0)
    for _ in range(iterations):
        updated = {}
        for p in players:
            denominator = 0.0
            for (a, b), n in games.items():
                if p in (a, b):
                    opponent = b if p == a else a
                    denominator += n / (strength[p] + strength[opponent])
            updated[p] = wins[p] / denominator if denominator else strength[p]
        mean_log = sum(math.log(v) for v in updated.values()) / len(updated)
        strength = {p: v / math.exp(mean_log) for p, v in updated.items()}
    return {p: ELO_BASE + ELO_SCALE * math.log(v) for p, v in strength.items()}


def leaderboard(outcomes: list[Outcome], rounds: int = 200, seed: int = 0) -> list[LeaderboardRow]:
    """Ratings with 95% bootstrap intervals (votes resampled with replacement), strongest first."""
    ratings = bradley_terry(outcomes)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds if outcomes else 0):
        resampled = bradley_terry([rng.choice(outcomes) for _ in outcomes])
        for pipeline in ratings:
            samples[pipeline].append(resampled.get(pipeline, ELO_BASE))
    tally: dict[str, dict[str, int]] = defaultdict(lambda: {"wins": 0, "losses": 0, "ties": 0})
    for o in outcomes:
        if o.score == 0.5:
            tally[o.first]["ties"] += 1
            tally[o.second]["ties"] += 1
        else:
            winner, loser = (o.first, o.second) if o.score == 1.0 else (o.second, o.first)
            tally[winner]["wins"] += 1
            tally[loser]["losses"] += 1
    rows = []
    for pipeline, rating in ratings.items():
        values = sorted(samples[pipeline]) or [rating]
        low = values[int(0.025 * (len(values) - 1))]
        high = values[int(0.975 * (len(values) - 1))]
        t = tally[pipeline]
        rows.append(LeaderboardRow(pipeline, rating, low, high, t["wins"] + t["losses"] + t["ties"], **t))
    return sorted(rows, key=lambda r: r.rating, reverse=True)


@dataclass(frozen=True)
class LeaderboardFilter:
    """Which votes count: since a date, by one rater, only questions of the question set.

    ``by_adapter`` splits the fine-tuned column into one row per adapter version.
    """

    since: str | None = None
    rater: str | None = None
    questions: frozenset[str] | None = None
    by_adapter: bool = False

    def __post_init__(self) -> None:
        if self.questions is not None:  # compared as the reference set compares them
            object.__setattr__(self, "questions", frozenset(normalise_question(q) for q in self.questions))
        if self.since:
            try:
                datetime.fromisoformat(self.since)
            except ValueError as exc:
                raise ValueError(f"'{self.since}' is not a date like 2026-11-24") from exc

    def keeps(self, exchange: dict) -> bool:
        if self.since and exchange["voted_at"] < self.since:
            return False
        if self.rater and exchange["rater"] != self.rater:
            return False
        return self.questions is None or normalise_question(exchange["question"]) in self.questions


def store_leaderboard(store: FeedbackStore, rounds: int = 200,
                      where: LeaderboardFilter | None = None) -> list[LeaderboardRow]:
    """The leaderboard of the voted exchanges in a feedback store (each rater's latest vote on each exchange)."""
    where = where or LeaderboardFilter()
    outcomes = []
    for exchange in store.rated_exchanges(per_rater=True):
        if not where.keeps(exchange):
            continue
        answers = exchange["answers"]
        found = outcomes_from_vote(exchange["choice"], [a["pipeline"] for a in answers])
        if where.by_adapter:
            label = {a["pipeline"]: f"{a['pipeline']}@{a['adapter_id']}" if a["adapter_id"] else a["pipeline"]
                     for a in answers}
            found = [Outcome(label[o.first], label[o.second], o.score) for o in found]
        outcomes.extend(found)
    return leaderboard(outcomes, rounds=rounds)
