"""The stored correctness score of an out-of-corpus answer: right iff it abstains, as the verdict counts it.

Real ragas (offline metrics) and a real SQLite store; a tiny hashing embedder stands in for MiniLM, so this
runs in seconds without a model. Before, such a question (no key, the reference "The documents do not say.")
got ``key_fact`` n/a and a token F1 against the abstention sentence: the Evaluation tab and the leaderboard
left it out of accuracy while the verdict counted it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipelines.common.correctness import KEY_FACT, TOKEN_F1, accuracy_by_pipeline, proportion_interval
from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.common.questions import load_questions
from pipelines.evaluation.scorer import CONTEXT_METRICS, RagasScorer, ReferenceSet, ScoringWorker
from pipelines.evaluation.slices import rows_from_store
from pipelines.feedback.store import FeedbackStore

T4 = "# Physical\nThe Tessel T4 weighs 380 grams.\n"
ANSWERS = {  # question -> (RAG's answer, the fine-tuned column's answer)
    "How heavy is the T4?": ("It weighs 380 grams.", "The documents do not mention 380 grams."),
    "Who is the CFO?": ("The documents do not say who the CFO is.", "The CFO is Maria Lopez."),
    "What does the T9 cost?": ("I don't know; please ask sales.", ""),
}


class HashingEmbedder:
    """Deterministic bag-of-words vectors: enough for ragas' semantic similarity, no model to load."""

    name = "hashing"
    dimensions = 64

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dimensions
            for word in text.lower().split():
                vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
            vectors.append(vector if any(vector) else [1.0] + [0.0] * (self.dimensions - 1))
        return vectors


@pytest.fixture
def scored(tmp_path: Path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "t4.md").write_text(T4)
    questions = tmp_path / "set.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in (
        {"id": "a", "question": "How heavy is the T4?", "key": "380 grams", "source": "t4.md"},
        {"id": "b", "question": "Who is the CFO?", "answerable": False, "split": "test"},
        {"id": "c", "question": "What does the T9 cost?", "type": "out-of-corpus", "split": "test"},
    )))
    references = ReferenceSet.load(questions, corpus)
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    chunk = RetrievedChunk(T4, "t4.md", 0, 0.9, 1)
    ids = [store.record_exchange("s", question, [
        PipelineResult("rag", rag, [chunk], timings=Timings(0.1, 1.0, 0.01)),
        PipelineResult("finetuned", finetuned, timings=Timings(0.1, 1.0)),
    ]) for question, (rag, finetuned) in ANSWERS.items()]
    ScoringWorker(store, lambda: RagasScorer(HashingEmbedder(), references)).score_many(ids)
    yield store, ids, load_questions(questions)
    store.close()


def _rows(store: FeedbackStore, exchange_id: str) -> dict[tuple[str, str], dict]:
    return {(row["pipeline"], row["metric"]): row for row in store.scores(exchange_id)}


def test_key_fact_of_an_out_of_corpus_answer_is_whether_it_abstains(scored):
    store, (answerable, cfo, t9), _items = scored
    said, made_up = _rows(store, cfo)[("rag", KEY_FACT)], _rows(store, cfo)[("finetuned", KEY_FACT)]
    assert (said["status"], said["value"], made_up["status"], made_up["value"]) == ("ok", 1.0, "ok", 0.0)
    assert _rows(store, t9)[("rag", KEY_FACT)]["value"] == 1.0  # "I don't know" plus advice still abstains
    empty = _rows(store, t9)[("finetuned", KEY_FACT)]
    assert (empty["status"], empty["value"]) == ("n/a", None) and "empty answer" in empty["reason"]
    for exchange_id in (cfo, t9):  # no key to overlap with, no reference passage to compare retrieval with
        rows = _rows(store, exchange_id)
        assert rows[("rag", TOKEN_F1)]["status"] == rows[("finetuned", TOKEN_F1)]["status"] == "n/a"
        assert all(rows[("rag", m)]["status"] == "n/a" and "out-of-corpus" in rows[("rag", m)]["reason"]
                   for m in CONTEXT_METRICS)
        assert rows[("rag", "semantic_similarity")]["status"] == "ok"  # against "The documents do not say."
    # An answerable question keeps its score as before: the key is in the answer (abstaining or not).
    rows = _rows(store, answerable)
    assert rows[("rag", KEY_FACT)]["value"] == rows[("finetuned", KEY_FACT)]["value"] == 1.0
    assert rows[("rag", TOKEN_F1)]["status"] == "ok"
    assert rows[("rag", "non_llm_context_recall")]["status"] == "ok"


def test_stored_scores_agree_with_the_verdicts_rule_on_out_of_corpus_questions(scored):
    """The Evaluation tab and leaderboard (stored key_fact) and the verdict (slices) count the same answers right."""
    store, ids, items = scored
    answers, _votes = rows_from_store(store, items, exchange_ids=ids)
    stored = {(row["exchange_id"], row["pipeline"]): row["value"] for row in store.scores() if row["metric"] == KEY_FACT
              and row["status"] == "ok"}
    for row in answers:
        if not row.answerable:
            assert stored.get((row.exchange_id, row.pipeline)) == (None if row.correct is None else float(row.correct))
    accuracy = accuracy_by_pipeline(store.scores())
    assert accuracy["rag"][0] == proportion_interval(3, 3)  # the key, then two abstentions
    assert accuracy["finetuned"][0] == proportion_interval(1, 2)  # the key; made up; the empty answer not counted


def test_the_sample_reference_set_keeps_its_out_of_corpus_questions_for_the_arena():
    """The arena's "next question" draws from the reference set: the out-of-corpus questions are among them (a
    vote on one is a vote on honesty), marked unanswerable, with no passages and the abstention reference."""
    from pipelines.common.questions import ABSTENTION_REFERENCE

    root = Path(__file__).resolve().parent.parent / "assets"
    references = ReferenceSet.load(root / "questions.jsonl", root / "corpus")
    unanswerable = [ref for ref in references.references.values() if not ref.answerable]
    assert len(references.questions()) == len(references) == 27 + len(unanswerable) and len(unanswerable) >= 5
    assert {ref.question for ref in unanswerable} <= set(references.questions())
    assert all((ref.answer, ref.keys, ref.contexts, ref.split) == (ABSTENTION_REFERENCE, (), (), "test")
               for ref in unanswerable)
    assert all(ref.contexts and ref.keys for ref in references.references.values() if ref.answerable)
