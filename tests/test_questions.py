import pytest

from pipelines.questions import QuestionSetError, load_question_set


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
