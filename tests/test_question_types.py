"""Question types by rules on hand-made questions of each type, the updated-source rule, and the set's own tags."""

import hashlib
import os
from datetime import UTC, datetime

import pytest

from pipelines.common.question_types import (
    LOOKUP,
    MULTI_FACT,
    NUMBER,
    OUT_OF_CORPUS,
    UPDATED,
    AdapterData,
    DocumentStamp,
    normalise_type,
    rule_type,
    source_updated,
    tag_question,
    updated_sources,
)
from pipelines.common.questions import QuestionItem


@pytest.mark.parametrize(("question", "keys", "expected"), [
    ("What is the name of the Lumenhollow mascot?", ["Pim"], LOOKUP),
    ("What is the Skylark modem?", ["satellite burst modem"], LOOKUP),
    ("Who founded Lumenhollow Instruments?", ["Ilse Varnholt and Tomasz Quell"], LOOKUP),  # one sentence: one fact
    ("Where is the Lumenhollow headquarters?", ["14 Millrace Lane"], LOOKUP),  # an address is a place, not a number
    ("Which firmware version added tide compensation?", ["3.2", "version 3.2"], LOOKUP),  # a version is a name
    ("Which sensor has the Skylark modem?", ["Tessel T4"], LOOKUP),  # "T4" is a name, not a quantity
    ("How much does a Tessel T4 weigh?", ["380 grams", "380 g"], NUMBER),
    ("What is the list price of a Tessel T4?", ["1,240 euros"], NUMBER),
    ("When was Lumenhollow Instruments founded?", ["3 May 2019"], NUMBER),
    ("When did the Porto Veloz office open?", ["June 2022"], NUMBER),  # a month and year: a date
    ("When is the Tessel T5 planned?", ["third quarter of 2026", "Q3 2026"], NUMBER),
    ("How long is the warranty on a Tessel sensor?", ["four years"], NUMBER),  # a number word
    ("How long was the Meridian outage?", ["3 hours and 12 minutes"], NUMBER),  # "and" in the key: one quantity
    ("How many sensors did Kelvarra install?", [], NUMBER),  # no key: the question asks for a quantity
    ("What is the Tidemates programme?", [], LOOKUP),
    ("Who founded Lumenhollow and when?", ["Ilse Varnholt"], MULTI_FACT),
    ("What does a T4 weigh and how long does its battery last?", ["380 grams"], MULTI_FACT),
    ("Do both the T4 and the T5 have a Skylark modem?", ["yes"], MULTI_FACT),
    ("What is the meal allowance as well as the hotel limit?", ["68 euros"], MULTI_FACT),
])
def test_rule_types_of_hand_made_questions(question, keys, expected):
    assert rule_type(question, keys).type == expected


def test_two_sources_make_a_multi_fact_question():
    tag = rule_type("Which office did the support lead open?", ["Porto Veloz"],
                    source="support_policy.txt|office_locations.txt")
    assert (tag.type, tag.reason) == (MULTI_FACT, "its answer is in more than one document")


def test_reasons_say_which_rule_chose():
    assert rule_type("How much does a Tessel T4 weigh?", ["380 grams"]).reason == 'the key "380 grams" holds a quantity'
    assert rule_type("Who founded it and when?").reason == 'the question joins two asks ("and when")'
    assert rule_type("Who leads support?").reason == 'the question asks for a name or place ("who")'


def test_updated_wins_over_the_form_of_the_question():
    item = QuestionItem("What is the daily meal allowance?", keys=("68 euros",), source="travel_policy.txt")
    assert tag_question(item).type == NUMBER
    assert tag_question(item, updated_sources={"travel_policy.txt"}).type == UPDATED
    assert tag_question(item, updated_sources={"roadmap_2026.txt"}).type == NUMBER


def test_a_type_the_set_gives_is_kept():
    item = QuestionItem("What is the daily meal allowance?", keys=("68 euros",), source="travel_policy.txt",
                        type=LOOKUP)
    tag = tag_question(item, updated_sources={"travel_policy.txt"})
    assert (tag.type, tag.declared) == (LOOKUP, True)
    unanswerable = QuestionItem("Who is the CEO's dentist?", reference="The documents do not say.", type=OUT_OF_CORPUS)
    assert tag_question(unanswerable).type == OUT_OF_CORPUS
    assert not tag_question(QuestionItem("Who leads support?")).declared


@pytest.mark.parametrize(("written", "expected"), [
    ("Multi fact", "multi-fact"), ("multi_fact", "multi-fact"), ("OUT-OF-CORPUS", "out-of-corpus"),
    (" number ", "number"),
])
def test_type_names_are_normalised(written, expected):
    assert normalise_type(written) == expected


TRAINED = "2026-12-01T15:55:01+00:00"


def test_updated_by_time_when_no_digests_were_recorded():
    adapter = AdapterData.from_metadata({"created_at": TRAINED, "data_hash": "cddbd89b"})
    assert adapter.trained_at == datetime(2026, 12, 1, 15, 55, 1, tzinfo=UTC)
    assert adapter.data_hash == "cddbd89b"
    assert source_updated(DocumentStamp("travel_policy.txt", "2027-01-05T09:00:00+00:00"), adapter)
    assert not source_updated(DocumentStamp("travel_policy.txt", "2026-11-30T09:00:00+00:00"), adapter)
    naive = datetime(2026, 12, 1, 16, 0)  # naive times are UTC, as the store writes them
    assert source_updated(DocumentStamp("travel_policy.txt", naive), adapter)
    assert not source_updated(DocumentStamp("travel_policy.txt", None), adapter)  # unknown time: not updated


def test_updated_by_digest_when_the_run_recorded_them():
    adapter = AdapterData.from_metadata({"created_at": TRAINED, "document_hashes": {"travel_policy.txt": "aaa"}})
    late = "2027-01-05T09:00:00+00:00"
    assert not source_updated(DocumentStamp("travel_policy.txt", late, sha256="aaa"), adapter)  # touched, same bytes
    assert source_updated(DocumentStamp("travel_policy.txt", "2020-01-01T00:00:00+00:00", sha256="bbb"), adapter)
    assert source_updated(DocumentStamp("travel_update_2026.txt", sha256="ccc"), adapter)  # added since


def test_nothing_known_is_not_an_update():
    assert not source_updated(DocumentStamp("a.md", "2027-01-05T09:00:00+00:00"), None)
    assert not source_updated(DocumentStamp("a.md", "2027-01-05T09:00:00+00:00"), AdapterData.from_metadata({}))
    odd = AdapterData.from_metadata({"created_at": 5, "data_hash": ["x"], "document_hashes": "no"})
    assert (odd.trained_at, odd.data_hash, dict(odd.document_hashes)) == (None, "", {})


def test_updated_sources_from_files(tmp_path):
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text("Old fact.")
    new.write_text("New fact.")
    adapter = AdapterData(datetime(2026, 12, 1, tzinfo=UTC))
    os.utime(old, (datetime(2026, 11, 1, tzinfo=UTC).timestamp(),) * 2)
    os.utime(new, (datetime(2027, 1, 1, tzinfo=UTC).timestamp(),) * 2)
    stamps = [DocumentStamp.of_file(old), DocumentStamp.of_file(new)]
    assert stamps[0].sha256 == hashlib.sha256(b"Old fact.").hexdigest()
    assert updated_sources(stamps, adapter) == frozenset({"new.md"})
