"""LLM-judged ragas metrics: the real offline model as judge (in-process and behind a real OpenAI-compatible
server), plus fast seams for the judge's failure modes (unreachable, too slow) and the success path."""

from __future__ import annotations

import time

import pytest

from pipelines.common.events import PipelineResult, Timings
from pipelines.common.settings import Settings
from pipelines.evaluation.judges import JUDGED_METRICS, LLMJudge
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker, _ragas_embeddings
from pipelines.feedback.store import FeedbackStore
from pipelines.generation.chat_models import LocalChatModel, OpenAICompatibleChatModel
from pipelines.runtime import judge_status

RAG_METRICS = {"faithfulness", "answer_relevancy", "llm_context_precision_with_reference", "context_recall",
               "answer_correctness"}


@pytest.fixture(scope="module")
def references(test_settings, knowledge_base):
    return ReferenceSet.load(test_settings.questions_file, test_settings.corpus_dir, knowledge_base.chunker())


@pytest.fixture(scope="module")
def embeddings(embedder):
    return _ragas_embeddings(embedder)


def _assert_value_or_reasoned_failure(row: dict) -> None:
    if row["status"] == "ok":
        assert 0.0 <= row["value"] <= 1.0, row
    else:
        assert row["status"] == "failed" and row["value"] is None and row["reason"], row


def test_local_model_judges_a_voted_exchange_end_to_end(tmp_path, test_settings, backend, embedder, references,
                                                        knowledge):
    """Vote → background worker → ragas with the real offline model as judge → rows in SQLite."""
    from pipelines.knowledge.retrieval import HybridRetriever

    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    question = "Who leads the Lumenhollow support team?"
    chunks = HybridRetriever(knowledge).run(question, top_k=2)
    exchange_id = store.record_exchange("s", question, [
        PipelineResult("rag", "The support team is led by Agnieszka Domaradzka [1].", chunks, None,
                       Timings(0.1, 1, 0.01, 5), "m"),
        PipelineResult("finetuned", "Support is led by Bram Oosterhuis.", [], None, Timings(0.1, 1, None, 5), "m"),
    ])
    judge = LocalChatModel(backend)
    worker = ScoringWorker(store, lambda: RagasScorer(
        embedder, references, lambda emb: LLMJudge(judge, emb, max_new_tokens=48, timeout_s=15))).start()
    store.add_vote(exchange_id, "rag", session_id="s")
    worker.submit(exchange_id)
    assert worker.wait_idle(timeout=600)
    rows = {(r["pipeline"], r["metric"]): r for r in store.scores(exchange_id)}
    for metric in RAG_METRICS:
        _assert_value_or_reasoned_failure(rows[("rag", metric)])
        assert rows[("rag", metric)]["scorer"].endswith(f"judge {judge.name}")
    # The fine-tuned answer's groundedness is judged against the RAG column's passages; retrieval metrics are n/a.
    for metric in ("faithfulness", "answer_relevancy", "answer_correctness"):
        _assert_value_or_reasoned_failure(rows[("finetuned", metric)])
    for metric in ("llm_context_precision_with_reference", "context_recall"):
        assert rows[("finetuned", metric)]["status"] == "n/a"
        assert "retrieves no context" in rows[("finetuned", metric)]["reason"]
    # The offline metrics are still there, under their own scorer.
    assert rows[("rag", "rouge_score")]["status"] == "ok" and rows[("rag", "rouge_score")]["scorer"].endswith("offline")

    # Scoring again without a judge keeps the judged rows (a new judge would replace them).
    ScoringWorker(store, lambda: RagasScorer(embedder, references)).score(exchange_id)
    again = {(r["pipeline"], r["metric"]): r for r in store.scores(exchange_id)}
    assert again[("rag", "faithfulness")] == rows[("rag", "faithfulness")]
    assert len(again) == len(rows)
    worker.stop()


def test_endpoint_judge_scores_through_a_real_openai_compatible_server(openai_server, test_settings, embeddings):
    from ragas import SingleTurnSample

    from pipelines.generation.models import resolve_model_path

    judge = LLMJudge(OpenAICompatibleChatModel(openai_server, resolve_model_path(test_settings)), embeddings,
                     max_new_tokens=48, timeout_s=30)
    sample = SingleTurnSample(user_input="Who founded Lumenhollow Instruments?", response="Ilse Varnholt.")
    rows = {r["metric"]: r for r in judge.score_answer("finetuned", sample, retrieved=False)}
    _assert_value_or_reasoned_failure(rows["answer_relevancy"])
    assert rows["faithfulness"]["status"] == "n/a" and "no retrieved context" in rows["faithfulness"]["reason"]
    assert rows["answer_correctness"]["status"] == "n/a" and "reference" in rows["answer_correctness"]["reason"]


class ScriptedChat:
    """Unit-test seam: replies with a fixed text, raises, or stalls, and counts calls."""

    def __init__(self, reply: str = "", error: Exception | None = None, delay_s: float = 0.0) -> None:
        self.name, self.reply, self.error, self.delay_s, self.calls = "scripted", reply, error, delay_s, 0

    def complete(self, conversations, max_new_tokens, timeout_s=None):
        self.calls += 1
        if self.error:
            raise self.error
        time.sleep(min(self.delay_s, timeout_s if timeout_s is not None else self.delay_s))
        return [self.reply] * len(conversations)


def _sample(**extra):
    from ragas import SingleTurnSample

    return SingleTurnSample(user_input="How long does the lamp's battery last?", response="About 14 hours.", **extra)


def test_an_unreachable_judge_is_a_recorded_failure_never_a_zero(embeddings):
    judge = LLMJudge(ScriptedChat(error=ConnectionError("judge at http://gpu:8000 refused")), embeddings)
    rows = judge.score_answer("rag", _sample(retrieved_contexts=["The battery lasts 14 hours."], reference="14 h"),
                              retrieved=True)
    assert {r["metric"] for r in rows} == RAG_METRICS
    for row in rows:
        assert row["status"] == "failed" and row["value"] is None
        assert "ConnectionError" in row["reason"] and "refused" in row["reason"]


def test_a_slow_judge_times_out_per_metric(embeddings):
    chat = ScriptedChat(reply="not json", delay_s=30)
    judge = LLMJudge(chat, embeddings, timeout_s=0.5)
    started = time.monotonic()
    rows = {r["metric"]: r for r in judge.score_answer("finetuned", _sample(), retrieved=False)}
    assert time.monotonic() - started < 10
    assert rows["answer_relevancy"]["status"] == "failed"
    assert "longer than" in rows["answer_relevancy"]["reason"]


def test_a_parsable_verdict_gives_a_score_in_range(embeddings):
    """ResponseRelevancy: the judge writes the question the answer answers; ragas compares it with the real one."""
    reply = '{"question": "How long does the battery of the lamp last?", "noncommittal": 0}'
    rows = {r["metric"]: r for r in LLMJudge(ScriptedChat(reply=reply), embeddings)
            .score_answer("finetuned", _sample(), retrieved=False)}
    assert rows["answer_relevancy"]["status"] == "ok" and 0.8 < rows["answer_relevancy"]["value"] <= 1.0
    noncommittal = '{"question": "How long does the battery of the lamp last?", "noncommittal": 1}'
    rows = {r["metric"]: r for r in LLMJudge(ScriptedChat(reply=noncommittal), embeddings)
            .score_answer("finetuned", _sample(), retrieved=False)}
    assert rows["answer_relevancy"]["value"] == 0.0  # ragas' own rule for evasive answers: a real zero


def test_context_precision_is_reference_free_without_a_reference(embeddings):
    judge = LLMJudge(ScriptedChat(), embeddings)
    with_reference = judge.applicable(has_context=True, retrieved=True, has_reference=True)
    without = judge.applicable(has_context=True, retrieved=True, has_reference=False)
    assert "llm_context_precision_with_reference" in with_reference
    assert "llm_context_precision_without_reference" not in with_reference
    assert without["llm_context_precision_without_reference"] is None
    assert "reference" in without["context_recall"] and "reference" in without["answer_correctness"]
    assert set(with_reference) | set(without) == set(JUDGED_METRICS)


def test_judge_settings_and_status(tmp_path):
    with pytest.raises(ValueError, match="ARENA_LLM_BASE_URL"):
        Settings(judge="endpoint", data_dir=tmp_path)
    none = judge_status(Settings(data_dir=tmp_path), backend=None)
    assert "skipped" in none and "faithfulness" in none and "ARENA_JUDGE" in none
    endpoint = judge_status(Settings(judge="endpoint", llm_base_url="http://gpu:8000/v1", llm_model="qwen",
                                     data_dir=tmp_path), backend=None)
    assert "qwen" in endpoint and "http://gpu:8000/v1" in endpoint
