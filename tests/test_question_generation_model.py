"""The model question generator: ragas' real TestsetGenerator driven by a scripted writer (tests/scripted_writer.py)
on three hand-checkable documents, with the offline MiniLM embeddings; our keys and checks on what it writes;
reproducibility across processes; the command line's refusal without an endpoint, and its run on a real
OpenAI-compatible server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.common.correctness import key_present
from pipelines.common.questions import load_questions
from pipelines.evaluation.__main__ import main
from pipelines.evaluation.collection_questions import model_generator
from pipelines.evaluation.question_checks import question_holds_key
from pipelines.evaluation.question_generation import QuestionGenerationError, SourceDocument, write_question_set
from pipelines.evaluation.question_generation_model import (
    SYNTHESIZER_FORMS,
    ByteTokenizer,
    generate_with_model,
    interleaved_chunks,
    reference_key,
)
from pipelines.evaluation.scorer import _ragas_embeddings
from tests.conftest import openai_server_log
from tests.ferry_documents import DOCUMENTS, FERRIES, generated_twice
from tests.scripted_writer import ScriptedWriter

ROOT = Path(__file__).resolve().parents[1]
TEXTS = {d.name: d.text for d in DOCUMENTS}


@pytest.fixture(scope="module")
def embeddings(embedder):
    return _ragas_embeddings(embedder)


def answerable(generated) -> list[dict]:
    return [item for item in generated.items if item.get("answerable", True)]


def keys_of(item: dict) -> list[str]:
    return item["key"] if isinstance(item["key"], list) else [item["key"]]


def test_ragas_generator_driven_by_a_scripted_writer_gives_keyed_checked_rows(tmp_path, embeddings):
    """ragas builds its knowledge graph and runs its synthesizers on the scripted replies; every question it
    writes is keyed on a fact of its reference answer found in the source document, none holds its key, and the
    rows load as an evaluation set. The single-hop keys are the ones the script's answers make certain."""
    writer = ScriptedWriter()
    generated = generate_with_model(DOCUMENTS, llm=writer, embeddings=embeddings, count=10, seed=0)

    assert {"summary", "entities", "themes", "persona", "single_hop", "multi_hop"} <= set(writer.answered)
    assert generated.generator == "model"
    rows = answerable(generated)
    assert {row["form"] for row in rows} <= set(SYNTHESIZER_FORMS.values())
    assert {"single-hop", "multi-hop-specific"} <= {row["form"] for row in rows}
    for row in rows:
        assert key_present(TEXTS[row["source"]], [keys_of(row)[0]]), row
        assert not question_holds_key(row["question"], keys_of(row)), row
        assert row["type"] == ("multi-fact" if row["form"].startswith("multi-hop") else "number"), row
    single = {row["question"]: (keys_of(row)[0], row["source"]) for row in rows if row["form"] == "single-hop"}
    assert single["What does the text say about Harlow Yard?"] == ("1998", "ferries.md")
    assert single["What does the text say about Orla Point?"] == ("40 seats", "piers.md")
    assert single["What does the text say about MV Annick Marrow?"] == ("7.80 drell", "fares.txt")
    assert {row["source"] for row in rows} == set(TEXTS)
    unanswerable = [item for item in generated.items if not item.get("answerable", True)]
    assert unanswerable and all(item["type"] == "out-of-corpus" and not item["source"] for item in unanswerable)

    path = write_question_set(tmp_path / "model.jsonl", generated)
    loaded = load_questions(path, require_reference=True)
    assert [item.question for item in loaded] == [item["question"] for item in generated.items]
    assert all(item.split in ("dev", "test") for item in loaded)


def test_a_question_holding_its_key_an_unfaithful_answer_and_a_trained_question_are_dropped(embeddings):
    """The checks on ragas' output: the writer asks about Harlow Yard with its answer's year in the question,
    answers about MV Annick Marrow with a year the documents never state, and asks about Orla Point as an adapter
    was trained to: each is dropped and counted by its reason, and none is in the set."""
    holds_key = "Was MV Annick Marrow built in 1998 at Harlow Yard?"
    unfaithful = "MV Annick Marrow was built in 2001."
    writer = ScriptedWriter(questions={"Harlow Yard": holds_key}, answers={"Annick Marrow": unfaithful})
    trained = "What does the text say about Orla Point?"
    generated = generate_with_model(DOCUMENTS, llm=writer, embeddings=embeddings, count=10, seed=0,
                                    training_questions=[trained])

    questions = {item["question"] for item in generated.items}
    assert holds_key not in questions and trained not in questions
    assert not any(item["reference"] == unfaithful for item in generated.items)
    assert "What does the text say about MV Annick Marrow?" not in questions
    assert generated.dropped["question contains its key"] >= 1
    assert generated.dropped["reference answer states a number, date or code its source documents do not"] >= 1
    assert generated.dropped["word overlap with a training question over 0.60"] >= 1
    assert generated.max_training_overlap <= 0.6
    assert answerable(generated), "the other questions stay"


SET_IN_A_PROCESS = """
import sys
from pipelines.evaluation.scorer import _ragas_embeddings
from pipelines.knowledge.embeddings import OFFLINE_EMBEDDER, Embedder
from tests.ferry_documents import generated_twice
sys.stdout.write(generated_twice(_ragas_embeddings(Embedder.load(OFFLINE_EMBEDDER)), int(sys.argv[1])))
"""


def test_the_same_documents_and_seed_give_the_same_set_in_another_process(embeddings):
    """Reproducible as the rules set is: ragas numbers its nodes and relationships at random, lists sets of
    strings in a per-process order and draws from the global random generators; the wrapper numbers them, sorts
    the themes and seeds the draws, so two processes with different string hashing get the same samples from
    ragas in the same order, and the same set byte for byte, as this one."""
    here = generated_twice(embeddings, 3)
    # One other process, with string hashing unlike this one's (this one's is random, or the seed it was given:
    # the child takes the next), is enough to show the order does not come from the process.
    hash_seed = str(int(os.environ.get("PYTHONHASHSEED", "0") or 0) + 1)
    done = subprocess.run([sys.executable, "-c", SET_IN_A_PROCESS, "3"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONHASHSEED": hash_seed})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout == here
    assert here.count("\n") >= 6


def test_each_document_takes_its_turn_in_the_passages_ragas_reads():
    """ragas' single-hop synthesizer fills its quota from the first passages: the documents' passages alternate,
    so a long first document does not crowd out the others."""
    long_one = SourceDocument("a.txt", " ".join(f"Word{n}" for n in range(450)))
    short_one = SourceDocument("b.txt", "Kestrel Pier opens at 06:00 every day.")
    other = SourceDocument("c.txt", " ".join(f"Other{n}" for n in range(250)))
    assert [name for name, _ in interleaved_chunks([long_one, short_one, other])] == \
        ["a.txt", "b.txt", "c.txt", "a.txt", "c.txt", "a.txt"]


def test_the_key_is_a_fact_of_the_answer_the_question_does_not_hold_and_the_source_states():
    """reference_key on hand-checked cases: a measure before a name; a name when the question holds the
    measure; no key from an answer with a number its documents lack, or one whose facts are all in the
    question, or one with no fact."""
    span, document = reference_key("What does the text say about Harlow Yard?",
                                   "MV Annick Marrow was built in 1998 at Harlow Yard.", DOCUMENTS)
    assert (span.text, document.name) == ("1998", "ferries.md")
    span, _ = reference_key("Which ferry was built in 1998?", "MV Annick Marrow was built in 1998.", [FERRIES])
    assert span.text == "MV Annick Marrow"
    assert reference_key("Which ferry?", "MV Annick Marrow was built in 1999.", [FERRIES]) == \
        "reference answer states a number, date or code its source documents do not"
    assert reference_key("Was MV Annick Marrow built in 1998?", "MV Annick Marrow was built in 1998.",
                         [FERRIES]) == "question contains its key"
    assert reference_key("What is the ferry like?", "it is a fine old boat.", [FERRIES]).startswith(
        "reference answer states no checkable fact")
    assert reference_key("What does the text say about fares?", "A return ticket costs 14 drell.",
                         [FERRIES]) == "reference answer states a number, date or code its source documents do not"


def test_the_byte_tokenizer_round_trips_any_text():
    text = "Ørla Point — 7.80 drell, 3 March 2024 ✓"
    tokenizer = ByteTokenizer()
    assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.count_tokens(text) == len(text.encode("utf-8"))


def test_a_writer_whose_replies_are_not_json_fails_with_ragas_reason(embeddings):
    """A model that writes prose (as the offline 135M one does) fails the generation with a reason, not a
    traceback or an empty set."""

    class Prose(ScriptedWriter):
        def reply(self, prompt: str) -> str:
            self.answered.append("prose")
            return "Here is a summary of the passage about the ferries."

    writer = Prose()
    with pytest.raises(QuestionGenerationError, match="ragas' testset generator failed"):
        generate_with_model(DOCUMENTS, llm=writer, embeddings=embeddings, count=6, seed=0, workers=1)
    assert writer.answered, "ragas called the model"


def test_a_collections_questions_service_can_use_the_model_generator(tmp_path, embeddings):
    """model_generator fits CollectionQuestions' generator hook: a folder of kept originals in, rows out named
    by the model generator; a folder with no readable document is a QuestionSetError with the reason."""
    from pipelines.common.questions import QuestionSetError

    generate = model_generator(ScriptedWriter(), embeddings)
    docs = tmp_path / "docs"
    docs.mkdir()
    for document in DOCUMENTS:
        (docs / document.name).write_text(document.text)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    made = generate(docs, count=8, out_of_corpus=1, seed=0, training_questions=[], retrieve=None, progress=None)
    assert made.generator == "model" and made.rows
    assert sum(not row.get("answerable", True) for row in made.rows) == 1
    assert {row["source"] for row in made.rows if row["source"]} <= set(TEXTS)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(QuestionSetError, match="no readable document"):
        generate(empty, count=8, out_of_corpus=1, seed=0, training_questions=[], retrieve=None, progress=None)


@pytest.mark.parametrize("judge", ["none", "local"])
def test_the_command_refuses_the_model_generator_without_an_endpoint(tmp_path, capsys, monkeypatch, judge):
    docs = tmp_path / "docs"
    docs.mkdir()
    for document in DOCUMENTS:
        (docs / document.name).write_text(document.text)
    out = tmp_path / "set.jsonl"
    monkeypatch.setenv("ARENA_JUDGE", judge)
    monkeypatch.delenv("ARENA_LLM_BASE_URL", raising=False)
    assert main(["questions", "--docs", str(docs), "--out", str(out), "--generator", "model"]) == 2
    said = capsys.readouterr().out
    assert "ARENA_JUDGE=endpoint" in said and "135M" in said and "nothing written" in said
    assert not out.exists()


def test_the_command_runs_ragas_on_a_real_openai_compatible_server_smoke(tmp_path, capsys, monkeypatch,
                                                                          openai_server, test_settings):
    """Smoke test: ``--generator model`` reaches a real OpenAI-compatible server (``transformers serve`` on the
    offline 135M model) through ragas. That model writes prose, not ragas' JSON, so the expected end is exit 2
    with ragas' reason and nothing written; a set that does come back must load."""
    from pipelines.generation.models import resolve_model_path

    docs = tmp_path / "docs"
    docs.mkdir()
    for document in DOCUMENTS[:1]:  # one document: three made a dozen calls of ragas' long prompts (3-4 s each
        (docs / document.name).write_text(document.text)  # here), one makes four; the path is the point
    out = tmp_path / "set.jsonl"
    # Sixteen tokens a reply (the least the setting takes): the path through ragas to the server is the point, and
    # this model writes prose at any length (each of ragas' dozen calls here is its long prompt's prefill and these).
    for name, value in {"ARENA_JUDGE": "endpoint", "ARENA_LLM_BASE_URL": openai_server,
                        "ARENA_LLM_MODEL": resolve_model_path(test_settings), "ARENA_JUDGE_MAX_TOKENS": "16",
                        "ARENA_JUDGE_TIMEOUT_S": "30"}.items():
        monkeypatch.setenv(name, str(value))
    served = openai_server_log().read_text().count('"POST /v1/chat/completions HTTP/1.1" 200')
    code = main(["questions", "--docs", str(docs), "--out", str(out), "--generator", "model", "--count", "4"])
    said = capsys.readouterr().out
    # ragas' calls reached the server and were answered (a failure before any call ends the same way below)
    assert openai_server_log().read_text().count('"POST /v1/chat/completions HTTP/1.1" 200') > served, said
    if code == 0:
        assert load_questions(out, require_reference=True), said
    else:
        assert code == 2 and "ragas' testset generator failed" in said and not out.exists(), said
