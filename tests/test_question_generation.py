"""The rules question generator: facts to questions on hand-checkable documents, the checks, determinism, the
fairness rule, out-of-corpus questions, the command line and its refusals, and the goals on the dev corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.common.correctness import key_present
from pipelines.common.questions import load_questions
from pipelines.evaluation.__main__ import main
from pipelines.evaluation.out_of_corpus import out_of_corpus_questions
from pipelines.evaluation.question_checks import (
    TrainingQuestionsError,
    load_training_questions,
    question_holds_key,
    word_overlap,
)
from pipelines.evaluation.question_generation import (
    QuestionGenerationError,
    SourceDocument,
    generate_question_set,
    read_documents,
    write_question_set,
)

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT / "assets" / "eval" / "dev"

FERRY = SourceDocument("ferry.md", "# The ferry\n\nMV Annick Marrow can carry 24 cars and 180 passengers.\n\n"
                                   "The fleet superintendent is Desmond Arkwhistle.\n")
TABLE = SourceDocument("railcars.md", "# Railcars\n\n| Name | Year built | Seats |\n|---|---|---|\n"
                                      "| Skylark | 1987 | 64 |\n| Merlin | 1994 | 68 |\n")
NO_FACTS = SourceDocument("notes.txt", "The river is wide and slow here.\n\nBoats go up and down it all day long.\n")


def answerable(generated) -> list[dict]:
    return [item for item in generated.items if item.get("answerable", True)]


def keys_of(item: dict) -> list[str]:
    return [item["key"]] if isinstance(item["key"], str) else item["key"]


def test_a_sentence_with_a_number_gives_a_number_question_whose_key_is_that_number():
    generated = generate_question_set([FERRY], count=10, out_of_corpus=0)
    by_key = {keys_of(item)[0]: item for item in answerable(generated)}
    item = by_key["24 cars"]
    assert item["question"] == "How many cars can MV Annick Marrow carry?"
    assert item["key"] == ["24 cars", "24"] and item["type"] == "number" and item["form"] == "number"
    assert item["reference"] == "MV Annick Marrow can carry 24 cars and 180 passengers."
    assert item["source"] == "ferry.md" and item["split"] in ("dev", "test")
    assert by_key["Desmond Arkwhistle"]["question"] == "Who is the fleet superintendent?"


def test_a_table_row_gives_a_question_about_its_cell_and_a_comparison_of_two_rows():
    generated = generate_question_set([TABLE], count=10, out_of_corpus=0)
    questions = {item["question"]: item for item in answerable(generated)}
    assert questions["How many seats does Merlin have?"]["key"] == "68"
    assert questions["In what year was Skylark built?"]["key"] == "1987"
    assert questions["In what year was Skylark built?"]["reference"] == "Name: Skylark; Year built: 1987; Seats: 64."
    compared = [item for item in answerable(generated) if item["form"] == "comparison"]
    assert compared and all(item["type"] == "multi-fact" for item in compared)
    assert {item["question"]: item["key"] for item in compared}.get(
        "Comparing Skylark and Merlin, what is the higher number of seats?") == "68"


def test_no_question_contains_its_key_and_every_key_is_in_its_source():
    documents = read_documents(DEV / "docs")
    texts = {d.name: d.text for d in documents}
    generated = generate_question_set(documents, count=80, seed=3)
    for item in answerable(generated):
        assert not question_holds_key(item["question"], keys_of(item)), item
        for part in item.get("keys_all", [keys_of(item)]):
            assert key_present(texts[item["source"]], [part[0]]), item


def test_a_document_with_no_checkable_fact_gives_no_question_and_says_why():
    generated = generate_question_set([FERRY, NO_FACTS], count=10, out_of_corpus=0)
    assert {item["source"] for item in generated.items} == {"ferry.md"}
    assert generated.documents["notes.txt"].questions == 0
    assert "no checkable fact" in generated.documents["notes.txt"].reason
    assert any("notes" not in why and "no checkable fact" in why for why in generated.dropped)
    with pytest.raises(QuestionGenerationError, match="no checkable fact"):
        generate_question_set([NO_FACTS], count=5)


def test_the_same_documents_and_seed_give_the_same_file_byte_for_byte(tmp_path):
    documents = read_documents(DEV / "docs")
    first = generate_question_set(documents, count=40, seed=7)
    second = generate_question_set(list(reversed(documents)), count=40, seed=7)
    assert first.to_jsonl() == second.to_jsonl() and first.content_hash == second.content_hash
    write_question_set(tmp_path / "a.jsonl", first)
    write_question_set(tmp_path / "b.jsonl", second)
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert generate_question_set(documents, count=40, seed=8).to_jsonl() != first.to_jsonl()


def test_a_question_the_adapter_trained_on_is_dropped_and_the_highest_overlap_is_reported():
    free = generate_question_set([FERRY], count=10, out_of_corpus=0)
    trained = "How many cars does MV Annick Marrow carry?"  # the generated one, reworded in function words only
    assert word_overlap(trained, "How many cars can MV Annick Marrow carry?") == 1.0
    assert any(item["question"] == "How many cars can MV Annick Marrow carry?" for item in free.items)
    fair = generate_question_set([FERRY], count=10, out_of_corpus=0, training_questions=[trained])
    assert all(item["question"] != "How many cars can MV Annick Marrow carry?" for item in fair.items)
    assert fair.dropped["word overlap with a training question over 0.60"] >= 1
    assert 0.0 <= fair.max_training_overlap <= fair.overlap_threshold
    assert free.max_training_overlap == 0.0


def test_out_of_corpus_questions_avoid_words_the_corpus_uses_and_retrieved_answers():
    text = "The Lumen Ferry Company runs boats. Book by email at desk@lumen.example or visit our website."
    questions, dropped = out_of_corpus_questions([text], 30, seed=0)
    assert questions and all("email" not in q.question.lower() and "website" not in q.question.lower()
                             for q in questions)
    assert dropped["out-of-corpus: the corpus uses a word its answer depends on"] >= 2
    wifi = [q for q in out_of_corpus_questions(["The Lumen Ferry Company runs boats."], 30)[0] if "Wi-Fi" in q.question]
    assert wifi
    kept, dropped = out_of_corpus_questions(["The Lumen Ferry Company runs boats."], 30,
                                            retrieve=lambda question: ["The password is heron42."])
    assert all("Wi-Fi" not in q.question for q in kept)
    assert dropped["out-of-corpus: a retrieved passage holds an answer candidate"] >= 1


def test_training_questions_come_from_pairs_files_and_from_a_question_sets_train_split(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"question": "How many cars?", "answer": "24"}\n{"instruction": "x", "output": "y"}\n')
    assert load_training_questions(pairs) == ["How many cars?"]
    question_set = tmp_path / "set.jsonl"
    question_set.write_text('{"question": "Trained on?", "reference": "yes", "split": "train"}\n'
                            '{"question": "Held out?", "reference": "no", "split": "test"}\n')
    assert load_training_questions(question_set) == ["Trained on?"]
    (tmp_path / "bad.jsonl").write_text('{"text": "no question here"}\n')
    with pytest.raises(TrainingQuestionsError, match="no question column"):
        load_training_questions(tmp_path / "bad.jsonl")


def test_the_command_writes_a_set_the_app_loads(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ferry.md").write_text(FERRY.text)
    (docs / "railcars.md").write_text(TABLE.text)
    out = tmp_path / "set" / "questions.jsonl"
    assert main(["questions", "--docs", str(docs), "--out", str(out), "--count", "8", "--seed", "1"]) == 0
    items = load_questions(out, require_reference=True)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == len(rows) >= 6
    assert any(not item.answerable for item in items) and all(row["split"] in ("dev", "test") for row in rows)
    assert {item.source for item in items if item.answerable} == {"ferry.md", "railcars.md"}
    assert "Question set:" in capsys.readouterr().out
    first = out.read_bytes()
    assert main(["questions", "--docs", str(docs), "--out", str(out), "--count", "8", "--seed", "1"]) == 0
    assert out.read_bytes() == first


def test_a_binary_or_damaged_file_and_an_empty_folder_are_refused_with_nothing_written(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    out = tmp_path / "questions.jsonl"
    assert main(["questions", "--docs", str(docs), "--out", str(out)]) == 2
    assert "holds no readable document" in capsys.readouterr().out and not out.exists()
    (docs / "ferry.md").write_text(FERRY.text)
    (docs / "scan.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    assert main(["questions", "--docs", str(docs), "--out", str(out)]) == 2
    said = capsys.readouterr().out
    assert "scan.txt" in said and "binary" in said and "broken.pdf" in said and "nothing written" in said
    assert not out.exists()
    out.write_text("the old set\n")
    assert main(["questions", "--docs", str(docs), "--out", str(out)]) == 2
    assert out.read_text() == "the old set\n"  # a failed run leaves the previous set as it was


def test_a_docx_table_is_read_as_the_app_reads_it(tmp_path):
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("The depot register.")
    table = document.add_table(rows=3, cols=2)
    for row, (name, seats) in zip(table.rows, [("Name", "Seats"), ("Skylark", "64"), ("Merlin", "68")],
                                  strict=True):
        row.cells[0].text, row.cells[1].text = name, seats
    (tmp_path / "depot.docx").write_bytes(b"")
    document.save(str(tmp_path / "depot.docx"))
    generated = generate_question_set(read_documents(tmp_path), count=6, out_of_corpus=0)
    assert {item["question"]: item["key"] for item in generated.items}["How many seats does Skylark have?"] == "64"


def test_the_dev_corpus_meets_the_goals():
    """The issue's goals on the dev corpus (the rules were tuned on it; docs/question_sets.md gives the test
    corpus's numbers too): keys found, none in its question, two per document, out-of-corpus share, and half of
    the hand-written keys asked."""
    from pipelines.common.correctness import normalise_answer

    documents = read_documents(DEV / "docs")
    texts = {d.name: d.text for d in documents}
    generated = generate_question_set(documents, count=250, seed=0)
    rows = answerable(generated)
    found = sum(key_present(texts[row["source"]], [keys_of(row)[0]]) for row in rows)
    assert found / len(rows) >= 0.95
    assert not any(question_holds_key(row["question"], keys_of(row)) for row in rows)
    assert all(sum(row["source"] == d.name for row in rows) >= 2 for d in documents)
    assert (len(generated.items) - len(rows)) / len(generated.items) >= 0.10
    asked = {(row["source"], normalise_answer(form)) for row in rows for part in row.get("keys_all", [keys_of(row)])
             for form in part}
    hand = [item for item in load_questions(DEV / "questions.jsonl") if item.keys]
    covered = [item for item in hand if any((item.source, normalise_answer(k)) in asked for k in item.keys)]
    assert len(covered) / len(hand) >= 0.50
