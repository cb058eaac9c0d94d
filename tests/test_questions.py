import pytest

from pipelines.common.questions import QuestionSetError, load_question_set, load_questions


@pytest.mark.parametrize(("name", "content"), [
    ("set.jsonl", '{"question": "First?"}\n\n{"question": "Second?", "reference": "x"}\n{"question": "First?"}\n'),
    ("set.csv", "id,question\n1,First?\n2,Second?\n3,\n"),
    ("set.txt", "First?\n  Second?  \n\n"),
])
def test_formats_give_unique_questions_in_order(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert load_question_set(path) == ["First?", "Second?"]


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.jsonl", '{"question": "ok"}\n{not json\n', "Line 2 is not valid JSON"),
    ("bad.jsonl", '{"prompt": "no question key"}\n', 'Line 1 has no "question"'),
    ("bad.csv", "prompt\nx\n", '"question" column'),
    ("empty.txt", "\n\n", "no questions"),
])
def test_bad_files_are_refused_with_the_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(QuestionSetError, match=message):
        load_question_set(path)


def test_binary_file_is_refused(tmp_path):
    path = tmp_path / "set.txt"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    with pytest.raises(QuestionSetError, match="not UTF-8"):
        load_question_set(path)


@pytest.mark.parametrize("field", ["reference", "answer", "ground_truth"])
def test_reference_field_names(tmp_path, field):
    path = tmp_path / "set.jsonl"
    path.write_text(f'{{"question": "How heavy?", "{field}": "It weighs 380 grams.", "key": ["380 grams", "380 g"],'
                    ' "split": "test", "source": "t4.md", "id": "q1"}\n')
    [item] = load_questions(path, require_reference=True)
    assert (item.reference, item.keys, item.split, item.source, item.id) == (
        "It weighs 380 grams.", ("380 grams", "380 g"), "test", "t4.md", "q1")


def test_csv_keys_split_on_bar(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("question,answer,key\nHow heavy?,380 grams,380 grams|380 g\n")
    assert load_questions(path, require_reference=True)[0].keys == ("380 grams", "380 g")


def test_key_alone_is_the_reference(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Mascot?", "key": "Pim"}\n')
    assert load_questions(path, require_reference=True)[0].reference == "Pim"


def test_missing_reference_is_a_clear_error(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Mascot?"}\n{"question": "Founded?", "solution": "2019"}\n')
    assert len(load_questions(path)) == 2                       # fine for a labeling session
    with pytest.raises(QuestionSetError, match=r"Line 1 has no reference answer: .*reference, answer, ground_truth"):
        load_questions(path, require_reference=True)


def test_bad_key_type_is_refused(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Mascot?", "answer": "Pim", "key": {"a": 1}}\n')
    with pytest.raises(QuestionSetError, match='Line 1: "key" must be'):
        load_questions(path)


def test_shipped_sets_have_keys_and_splits_kept_apart():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "assets"
    sets = {"sample": root / "questions.jsonl", "dev": root / "eval" / "dev" / "questions.jsonl",
            "test": root / "eval" / "test" / "questions.jsonl"}
    loaded = {name: load_questions(path, require_reference=True) for name, path in sets.items()}
    assert all(item.keys and item.source for items in loaded.values() for item in items if item.answerable)
    assert {item.split for item in loaded["dev"]} == {"dev"} and {item.split for item in loaded["test"]} == {"test"}
    assert len(loaded["dev"]) >= 40 and len(loaded["test"]) >= 40
    assert {item.split for item in loaded["sample"]} == {"train", "test"}


def test_sample_set_ships_out_of_corpus_questions_held_out():
    """The verdict measures made-up answers on them: never trained on, no key, no source, ids continuing."""
    from pathlib import Path

    from pipelines.common.question_types import OUT_OF_CORPUS
    from pipelines.common.questions import ABSTENTION_REFERENCE

    items = load_questions(Path(__file__).resolve().parent.parent / "assets" / "questions.jsonl",
                           require_reference=True)
    unanswerable = [item for item in items if not item.answerable]
    assert 5 <= len(unanswerable) <= 6 and len(items) - len(unanswerable) == 27  # the answerable set is unchanged
    for item in unanswerable:
        assert (item.type, item.split, item.keys, item.source) == (OUT_OF_CORPUS, "test", (), "")
        assert item.reference == ABSTENTION_REFERENCE
    assert [item.id for item in items] == [f"q{n:02d}" for n in range(1, len(items) + 1)]
    assert all(item.answerable for item in items[:27])  # appended: the first 27 (and --limit runs) stay as they were


def test_reference_set_reads_any_field_name_and_keys(tmp_path):
    """ARENA_QUESTIONS_FILE with an "answer" field once stopped the app with KeyError: 'reference'."""
    from pipelines.evaluation.scorer import ReferenceSet

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "t4.md").write_text("# Physical\nThe Tessel T4 weighs 380 grams.\n")
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "How heavy is the T4?", "answer": "It weighs 380 grams.", "key": "380 grams",'
                    ' "source": "t4.md"}\n')
    reference = ReferenceSet.load(path, corpus).find("how heavy is the t4")
    assert reference.answer == "It weighs 380 grams." and reference.keys == ("380 grams",)
    assert "380 grams" in reference.contexts[0]
    path.write_text('{"question": "How heavy is the T4?", "solution": "380 grams"}\n')
    with pytest.raises(QuestionSetError, match="no reference answer"):
        ReferenceSet.load(path, corpus)


def test_type_is_loaded_and_normalised(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Founded?", "key": "2019", "type": "Number"}\n'
                    '{"question": "Who and when?", "key": "Ilse", "type": "multi_fact"}\n'
                    '{"question": "Mascot?", "key": "Pim"}\n')
    assert [item.type for item in load_questions(path)] == ["number", "multi-fact", ""]


def test_csv_type_column(tmp_path):
    path = tmp_path / "set.csv"
    path.write_text("question,key,type\nMascot?,Pim,lookup\nFounded?,2019,\n")
    assert [item.type for item in load_questions(path)] == ["lookup", ""]


@pytest.mark.parametrize(("row", "message"), [
    ('{"question": "Mascot?", "key": "Pim", "type": "trivia"}',
     'Line 1: unknown "type" "trivia"; the types are lookup, number, multi-fact, updated, out-of-corpus.'),
    ('{"question": "Mascot?", "key": "Pim", "type": 3}', 'Line 1: "type" must be text'),
    ('{"question": "CEO?", "key": "Maria", "type": "out-of-corpus"}', "Line 1 is out-of-corpus .* but has a key"),
    ('{"question": "CEO?", "answerable": false, "type": "lookup"}', 'Line 1 is not answerable but its "type" is'),
    ('{"question": "CEO?", "answerable": true, "type": "out-of-corpus"}', '"answerable": true'),
    ('{"question": "CEO?", "answerable": "perhaps"}', '"answerable" must be true or false'),
])
def test_bad_types_are_refused_with_the_line(tmp_path, row, message):
    path = tmp_path / "set.jsonl"
    path.write_text(row + "\n")
    with pytest.raises(QuestionSetError, match=message):
        load_questions(path)


def test_unanswerable_questions_are_out_of_corpus_with_an_abstention_reference(tmp_path):
    from pipelines.common.questions import ABSTENTION_REFERENCE

    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Who is the CEO\'s dentist?", "answerable": false}\n'
                    '{"question": "T9 price?", "type": "out-of-corpus", "reference": "Not in the documents."}\n'
                    '{"question": "Mascot?", "key": "Pim", "answerable": true}\n')
    dentist, price, mascot = load_questions(path, require_reference=True)  # no reference needed for these
    assert (dentist.type, dentist.reference, dentist.keys, dentist.answerable) == (
        "out-of-corpus", ABSTENTION_REFERENCE, (), False)
    assert (price.type, price.reference) == ("out-of-corpus", "Not in the documents.")
    assert (mascot.type, mascot.answerable) == ("", True)
    csv_path = tmp_path / "set.csv"
    csv_path.write_text("question,key,answerable\nDentist?,,no\nMascot?,Pim,yes\nFounded?,2019,\n")
    assert [item.type for item in load_questions(csv_path)] == ["out-of-corpus", "", ""]


def test_several_sources_are_joined(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "Who and where?", "key": "x", "source": ["a.md", "b.txt"]}\n'
                    '{"question": "One?", "key": "y", "source": " a.md "}\n')
    assert [item.source for item in load_questions(path)] == ["a.md|b.txt", "a.md"]


def test_questions_match_across_case_and_punctuation_in_every_script():
    from pipelines.common.questions import normalise_question

    assert normalise_question("How heavy is the  T4?") == normalise_question("how heavy is the t4") == \
        "how heavy is the t4"
    assert normalise_question("Wie schwer ist das Gerät?") == "wie schwer ist das gerät"
    chinese, russian = normalise_question("T4 有多重？"), normalise_question("Сколько весит T4?")
    assert chinese == "t4 有多重" and russian == "сколько весит t4"
    assert normalise_question("谁负责支持？") not in ("", chinese)   # two questions, two keys
    assert normalise_question("snake_case?") == "snakecase"
