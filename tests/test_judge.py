"""LLM-judged ragas metrics: smoke tests with the real offline model as judge (in-process and behind a real
OpenAI-compatible server), fast seams for the judge's failure modes (unreachable, too slow), and a scripted judge
(tests/scripted_judge.py) whose verdicts follow a known rule, so every metric must parse and give its known value."""

from __future__ import annotations

import time

import pytest

from pipelines.common.events import PipelineResult, Timings
from pipelines.common.settings import Settings
from pipelines.evaluation.judges import JUDGED_METRICS, LLMJudge
from pipelines.evaluation.scorer import RagasScorer, Reference, ReferenceSet, ScoringWorker, _ragas_embeddings
from pipelines.feedback.store import FeedbackStore
from pipelines.generation.chat_models import LocalChatModel, OpenAICompatibleChatModel
from pipelines.runtime import judge_status
from tests.scripted_judge import BagOfWordsEmbedder, ScriptedJudge, UnscriptedPrompt

RAG_METRICS = {"faithfulness", "answer_relevancy", "llm_context_precision_with_reference", "context_recall",
               "answer_correctness"}


@pytest.fixture(scope="module")
def references(test_settings, knowledge_base):
    return ReferenceSet.load(test_settings.questions_file, test_settings.corpus_dir, knowledge_base.chunker())


@pytest.fixture(scope="module")
def embeddings(embedder):
    return _ragas_embeddings(embedder)


#: How a working judge can still fail a metric: the reasons LLMJudge gives for a slow reply (its own budget, or the
#: endpoint client's request timeout), a reply that is not ragas' JSON, and a reply that gives no score. Anything
#: else (a TypeError from the wiring) fails a smoke test.
JUDGE_FAILURES = ("the judge took longer than", "APITimeoutError", "RagasOutputParserException",
                  "the judge's output gave no score")


def _assert_value_or_reasoned_failure(row: dict) -> None:
    """Only for the real-model smoke tests: the offline 135M model rarely writes the JSON ragas asks for, so a
    ``failed`` row with a reason is an acceptable outcome there. It proves nothing about verdict parsing: the
    scripted-judge tests below require ``ok`` rows and exact values."""
    if row["status"] == "ok":
        assert 0.0 <= row["value"] <= 1.0, row
    else:  # a judge's own failure (too slow, no JSON, no score), not wiring that raised
        assert row["status"] == "failed" and row["value"] is None and row["reason"], row
        assert row["reason"].startswith(JUDGE_FAILURES), row


def test_local_model_judges_a_voted_exchange_end_to_end_smoke(tmp_path, test_settings, backend, embedder,
                                                              references, knowledge):
    """Smoke test: vote → background worker → ragas with the real offline model as judge → rows in SQLite.

    Proves the wiring: the model is reached and answers every call ragas makes (a judge that raised would
    otherwise read as "took longer than 3 s", since ragas retries until the budget runs out), and each judged
    metric of each column gets one row under the judge's scorer name (a value
    in [0, 1] or ``failed`` with a reason, never a zero), the retrieval metrics are n/a for the fine-tuned
    column, and rescoring without a judge keeps the judged rows. Does not prove that any verdict is parsed: the
    135M model mostly writes prose instead of ragas' JSON (answer relevancy on these answers failed all three
    times it was tried in-process, taking about a minute each on a busy 2-core machine), so every judged row may
    be ``failed``. The scripted-judge tests below cover the verdicts. Each metric's budget is short (3 s, replies
    of at most 16 tokens) because a smoke test only needs the call to reach the model and come back as a row: at
    15 s the judged rows took two minutes of the suite, at 6 s about a minute.
    """
    from pipelines.knowledge.retrieval import HybridRetriever

    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    question = "Who leads the Lumenhollow support team?"
    chunks = HybridRetriever(knowledge).run(question, top_k=2)
    exchange_id = store.record_exchange("s", question, [
        PipelineResult("rag", "The support team is led by Agnieszka Domaradzka [1].", chunks, None,
                       Timings(0.1, 1, 0.01, 5), "m"),
        PipelineResult("finetuned", "Support is led by Bram Oosterhuis.", [], None, Timings(0.1, 1, None, 5), "m"),
    ])
    judge = RecordingChat(LocalChatModel(backend))
    worker = ScoringWorker(store, lambda: RagasScorer(
        embedder, references, lambda emb: LLMJudge(judge, emb, max_new_tokens=16, timeout_s=3))).start()
    store.add_vote(exchange_id, "rag", session_id="s")
    worker.submit(exchange_id)
    assert worker.wait_idle(timeout=600)
    rows = {(r["pipeline"], r["metric"]): r for r in store.scores(exchange_id)}
    # The model was reached and answered (ragas turns an exception in the judge into retries until the budget
    # runs out, so the rows alone would read "took longer than 3 s" for a judge that raised every time).
    assert judge.outcomes and all(isinstance(outcome, list) for outcome in judge.outcomes), judge.outcomes
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


def test_endpoint_judge_scores_through_a_real_openai_compatible_server_smoke(openai_server, test_settings,
                                                                              embeddings):
    """Smoke test: the judge talks to a real OpenAI-compatible server (``transformers serve``) and gets a row.

    Proves the endpoint client, the per-metric time budget and the n/a rows for a column without context or
    reference. Does not prove that the small model's reply is parsed: answer relevancy may be ``failed`` (see
    the smoke test above); the scripted-judge tests below require ``ok`` rows.
    """
    from ragas import SingleTurnSample

    from pipelines.generation.models import resolve_model_path

    judge = LLMJudge(OpenAICompatibleChatModel(openai_server, resolve_model_path(test_settings)), embeddings,
                     max_new_tokens=24, timeout_s=12)  # a row within the budget, not a parsed verdict
    sample = SingleTurnSample(user_input="Who founded Lumenhollow Instruments?", response="Ilse Varnholt.")
    rows = {r["metric"]: r for r in judge.score_answer("finetuned", sample, retrieved=False)}
    _assert_value_or_reasoned_failure(rows["answer_relevancy"])
    assert rows["faithfulness"]["status"] == "n/a" and "no retrieved context" in rows["faithfulness"]["reason"]
    assert rows["answer_correctness"]["status"] == "n/a" and "reference" in rows["answer_correctness"]["reason"]


class RecordingChat:
    """The real chat model, recording what each call ended in: its replies, or the exception it raised."""

    def __init__(self, chat) -> None:
        self.chat, self.name, self.outcomes = chat, chat.name, []

    def complete(self, conversations, max_new_tokens: int, timeout_s: float | None = None) -> list[str]:
        try:
            replies = self.chat.complete(conversations, max_new_tokens, timeout_s=timeout_s)
        except Exception as exc:
            self.outcomes.append(exc)
            raise
        self.outcomes.append(replies)
        return replies


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


# The scripted judge (tests/scripted_judge.py) through the real LLMJudge and ragas code: every judged metric must
# give a verdict, and the value its rule implies. Word-count embeddings instead of MiniLM: unit tests, no model.
QUESTION = "How long does the lamp's battery last?"
PASSAGES = ["The lamp weighs 300 grams.", "The battery lasts 14 hours on a full charge."]
REFERENCE = "The battery lasts 14 hours on a full charge. The lamp charges over USB-C."
ANSWER = "The battery lasts 14 hours. The lamp is waterproof."  # one statement in the passages, one not


@pytest.fixture
def bag_of_words() -> BagOfWordsEmbedder:
    return BagOfWordsEmbedder()


def _scripted_rows(chat: ScriptedJudge, embedder: BagOfWordsEmbedder, pipeline: str = "rag", *,
                   response: str = ANSWER, passages: list[str] = PASSAGES, retrieved: bool = True) -> dict[str, dict]:
    from ragas import SingleTurnSample

    sample = SingleTurnSample(user_input=QUESTION, response=response, retrieved_contexts=passages,
                              reference=REFERENCE)
    rows = LLMJudge(chat, _ragas_embeddings(embedder)).score_answer(pipeline, sample, retrieved=retrieved)
    return {row["metric"]: row for row in rows}


def test_scripted_judge_gives_every_judged_metric_the_value_its_rule_implies(bag_of_words):
    chat = ScriptedJudge(questions={ANSWER: QUESTION})
    rows = _scripted_rows(chat, bag_of_words)
    assert not chat.unscripted, chat.unscripted
    assert set(chat.answered) == {"statements", "faithfulness_verdicts", "question_generation",
                                  "context_precision", "context_recall", "correctness"}  # every prompt was asked
    assert set(rows) == RAG_METRICS
    for row in rows.values():
        assert row["status"] == "ok" and 0.0 <= row["value"] <= 1.0, row
    assert rows["faithfulness"]["value"] == 0.5  # "14 hours" is in the passages, "waterproof" is not
    assert rows["answer_relevancy"]["value"] == pytest.approx(1.0)  # the judge's question is the user's
    # Average precision: the one useful passage (it holds a reference sentence) is ranked second.
    assert rows["llm_context_precision_with_reference"]["value"] == pytest.approx(0.5)
    assert rows["context_recall"]["value"] == 0.5  # the passages hold the first reference sentence, not "USB-C"
    # Statements: TP "14 hours", FP "waterproof", FN both reference sentences → F1 0.4; ragas weighs 0.75 / 0.25
    # with the answer's similarity to the reference.
    assert rows["answer_correctness"]["value"] == pytest.approx(0.75 * 0.4 + 0.25 * bag_of_words.cosine(ANSWER,
                                                                                                        REFERENCE))


def test_scripted_context_precision_depends_on_where_the_useful_passage_ranks(bag_of_words):
    first = _scripted_rows(ScriptedJudge(), bag_of_words, passages=PASSAGES[::-1])
    neither = _scripted_rows(ScriptedJudge(), bag_of_words, passages=["The lamp weighs 300 grams.",
                                                                      "The lamp is sold in Lumenhollow."])
    assert first["llm_context_precision_with_reference"]["value"] == pytest.approx(1.0)
    assert neither["llm_context_precision_with_reference"] == {**neither["llm_context_precision_with_reference"],
                                                               "status": "ok", "value": 0.0}
    assert neither["context_recall"]["value"] == 0.0


def test_scripted_judge_scores_a_right_answer_above_a_wrong_one(bag_of_words):
    """The fine-tuned column: judged against the RAG column's passages, without the retrieval metrics."""
    right = _scripted_rows(ScriptedJudge(), bag_of_words, "finetuned", response=REFERENCE, retrieved=False)
    wrong_answer = "The battery lasts 2 hours."
    wrong = _scripted_rows(ScriptedJudge(), bag_of_words, "finetuned", response=wrong_answer, retrieved=False)
    for rows in (right, wrong):
        assert {m for m, r in rows.items() if r["status"] == "ok"} == {"faithfulness", "answer_relevancy",
                                                                       "answer_correctness"}, rows
        assert rows["context_recall"]["status"] == "n/a"
    # Every statement of the right answer is a reference statement (F1 1) and the texts are equal (similarity 1);
    # the wrong answer's one statement is a false positive (F1 0): only the similarity part is left.
    assert right["answer_correctness"]["value"] == pytest.approx(1.0)
    assert wrong["answer_correctness"]["value"] == pytest.approx(0.25 * bag_of_words.cosine(wrong_answer, REFERENCE))
    assert right["answer_correctness"]["value"] > wrong["answer_correctness"]["value"]
    assert right["faithfulness"]["value"] == 0.5  # "USB-C" is not in the passages
    assert wrong["faithfulness"]["value"] == 0.0  # neither is "2 hours"


def test_scripted_judge_through_the_scorer_judges_the_finetuned_answer_against_the_rag_passages(bag_of_words):
    """The background scorer's path: offline metrics, then the judge, sharing one embeddings adapter."""
    from pipelines.common.questions import normalise_question

    reference = Reference(QUESTION, REFERENCE, "lamp.md", (PASSAGES[1],), keys=("14 hours",))
    scorer = RagasScorer(bag_of_words, ReferenceSet({normalise_question(QUESTION): reference}),
                         lambda embeddings: LLMJudge(ScriptedJudge(), embeddings))
    rows = scorer.score_exchange({"id": "e1", "question": QUESTION, "answers": {
        "rag": {"answer": "The battery lasts 14 hours.", "contexts": [{"text": text} for text in PASSAGES],
                "error": None},
        "finetuned": {"answer": "The battery lasts 2 hours.", "contexts": [], "error": None},
    }})
    judged = {(r["pipeline"], r["metric"]): r for r in rows if r.get("scorer") == scorer.judge_name}
    assert {key for key, r in judged.items() if r["status"] == "ok"} == {
        *(("rag", metric) for metric in RAG_METRICS),
        *(("finetuned", metric) for metric in ("faithfulness", "answer_relevancy", "answer_correctness"))}, judged
    assert judged[("rag", "faithfulness")]["value"] == 1.0
    assert judged[("finetuned", "faithfulness")]["value"] == 0.0  # "2 hours" is not in the RAG column's passages
    assert judged[("rag", "answer_correctness")]["value"] > judged[("finetuned", "answer_correctness")]["value"]


def test_scripted_judge_writing_malformed_json_fails_each_metric_with_a_reason(bag_of_words):
    chat = ScriptedJudge(malformed=True)
    rows = _scripted_rows(chat, bag_of_words)
    assert set(rows) == RAG_METRICS
    for row in rows.values():
        assert row["status"] == "failed" and row["value"] is None, row
        assert row["reason"].startswith("RagasOutputParserException: the judge's reply was not the JSON"), row
    assert "fix_output_format" in chat.answered and not chat.unscripted  # ragas asked to fix it, then gave up


def test_scripted_judge_refuses_a_prompt_it_has_no_script_for(bag_of_words, monkeypatch):
    """A reworded ragas prompt must fail loudly, not be answered blindly (nor look like a judge's bad output)."""
    from ragas.metrics._faithfulness import NLIStatementPrompt

    with pytest.raises(UnscriptedPrompt):
        ScriptedJudge().complete([[{"role": "user", "content": "Rate this answer from 1 to 10."}]], 16)
    monkeypatch.setattr(NLIStatementPrompt, "instruction", "Judge whether each statement follows from the context.")
    chat = ScriptedJudge()
    rows = _scripted_rows(chat, bag_of_words)
    assert rows["faithfulness"]["status"] == "failed" and "UnscriptedPrompt" in rows["faithfulness"]["reason"]
    assert chat.unscripted and chat.unscripted[0].startswith("Judge whether each statement")
    assert rows["context_recall"]["status"] == "ok"  # the other prompts are still known
