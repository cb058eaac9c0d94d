"""The rules question generator: facts to questions on hand-checkable documents, the checks, determinism, the
fairness rule, out-of-corpus questions, the command line and its refusals, and the goals on the dev corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.common.correctness import key_present
from pipelines.common.questions import load_questions
from pipelines.evaluation.__main__ import main, parse_question_args
from pipelines.evaluation.out_of_corpus import out_of_corpus_questions
from pipelines.evaluation.question_checks import (
    TrainingQuestionsError,
    load_training_questions,
    question_holds_key,
    word_overlap,
)
from pipelines.evaluation.question_generation import (
    DEFAULT_COUNT,
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


@pytest.mark.parametrize("corpus", ["dev", "dev2", "dev3", "dev4", "dev5", "dev6"])
def test_the_dev_corpora_meet_the_goals(corpus):
    """The issue's goals on each dev corpus (the rules were tuned on them; docs/question_sets.md gives the test
    corpus's numbers too): keys found, none in its question, two per document, out-of-corpus share, and half of
    the hand-written keys asked. dev2 to dev6 were written by other hands, in other domains, after the rules
    fit dev: a rule that stops working (a restatement, a superlative) shows here as lost coverage."""
    from pipelines.common.correctness import normalise_answer

    folder = DEV.parent / corpus
    documents = read_documents(folder / "docs")
    texts = {d.name: d.text for d in documents}
    generated = generate_question_set(documents, seed=0)  # the default count: one question per fact, capped
    rows = answerable(generated)
    found = sum(key_present(texts[row["source"]], [keys_of(row)[0]]) for row in rows)
    assert found / len(rows) >= 0.95
    assert not any(question_holds_key(row["question"], keys_of(row)) for row in rows)
    assert all(sum(row["source"] == d.name for row in rows) >= 2 for d in documents)
    assert (len(generated.items) - len(rows)) / len(generated.items) >= 0.10
    asked = {(row["source"], normalise_answer(form)) for row in rows for part in row.get("keys_all", [keys_of(row)])
             for form in part}
    hand = [item for item in load_questions(folder / "questions.jsonl", require_reference=True) if item.keys]
    assert all(key_present(texts[item.source], item.keys) for item in hand)  # the hand-written keys hold, too
    covered = [item for item in hand if any((item.source, normalise_answer(k)) in asked for k in item.keys)]
    assert len(covered) / len(hand) >= 0.5, f"{len(covered)}/{len(hand)}"


# --- The reject classes of the 30-question review (docs/question_sets.md), one hand-checkable sentence each. ---

def questions_of(text: str, name: str = "notes.md") -> dict[str, str]:
    """Every answerable question the generator keeps for one document, keyed by its canonical key ({} when the
    generator finds no fact it can word)."""
    try:
        generated = generate_question_set([SourceDocument(name, text)], count=50, out_of_corpus=0)
    except QuestionGenerationError:
        return {}
    return {keys_of(item)[0]: item["question"] for item in answerable(generated)}


@pytest.mark.parametrize(("text", "key", "question"), [
    # A noun that is also a verb form ("ferries", "launches") is not the clause's verb: the auxiliary is.
    ("The Quillon class ferries were built by Marrowgate Marine Works.", "Marrowgate Marine Works",
     "By whom were the Quillon class ferries built?"),
    ("Under an amber flag, the steamer does not sail, and Wren class launches carry no more than 45 passengers.",
     "45 passengers", "How many passengers do Wren class launches carry under an amber flag?"),
    # "crew" is also the past of "crow", but a noun before the auxiliary stays in the subject.
    ("Every crew member must pass the written rules test on this edition before 30 May 2026.", "30 May 2026",
     "Before what date must every crew member pass the written rules test?"),
    # A gerund is a subject ("Mooring costs ..."), a bare adjective is not ("wooden-bodied coaches from 1911").
    ("Boats may stay at the pier overnight; mooring costs 12 drell per night.", "12 drell per night",
     "How much does mooring cost?"),
    # A word the lexicon knows only as a noun ("goods") is never taken for the verb.
    ("The old goods yard holds 40 wagons.", "40 wagons", "How many wagons does the old goods yard hold?"),
    # A passive is inverted around its auxiliary, never with do-support ("did ... be founded").
    ("The Varrowind Ferrymen's Cooperative was founded on 14 March 1911.", "14 March 1911",
     "On what date was the Varrowind Ferrymen's Cooperative founded?"),
    # The verb's bare form comes from the lexicon ("served" -> "serve", not "serv").
    ("Marguerite Tollan-Vey served two terms as Head Steward until 2010.", "2010",
     "Until what year did Marguerite Tollan-Vey serve two terms as Head Steward?"),
    # "has held" is a perfect, not "does ... have held".
    ("The fleet superintendent has held his present post since 2015.", "2015",
     "Since what year has the fleet superintendent held his present post?"),
])
def test_verb_inversions_read_as_english(text, key, question):
    assert questions_of(f"# Fleet\n\n{text}\n").get(key) == question


@pytest.mark.parametrize("text", [
    "Outside the peaks the interval is 20 minutes.",  # a fronted phrase is not a subject
    "The upper piers at Thrumwick are affected mainly by rainfall.",  # "piers" is a noun, never a verb
    "A van or light goods vehicle under 3.5 tonnes pays 21.00 drell.",  # "3.5 tonnes" sits in the subject
    "The Pellish Toll Company surrendered its licence, selling its landing stage at Velloch to the cooperative.",
])
def test_a_clause_that_would_invert_badly_gives_no_question(text):
    worded = questions_of(f"# Notes\n\n{text}\n")
    assert not any(q.startswith(("Where does", "How many minutes is outside", "How many tonnes does"))
                   for q in worded.values()), worded
    assert not {"Velloch", "Thrumwick", "3.5 tonnes", "20 minutes"} & set(worded), worded


def test_a_subject_without_its_antecedent_is_resolved_or_the_question_dropped():
    text = ("# Board\n\nThe current Head Steward is Wilhelmina Ostrowe-Dunn, a former pilot. "
            "She was re-elected in 2024.\n\nIts pier is used by the Long Ferry.\n\n"
            "The order was placed in 2020.\n")
    worded = questions_of(text)
    # "she" is the person the sentence before names, not the role ("In what year was Head Steward re-elected?").
    assert worded["2024"] == "In what year was Wilhelmina Ostrowe-Dunn re-elected?"
    assert "Long Ferry" not in worded  # "By whom is its pier used?": whose pier?
    assert "2020" not in worded  # "In what year was the order placed?": which order?
    generated = generate_question_set([SourceDocument("notes.md", text)], count=50, out_of_corpus=0)
    assert generated.dropped["wording refused: subject refers back (its, her, this) to what the question does "
                             "not name"] == 1
    assert generated.dropped['wording refused: bare "the <noun>" subject the document does not name in its '
                             'title or headings'] == 1


def test_a_name_that_modifies_a_noun_or_heads_a_list_is_not_asked_for():
    worded = questions_of("# Routes\n\nRoute R2 is worked by the Wren class launches.\n\n"
                          "Honorary members have a reserved bench at the Lantern Crossing festival.\n\n"
                          "Staffed ticket offices are open at Thrumwick Main Pier, Kesterlin Wharf and Oddry Steps.\n")
    assert not {"Wren", "Lantern Crossing", "Thrumwick Main Pier"} & set(worded), worded


def test_a_timetables_notes_column_is_not_asked_and_a_numbered_row_is_named_by_its_number():
    timetable = SourceDocument("timetable.md", "# Timetable\n\n| Train | Hollin Gap | Days | Notes |\n"
                                               "|---|---|---|---|\n"
                                               "| 116 | 19:58 | Fridays and Saturdays | Sunset Special return |\n"
                                               "| 118 | 21:10 | Daily | Connects with the last bus |\n")
    questions = [item["question"] for item in answerable(generate_question_set([timetable], count=20,
                                                                               out_of_corpus=0))]
    assert "What time is listed under Hollin Gap for Train 116?" in questions
    assert not any("notes" in q.lower() or "Sunset Special" in q for q in questions), questions


def test_a_fact_inside_a_when_or_if_clause_is_asked_as_the_main_clauses_condition():
    worded = questions_of("# Flags\n\nA red flag is flown when the Kesterlin gauge reads above 3.6 metres.\n\n"
                          "An Annual Assembly is quorate only if at least 40 percent of the members attend.\n")
    assert worded["3.6 metres"] == "When is a red flag flown?"
    assert worded["40 percent"] == "Under what condition is an Annual Assembly quorate?"
    # Two facts in one condition: either key would be half the answer.
    two = SourceDocument("flags.md", "# Flags\n\nA red flag is flown when the gauge reads above 3.6 metres for "
                                     "2 days.\n\nThe Kesterlin gauge stands 12 metres high.\n")
    generated = generate_question_set([two], count=10, out_of_corpus=0)
    assert all(item["question"] != "When is a red flag flown?" for item in generated.items)
    assert generated.dropped["wording refused: the condition holds more than one fact"] == 2


def test_out_of_corpus_places_are_places_and_read_naturally():
    from pipelines.evaluation.out_of_corpus import domain_names

    text = ("The Lumen Ferry Company meets at the Annual Assembly. Boats call at Kesterlin Wharf and at the "
            "Lantern Crossing festival. The ferry crosses at Gorlen Viaduct. Tickets are sold at Kesterlin Wharf.")
    org, places = domain_names([text])
    assert org == "Lumen Ferry Company" and places == ["Kesterlin Wharf"]
    questions = [q.question for q in out_of_corpus_questions([text], 40, seed=0)[0]]
    assert "Which insurance company insures the Lumen Ferry Company?" in questions
    assert not any(name in q for q in questions for name in ("Annual Assembly", "Gorlen Viaduct", "Lantern"))


def test_at_a_small_count_telling_facts_come_first_and_kinds_of_question_are_spread():
    codes = "\n\n".join(f"{name} Pier, code {code}, lies on the east bank." for name, code in
                        [("Arlen", "ARL"), ("Bossow", "BSW"), ("Corrin", "CRN"), ("Dellow", "DLW"), ("Ebbet", "EBT")])
    cars = "\n\n".join(f"MV {name} can carry {n} cars." for name, n in
                       [("Arla", 20), ("Brisk", 22), ("Cole", 24), ("Dunn", 26), ("Eske", 28)])
    text = (f"# Piers\n\nThe harbour master is Ottilie Brandvold.\n\n{codes}\n\n{cars}\n\n"
            "A full charge takes 22 minutes.\n")
    for seed in range(5):
        generated = generate_question_set([SourceDocument("piers.md", text)], count=4, out_of_corpus=0, seed=seed)
        keys = {keys_of(item)[0] for item in answerable(generated)}
        assert {"Ottilie Brandvold", "22 minutes"} <= keys, (seed, keys)  # a person and a measure first
        assert not any(key.isupper() for key in keys), (seed, keys)  # codes, listed by the dozen, come last
        assert sum(key.endswith("cars") for key in keys) <= 2, (seed, keys)  # one kind of question spread out


def test_a_question_worded_the_same_for_two_facts_is_dropped_as_ambiguous():
    text = ("# Summer\n\nThe ferry carries 24 cars.\n\n# Winter\n\nThe ferry carries 28 cars.\n\n"
            "The Tideglass card costs 5.00 drell.\n")
    generated = generate_question_set([SourceDocument("ferry.md", text)], count=20, out_of_corpus=0)
    questions = [item["question"] for item in answerable(generated)]
    assert questions == ["How much does the Tideglass card cost?"]  # no "How many cars does the ferry carry?" (24, 28?)
    assert generated.dropped["ambiguous: the same question has another answer in the document"] == 2


# --- Issue 29's coverage round: facts the rules did not word before, and the default count. ---

@pytest.mark.parametrize(("text", "key", "question"), [
    # Each end of a range of dates or times is a question of its own, asked "from" and "until".
    ("The Mirrimay Isle service runs only from 1 May to 30 September each year.", "1 May",
     "From what date does the Mirrimay Isle service run?"),
    ("The Mirrimay Isle service runs only from 1 May to 30 September each year.", "30 September",
     "Until what date does the Mirrimay Isle service run?"),
    # "and" between two verbs is not a pair of facts ("between 2 and 4" is).
    ("Liferafts are inspected and repacked every 12 months by Harl and Benning Survey, an independent firm.",
     "Harl and Benning Survey", "By whom are liferafts inspected and repacked every 12 months?"),
    # A long subject would be quoted: its prepositional phrases lead the question instead.
    ("A candidate for a Grade III ticket must have logged at least 400 hours before the examination.",
     "400 hours", "For a Grade III ticket, how many hours must a candidate have logged?"),
    # A past verb that is no participle ("took") ends the subject that "and raised" shares.
    ("The most recent fare revision took effect on 1 February 2024 and raised the average fare by 4.5 percent.",
     "4.5 percent", "By what percentage did the most recent fare revision raise the average fare?"),
    # The first, last or most of a kind is asked for by its rank.
    ("The newest Drover is MV Saint Elvary, launched in 2009.", "MV Saint Elvary", "What is the newest Drover?"),
])
def test_ranges_joined_verbs_long_subjects_and_ranks_are_worded(text, key, question):
    assert questions_of(f"# Fares and fleet\n\n{text}\n").get(key) == question


def test_a_rank_whose_name_goes_on_is_not_cut_short():
    from pipelines.evaluation.question_facts import Unit, fact_spans
    from pipelines.evaluation.question_wording import word_question

    for text in ("The longest route is Route R4.", "The fastest crossing was Thrumwick to Oddry in 1998.",
                 "The oldest member is Anna Berg and Carl Dorn is the youngest."):
        unit = Unit(text, "sentence")
        worded = [word_question(unit, span) for span in fact_spans(text) if span.kind == "name"]
        # "Route" of "Route R4", "Thrumwick" of a crossing to Oddry, one of two names: none is the whole answer.
        assert not any(isinstance(w, tuple) and w[0].startswith(("What is the", "What was the")) for w in worded), \
            (text, worded)


def test_by_default_every_fact_is_asked_once_up_to_the_cap_and_the_unanswerable_share_follows_the_set():
    documents = read_documents(DEV / "docs")[:3]  # three of the five: the whole dev corpus fills the cap
    default = generate_question_set(documents, seed=0)
    everything = generate_question_set(documents, count=500, seed=0)
    assert len(answerable(default)) == len(answerable(everything)) < DEFAULT_COUNT  # the cap does not bind here
    assert 0.10 <= 1 - len(answerable(default)) / len(default.items) <= 0.20  # 15% of the set made, not of the cap
    small = generate_question_set([FERRY], out_of_corpus=None)
    assert len(answerable(small)) == 2 and len(small.items) == 3  # two facts worded: one out-of-corpus, not 30
    capped = generate_question_set(documents, count=40, seed=0)
    assert len(capped.items) <= 40
    assert parse_question_args(["--docs", "d", "--out", "o.jsonl"]).count is None  # the command: the same default


def test_a_subject_is_not_split_at_a_participle_or_a_measure():
    worded = questions_of("# Fares\n\nA monthly pass loaded on a Tideglass card allows unlimited travel and costs "
                          "68.00 drell.\n\nA break of at least 30 minutes must be taken at Orlan Bridge after every "
                          "4 hours of driving.\n")
    # Not "On a Tideglass card, how much does a monthly pass loaded cost?" (the participle left dangling) nor "At
    # least 30 minutes, where must a break of be taken?" (the measure is no phrase to move). The participle goes
    # with the subject and its phrase leads: the phrase says which pass, and the question no longer quotes.
    assert worded.get("68.00 drell") == "On a Tideglass card, how much does a monthly pass cost?", worded
    assert not any(q.startswith("At least") or " loaded " in q for q in worded.values()), worded


# --- Issue 29's second coverage round (dev misses): sentence shapes the rules did not word before. ---

@pytest.mark.parametrize(("text", "key", "question"), [
    # A number after "into" is counted ("divided into 100 pennets"); "One drell" is a subject, not a bare number.
    ("One drell is divided into 100 pennets, and fares are rounded to ten pennets.", "100 pennets",
     "Into how many pennets is one drell divided?"),
    ("Each ticket book is split into 10 coupons.", "10 coupons", "Into how many coupons is each ticket book split?"),
    ("Two ferries carry 40 cars on the night run.", "40 cars", "How many cars do two ferries carry?"),
    # "at least once every 14 days" is asked "How often", without the vague "at least once".
    ("A man-overboard drill must be held on every vessel in service at least once every 14 days.", "14 days",
     "How often must a man-overboard drill be held on every vessel?"),
    # A mandate ("requires that X hold") is asked as the rule it states ("must X hold").
    ("The charter requires that the Winter Chest hold a balance of at least 18 percent of the turnover.",
     "18 percent", "What balance must the Winter Chest hold?"),
    ("The harbour code insists that each vessel carry 2 liferafts at all times.", "2 liferafts",
     "How many liferafts must each vessel carry?"),
    # An age threshold: "aged 67 or over" asks "From what age", "aged under 5" "Below what age".
    ("Passengers aged 67 or over pay half fare on all single tickets and passes.", "67",
     "From what age do passengers pay half fare?"),
    ("Children aged under 5 travel free on every ferry.", "5",
     "Below what age do children travel free on every ferry?"),
    # A role whose question would quote the sentence leads with the role's last phrase.
    ("The holder of the Bank Seat since 2022 has been Rosalind Achterwey, who runs a bakery.", "Rosalind Achterwey",
     "Since 2022, who has been the holder of the Bank Seat?"),
])
def test_counts_into_frequencies_mandates_ages_and_long_roles_are_worded(text, key, question):
    assert questions_of(f"# Fares and rules\n\n{text}\n").get(key) == question


def test_an_age_is_not_a_unit_and_shares_of_different_wholes_are_not_compared():
    from pipelines.evaluation.question_facts import fact_spans

    assert [(s.text, s.unit) for s in fact_spans("Children aged 5 travel free.") if s.kind == "number"] == [("5", "")]
    from pipelines.evaluation.question_generation import _comparisons, document_candidates

    candidates, _ = document_candidates(SourceDocument("rules.md", (
        "# Rules\n\nThe Annual Assembly is quorate when 40 percent of the members attend.\n\n"
        "The Winter Chest must hold 18 percent of the turnover.\n\nThe Orla ferry can carry 24 cars.\n\n"
        "The Merrow ferry can carry 30 cars.\n")))
    compared = [candidate.question for candidate in _comparisons(candidates)]
    assert compared == ["Comparing Orla and Merrow, what is the higher number of cars?"]  # not Assembly vs Chest
