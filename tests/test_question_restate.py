"""Issue 29's fourth coverage round, found on the second dev corpus (``assets/eval/dev2``): sentence shapes that
gave no question before, each run through the whole generator on a small hand-written document (key in its
source, key not in the question), plus the restatements and the table superlatives on their own."""

from __future__ import annotations

import pytest

from pipelines.common.text import split_sentences
from pipelines.evaluation.question_facts import NAME, Span, Unit, fact_spans, text_units
from pipelines.evaluation.question_generation import (
    SourceDocument,
    generate_question_set,
)
from pipelines.evaluation.question_restate import (
    appositive_dropped,
    bare_subject_named,
    fronted_phrase_last,
    relative_clause_dropped,
    role_dropped_before_name,
)
from tests.test_question_generation import questions_of  # one document's kept questions, by first key


@pytest.mark.parametrize(("text", "key", "question"), [
    # A fronted phrase that holds the fact goes after the clause.
    ("On 3 March 2024 all nine libraries moved to LUMA, a shared catalogue built on open software.", "3 March 2024",
     "On what date did all nine libraries move to LUMA?"),
    # A role between "by" and the name goes (with a title, a role noun, or "its <role>, <title>").
    ("The observatory has been led by astronomer Ilse Varga since 2017.", "Ilse Varga",
     "By whom has the observatory been led?"),
    ("The observatory is run by its medical director, Dr. Orla Quennell, a haematologist who joined in 2009.",
     "Orla Quennell", "By whom is the observatory run?"),
    # "<name> of <place>" after a role is the person; the "of" phrase says where they are from.
    ("For 2024 the observatory was chaired by councillor Maren Okafor of Amberley Cross.", "Maren Okafor",
     "By whom was the observatory chaired for 2024?"),
    # An appositive between the subject and its verb goes.
    ("The first instalment, 40 percent of the value of the deliveries, is paid by 15 December of the harvest year.",
     "15 December", "By what date is the first instalment paid?"),
    # A relative clause between the subject and its modal goes.
    ("Every vineyard plot whose grapes are delivered to the cooperative must be registered with the cellar office "
     "before 31 May of the harvest year.", "31 May",
     "Before what date must every vineyard plot be registered with the cellar office?"),
    # An amount that opens the sentence: "How much <noun> ...?".
    ("About 470 ml of blood is collected into a sterile bag, together with four small sample tubes.", "470 ml",
     "How much blood is collected?"),
    # A past participle after a preposition is an adjective, not the clause's verb.
    ("A written claim for damaged baggage must reach the observatory within 7 days.", "7 days",
     "Within how many days must a written claim for damaged baggage reach the observatory?"),
    # A long subject's "between" phrase leads, so the question does not quote the sentence.
    ("The minimum gap between two plasma donations is 14 days, and donors may give plasma 24 times a year.",
     "14 days", "Between two plasma donations, how many days is the minimum gap?"),
    # An amount written with a currency sign names money ("How much ...?"), with no unit word after it.
    ("The annual subscription is £165 for adult members.", "£165",
     "How much is the annual subscription for adult members?"),
    # A participle or adjective before a plural noun is part of what is counted.
    ("Today the observatory has 68 playing members.", "68 playing members",
     "How many playing members does the observatory have?"),
    # Markdown emphasis is markup, not words: "**Race director:** ..." is a label line.
    ("- **Race director:** Gwendolyn Farraday-Pike", "Gwendolyn Farraday-Pike", "Who is the race director?"),
    # "You" inside a question is lower case.
    ("You must weigh at least 50 kg.", "50 kg", "How many kg must you weigh?"),
])
def test_restated_and_new_shapes_are_worded(text, key, question):
    worded = questions_of(f"# The observatory\n\n{text}\n")
    assert worded.get(key) == question, worded
    assert key.lower() not in question.lower()


def test_a_bare_subject_takes_the_name_the_sentence_before_gives_it():
    text = ("# Observing time\n\nObserving time is given out by the Time Allocation Committee twice a year. The "
            "committee is chaired by Dr. Benedikt Sallow of the University of Orvane.\n")
    assert questions_of(text).get("Benedikt Sallow") == "By whom is the Time Allocation Committee chaired?"
    # Two names ending in the noun: which committee is meant is not plain, so nothing is restated.
    unit = Unit("The committee is chaired by Ilse Varga.", "sentence",
                previous="The Budget Committee and the Time Allocation Committee meet in May.")
    assert bare_subject_named(unit, fact_spans(unit.text)[0]) is None


def test_each_restatement_keeps_the_fact_and_leaves_other_shapes_alone():
    fronted = Unit("On 3 March 2024 all nine libraries moved to LUMA.", "sentence")
    restated, span = fronted_phrase_last(fronted, fact_spans(fronted.text)[0])
    assert restated.text == "All nine libraries moved to LUMA on 3 March 2024."
    assert restated.text[span.start:span.start + len(span.text)] == "3 March 2024"
    plain = Unit("All nine libraries moved to LUMA on 3 March 2024.", "sentence")
    spans = fact_spans(plain.text)
    assert all(rule(plain, s) is None for s in spans for rule in (fronted_phrase_last, appositive_dropped,
                                                                    relative_clause_dropped))
    by_far = Unit("The prize was won by far Ilse Varga.", "sentence")  # "far" is no role noun
    assert role_dropped_before_name(by_far, Span("Ilse Varga", NAME, by_far.text.index("Ilse"))) is None


def test_a_title_does_not_end_a_sentence_and_a_place_name_with_of_stays_whole():
    assert split_sentences("It is chaired by Dr. Benedikt Sallow. It meets twice.") == [
        "It is chaired by Dr. Benedikt Sallow.", "It meets twice."]
    assert "Maren Okafor" in [s.text for s in fact_spans("chaired by councillor Maren Okafor of Amberley Cross")]
    assert "University of Orvane" in [s.text for s in fact_spans("He teaches at the University of Orvane.")]


def test_a_table_column_of_numbers_gives_which_row_has_the_most_and_the_fewest():
    table = ("# Telescopes\n\n| Telescope | Aperture (m) | Visits |\n|---|---|---|\n"
             "| Hollin Telescope | 1.20 m | 410 |\n| Tamsin Solar Tower | 0.45 m | 410 |\n"
             "| Brenna Astrograph | 0.60 m | 95 |\n")
    generated = generate_question_set([SourceDocument("telescopes.md", table)], count=60, out_of_corpus=0)
    superlatives = {item["question"]: item["key"] for item in generated.items if item["question"].startswith("Which")}
    assert superlatives.get("Which telescope has the highest aperture?") == "Hollin Telescope", superlatives
    assert superlatives.get("Which telescope has the lowest aperture?") == "Tamsin Solar Tower", superlatives
    assert superlatives.get("Which telescope has the fewest visits?") == "Brenna Astrograph", superlatives
    # Two rows tie for the most visits: no question names one of them.
    assert "Which telescope has the most visits?" not in superlatives, superlatives


def test_indented_label_lines_of_a_plain_text_list_are_each_a_fact():
    text = ("SECTION 5: BULKY WASTE\n\nLarge items can be collected from your home for a fee.\n\n"
            "  Up to 3 items: £36.00\n  Fridge or freezer (each): £28.00\n\nItems must be left outside.\n")
    units = [u.text for u in text_units(text)]
    assert "Fridge or freezer (each): £28.00" in units and "Up to 3 items: £36.00" in units, units
    # What the label names is priced, so the question asks for the listed amount, not "What is the fridge ...?".
    assert questions_of(text).get("£28.00") == "How much is listed for fridge or freezer (each)?"
    # Not indented: a wrapped paragraph line stays in its paragraph.
    assert "Fridge or freezer (each): £28.00" not in [u.text for u in text_units(text.replace("\n  ", "\n"))]


def test_a_feature_table_is_read_with_its_columns_as_the_things_compared():
    table = ("# Plans\n\n| Feature | Starter | Team | Business |\n|---|---|---|---|\n"
             "| Uptime commitment | 99.5% | 99.5% | 99.9% |\n| Maximum users | 10 | 100 | 1000 |\n")
    questions = [item["question"] for item in generate_question_set(
        [SourceDocument("plans.md", table)], count=60, out_of_corpus=0).items]
    assert "What uptime commitment is listed for Business?" in questions, questions
    assert not any("listed for Uptime commitment" in q for q in questions), questions


def test_standards_severity_rows_and_capital_units_are_read_as_written():
    spans = {s.text: s for s in fact_spans("It has held ISO/IEC 27001 certification since 2021 and stores 2 TB.")}
    assert spans["ISO/IEC 27001"].kind == "code"  # not 27001 "certification"
    assert spans["2 TB"].unit == "TB"
    assert "120 EUR" not in spans and "EUR 300" not in [s.text for s in fact_spans("It costs EUR 300 a year.")]
    from pipelines.evaluation.question_generation import _row_entity

    assert _row_entity([("Severity", "Severity 1"), ("Response", "30 minutes")]) == (0, "Severity 1")


def test_comparisons_need_clean_row_names_and_an_attribute_that_is_a_noun():
    table = ("# Fees\n\n| Item | When booking | At the airport |\n|---|---|---|\n"
             "| First checked bag up to 23 kg | 25 euros | 50 euros |\n"
             "| Second checked bag up to 23 kg | 40 euros | 65 euros |\n")
    from pipelines.evaluation.question_generation import _comparisons, document_candidates

    candidates, _ = document_candidates(SourceDocument("fees.md", table))
    assert len(candidates) >= 4  # the cells are read
    # Neither "Comparing Item First checked bag ... and Item Second ...", nor "... the higher at the airport?"
    assert _comparisons(candidates) == []
    plans = ("# Plans\n\n| Plan | Monthly price |\n|---|---|\n| Swim Only | £22.00 |\n| Active | £34.00 |\n")
    questions = [item["question"] for item in generate_question_set(
        [SourceDocument("plans.md", plans)], count=60, out_of_corpus=0).items]
    assert "Comparing Swim Only and Active, what is the higher monthly price?" in questions, questions
