"""A collection's question set through the service the Questions tab, the API and the MCP tools call: the real rules
generator over the collection's kept documents, the fairness rule against the training command's own questions,
the save with its metadata, the choice and what it names. The knowledge base is a stand-in here (a folder per
collection); the browser test drives the same path on the running app with Weaviate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.common.questions import QuestionSetError, load_questions
from pipelines.common.settings import Settings
from pipelines.evaluation.collection_questions import CollectionQuestions
from pipelines.evaluation.question_checks import word_overlap
from pipelines.evaluation.saved_question_sets import SavedQuestionSets
from pipelines.runtime import training_questions

ROOT = Path(__file__).resolve().parent.parent
DEV_DOCS = ROOT / "assets" / "eval" / "dev" / "docs"


@pytest.fixture
def service(tmp_path) -> CollectionQuestions:
    documents = tmp_path / "documents"
    shutil.copytree(DEV_DOCS, documents / "Ferries")
    (documents / "Empty").mkdir()
    (documents / "Binary").mkdir()
    (documents / "Binary" / "blob.pdf").write_bytes(b"\x00\x01not a pdf at all\xff" * 50)
    knowledge = SimpleNamespace(collections=lambda: ["Binary", "Empty", "Ferries"],
                                originals_dir=lambda name: documents / name)
    settings = Settings(data_dir=tmp_path / "data")
    chosen: list = []
    questions = CollectionQuestions(knowledge, SavedQuestionSets(settings.data_dir, settings.questions_file),
                                    training_questions=lambda docs: training_questions(docs, settings),
                                    on_chosen=chosen.append)
    questions.chosen_log = chosen
    return questions


def test_documents_in_a_reviewed_keyed_set_out_fair_to_the_adapter_and_chosen_by_hash(service, tmp_path):
    rows, summary = service.generate_questions("Ferries", 30, -1, 0)
    assert len(rows) >= 30 and "out-of-corpus" in summary and "Highest word overlap" in summary
    assert rows == service.generate_questions("Ferries", 30, -1, 0)[0]  # same documents and seed: same set
    training = training_questions(tmp_path / "documents" / "Ferries", Settings(data_dir=tmp_path / "data"))
    assert len(training) > 100  # the training command's template questions for these documents
    threshold = service._last[1].overlap_threshold
    assert max(word_overlap(row["question"], t) for row in rows for t in training) <= threshold

    rows[0]["question"] = "Edited: " + rows[0]["question"]  # the review: one edited, one removed
    kept = rows[:1] + rows[2:]
    message = service.save_question_set("Ferries", kept)
    assert message.startswith(f"✅ Saved {len(kept)} questions for **Ferries**")
    meta = service.sets.meta("Ferries")
    assert meta["generator"] == "rules" and meta["max_training_overlap"] <= threshold and meta["dropped"]

    assert "Ferries" in service.choose_question_set("Ferries")
    chosen = service.chosen()
    assert service.chosen_log == [chosen]  # the runtime hears of it (its scorer takes the set's references)
    assert chosen.label.startswith(f"Ferries (sha256 {chosen.content_hash[:12]}, highest word overlap")
    items = load_questions(chosen.path, require_reference=True)
    assert [i.question for i in items] == [r["question"] for r in kept]
    described = service.describe_set(None)
    assert described["chosen"] and described["sha256"] == chosen.content_hash
    assert [r["id"] for r in described["questions"]] == [r["id"] for r in kept]


def test_a_collection_with_no_documents_or_only_unreadable_ones_gets_a_clear_error_and_nothing_saved(service):
    with pytest.raises(QuestionSetError, match="holds no documents: upload some"):
        service.generate_questions("Empty", 10, -1, 0)
    with pytest.raises(QuestionSetError, match="no readable document"):
        service.generate_questions("Binary", 10, -1, 0)
    with pytest.raises(QuestionSetError, match="1 to 500"):
        service.generate_questions("Ferries", 0, -1, 0)
    with pytest.raises(QuestionSetError, match="no saved question set"):
        service.describe_set("Ferries")
    assert not service.sets.folder.exists() or not list(service.sets.folder.iterdir())


def test_a_saved_set_is_refused_whole_when_a_review_left_a_row_invalid(service):
    rows, _ = service.generate_questions("Ferries", 12, 2, 1)
    service.save_question_set("Ferries", rows)
    before = service.sets.path("Ferries").read_bytes()
    broken = [dict(row) for row in rows]
    out_of_corpus = next(row for row in broken if row.get("answerable") is False)
    out_of_corpus["key"] = "a made-up key"
    with pytest.raises(QuestionSetError, match="out-of-corpus"):
        service.save_question_set("Ferries", broken)
    assert service.sets.path("Ferries").read_bytes() == before
    assert json.loads(service.sets.meta_path("Ferries").read_text())["content_hash"] == service.describe_set(
        "Ferries")["sha256"]
