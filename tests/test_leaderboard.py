import math

import pytest

from pipelines.feedback.leaderboard import ELO_BASE, ELO_SCALE, Outcome, bradley_terry, leaderboard, outcomes_from_vote


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
    assert outcomes_from_vote("rag", pipelines) == [Outcome("rag", "finetuned", 1.0)]
    assert outcomes_from_vote("finetuned", pipelines) == [Outcome("finetuned", "rag", 1.0)]
    assert outcomes_from_vote("both_bad", pipelines) == [Outcome("rag", "finetuned", 0.5)]
    assert outcomes_from_vote("rag", ["rag"]) == []
    assert outcomes_from_vote("rag_finetuned", pipelines) == []  # not a column of this exchange
    assert leaderboard([]) == []


def test_best_of_three_beats_each_other_answer_and_a_tie_ties_every_pair():
    three = ["rag", "finetuned", "rag_finetuned"]
    assert outcomes_from_vote("rag_finetuned", three) == [
        Outcome("rag_finetuned", "rag", 1.0), Outcome("rag_finetuned", "finetuned", 1.0)]
    assert outcomes_from_vote("tie", three) == [
        Outcome("rag", "finetuned", 0.5), Outcome("rag", "rag_finetuned", 0.5),
        Outcome("finetuned", "rag_finetuned", 0.5)]
    rows = {r.pipeline: r for r in leaderboard(outcomes_from_vote("rag_finetuned", three) * 3, rounds=10)}
    assert rows["rag_finetuned"].wins == 6 and rows["rag"].losses == 3 and rows["finetuned"].losses == 3
    assert rows["rag_finetuned"].rating > rows["rag"].rating


def test_store_leaderboard_filters_and_splits_by_adapter(tmp_path):
    from pipelines.common.events import PipelineResult, Timings
    from pipelines.feedback.leaderboard import LeaderboardFilter, store_leaderboard
    from pipelines.feedback.store import FeedbackStore

    store = FeedbackStore.open(tmp_path / "f.sqlite3")

    def voted(question, adapter, choice, session):
        exchange_id = store.record_exchange(session, question, [
            PipelineResult("rag", "r", [], None, Timings(0.1, 1), "m"),
            PipelineResult("finetuned", "f", [], None, Timings(0.1, 1), "m", adapter),
        ])
        store.add_vote(exchange_id, choice, session_id=session)

    voted("Who founded Lumenhollow Instruments?", "v1@aaa", "rag", "alice")
    voted("Who founded Lumenhollow Instruments?", "v2@bbb", "finetuned", "bob")
    voted("Some question outside the set", "v2@bbb", "finetuned", "bob")

    everyone = {r.pipeline: r.votes for r in store_leaderboard(store, rounds=10)}
    assert everyone == {"rag": 3, "finetuned": 3}
    split = {r.pipeline: (r.wins, r.losses) for r in
             store_leaderboard(store, rounds=10, where=LeaderboardFilter(by_adapter=True))}
    assert split == {"rag": (1, 2), "finetuned@v1@aaa": (0, 1), "finetuned@v2@bbb": (2, 0)}
    alice = store_leaderboard(store, rounds=10, where=LeaderboardFilter(rater="alice"))
    assert [(r.pipeline, r.votes) for r in alice] == [("rag", 1), ("finetuned", 1)]
    in_set = LeaderboardFilter(questions=frozenset({"Who founded Lumenhollow Instruments?"}))
    assert {r.pipeline: r.votes for r in store_leaderboard(store, rounds=10, where=in_set)} == {
        "rag": 2, "finetuned": 2}
    assert store_leaderboard(store, rounds=10, where=LeaderboardFilter(since="2999-01-01")) == []
    with pytest.raises(ValueError, match="not a date"):
        LeaderboardFilter(since="yesterday")


def test_the_leaderboard_counts_each_raters_latest_vote_on_an_item(tmp_path):
    """An item of a rating queue judged by two raters counts twice; a rater who changed a vote counts once."""
    from pipelines.common.events import PipelineResult, Timings
    from pipelines.feedback.leaderboard import store_leaderboard
    from pipelines.feedback.store import FeedbackStore

    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    exchange_id = store.record_exchange("batch-1", "Who founded Lumenhollow Instruments?", [
        PipelineResult("rag", "r", [], None, Timings(0.1, 1), "m"),
        PipelineResult("finetuned", "f", [], None, Timings(0.1, 1), "m")])
    store.add_vote(exchange_id, "rag", session_id="s1", user_name="alice")
    store.add_vote(exchange_id, "rag", session_id="s2", user_name="bob")
    store.add_vote(exchange_id, "finetuned", session_id="s1", user_name="alice")   # alice changes her mind
    rows = {r.pipeline: (r.wins, r.losses) for r in store_leaderboard(store, rounds=10)}
    assert rows == {"rag": (1, 1), "finetuned": (1, 1)}
    assert [row["choice"] for row in store.rated_exchanges()] == ["finetuned"]   # the export's row: the newest
