"""Sentence and table shapes the rules generator words (names given by "called", numbered references, measures
after "with a", facts in a participle that describes the subject, dated fronted phrases, tables with row labels,
repeated row names, category cells and verb headers), each on a small hand-written document and through the whole
generator, so every question here also passed the checks: its key is in the source, the key is not in the
question, and the question does not quote its sentence."""

from __future__ import annotations

from pipelines.common.correctness import key_present
from pipelines.evaluation.question_checks import question_holds_key
from pipelines.evaluation.question_generation import SourceDocument, generate_question_set, read_documents
from pipelines.evaluation.question_wording import QUOTE_LIMIT, quoted_run


def asked(*documents: SourceDocument) -> dict[str, dict]:
    """The generated answerable questions by their wording, each checked against its source."""
    texts = {document.name: document.text for document in documents}
    generated = generate_question_set(list(documents), count=60, out_of_corpus=0)
    items = {item["question"]: item for item in generated.items if item.get("answerable", True)}
    for question, item in items.items():
        forms = [item["key"]] if isinstance(item["key"], str) else item["key"]
        assert key_present(texts[item["source"]], [forms[0]]), item
        assert not question_holds_key(question, forms), item
        if item["form"] not in ("multi-fact", "comparison"):
            assert quoted_run(question, item["reference"]) < QUOTE_LIMIT, item
    return items


def key(items: dict[str, dict], question: str) -> str:
    assert question in items, sorted(items)
    value = items[question]["key"]
    return value if isinstance(value, str) else value[0]


def test_a_name_given_by_called_named_or_known_as_is_asked_for():
    items = asked(SourceDocument("cooperative.md", (
        "# The cooperative\n\nThe reserve fund is called the Rainy Day Chest, after the flood.\n\n"
        "The cooperative mascot is a heron called Pim.\n\n"
        "The ninth seat, known as the Bank Seat, is reserved for a passenger.\n\n"
        "Its old boat is moored at Velloch, where she serves as a floating café called The Crane's Table.\n\n"
        "The old bell came from a launch named Tansy Hollow.\n")))
    assert key(items, "What is the reserve fund called?") == "Rainy Day Chest"
    assert key(items, "What is the cooperative mascot called?") == "Pim"
    assert key(items, "What is the ninth seat known as?") == "Bank Seat"
    assert key(items, "What is the floating café called?") == "Crane's Table"
    # "a launch named ..." names one of many: "What is the launch named?" has no single answer.
    assert not any("launch" in question for question in items), items


def test_a_numbered_reference_is_asked_with_which():
    items = asked(SourceDocument("charter.md", (
        "# The charter\n\nArticle 7 of the Revised Charter establishes the principle of one member, one vote, "
        "whatever their shares.\n\nThe fare rules are set out in Section 4.2 of the members' booklet.\n")))
    assert key(items, "In the Revised Charter, which article establishes the principle of one member?") == \
        "Article 7"
    assert key(items, "In which section are the fare rules set out?") == "Section 4.2"


def test_a_measure_after_with_a_and_a_warranty_of_are_asked_as_that_measure():
    items = asked(SourceDocument("harbour_hall.md", (
        "# Harbour Hall\n\nThe harbour hall was rebuilt with a capacity of 1,200 people.\n\n"
        "Every Tessel sensor carries a warranty of 4 years from the date of delivery.\n")))
    assert key(items, "What was the capacity of the harbour hall?") == "1,200 people"
    assert key(items, "What warranty does every Tessel sensor carry?") == "4 years"


def test_a_fact_in_a_participle_describing_the_subject_is_asked_of_the_subject():
    items = asked(SourceDocument("company.md", (
        "# Lumenhollow\n\nLumenhollow Instruments is a sensor company founded on 3 May 2019 in the town of "
        "Brackenridge Falls by Ilse Varnholt and Tomasz Quell.\n\n"
        "The Tessel T4 is the fourth-generation water-level sensor, released on 17 October 2023.\n")))
    assert key(items, "On what date was Lumenhollow Instruments founded?") == "3 May 2019"
    assert key(items, "By whom was Lumenhollow Instruments founded on 3 May 2019?") == "Ilse Varnholt and Tomasz Quell"
    assert key(items, "On what date was the Tessel T4 released?") == "17 October 2023"


def test_a_fronted_phrase_that_ends_on_a_year_goes_to_the_end_of_the_question():
    items = asked(SourceDocument("company.md", "# Lumenhollow\n\nAt the end of 2025 Lumenhollow employed 142 people, "
                                               "61 of them in engineering.\n"))
    assert key(items, "How many people did Lumenhollow employ at the end of 2025?") == "142 people"


BAKERY = """<html><body><h1>Harbour Bakery</h1>
<table><tr><th>Product</th><th>Size</th><th>Price (EUR)</th><th>Flour</th></tr>
<tr><td>Rye loaf</td><td>Small</td><td>3.20</td><td>rye</td></tr>
<tr><td>Rye loaf</td><td>Large</td><td>5.10</td><td>rye</td></tr>
<tr><td>Seed roll</td><td>Single</td><td>0.90</td><td>spelt</td></tr></table>
<h2>Opening hours</h2>
<table><tr><th>Day</th><th>Opens</th><th>Closes</th></tr>
<tr><td>Monday</td><td>07:00</td><td>18:00</td></tr><tr><td>Saturday</td><td>08:00</td><td>14:00</td></tr></table>
<h2>Ovens</h2>
<table><tr><th></th><th>Oven A</th><th>Oven B</th></tr>
<tr><th>Capacity (loaves)</th><td>120</td><td>80</td></tr>
<tr><th>Fuel</th><td>wood</td><td>gas</td></tr>
<tr><th>Installed</th><td>1987</td><td>2014</td></tr></table>
</body></html>
"""


def test_html_tables_with_row_labels_repeated_names_categories_and_verb_headers(tmp_path):
    (tmp_path / "bakery.html").write_text(BAKERY)
    items = asked(*read_documents(tmp_path))
    # Rows that share a name ("Rye loaf") are told apart by the next cell that differs.
    assert key(items, "What price is listed for Rye loaf (Small), in EUR?") == "3.20"
    assert key(items, "What price is listed for Rye loaf (Large), in EUR?") == "5.10"
    # A lower-case category is a fact of its row.
    assert key(items, "What flour is listed for Seed roll?") == "spelt"
    # A column named by a verb: the time under it, and a year as "In what year was ... installed?".
    assert key(items, "What time is listed under Opens for Monday?") == "07:00"
    assert key(items, "What time is listed under Closes for Saturday?") == "14:00"
    # A table whose columns are the things and whose rows are labelled: asked of the column's thing.
    assert key(items, "What capacity is listed for Oven B, in loaves?") == "80"
    assert key(items, "What fuel is listed for Oven A?") == "wood"
    assert key(items, "In what year was Oven B installed?") == "2014"
    assert not any(question.startswith(("What opens", "What closes", "What installed")) for question in items)
