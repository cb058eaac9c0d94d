import math

import pytest

from pipelines.leaderboard import ELO_BASE, ELO_SCALE, Outcome, bradley_terry, leaderboard, outcome_from_vote


def test_two_players_match_the_closed_form():
    # 3 wins to 1 with prior 0 -> strengths in ratio 3:1 -> rating gap = 400*log10(3)
    outcomes = [Outcome("rag", "finetuned", 1.0)] * 3 + [Outcome("rag", "finetuned", 0.0)]
    ratings = bradley_terry(outcomes, prior=0.0)
    assert ratings["rag"] - ratings["finetuned"] == pytest.approx(ELO_SCALE * math.log(3), abs=1e-6)
    assert (ratings["rag"] + ratings["finetuned"]) / 2 == pytest.approx(ELO_BASE)


def test_ties_count_half_and_all_wins_stay_finite():
    even = bradley_terry([Outcome("a", "b", 0.5)] * 4, prior=0.0)
    assert even["a"] == pytest.approx(even["b"])
    sweep = bradley_terry([Outcome("a", "b", 1.0)] * 5)
    assert math.isfinite(sweep["a"]) and sweep["a"] > sweep["b"]


def test_three_players_are_ordered_and_intervals_bracket_the_rating():
    outcomes = ([Outcome("a", "b", 1.0)] * 6 + [Outcome("b", "c", 1.0)] * 6 + [Outcome("a", "c", 1.0)] * 6
                + [Outcome("a", "b", 0.0)] * 2)
    rows = leaderboard(outcomes, rounds=100)
    assert [r.pipeline for r in rows] == ["a", "b", "c"]
    for row in rows:
        assert row.rating_low <= row.rating <= row.rating_high
    a = rows[0]
    assert (a.wins, a.losses, a.ties, a.votes) == (12, 2, 0, 14)
    assert a.win_rate == pytest.approx(12 / 14)


def test_votes_map_to_outcomes():
    pipelines = ["rag", "finetuned"]
    assert outcome_from_vote("rag", pipelines) == Outcome("rag", "finetuned", 1.0)
    assert outcome_from_vote("finetuned", pipelines).score == 0.0
    assert outcome_from_vote("both_bad", pipelines).score == 0.5
    assert outcome_from_vote("rag", ["rag"]) is None
    assert leaderboard([]) == []
