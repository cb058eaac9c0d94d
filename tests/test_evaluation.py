"""Integration: real ragas (offline metrics) on real exchanges stored in SQLite."""

import pytest

from pipelines.common.events import PipelineResult, Timings
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
from pipelines.feedback.store import FeedbackStore


@pytest.fixture(scope="module")
def references(test_settings, knowledge_base):
    return ReferenceSet.load(test_settings.questions_file, test_settings.corpus_dir, knowledge_base.chunker())


def _exchange(store, question, rag_answer, ft_answer, chunks, ft_error=None):
    return store.record_exchange("s", question, [
        PipelineResult("rag", rag_answer, chunks, None, Timings(0.1, 1, 0.01, 5), "m"),
        PipelineResult("finetuned", ft_answer, [], ft_error, Timings(0.1, 1, None, 5), "m", "a@1"),
    ])


def test_reference_set_covers_the_sample_questions(references):
    assert len(references) >= 20
    ref = references.find("  who founded LUMENHOLLOW instruments ")
    assert ref is not None and "Varnholt" in ref.answer and ref.contexts


def test_scores_follow_answer_quality_and_missing_reference_is_na(tmp_path, embedder, references, knowledge):
    from pipelines.knowledge.retrieval import HybridRetriever

    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    question = "Who leads the Lumenhollow support team?"
    chunks = HybridRetriever(knowledge).run(question, top_k=3)
    good = _exchange(store, question, "The support team is led by Agnieszka Domaradzka [1].",
                     "Bananas are yellow.", chunks)
    unknown = _exchange(store, "What colour is the sky?", "Blue.", "", [], ft_error="adapter missing")
    worker = ScoringWorker(store, lambda: RagasScorer(embedder, references)).start()
    for exchange_id in (good, unknown):
        store.add_vote(exchange_id, "rag", session_id="s")
        worker.submit(exchange_id)
    assert worker.wait_idle(timeout=120)
    scores = {(s["pipeline"], s["metric"]): s for s in store.scores(good)}
    rag_sim = scores[("rag", "semantic_similarity")]["value"]
    ft_sim = scores[("finetuned", "semantic_similarity")]["value"]
    assert 0 <= ft_sim < rag_sim <= 1
    for metric in ("rouge_score", "bleu_score", "non_llm_string_similarity"):  # offline, against the reference
        assert 0 <= scores[("finetuned", metric)]["value"] < scores[("rag", metric)]["value"] <= 1, metric
    assert scores[("rag", "non_llm_context_recall")]["status"] == "ok"
    assert scores[("rag", "non_llm_context_precision_with_reference")]["value"] > 0
    assert scores[("finetuned", "non_llm_context_recall")]["status"] == "n/a"
    unknown_scores = store.scores(unknown)
    assert unknown_scores and all(s["status"] == "n/a" and s["value"] is None for s in unknown_scores)
    assert any("failed to answer" in s["reason"] for s in unknown_scores if s["pipeline"] == "finetuned")
    worker.stop()
