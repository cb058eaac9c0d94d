"""Question sets saved per collection: validated before any write, chosen for the evaluation, named by hash; and
the Questions tab's table turned into rows and back (its view functions, without a browser)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from components.questions import TABLE_COLUMNS, frame_to_rows, rows_to_frame
from pipelines.common.questions import QuestionSetError, load_questions
from pipelines.evaluation.saved_question_sets import SavedQuestionSets, content_hash

ROWS = [
    {"id": "g1", "question": "How many cars does the oldest vehicle ferry take?", "reference":
     "MV Annick Marrow can carry 24 cars and 180 passengers.", "key": ["24 cars", "24"],
     "source": "fleet_register.md", "type": "number", "form": "number", "split": "test"},
    {"id": "g2", "question": "What colour are the cooperative's lifeboats painted?", "reference": "",
     "source": "", "type": "out-of-corpus", "form": "out-of-corpus", "split": "test", "answerable": False},
]


@pytest.fixture
def sets(tmp_path) -> SavedQuestionSets:
    startup = tmp_path / "startup.jsonl"
    startup.write_text(json.dumps({"question": "Who?", "reference": "Someone."}) + "\n")
    return SavedQuestionSets(tmp_path / "data", startup_file=startup)


def test_a_saved_set_loads_as_the_app_reads_sets_and_is_chosen_by_name_and_hash(sets):
    saved = sets.save("Ferries", ROWS, meta={"generator": "rules", "max_training_overlap": 0.31})
    items = load_questions(saved.path, require_reference=True)
    assert [i.id for i in items] == ["g1", "g2"]
    assert items[0].keys == ("24 cars", "24") and items[0].type == "number"
    assert not items[1].answerable and items[1].reference == "The documents do not say."
    assert sets.meta("Ferries")["content_hash"] == saved.content_hash == content_hash(saved.path)

    assert sets.chosen().collection is None and sets.chosen().name == "startup.jsonl"
    chosen = sets.choose("Ferries")
    assert (chosen.collection, chosen.path, chosen.content_hash) == ("Ferries", saved.path, saved.content_hash)
    assert chosen.label == (f"Ferries (sha256 {saved.content_hash[:12]}, highest word overlap with training "
                            "questions 0.31)")
    assert sets.chosen() == chosen  # kept on disk: a restarted app uses the same set
    assert sets.choose(None).collection is None
    sets.save("Ferries", ROWS[:1])  # saved again without metadata: the old overlap no longer describes it
    assert sets.choose("Ferries").label == f"Ferries (sha256 {content_hash(saved.path)[:12]})"


def test_an_edit_into_an_invalid_state_saves_nothing(sets):
    first = sets.save("Ferries", ROWS)
    before = first.path.read_bytes()
    broken = [dict(ROWS[0]), {**ROWS[1], "key": "blue"}]  # out-of-corpus with a key
    with pytest.raises(QuestionSetError, match=r"out-of-corpus.*has a key"):
        sets.save("Ferries", broken)
    with pytest.raises(QuestionSetError, match="no reference answer"):
        sets.save("Ferries", [{"id": "x", "question": "Which yard built her?"}])
    with pytest.raises(QuestionSetError, match="repeats an earlier question"):
        sets.save("Ferries", [ROWS[0], {**ROWS[0], "id": "copy"}])
    with pytest.raises(QuestionSetError, match="no questions"):
        sets.save("Ferries", [])
    assert first.path.read_bytes() == before
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["Ferries.jsonl"]  # no temporary left behind


def test_choosing_a_collection_without_a_set_is_refused(sets):
    with pytest.raises(QuestionSetError, match="no saved question set"):
        sets.choose("Empty")
    with pytest.raises(QuestionSetError, match="not a collection name"):
        sets.path("../etc")


def test_the_review_table_round_trips_and_applies_removals_edits_and_added_rows():
    frame = rows_to_frame(ROWS)
    assert list(frame.columns) == TABLE_COLUMNS and frame["key"][0] == "24 cars | 24"
    assert frame_to_rows(frame)[0]["key"] == ["24 cars", "24"]
    assert frame_to_rows(frame)[1]["answerable"] is False

    frame.loc[0, "question"] = "What number of cars fits on the oldest vehicle ferry?"  # an edit
    frame.loc[1, "keep"] = False  # a removal
    added = {"keep": True, "id": "", "question": "Who keeps the fleet register?", "key": "Desmond Arkwhistle",
             "type": "lookup", "form": "", "source": "fleet_register.md", "reference": "", "split": "test"}
    blank = dict.fromkeys(TABLE_COLUMNS, "")
    frame = pd.concat([frame, pd.DataFrame([added, blank])], ignore_index=True)
    rows = frame_to_rows(frame)
    assert [r["question"] for r in rows] == ["What number of cars fits on the oldest vehicle ferry?",
                                            "Who keeps the fleet register?"]
    assert rows[1]["id"] == "manual-003" and rows[1]["key"] == "Desmond Arkwhistle"
