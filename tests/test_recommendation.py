"""The recommendation's exact wording for a clear case, a close case and a thin-evidence case, from hand-made
accuracies and slices."""

from pipelines.common.correctness import Interval, proportion_interval
from pipelines.evaluation.recommendation import (
    CLEAR,
    CLOSE,
    THIN,
    answers_to_separate,
    recommend,
    recommend_case,
    recommendation,
)
from pipelines.evaluation.slices import BY_TYPE, AnswerRow, Measure, overall, slice_by

CLEAR_VERDICT = ("RAG is the better choice for these documents: it answered 75% [60%, 86%] (n=40) of the questions "
                 "right, against 30% [18%, 45%] (n=40) for Fine-tuned; the 95% intervals do not overlap.")


def answers(spec: list[tuple[str, int, int, int]]) -> list[AnswerRow]:
    """(question type, questions, RAG right, fine-tuned right) -> one answer row per column and question."""
    rows = []
    for kind, count, rag_right, finetuned_right in spec:
        for i in range(count):
            rows.append(AnswerRow(f"{kind}{i}", f"{kind}{i}", "rag", type=kind, correct=i < rag_right))
            rows.append(AnswerRow(f"{kind}{i}", f"{kind}{i}", "finetuned", type=kind, correct=i < finetuned_right))
    return rows


def test_clear_case():
    result = recommend_case({"rag": proportion_interval(30, 40), "finetuned": proportion_interval(12, 40)})
    assert (result.case, result.best, result.text) == (CLEAR, "rag", CLEAR_VERDICT)


def test_clear_case_names_where_the_runner_up_still_wins_and_the_costs():
    rows = answers([("number", 30, 28, 4), ("lookup", 10, 2, 8)])  # 30/40 against 12/40 overall
    result = recommendation(overall(rows, [], rounds=5), slice_by(rows, [], BY_TYPE, rounds=5),
                            latency_s={"rag": 1.94, "finetuned": 0.82}, training_s=2124)
    assert result.case == CLEAR
    assert result.text == (CLEAR_VERDICT + " Fine-tuned still does better on lookup questions (80% against 20%)."
                           " Answers took 1.9 s (RAG) and 0.8 s (Fine-tuned) on average; the adapter took 35 min"
                           " to train.")


def test_clear_case_with_abstention():
    abstention = {"rag": Measure(proportion_interval(9, 10), 10), "finetuned": Measure(proportion_interval(2, 10), 10)}
    assert recommend({"rag": proportion_interval(30, 40), "finetuned": proportion_interval(12, 40)},
                     abstention=abstention) == (
        CLEAR_VERDICT + " On questions the documents cannot answer, the share that said so: RAG 90% (n=10) and "
        "Fine-tuned 20% (n=10); the rest made something up.")
    too_few = {"rag": Measure(None, 3), "finetuned": Measure(None, 3)}
    assert recommend({"rag": proportion_interval(30, 40), "finetuned": proportion_interval(12, 40)},
                     abstention=too_few) == (
        CLEAR_VERDICT + " Too few questions the documents cannot answer to compare made-up answers (n=3).")


def test_close_case_says_where_each_wins():
    rows = answers([("number", 20, 16, 8), ("lookup", 20, 8, 14)])  # 24/40 against 22/40 overall
    result = recommendation(overall(rows, [], rounds=5), slice_by(rows, [], BY_TYPE, rounds=5))
    assert (result.case, result.best) == (CLOSE, None)
    assert result.text == (
        "RAG and Fine-tuned are close on these documents: 60% [45%, 74%] (n=40) against 55% [40%, 69%] (n=40) "
        "right answers; the 95% intervals overlap, so neither is clearly better. RAG does better on number "
        "questions (80% against 40%); Fine-tuned does better on lookup questions (70% against 40%). About 1,500 "
        "answers per approach would tell a gap of 5 points apart.")


def test_close_case_with_no_telling_slice_and_a_negligible_gap():
    rows = answers([("number", 20, 11, 10), ("lookup", 20, 10, 10)])  # 21/40 against 20/40
    result = recommendation(overall(rows, [], rounds=5), slice_by(rows, [], BY_TYPE, rounds=5))
    assert result.text == (
        "RAG and Fine-tuned are close on these documents: 52% [37%, 67%] (n=40) against 50% [35%, 65%] (n=40) "
        "right answers; the 95% intervals overlap, so neither is clearly better. No slice puts either 15 points "
        "ahead. The gap (2 points) is too small to matter in practice.")
    level = recommend({"rag": proportion_interval(20, 40), "finetuned": proportion_interval(20, 40)})
    assert level.endswith("neither is clearly better. The gap (0 points) is too small to matter in practice.")


def test_thin_evidence_case():
    rows = answers([("number", 4, 3, 1), ("lookup", 3, 1, 2)])
    result = recommendation(overall(rows, [], rounds=5), slice_by(rows, [], BY_TYPE, rounds=5))
    assert (result.case, result.best) == (THIN, None)
    assert result.text == (
        "Too little evidence to recommend an approach: RAG and Fine-tuned have only 7 scored answers each, and a "
        "verdict needs at least 20 per approach. Run at least 13 more questions with every column, then build the "
        "report again. So far, without a verdict: RAG: 57% [25%, 84%] (n=7); Fine-tuned: 43% [16%, 75%] (n=7).")


def test_thin_evidence_even_when_the_intervals_sit_apart():
    text = recommend({"rag": proportion_interval(10, 10), "finetuned": proportion_interval(0, 3)})
    assert text == (
        "Too little evidence to recommend an approach: Fine-tuned has only 3 scored answers, and a verdict needs "
        "at least 20 per approach. Run at least 17 more questions with every column, then build the report again. "
        "So far, without a verdict: RAG: 100% [72%, 100%] (n=10); Fine-tuned: too few (n=3).")


def test_nothing_to_compare_and_the_base_model_is_never_recommended():
    assert recommend({"rag": proportion_interval(30, 40)}) == (
        "Nothing to compare yet: only RAG has scored answers. Run the question set with every column, then build "
        "the report again.")
    assert recommend({}).startswith("Nothing to compare yet: no approach has scored answers.")
    with_floor = recommend_case({"base": proportion_interval(39, 40), "rag": proportion_interval(30, 40),
                                 "finetuned": proportion_interval(12, 40)})
    assert (with_floor.best, with_floor.text) == ("rag", CLEAR_VERDICT)


def test_a_third_approach_is_listed():
    text = recommend({"rag": proportion_interval(30, 40), "finetuned": proportion_interval(12, 40),
                      "rag_finetuned": proportion_interval(16, 40)})
    assert text == ("RAG is the better choice for these documents: it answered 75% [60%, 86%] (n=40) of the "
                    "questions right, against 40% [26%, 55%] (n=40) for RAG + fine-tuned, and 30% [18%, 45%] (n=40) "
                    "for Fine-tuned; the 95% intervals do not overlap.")


def test_answers_to_separate():
    assert answers_to_separate(proportion_interval(26, 40), proportion_interval(22, 40)) == 370
    assert answers_to_separate(Interval(0.5, 0.4, 0.6, 40), Interval(0.5, 0.4, 0.6, 40)) is None
    assert answers_to_separate(Interval(1.0, 0.9, 1.0, 40), Interval(0.0, 0.0, 0.1, 40)) == 10  # kept within 5-95%
