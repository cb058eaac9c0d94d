"""The user's question types (issue #20, item 1): the store in the data dir, what it refuses, its atomic write, the
slices an edit moves a question into, and the Evaluation tab's "Question types" panel on a real question file and
data dir (its handlers called as the browser's events call them, no browser), with the runtime's side of it."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from components.evaluation import TYPE_COLUMNS, build_evaluation_tab
from pipelines.common import atomic_file
from pipelines.common.events import PipelineResult
from pipelines.common.questions import QuestionItem, normalise_question
from pipelines.common.settings import Settings
from pipelines.evaluation import question_tags
from pipelines.evaluation.question_tags import (
    EDITABLE_TYPES,
    QUESTION_TYPES_FILE,
    QuestionTypeError,
    QuestionTypeStore,
    apply_type_edits,
    check_type,
    question_type_table,
    save_question_types,
    save_type_edits,
    type_rows,
    typed_questions,
)
from pipelines.evaluation.saved_question_sets import SavedQuestionSets
from pipelines.evaluation.slices import BY_TYPE, rows_from_exchanges, slice_by
from pipelines.feedback.store import FeedbackStore
from pipelines.runtime import Runtime
from tests.tab_handlers import tab_handlers

WEIGH = "How much does a Tessel T4 weigh?"
SUPPORT = "Who leads support?"
DENTIST = "Who is the CEO's dentist?"
ITEMS = [
    QuestionItem(WEIGH, "It weighs 380 grams.", ("380 grams",), "tessel_t4_datasheet.md", id="q05"),
    QuestionItem(SUPPORT, "Agnieszka Domaradzka leads it.", ("Agnieszka Domaradzka",), "support_policy.txt",
                 id="q15", type="lookup"),
    QuestionItem(DENTIST, "The documents do not say.", (), "", id="x1", type="out-of-corpus"),
]
SET_LINES = [
    {"id": "q05", "question": WEIGH, "key": "380 grams", "source": "tessel_t4_datasheet.md"},
    {"id": "q15", "question": SUPPORT, "key": "Agnieszka Domaradzka", "source": "support_policy.txt", "type": "lookup"},
    {"id": "x1", "question": DENTIST, "answerable": False},
]


def question_file(folder: Path) -> Path:
    path = folder / "set.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in SET_LINES))
    return path


# ------------------------------------------------------------------------------------------------------ the store


def test_the_store_keeps_edits_by_normalised_question_in_the_data_dir(tmp_path):
    store = QuestionTypeStore.in_data_dir(tmp_path / "data")
    assert store.path == tmp_path / "data" / QUESTION_TYPES_FILE and store.load() == {}
    store.save({"How much does a Tessel T4 WEIGH?": "Multi fact", normalise_question(SUPPORT): "number"})
    assert store.load() == {normalise_question(WEIGH): "multi-fact", normalise_question(SUPPORT): "number"}
    assert json.loads(store.path.read_text())["types"][normalise_question(WEIGH)] == "multi-fact"
    assert store.update({normalise_question(WEIGH): None, "another set's question": "updated"}) == {
        normalise_question(SUPPORT): "number", "another sets question": "updated"}
    assert QuestionTypeStore(store.path).load() == {normalise_question(SUPPORT): "number",
                                                     "another sets question": "updated"}
    assert sorted(p.name for p in store.path.parent.iterdir()) == [QUESTION_TYPES_FILE]  # no temporary file left


def test_a_bad_type_is_refused_naming_the_types(tmp_path):
    with pytest.raises(QuestionTypeError, match='unknown type "quantity": the types are lookup, number, '
                                                'multi-fact, updated'):
        check_type("quantity")
    with pytest.raises(QuestionTypeError, match="no type: the types are"):
        check_type(None)
    with pytest.raises(ValueError, match=r'mark the question "answerable": false \(or true\) in the set file'):
        check_type("Out of corpus")
    assert EDITABLE_TYPES == ("lookup", "number", "multi-fact", "updated")
    store = QuestionTypeStore.in_data_dir(tmp_path)
    with pytest.raises(QuestionTypeError, match="quantity"):
        store.save({WEIGH: "number", SUPPORT: "quantity"})
    assert not store.path.exists()  # one bad type writes nothing
    store.path.write_text(json.dumps({"version": 1, "types": {"a question": "banana"}}))
    with pytest.raises(QuestionTypeError, match=rf'{QUESTION_TYPES_FILE}: "a question": unknown type "banana"'):
        store.load()
    store.path.write_text("{not json")
    with pytest.raises(QuestionTypeError, match=r"cannot be read .* fix or delete it"):
        store.load()


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    store = QuestionTypeStore.in_data_dir(tmp_path)
    store.save({WEIGH: "lookup"})
    before = store.path.read_bytes()

    def full_disk(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", full_disk)
    with pytest.raises(question_tags.QuestionTypeError, match=r"No space left on device\. Nothing was saved"):
        store.update({normalise_question(SUPPORT): "number"})
    assert store.path.read_bytes() == before and store.load() == {normalise_question(WEIGH): "lookup"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [QUESTION_TYPES_FILE]  # the temporary file is removed


# ----------------------------------------------------------------------------------------- edits over set and rules


def test_rows_say_where_each_type_came_from_and_edits_apply_as_declared():
    edits = {normalise_question(WEIGH): "multi-fact", normalise_question(DENTIST): "lookup"}
    rows = type_rows(ITEMS, {})
    assert [(r.id, r.type) for r in rows] == [("q05", "number"), ("q15", "lookup"), ("x1", "out-of-corpus")]
    assert [r.origin for r in rows] == ['rules: the key "380 grams" holds a quantity', "set", "set"]
    assert [(r.type, r.origin) for r in type_rows(ITEMS, edits)] == [
        ("multi-fact", "edited"), ("lookup", "set"), ("out-of-corpus", "set")]  # no edit touches out-of-corpus
    assert type_rows(ITEMS, {}, updated_sources={"tessel_t4_datasheet.md"})[0].type == "updated"
    typed = apply_type_edits(ITEMS, edits)
    assert [item.type for item in typed] == ["multi-fact", "lookup", "out-of-corpus"]
    assert typed[0] == QuestionItem(WEIGH, "It weighs 380 grams.", ("380 grams",), "tessel_t4_datasheet.md",
                                    id="q05", type="multi-fact") and ITEMS[0].type == ""  # new items
    assert typed[2].answerable is False


def test_an_edit_moves_the_question_to_another_slice():
    exchanges = [{"id": f"e{i}", "question": WEIGH, "answers": {
        "rag": {"answer": "It weighs 380 grams.", "contexts": [], "adapter_id": None, "error": None}}}
        for i in range(3)]
    before, _ = rows_from_exchanges(exchanges, ITEMS)
    assert {piece.value: piece.questions for piece in slice_by(before, [], BY_TYPE, rounds=5)} == {"number": 1}
    edited = apply_type_edits(ITEMS, {normalise_question(WEIGH): "lookup"})
    after, _ = rows_from_exchanges(exchanges, edited)
    [piece] = slice_by(after, [], BY_TYPE, rounds=5)
    assert (piece.value, piece.pipelines["rag"].accuracy.n) == ("lookup", 3)
    assert all(row.correct for row in after)  # the type moves the slice, never what counts as right


def test_saving_stores_only_changed_types_and_checks_every_row_first(tmp_path):
    store = QuestionTypeStore.in_data_dir(tmp_path)
    store.save({"another sets question": "updated"})
    table = [[r.id, r.question, r.type, r.origin] for r in type_rows(ITEMS, {})]
    table[0][2] = "Multi fact"
    assert save_type_edits(store, ITEMS, table) == 1
    assert store.load() == {normalise_question(WEIGH): "multi-fact", "another sets question": "updated"}
    table[1][2] = "number"  # a set's type may be edited too
    table[0][2] = "number"  # back to the rules' type: the edit is dropped
    assert save_type_edits(store, ITEMS, [*table, ["", "", "", ""]]) == 1  # a blank row is skipped
    assert store.load() == {normalise_question(SUPPORT): "number", "another sets question": "updated"}
    saved = store.path.read_bytes()
    bad_rows = {
        2: (1, "quantity", r'Row 2 \("Who leads support\?"\): unknown type "quantity": the types are lookup'),
        1: (0, "out-of-corpus", r'Row 1 \("How much does .*"\): "out-of-corpus" comes from the question set only'),
        3: (2, "lookup", r'Row 3 \("Who is the CEO.s dentist\?"\) is out-of-corpus by the set file: .*answerable'),
    }
    for number, (index, kind, message) in bad_rows.items():
        bad = [list(row) for row in table]
        bad[0][2] = "lookup"  # a good change in the same save is not stored either
        bad[index][2] = kind
        with pytest.raises(QuestionTypeError, match=message):
            save_type_edits(store, ITEMS, bad)
        assert store.path.read_bytes() == saved, f"row {number} changed the store"
    with pytest.raises(QuestionTypeError, match=r'Row 2 \("Who leads support now\?"\) is not a question of the set'):
        save_type_edits(store, ITEMS, [table[0], ["q15", "Who leads support now?", "lookup", "set"]])
    with pytest.raises(QuestionTypeError, match=r"Row 2 .* repeats row 1's question"):
        save_type_edits(store, ITEMS, [table[0], table[0]])
    assert store.path.read_bytes() == saved


def test_the_set_file_and_the_data_dir_together(tmp_path):
    path = question_file(tmp_path)
    data = tmp_path / "data"
    assert [r.origin for r in question_type_table(path, data)][1:] == ["set", "set"]
    assert save_question_types(path, data, [["q05", WEIGH, "updated", "rules"]]) == 1
    assert [item.type for item in typed_questions(path, data)] == ["updated", "lookup", "out-of-corpus"]
    assert question_type_table(path, data)[0].origin == "edited"


# --------------------------------------------------------------------------------------------- the Evaluation tab


def evaluation_handlers(path: Path, data: Path, tmp_path: Path) -> dict:
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    try:
        return tab_handlers(lambda: build_evaluation_tab(
            store, question_types=functools.partial(question_type_table, path, data),
            save_question_types=functools.partial(save_question_types, path, data)))
    finally:
        store.close()


def test_the_evaluation_tab_lists_and_saves_question_types(tmp_path):
    path, data = question_file(tmp_path), tmp_path / "data"
    handlers = evaluation_handlers(path, data, tmp_path)
    table, status = handlers["show_question_types"]()
    assert list(table.columns) == TYPE_COLUMNS and status == ""
    assert table.values.tolist() == [
        ["q05", WEIGH, "number", 'rules: the key "380 grams" holds a quantity'],
        ["q15", SUPPORT, "lookup", "set"], ["x1", DENTIST, "out-of-corpus", "set"]]
    table.loc[0, "type"] = "lookup"
    table.loc[1, "type"] = "multi-fact"
    fresh, status = handlers["do_save_types"](table, "")
    assert status.startswith("✅ Saved 2 edited types.")
    assert list(fresh["from"]) == ["edited", "edited", "set"] and list(fresh["type"])[:2] == ["lookup", "multi-fact"]
    assert QuestionTypeStore.in_data_dir(data).load() == {normalise_question(WEIGH): "lookup",
                                                           normalise_question(SUPPORT): "multi-fact"}
    saved = (data / QUESTION_TYPES_FILE).read_bytes()

    fresh.loc[0, "type"] = "number"  # back to the rules' type
    fresh.loc[2, "type"] = "lookup"  # out-of-corpus is the set file's
    kept, status = handlers["do_save_types"](fresh, "")
    assert status.startswith('❌ Nothing saved. Row 3 ("Who is the CEO') and '"answerable": false' in status
    assert kept is fresh and (data / QUESTION_TYPES_FILE).read_bytes() == saved  # the user's edits stay to fix
    fresh.loc[2, "type"] = "out-of-corpus"
    fresh.loc[1, "type"] = None  # a cleared cell
    _, status = handlers["do_save_types"](fresh, "")
    assert status.startswith('❌ Nothing saved. Row 2 ("Who leads support?"): no type: the types are')
    assert (data / QUESTION_TYPES_FILE).read_bytes() == saved
    fresh.loc[1, "type"] = "multi-fact"
    again, status = handlers["do_save_types"](fresh, "")
    assert status.startswith("✅ Saved 1 edited type.") and list(again["from"])[:2] == [
        'rules: the key "380 grams" holds a quantity', "edited"]


def test_the_tab_says_when_the_set_cannot_be_read(tmp_path):
    handlers = evaluation_handlers(tmp_path / "missing.jsonl", tmp_path / "data", tmp_path)
    table, status = handlers["show_question_types"]()
    assert table.empty and list(table.columns) == TYPE_COLUMNS and "missing.jsonl cannot be read" in status


def test_the_runtime_slices_the_stored_answers_with_the_edited_types(tmp_path):
    """``Runtime.question_types``, ``save_question_types`` and ``stored_slices`` on a stand-in runtime (store and
    settings, no model): a saved edit moves the stored answers to the edited type's slice."""
    settings = Settings(data_dir=tmp_path / "data", questions_file=question_file(tmp_path),
                        adapter_path=tmp_path / "none", corpus_dir=tmp_path / "corpus")
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    exchange_id = store.record_exchange("s", WEIGH, [PipelineResult("rag", "It weighs 380 grams.")])
    store.add_vote(exchange_id, "rag", session_id="s")
    runtime = SimpleNamespace(settings=settings, feedback=store, backend=None,
                              chosen_question_set=SavedQuestionSets(settings.data_dir, settings.questions_file).chosen,
                              question_set_documents=lambda chosen: settings.corpus_dir)
    runtime.adapter_folder = functools.partial(Runtime.adapter_folder, runtime)
    try:
        assert [piece.value for piece in Runtime.stored_slices(runtime, BY_TYPE)] == ["number"]
        rows = [[r.id, r.question, r.type, r.origin] for r in Runtime.question_types(runtime)]
        rows[0][2] = "multi-fact"
        assert Runtime.save_question_types(runtime, rows) == 1
        assert [piece.value for piece in Runtime.stored_slices(runtime, BY_TYPE)] == ["multi-fact"]
        assert Runtime.question_types(runtime)[0].origin == "edited"
    finally:
        store.close()


def test_a_frame_with_numbers_and_gaps_reads_as_text_cells():
    from components.evaluation import table_rows

    frame = pd.DataFrame([[None, WEIGH, float("nan"), "rules"]], columns=TYPE_COLUMNS)
    assert table_rows(frame) == [["", WEIGH, "", "rules"]] and table_rows(None) == []


def test_the_verdicts_count_the_edited_types(tmp_path, monkeypatch, capsys):
    """A batch run's verdict, the runtime's verdict from the stored answers and ``verdict --stored`` all read the
    edits in the data dir."""
    from pipelines.evaluation.__main__ import stored_verdict
    from pipelines.evaluation.batch import _verdict

    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    settings = Settings(data_dir=tmp_path / "data", questions_file=question_file(tmp_path),
                        adapter_path=tmp_path / "none", corpus_dir=tmp_path / "corpus")
    save_question_types(settings.questions_file, settings.data_dir, [["q05", WEIGH, "multi-fact", "rules"]])
    store = FeedbackStore.open(settings.data_dir / "feedback.sqlite3")
    exchange_id = store.record_exchange("s", WEIGH, [PipelineResult("rag", "It weighs 380 grams.")])
    store.add_vote(exchange_id, "rag", session_id="s")
    runtime = SimpleNamespace(settings=settings, feedback=store, backend=None, last_verdict=None,
                              chosen_question_set=SavedQuestionSets(settings.data_dir, settings.questions_file).chosen,
                              question_set_documents=lambda chosen: settings.corpus_dir,
                              adapter_folder=lambda: None)
    try:
        items = typed_questions(settings.questions_file, settings.data_dir)   # what run_batch reads before asking
        batch = _verdict(runtime, runtime.chosen_question_set().label, settings.corpus_dir, items, "batch-test",
                         [{"id": exchange_id}])
        stored = Runtime.verdict_page(runtime, fresh=True).verdict
        assert [line.type for line in batch.question_lines] == [line.type for line in stored.question_lines] == [
            "multi-fact"]
    finally:
        store.close()
    assert stored_verdict(settings.questions_file, tmp_path / "out") == 0
    page = (tmp_path / "out" / "verdict.html").read_text()
    assert f"<td>{WEIGH}</td><td>multi-fact</td>" in page.replace("\n", "")
    assert "Verdict: set.jsonl" in capsys.readouterr().out


def test_a_data_dir_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch):
    """mkstemp's OSError (read-only or full data dir) once reached the tab as Gradio's bare "Error"."""
    store = QuestionTypeStore.in_data_dir(tmp_path)

    def read_only(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(atomic_file.tempfile, "mkstemp", read_only)
    with pytest.raises(question_tags.QuestionTypeError, match=r"Cannot write .*Permission denied\. Nothing was saved"):
        store.save({WEIGH: "lookup"})
    assert not store.path.exists()
