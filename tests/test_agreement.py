"""Agreement statistics against a hand-checkable fixture, through a real SQLite store."""

import pytest

from pipelines.common.events import PipelineResult, Timings
from pipelines.evaluation.agreement import best_predictor, metric_agreement, wilson_interval
from pipelines.feedback.store import FeedbackStore


def test_wilson_interval_matches_the_textbook_value():
    low, high = wilson_interval(8, 10)  # 8/10: 95% Wilson interval 0.490 .. 0.943
    assert low == pytest.approx(0.490, abs=1e-3) and high == pytest.approx(0.943, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_pairwise_accuracy_and_rank_correlation(tmp_path):
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    # (vote, good_metric rag/ft, bad_metric rag/ft, human score rag/ft)
    fixture = [
        ("rag", (0.9, 0.2), (0.1, 0.8), (5, 1)),
        ("rag", (0.8, 0.3), (0.2, 0.9), (4, 2)),
        ("finetuned", (0.1, 0.7), (0.6, 0.4), (2, 4)),
        ("finetuned", (0.5, 0.5), (0.9, 0.1), (3, 3)),
        ("tie", (0.4, 0.6), (0.4, 0.6), (3, 3)),  # a tie decides nothing
    ]
    for choice, good, bad, human in fixture:
        exchange_id = store.record_exchange("s", "q", [
            PipelineResult("rag", "r", [], None, Timings(0.1, 1), "m"),
            PipelineResult("finetuned", "f", [], None, Timings(0.1, 1), "m"),
        ])
        store.add_vote(exchange_id, choice, session_id="s")
        rows = []
        for index, pipeline in enumerate(("rag", "finetuned")):
            rows += [{"pipeline": pipeline, "metric": "good", "value": good[index], "status": "ok"},
                     {"pipeline": pipeline, "metric": "bad", "value": bad[index], "status": "ok"},
                     {"pipeline": pipeline, "metric": "broken", "value": None, "status": "failed"}]
            store.add_rating(exchange_id, pipeline, session_id="s", score=human[index])
        store.add_scores(exchange_id, rows, scorer="test")

    results = {r.metric: r for r in metric_agreement(store.scores_with_votes(), store.latest_rating_scores())}
    assert set(results) == {"good", "bad"}  # failed metrics never count
    good, bad = results["good"], results["bad"]
    assert (good.pairs, good.pairwise_accuracy) == (4, pytest.approx(3.5 / 4))  # 3 right + one equal score
    assert (bad.pairs, bad.pairwise_accuracy) == (4, pytest.approx(0.0))
    assert good.accuracy_low < good.pairwise_accuracy < good.accuracy_high
    assert good.rated_answers == 10
    assert good.spearman > 0.8 and bad.spearman < 0
    assert good.kendall > 0.6
    assert "Not enough evidence" in best_predictor(list(results.values()))  # 4 < 5 decided votes


def test_verdict_names_the_best_metric_once_there_are_enough_votes():
    from pipelines.evaluation.agreement import MetricAgreement

    rows = [MetricAgreement("rouge_score", 6, 0.5, 0.2, 0.8, 0, None, None),
            MetricAgreement("semantic_similarity", 6, 5 / 6, 0.4, 0.97, 0, None, None)]
    assert best_predictor(rows).startswith("**semantic_similarity** predicts your raters best")


def test_a_best_of_three_vote_is_two_comparisons():
    scores = [{"exchange_id": "e1", "choice": "rag_finetuned", "pipeline": p, "metric": "m", "value": v}
              for p, v in (("rag", 0.5), ("finetuned", 0.9), ("rag_finetuned", 0.7))]
    (row,) = metric_agreement(scores, {})
    assert row.pairs == 2 and row.pairwise_accuracy == 0.5  # above RAG, below fine-tuned
