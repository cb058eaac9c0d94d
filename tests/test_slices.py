"""Slices on a small fixed set of answers, votes and scores: the per-slice numbers, the "too few" guard, and
the rows built from stored exchanges (hand-made dicts, and one real SQLite store)."""

import pytest

from pipelines.common.columns import BOTH_BAD, TIE
from pipelines.common.correctness import proportion_interval
from pipelines.common.events import PipelineResult, RetrievedChunk
from pipelines.common.questions import QuestionItem
from pipelines.evaluation.slices import (
    ALL,
    BY_ADAPTER,
    BY_DOCUMENT,
    BY_RETRIEVAL,
    BY_TYPE,
    DIMENSIONS,
    HIT,
    MISS,
    NO_ADAPTER,
    NO_RETRIEVAL,
    AnswerRow,
    Measure,
    VoteRow,
    all_slices,
    describe,
    exchange_hit,
    overall,
    rows_from_exchanges,
    rows_from_store,
    slice_by,
    slice_table,
    slice_values,
)


def answers_and_votes() -> tuple[list[AnswerRow], list[VoteRow]]:
    """Six number questions on a.md (retrieval hit) where RAG is right 5 times and the fine-tuned column twice;
    two lookup questions on b.md (retrieval missed) where only the fine-tuned column is right; one out-of-corpus
    question. RAG wins the votes on the number questions; ties on the lookup ones."""
    answers, votes = [], []
    for i in range(6):
        keys = {"source": "a.md", "type": "number", "hit": True, "adapter": "ft@1"}
        answers.append(AnswerRow(f"e{i}", f"n{i}", "rag", correct=i != 0, f1=0.8, abstained=False,
                                 metrics={"rouge_score": 0.5}, **keys))
        answers.append(AnswerRow(f"e{i}", f"n{i}", "finetuned", correct=i < 2, f1=0.4, abstained=False,
                                 metrics={"rouge_score": 0.3}, **keys))
        votes.append(VoteRow(f"e{i}", f"n{i}", "rag" if i else "finetuned", ("rag", "finetuned"), **keys))
    for i in range(2):
        keys = {"source": "b.md", "type": "lookup", "hit": False, "adapter": "ft@1"}
        answers.append(AnswerRow(f"l{i}", f"l{i}", "rag", correct=False, f1=0.0, abstained=True, **keys))
        answers.append(AnswerRow(f"l{i}", f"l{i}", "finetuned", correct=True, f1=1.0, abstained=False, **keys))
        votes.append(VoteRow(f"l{i}", f"l{i}", TIE, ("rag", "finetuned"), **keys))
    keys = {"source": "", "type": "out-of-corpus", "hit": None, "adapter": ""}
    answers.append(AnswerRow("o", "o", "rag", correct=True, abstained=True, **keys))
    answers.append(AnswerRow("o", "o", "finetuned", correct=False, abstained=False, **keys))
    return answers, votes


def test_accuracy_per_slice_with_intervals_and_the_too_few_guard():
    answers, votes = answers_and_votes()
    by_type = {piece.value: piece for piece in slice_by(answers, votes, BY_TYPE, rounds=20)}
    assert list(by_type) == ["lookup", "number", "out-of-corpus"]
    number = by_type["number"]
    assert number.questions == 6
    assert number.pipelines["rag"].accuracy.interval == proportion_interval(5, 6)
    assert number.pipelines["finetuned"].accuracy.interval == proportion_interval(2, 6)
    assert str(number.pipelines["rag"].accuracy) == str(proportion_interval(5, 6)) == "83% [44%, 97%] (n=6)"
    assert str(number.pipelines["rag"].f1) == "0.80 [0.80, 0.80] (n=6)"
    assert number.pipelines["rag"].metrics["rouge_score"].interval.mean == pytest.approx(0.5)
    lookup = by_type["lookup"]  # two answers per column: below the minimum of 5
    assert str(lookup.pipelines["finetuned"].accuracy) == "too few (n=2)"
    assert lookup.pipelines["finetuned"].accuracy.too_few
    assert str(lookup.votes) == "too few (n=2)"
    assert lookup.pipelines["rag"].metrics == {}  # no ragas scores there: nothing, not a zero


def test_a_lower_minimum_shows_small_slices():
    answers, votes = answers_and_votes()
    lookup = {p.value: p for p in slice_by(answers, votes, BY_TYPE, minimum=2, rounds=20)}["lookup"]
    assert str(lookup.pipelines["finetuned"].accuracy) == str(proportion_interval(2, 2))
    assert lookup.pipelines["rag"].over_abstained.interval.mean == 1.0  # abstained on answerable questions


def test_abstention_and_made_up_answers_on_out_of_corpus_questions():
    answers, votes = answers_and_votes()
    everything = overall(answers, votes, minimum=1, rounds=20)
    assert everything.pipelines["rag"].abstained.interval == proportion_interval(1, 1)
    assert everything.pipelines["finetuned"].abstained.interval == proportion_interval(0, 1)  # made up
    assert everything.pipelines["rag"].over_abstained.interval == proportion_interval(2, 8)
    # accuracy counts the out-of-corpus answer: right when it abstained
    assert everything.pipelines["rag"].accuracy.interval == proportion_interval(6, 9)
    assert everything.pipelines["finetuned"].accuracy.interval == proportion_interval(4, 9)
    assert str(overall(answers, votes).pipelines["rag"].abstained) == "too few (n=1)"


def test_votes_per_slice_bradley_terry_and_win_rates():
    answers, votes = answers_and_votes()
    number = {p.value: p for p in slice_by(answers, votes, BY_TYPE, rounds=50)}["number"]
    assert number.votes.n == 6
    rag, finetuned = number.votes.ratings  # strongest first
    assert (rag.pipeline, finetuned.pipeline) == ("rag", "finetuned")
    assert rag.rating > 1000 > finetuned.rating
    assert rag.low <= rag.rating <= rag.high
    assert rag.win_rate == proportion_interval(5, 6)
    assert str(number.votes).startswith("RAG ")
    everything = overall(answers, votes, rounds=20)
    assert everything.votes.ratings[0].win_rate == proportion_interval(5 + 0.5 * 2, 8)  # ties count half


def test_slices_by_retrieval_document_and_adapter():
    answers, votes = answers_and_votes()
    retrieval = {p.value: p for p in slice_by(answers, votes, BY_RETRIEVAL, minimum=1, rounds=20)}
    assert set(retrieval) == {HIT, MISS, NO_RETRIEVAL}
    assert retrieval[MISS].pipelines["finetuned"].accuracy.interval.mean == 1.0  # fine-tuning where retrieval missed
    assert retrieval[MISS].pipelines["rag"].accuracy.interval.mean == 0.0
    documents = {p.value: p for p in slice_by(answers, votes, BY_DOCUMENT, minimum=1, rounds=20)}
    assert set(documents) == {"a.md", "b.md", "no source"}
    adapters = {p.value: p for p in slice_by(answers, votes, BY_ADAPTER, minimum=1, rounds=20)}
    assert set(adapters) == {"ft@1", NO_ADAPTER}
    assert adapters["ft@1"].questions == 8
    assert set(all_slices(answers, votes, rounds=5)) == set(DIMENSIONS)


def test_a_question_on_two_documents_is_in_both_slices():
    row = AnswerRow("e", "q", "rag", source="a.md|b.md", correct=True)
    assert slice_values(row, BY_DOCUMENT) == ("a.md", "b.md")
    assert [p.value for p in slice_by([row], [], BY_DOCUMENT, minimum=1)] == ["a.md", "b.md"]
    assert slice_values(row, ALL) == (ALL,)
    with pytest.raises(ValueError, match="Unknown slice dimension 'colour'"):
        slice_values(row, "colour")


def test_slices_in_words_and_as_a_table():
    assert describe(BY_TYPE, "number") == "number questions"
    assert describe(BY_TYPE, "out-of-corpus") == "questions the documents cannot answer"
    assert describe(BY_RETRIEVAL, MISS) == "questions where retrieval missed the passage"
    assert describe(BY_DOCUMENT, "a.md") == "questions on a.md"
    assert describe(BY_ADAPTER, NO_ADAPTER) == "answers without an adapter"
    answers, votes = answers_and_votes()
    table = slice_table(slice_by(answers, votes, BY_TYPE, rounds=5))
    lookup_rag = next(r for r in table if r["slice"] == "lookup" and r["pipeline"] == "RAG")
    assert lookup_rag["accuracy"] == "too few (n=2)" and lookup_rag["votes"] == "too few (n=2)"
    assert str(Measure(None, 0)) == "too few (n=0)"


ITEMS = [
    QuestionItem("How much does a Tessel T4 weigh?", "It weighs 380 grams.", ("380 grams", "380 g"),
                 "tessel_t4_datasheet.md", id="q05"),
    QuestionItem("Who leads support?", "Agnieszka Domaradzka leads it.", ("Agnieszka Domaradzka",),
                 "support_policy.txt", id="q15", type="lookup"),
    QuestionItem("Who is the CEO's dentist?", "The documents do not say.", (), "", id="x1", type="out-of-corpus"),
]


def answer(text: str, sources: tuple[str, ...] = (), adapter: str | None = None, error: str | None = None) -> dict:
    return {"answer": text, "contexts": [{"source": s, "text": "..."} for s in sources], "adapter_id": adapter,
            "error": error}


def test_rows_from_stored_exchanges():
    exchanges = [
        {"id": "e1", "question": "How much does a Tessel T4 weigh?", "answers": {
            "rag": answer("A Tessel T4 weighs 380 grams.", ("tessel_t4_datasheet.md",)),
            "finetuned": answer("It weighs 400 grams.", adapter="lumenhollow-qlora@cddbd89b")}},
        {"id": "e2", "question": "who leads SUPPORT", "answers": {  # matched as the reference set matches
            "rag": answer("The documents do not say.", ("travel_policy.txt",)),
            "finetuned": answer("", adapter="lumenhollow-qlora@cddbd89b", error="timed out")}},
        {"id": "e3", "question": "Who is the CEO's dentist?", "answers": {
            "rag": answer("The context does not mention a dentist.", ("company_overview.md",)),
            "finetuned": answer("The dentist is Dr Vos.", adapter="lumenhollow-qlora@cddbd89b")}},
        {"id": "e4", "question": "Not in the set?", "answers": {"rag": answer("x")}},
    ]
    scores = [{"exchange_id": "e1", "pipeline": "rag", "metric": "rouge_score", "value": 0.7, "status": "ok"},
              {"exchange_id": "e1", "pipeline": "rag", "metric": "key_fact", "value": 1.0, "status": "ok"},
              {"exchange_id": "e1", "pipeline": "finetuned", "metric": "rouge_score", "value": None, "status": "n/a"}]
    answers, votes = rows_from_exchanges(exchanges, ITEMS, scores=scores, votes={"e1": "rag", "e3": BOTH_BAD})
    got = {(r.exchange_id, r.pipeline): r for r in answers}
    assert set(got) == {("e1", "rag"), ("e1", "finetuned"), ("e2", "rag"), ("e3", "rag"), ("e3", "finetuned")}
    weigh = got[("e1", "rag")]
    assert (weigh.question_id, weigh.type, weigh.source, weigh.hit, weigh.adapter) == (
        "q05", "number", "tessel_t4_datasheet.md", True, "lumenhollow-qlora@cddbd89b")  # typed by rules
    assert (weigh.correct, weigh.f1 > 0, weigh.abstained, dict(weigh.metrics)) == (True, True, False,
                                                                                    {"rouge_score": 0.7})
    assert (got[("e1", "finetuned")].correct, dict(got[("e1", "finetuned")].metrics)) == (False, {})
    support = got[("e2", "rag")]
    assert (support.type, support.hit, support.correct, support.abstained, support.adapter) == (
        "lookup", False, False, True, "lumenhollow-qlora@cddbd89b")  # the failed answer still names the adapter
    dentist_rag, dentist_ft = got[("e3", "rag")], got[("e3", "finetuned")]
    assert (dentist_rag.type, dentist_rag.hit, dentist_rag.correct, dentist_rag.f1) == ("out-of-corpus", None,
                                                                                         True, None)
    assert (dentist_ft.correct, dentist_ft.abstained) == (False, False)  # made up
    assert [(v.exchange_id, v.choice, v.pipelines, v.type) for v in votes] == [
        ("e1", "rag", ("rag", "finetuned"), "number"), ("e3", BOTH_BAD, ("rag", "finetuned"), "out-of-corpus")]


def test_updated_sources_and_custom_types_reach_the_rows():
    exchanges = [{"id": "e1", "question": "How much does a Tessel T4 weigh?",
                  "answers": {"rag": answer("380 g", ("tessel_t4_datasheet.md",))}}]
    [row], _ = rows_from_exchanges(exchanges, ITEMS, updated_sources={"tessel_t4_datasheet.md"})
    assert row.type == "updated"
    [row], _ = rows_from_exchanges(exchanges, ITEMS, question_type=lambda item: "multi-fact")
    assert row.type == "multi-fact"


def test_exchange_hit_needs_every_source_in_a_retrieving_column():
    both = {"rag": answer("x", ("a.md", "b.md")), "finetuned": answer("y")}
    assert exchange_hit(both, ["a.md", "b.md"]) is True
    assert exchange_hit({"rag": answer("x", ("a.md",))}, ["a.md", "b.md"]) is False
    assert exchange_hit({"rag_finetuned": answer("x", ("b.md",))}, ["b.md"]) is True
    assert exchange_hit({"finetuned": answer("y")}, ["a.md"]) is None  # nothing retrieved anything
    assert exchange_hit(both, []) is None  # the question names no source


def test_rows_from_a_real_store(tmp_path):
    from pipelines.feedback.store import FeedbackStore

    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")
    chunk = RetrievedChunk("A Tessel T4 weighs 380 grams.", "tessel_t4_datasheet.md", 0, 0.9, 1)
    weigh = store.record_exchange("s", "How much does a Tessel T4 weigh?", [
        PipelineResult("rag", "It weighs 380 grams.", [chunk]),
        PipelineResult("finetuned", "It weighs 200 grams.", adapter_id="qlora@cddbd89b")])
    store.add_scores(weigh, [{"pipeline": "rag", "metric": "rouge_score", "value": 0.6, "status": "ok"}], "ragas")
    dentist = store.record_exchange("s", "Who is the CEO's dentist?", [
        PipelineResult("rag", "I don't know."), PipelineResult("finetuned", "Dr Vos.", adapter_id="qlora@cddbd89b")])
    store.add_vote(dentist, "finetuned", session_id="s")
    store.add_vote(dentist, "rag", session_id="s")  # a changed vote: the latest counts
    store.record_exchange("s", "Who leads support?", [PipelineResult("rag", "Agnieszka Domaradzka.")])  # neither
    answers, votes = rows_from_store(store, ITEMS)
    assert [(r.question_id, r.pipeline, r.correct) for r in answers] == [
        ("q05", "rag", True), ("q05", "finetuned", False), ("x1", "rag", True), ("x1", "finetuned", False)]
    assert dict(answers[0].metrics) == {"rouge_score": 0.6} and answers[0].hit is True
    assert [(v.question_id, v.choice) for v in votes] == [("x1", "rag")]
    only, _ = rows_from_store(store, ITEMS, exchange_ids=[weigh])
    assert {r.exchange_id for r in only} == {weigh}
    store.close()


def test_the_split_slice_keeps_questions_the_adapter_may_have_trained_on_apart():
    """The sample set's train split is in the shipped adapter's pairs: its right answers are not a fair test. A
    question without a split counts as train (the training command trains on it), an out-of-corpus one never."""
    from pipelines.common.questions import QuestionItem
    from pipelines.evaluation.slices import BY_SPLIT, NOT_TRAINED, describe, rows_from_exchanges

    items = [QuestionItem("How heavy is the T4?", keys=("380 grams",), split="train", id="q1"),
             QuestionItem("Who leads support?", keys=("Bram",), split="test", id="q2"),
             QuestionItem("Where is the office?", keys=("Porto",), id="q3"),
             QuestionItem("Who is the CFO?", type="out-of-corpus", split="train", id="q4")]
    exchanges = [{"id": f"e{n}", "question": item.question, "created_at": "", "answers": {
        "finetuned": {"answer": "It is so.", "adapter_id": "ft@1"}}} for n, item in enumerate(items)]
    answers, _votes = rows_from_exchanges(exchanges, items)
    pieces = {p.value: p for p in slice_by(answers, [], BY_SPLIT, minimum=1)}
    assert set(pieces) == {"train", "test", NOT_TRAINED}
    assert sorted(r.question_id for r in answers if slice_values(r, BY_SPLIT) == ("train",)) == ["q1", "q3"]
    assert "may have trained on" in describe(BY_SPLIT, "train") and "held out" in describe(BY_SPLIT, "test")
