"""Style-controlled ratings on synthetic votes with a known cause (length, or a truly better pipeline), the style
features of an answer, and battles built from a real SQLite store's voted exchanges."""

import math
import random

import pytest

from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.feedback.leaderboard import Outcome, bradley_terry
from pipelines.feedback.store import FeedbackStore
from pipelines.feedback.style_control import battles_from_exchanges, style_controlled_ratings, style_features

LEVEL = 35  # Elo points from 1000 when style alone decided: sampling noise of 400 battles (seeds 0-11: at most 27)


def _style(tokens: int) -> dict[str, float]:
    return {"tokens": float(tokens), "citations": 0.0, "declined": 0.0}


def _battles(n: int, rag_longer: float, seed: int, *, length_effect: float = 6.0, rag_skill: float = 0.0,
             always_longer: bool = False, shuffle: bool = True) -> list[dict]:
    """``n`` votes between rag and finetuned, each with two random lengths; rag gets the longer one with chance
    ``rag_longer``. Rag wins with chance sigmoid(length_effect * normalised length difference + rag_skill)
    (or whenever it is longer, with ``always_longer``); sides a/b are shuffled, or rag is always ``a`` (as
    stored exchanges give them, RAG in the first column)."""
    rng = random.Random(seed)
    battles = []
    for _ in range(n):
        short, long = sorted(rng.sample(range(5, 300), 2))
        rag, ft = (long, short) if rng.random() < rag_longer else (short, long)
        if always_longer:
            rag_wins = rag > ft
        else:
            rag_wins = rng.random() < 1 / (1 + math.exp(-(length_effect * (rag - ft) / (rag + ft + 1) + rag_skill)))
        if rng.random() < 0.5 or not shuffle:
            battles.append({"a": "rag", "b": "finetuned", "winner": "a" if rag_wins else "b",
                            "style_a": _style(rag), "style_b": _style(ft)})
        else:
            battles.append({"a": "finetuned", "b": "rag", "winner": "b" if rag_wins else "a",
                            "style_a": _style(ft), "style_b": _style(rag)})
    return battles


@pytest.mark.parametrize("shuffle", [True, False], ids=["sides-shuffled", "rag-always-first"])
def test_when_length_alone_decides_the_controlled_ratings_come_out_level(shuffle):
    result = style_controlled_ratings(_battles(400, rag_longer=0.8, seed=1, shuffle=shuffle), rounds=100)
    assert result.battles == 400
    assert result.plain["rag"] - result.plain["finetuned"] > 100  # rag is longer 4 times in 5: it "wins"
    for pipeline in ("rag", "finetuned"):
        assert abs(result.ratings[pipeline] - 1000) < LEVEL
        low, high = result.intervals[pipeline]
        assert low < 1000 < high
    assert result.coefficients["tokens"] > 0
    assert result.coefficient_intervals["tokens"][0] > 0
    assert set(result.coefficients) == {"tokens"}  # citations and declined never differ: left out


def test_a_truly_better_pipeline_stays_ahead_after_control():
    result = style_controlled_ratings(_battles(400, rag_longer=0.5, seed=2, length_effect=0.0, rag_skill=1.0),
                                      rounds=100)
    assert result.winner == result.plain_winner == "rag"
    assert result.intervals["rag"][0] > result.intervals["finetuned"][1]
    low, high = result.coefficient_intervals["tokens"]
    assert low < 0 < high  # length did not matter
    assert result.ratings["rag"] - result.ratings["finetuned"] == pytest.approx(
        result.plain["rag"] - result.plain["finetuned"], abs=30)


def test_a_better_pipeline_hidden_by_shorter_answers_comes_out_ahead_and_the_winner_changes():
    result = style_controlled_ratings(_battles(400, rag_longer=0.2, seed=3, rag_skill=1.0), rounds=50)
    assert result.plain_winner == "finetuned"  # longer 4 times in 5: the plain table rewards it
    assert result.winner == "rag" and result.winner_changed
    assert result.coefficients["tokens"] > 0


def test_when_the_longer_answer_always_wins_the_gap_shrinks_but_cannot_close():
    # Separable votes: any pipeline gap below the length effect fits them perfectly, so the fit cannot identify
    # the gap (see the module docstring); control still moves the ratings toward level.
    result = style_controlled_ratings(_battles(300, rag_longer=0.8, seed=4, always_longer=True), rounds=20)
    assert result.coefficients["tokens"] > 0
    plain_gap = result.plain["rag"] - result.plain["finetuned"]
    assert 0 < result.ratings["rag"] - result.ratings["finetuned"] < plain_gap


def test_plain_ratings_read_like_the_leaderboards_bradley_terry_and_ties_split():
    battles = _battles(200, rag_longer=0.5, seed=5, length_effect=0.0, rag_skill=0.8)
    battles += [{**battle, "winner": "tie"} for battle in battles[:40]]
    result = style_controlled_ratings(battles, rounds=0)
    score = {"a": 1.0, "b": 0.0, "tie": 0.5}
    table = bradley_terry([Outcome(b["a"], b["b"], score[b["winner"]]) for b in battles])
    for pipeline, rating in table.items():
        assert result.plain[pipeline] == pytest.approx(rating, abs=5)
    assert sum(result.ratings.values()) / 2 == pytest.approx(1000)

    ties = style_controlled_ratings([{**b, "winner": "tie"} for b in battles[:100]], rounds=0)
    assert ties.ratings == pytest.approx({"rag": 1000, "finetuned": 1000}, abs=0.5)
    assert ties.coefficients["tokens"] == pytest.approx(0, abs=0.01)


def test_bootstrap_is_repeatable_with_a_seed():
    battles = _battles(60, rag_longer=0.7, seed=6)
    assert style_controlled_ratings(battles, rounds=20, seed=9) == style_controlled_ratings(battles, rounds=20,
                                                                                             seed=9)


def test_no_battles_and_bad_battles():
    empty = style_controlled_ratings([])
    assert (empty.ratings, empty.battles, empty.winner, empty.plain_winner) == ({}, 0, None, None)
    good = _battles(1, 0.5, seed=0)[0]
    with pytest.raises(ValueError, match="winner 'rag' is not one of a, b, tie"):
        style_controlled_ratings([{**good, "winner": "rag"}])
    with pytest.raises(ValueError, match="two different pipelines"):
        style_controlled_ratings([{**good, "b": good["a"]}])
    with pytest.raises(ValueError, match="style_b has no citations"):
        style_controlled_ratings([{**good, "style_b": {"tokens": 3, "declined": 0}}])


def test_style_features_count_words_citations_and_declining():
    contexts = [{"rank": 1, "source": "manual.pdf"}, {"rank": 2, "source": "faq.md"}]
    assert style_features("The T4 weighs 380 g [1].") == {"tokens": 6.0, "citations": 1.0, "declined": 0.0}
    assert style_features("It is 380 g [1, 2] and blue [2][3].")["citations"] == 4.0
    assert style_features("It is 380 g [1, 2] and blue [2][3].", contexts)["citations"] == 3.0  # no passage [3]
    assert style_features("See Manual.pdf: 380 g.", contexts)["citations"] == 1.0
    assert style_features("In 2024 [sic] it was 5 [a].")["citations"] == 0.0
    assert style_features("The documents do not say.")["declined"] == 1.0
    assert style_features("The documents do not say who, but it is Maria.")["declined"] == 0.0
    assert style_features("   ") == {"tokens": 0.0, "citations": 0.0, "declined": 0.0}


def test_battles_from_a_real_stores_voted_exchanges(tmp_path):
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    chunk = RetrievedChunk("The T4 weighs 380 g.", "t4.pdf", 0, 0.9, 1)

    def exchange(rag: str, ft: str, ft_error: str | None = None) -> str:
        return store.record_exchange("s", "How heavy is the T4?", [
            PipelineResult("rag", rag, [chunk], None, Timings(0.1, 1), "m"),
            PipelineResult("finetuned", ft, [], ft_error, Timings(0.1, 1), "m"),
        ])

    store.add_vote(exchange("It weighs 380 g [1].", "About 400 grams, I think."), "rag", session_id="s")
    store.add_vote(exchange("The documents do not say.", "380 g"), "tie", session_id="s")
    store.add_vote(exchange("380 g [1] per t4.pdf", "", ft_error="boom"), "rag", session_id="s")  # one answer
    store.add_vote(exchange("Heavy.", "It weighs 380 g."), "finetuned", session_id="s")
    battles = battles_from_exchanges(store.rated_exchanges())
    assert [(b["a"], b["b"], b["winner"]) for b in battles] == [("rag", "finetuned", "a"),
                                                                ("rag", "finetuned", "tie"),
                                                                ("rag", "finetuned", "b")]
    assert battles[0]["style_a"] == {"tokens": 5.0, "citations": 1.0, "declined": 0.0}
    assert battles[0]["style_b"]["tokens"] == 5.0
    assert battles[1]["style_a"]["declined"] == 1.0
    assert style_controlled_ratings(battles, rounds=5).battles == 3


def test_battles_of_three_columns_pit_the_chosen_answer_against_each_other_one():
    def answer(pipeline: str) -> dict:
        return {"pipeline": pipeline, "answer": f"{pipeline} says", "error": None, "contexts": "[]"}

    three = [answer("rag"), answer("finetuned"), answer("rag_finetuned")]
    chosen = battles_from_exchanges([{"choice": "finetuned", "answers": three}])
    assert [(b["a"], b["b"], b["winner"]) for b in chosen] == [("rag", "finetuned", "b"),
                                                               ("finetuned", "rag_finetuned", "a")]
    tied = battles_from_exchanges([{"choice": "both_bad", "answers": three}])
    assert [(b["a"], b["b"], b["winner"]) for b in tied] == [("rag", "finetuned", "tie"),
                                                             ("rag", "rag_finetuned", "tie"),
                                                             ("finetuned", "rag_finetuned", "tie")]
