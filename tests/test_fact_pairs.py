"""Closed-book training data carries every chunk and every fact in several question forms."""

from pathlib import Path

from pipelines.knowledge.chunking import Chunker
from pipelines.knowledge.readers import read_document
from pipelines.training.examples import build_examples, pairs_per_document
from pipelines.training.fact_pairs import document_pairs, fact_spans, sentence_pairs
from pipelines.training.reading_pairs import reading_examples

ROOT = Path(__file__).resolve().parent.parent


def test_fact_spans_find_numbers_with_units_and_names():
    spans = fact_spans("Hotel bookings may cost up to 160 euros per night, said Ravi Quell.")
    assert spans == ["160 euros", "Ravi Quell"]
    assert fact_spans("The Tessel T4 is released on 17 October 2023.") == ["17 October 2023", "Tessel T4"]
    assert fact_spans("It was released in 2023 and is grey.") == ["2023"]      # "and" is not a unit


def test_every_fact_sentence_gets_several_question_forms():
    pairs = sentence_pairs("Receipts must be uploaded to the expense tool, called Ledgerly, within 30 days.",
                           "travel policy")
    forms = [form for _, form in pairs]
    assert forms.count("cloze") == 2 and "topic" in forms
    assert any("within what" in q for q, _ in pairs) and any("called what" in q for q, _ in pairs)
    assert sentence_pairs("Weight: 380 grams", "datasheet")[0] == ("In the datasheet, what is the weight?", "cloze")
    assert sentence_pairs("Nothing to learn here at all.", "x") == []


def test_no_chunk_is_dropped_even_when_chunks_share_a_heading():
    """The old builder gave one template question per heading and kept only the first chunk."""
    text = "# Rules\n" + " ".join(f"Rule {i} says the fee is {i * 7} euros." for i in range(1, 40))
    document = read_document("rules.md", text.encode())
    pairs = document_pairs("rules.md", document)
    chunks = Chunker(60, 0).chunk(document)
    assert len(chunks) > 2
    recitals = [p for p in pairs if p.form == "recital"]
    assert {p.origin for p in recitals} == {f"rules.md#{c.chunk_index}" for c in chunks}
    assert len({p.question for p in recitals}) == len(recitals)          # one question per chunk
    for i in (1, 20, 39):  # facts from the start, middle and end each reach the data, more than once
        assert sum(f"fee is {i * 7} euros" in p.answer for p in pairs if p.form != "recital") >= 2


def test_sample_corpus_pairs_per_document():
    examples = build_examples(ROOT / "assets" / "corpus")
    counts = pairs_per_document(examples)
    assert set(counts) == {p.name for p in (ROOT / "assets" / "corpus").iterdir()}
    assert min(counts.values()) >= 5


def test_reading_examples_hold_the_oracle_or_only_distractors():
    docs = ROOT / "assets" / "corpus"
    closed = build_examples(docs)
    documents = [read_document(p.name, p.read_bytes()) for p in sorted(docs.iterdir())]
    reading = reading_examples(documents, closed, passages=3, distractor_only=0.25, seed=1)
    assert len(reading) > 0.5 * len([e for e in closed if not e.origin.startswith("recital")])

    def holds_answer(example) -> list[bool]:
        return [" ".join(example.answer.split()) in " ".join(c.split()) for c in example.context]

    with_oracle = [e for e in reading if any(holds_answer(e))]
    assert 0.6 * len(reading) < len(with_oracle) < len(reading)          # most, not all (RAFT's share)
    assert all(len(e.context) == 3 for e in with_oracle) and all(len(e.context) == 2 for e in reading
                                                                  if e not in with_oracle)
    # one passage, as the RAG prompt shows by default: the oracle alone, or (a fifth) one distractor alone
    single = reading_examples(documents, closed, passages=1, seed=1)
    assert all(len(e.context) == 1 for e in single) and len(single) == len(reading)
    assert 0.6 * len(single) < sum(holds_answer(e) == [True] for e in single) < len(single)


def test_list_lines_and_decimals_are_sentences_of_their_own():
    """A line without a full stop (a datasheet's list item) once vanished from the fact pairs, and a
    decimal point cut a sentence in two."""
    from pipelines.common.text import split_sentences

    text = "- Weight: 380 grams\n- Casing: grey.\nFirmware 3.2 fixed the drift. Last line"
    assert split_sentences(text) == ["- Weight: 380 grams", "- Casing: grey.", "Firmware 3.2 fixed the drift.",
                                     "Last line"]
    document = read_document("sheet.md", b"# Physical\n- Weight: 380 grams\n- Colour: Heron Grey\n")
    questions = {p.question for p in document_pairs("sheet.md", document)}
    assert "In the sheet, what is the weight?" in questions


def test_out_of_corpus_questions_are_never_trained_on(tmp_path):
    """Their right answer is an abstention the verdict measures: a train split does not make one a training pair,
    and the sample set's (held out anyway) never reach the pairs, in either recipe."""
    import json

    from pipelines.common.questions import load_questions

    questions = tmp_path / "set.jsonl"
    questions.write_text("".join(json.dumps(row) + "\n" for row in (
        {"id": "a", "question": "How heavy is the T4?", "key": "380 grams", "split": "train"},
        {"id": "b", "question": "Who is the CFO?", "answerable": False, "split": "train"},
        {"id": "c", "question": "What does the T9 cost?", "type": "out-of-corpus"},  # no split: train by default
    )))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "t4.md").write_text("# Physical\nThe Tessel T4 weighs 380 grams.\n")
    references = [e for e in build_examples(docs, questions) if e.origin.startswith("reference:")]
    assert [(e.question, e.origin) for e in references] == [("How heavy is the T4?", "reference:a")]

    sample = ROOT / "assets" / "questions.jsonl"
    unanswerable = {item.question for item in load_questions(sample) if not item.answerable}
    assert unanswerable
    for recipe in ("closed-book", "both"):
        examples = build_examples(ROOT / "assets" / "corpus", sample, recipe=recipe)
        assert not unanswerable & {e.question for e in examples}
        assert all("do not say" not in e.answer for e in examples if e.origin.startswith("reference:"))
