"""Bad question-set files through the UI. The arena tab's upload (labeling sessions) refuses a file it cannot use
with the reason and keeps the set it had; it needs no reference answers. The Evaluation tab's batch run reads
the reference set (ARENA_QUESTIONS_FILE), so a file there without a reference field (``reference``, ``answer``
or ``ground_truth``) stops the run with a message naming the line and the accepted fields. Both through the
tabs' own handlers, with stand-ins for the model and the embedder."""

from __future__ import annotations

import functools
import re
from types import SimpleNamespace

import gradio as gr
import pytest

from components.arena import build_arena_tab
from components.evaluation import build_evaluation_tab
from pipelines.arena.arena import Arena
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.common.settings import Settings
from pipelines.feedback.store import FeedbackStore
from tests.fakes import ScriptedBackend, ScriptedRetriever
from tests.tab_handlers import tab_handlers

SAMPLE = ["Who founded Lumenhollow?", "What is the T4's battery life?", "Where is the office?"]
NO_REFERENCE = '{"question": "Mascot?"}\n{"question": "Founded?", "solution": "2019"}\n'

BAD_SETS = {
    "no question field": ("set.jsonl", b'{"prompt": "Mascot?", "answer": "Pim"}\n', 'Line 1 has no "question"'),
    "broken JSON": ("set.jsonl", b'{"question": "Mascot?"}\n{"question": \n', "Line 2 is not valid JSON"),
    "binary": ("set.txt", bytes(range(256)) * 4, "not UTF-8"),
    "CSV without a question column": ("set.csv", b"prompt,answer\nMascot?,Pim\n", '"question" column'),
    "empty": ("set.txt", b"\n\n", "no questions"),
}


@pytest.fixture()
def arena_handlers(tmp_path):
    backend = ScriptedBackend()
    arena = Arena([RagPipeline.from_retriever(ScriptedRetriever()), FinetunedPipeline(backend)], backend,
                  FeedbackStore.open(tmp_path / "feedback.sqlite3"), max_new_tokens=16, max_prompt_chars=200)
    return tab_handlers(lambda: build_arena_tab(arena, "scripted model", SAMPLE))


@pytest.mark.parametrize(("name", "content", "reason"), list(BAD_SETS.values()), ids=list(BAD_SETS))
def test_the_arena_upload_refuses_a_bad_set_and_keeps_the_current_one(arena_handlers, tmp_path, name, content,
                                                                      reason):
    current = ["An earlier uploaded question?", "Another one?"]
    path = tmp_path / name
    path.write_bytes(content)
    questions, message = arena_handlers["use_question_file"](str(path), current)
    assert questions == current
    assert message.startswith("⚠️") and reason in message and message.endswith("Still using the previous 2 questions.")


def test_the_arena_upload_needs_no_reference_answers(arena_handlers, tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(NO_REFERENCE)
    questions, message = arena_handlers["use_question_file"](str(path), SAMPLE)
    assert questions == ["Mascot?", "Founded?"] and message == "Using the uploaded set: 2 questions."
    assert arena_handlers["use_question_file"](None, questions) == ([], "Using the evaluation's question set: 3 "
                                                                       "questions.")


def test_next_question_draws_from_the_upload_else_from_the_set_chosen_at_that_moment(tmp_path):
    backend = ScriptedBackend()
    arena = Arena([RagPipeline.from_retriever(ScriptedRetriever()), FinetunedPipeline(backend)], backend,
                  FeedbackStore.open(tmp_path / "feedback.sqlite3"), max_new_tokens=16, max_prompt_chars=200)
    chosen = [["Chosen first?"]]
    handlers = tab_handlers(lambda: build_arena_tab(arena, "scripted model", SAMPLE,
                                                    chosen_questions=lambda: chosen[0]))
    assert handlers["pick_next"]([]) == "Chosen first?"
    chosen[0] = ["Chosen later?"]  # the Questions tab chose another set after the page was built
    assert handlers["pick_next"]([]) == "Chosen later?"
    assert handlers["pick_next"](["Uploaded?"]) == "Uploaded?"


class WordTokenizer:
    """A fast-tokenizer stand-in (word offsets), enough for the chunker the batch run builds."""

    is_fast = True

    def __call__(self, text: str, **_: object) -> dict:
        return {"offset_mapping": [m.span() for m in re.finditer(r"\S+", text)]}


def test_a_batch_run_on_a_set_without_references_names_the_fields(tmp_path):
    from pipelines.runtime import Runtime

    questions = tmp_path / "questions.jsonl"
    questions.write_text(NO_REFERENCE)
    from pipelines.evaluation.saved_question_sets import SavedQuestionSets

    settings = Settings(data_dir=tmp_path / "data", questions_file=questions)
    runtime = SimpleNamespace(settings=settings, embedder=SimpleNamespace(max_tokens=256, tokenizer=WordTokenizer),
                              chosen_question_set=SavedQuestionSets(settings.data_dir, questions).chosen,
                              question_set_documents=lambda chosen: settings.corpus_dir)
    handlers = tab_handlers(lambda: build_evaluation_tab(FeedbackStore.open(tmp_path / "feedback.sqlite3"),
                                                         batch_report=functools.partial(Runtime.batch_report,
                                                                                        runtime)))
    with pytest.raises(gr.Error) as stopped:
        handlers["do_batch"](1, "")
    assert re.search(r"Line 1 has no reference answer: name it one of reference, answer, ground_truth",
                     stopped.value.message)
    assert not (tmp_path / "data" / "reports").exists() or not any((tmp_path / "data" / "reports").iterdir())
