"""Rater agreement on hand-checkable data: perfect agreement, Krippendorff's textbook example, a careless rater,
gold accuracy, the "agreed only" filter and bad input."""

import random

import pytest

from pipelines.feedback.rater_agreement import agreed_items, rater_agreement

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal data with missing values:
# 4 observers x 12 units, alpha = 0.743 (None = no value given).
TEXTBOOK = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def _votes(table: dict[str, list]) -> list[dict]:
    return [{"exchange_id": f"u{unit}", "rater": rater, "choice": str(value)}
            for rater, values in table.items() for unit, value in enumerate(values, 1) if value is not None]


def test_perfect_agreement_is_one_with_a_tight_interval():
    choices = ["rag", "finetuned", "tie", "rag", "both_bad", "finetuned"]
    votes = [{"exchange_id": f"e{i}", "rater": rater, "choice": choice}
             for i, choice in enumerate(choices) for rater in ("ann", "bob", "cy")]
    report = rater_agreement(votes, rounds=200)
    assert report.items == 6
    assert report.pairwise == 1.0
    assert report.alpha == pytest.approx(1.0)
    assert report.alpha_low == pytest.approx(1.0) and report.alpha_high == pytest.approx(1.0)
    assert [(r.rater, r.votes, r.with_majority, r.majority_n) for r in report.raters] == [
        ("ann", 6, 1.0, 6), ("bob", 6, 1.0, 6), ("cy", 6, 1.0, 6)]


def test_krippendorffs_textbook_example_gives_0_743():
    report = rater_agreement(_votes(TEXTBOOK), rounds=300, seed=1)
    assert report.items == 11  # unit 12 has one value: not pairable
    assert round(report.alpha, 3) == 0.743
    assert report.alpha_low < report.alpha < report.alpha_high <= 1.0
    # pairwise by hand: units 1, 10 (3 raters) 3 pairs each, unit 11 one pair, the other 8 units 6 pairs each:
    # 55 pairs; all agree except in unit 2 (3 of 6 agree), unit 6 (0 of 6) and unit 8 (3 of 6): 43 agree
    assert report.pairwise == pytest.approx(43 / 55)


def test_the_interval_is_repeatable_with_a_seed_and_narrows_with_more_items():
    few = rater_agreement(_votes(TEXTBOOK), rounds=200, seed=3)
    assert few == rater_agreement(_votes(TEXTBOOK), rounds=200, seed=3)
    many = rater_agreement(_votes({rater: values * 8 for rater, values in TEXTBOOK.items()}), rounds=200, seed=3)
    assert many.alpha_high - many.alpha_low < few.alpha_high - few.alpha_low


def test_a_careless_rater_has_the_lowest_agreement_with_the_majority():
    rng = random.Random(7)
    choices = ["rag", "finetuned", "tie", "both_bad"]
    votes = []
    for item in range(60):
        truth = rng.choice(["rag", "finetuned"])
        for rater in ("ann", "bob", "cy", "dee"):
            votes.append({"exchange_id": f"e{item}", "rater": rater,
                          "choice": truth if rng.random() < 0.9 else rng.choice(choices)})
        votes.append({"exchange_id": f"e{item}", "rater": "careless", "choice": rng.choice(choices)})
    report = rater_agreement(votes, rounds=100)
    scores = {r.rater: r.with_majority for r in report.raters}
    assert min(scores, key=scores.get) == "careless"
    assert scores["careless"] < 0.5 < min(v for k, v in scores.items() if k != "careless")
    assert 0 < report.alpha < 1


def test_gold_accuracy_per_rater_from_the_argument_or_the_votes():
    votes = [
        {"exchange_id": "g1", "rater": "ann", "choice": "rag", "gold": "rag"},
        {"exchange_id": "g1", "rater": "bob", "choice": "finetuned", "gold": "rag"},
        {"exchange_id": "g2", "rater": "ann", "choice": "tie", "gold": "tie"},
        {"exchange_id": "g2", "rater": "bob", "choice": "tie", "gold": "tie"},
        {"exchange_id": "x", "rater": "ann", "choice": "rag", "gold": None},
    ]
    by_rater = {r.rater: r for r in rater_agreement(votes, rounds=10).raters}
    assert (by_rater["ann"].gold_accuracy, by_rater["ann"].gold_n) == (1.0, 2)
    assert (by_rater["bob"].gold_accuracy, by_rater["bob"].gold_n) == (0.5, 2)
    given = {r.rater: r for r in rater_agreement(votes, gold={"g1": "finetuned"}, rounds=10).raters}
    assert (given["ann"].gold_accuracy, given["ann"].gold_n) == (0.0, 1)
    assert (given["bob"].gold_accuracy, given["bob"].gold_n) == (1.0, 1)


def test_fewer_than_two_votes_per_item_measures_nothing_without_an_error():
    votes = [{"exchange_id": "e1", "rater": "ann", "choice": "rag"},
             {"exchange_id": "e2", "rater": "bob", "choice": "finetuned"}]
    report = rater_agreement(votes)
    assert (report.items, report.pairwise, report.alpha, report.alpha_low, report.alpha_high) == (
        0, None, None, None, None)
    assert [(r.rater, r.votes, r.with_majority) for r in report.raters] == [("ann", 1, None), ("bob", 1, None)]
    assert rater_agreement([]).items == 0


def test_a_single_choice_everywhere_leaves_alpha_undefined_but_pairs_agree():
    votes = [{"exchange_id": f"e{i}", "rater": r, "choice": "rag"} for i in range(3) for r in ("ann", "bob")]
    report = rater_agreement(votes)
    assert (report.items, report.pairwise, report.alpha) == (3, 1.0, None)


def test_majority_of_the_others_needs_more_than_half_of_them():
    votes = [{"exchange_id": "e1", "rater": "ann", "choice": "rag"},
             {"exchange_id": "e1", "rater": "bob", "choice": "rag"},
             {"exchange_id": "e1", "rater": "cy", "choice": "finetuned"}]
    by_rater = {r.rater: r for r in rater_agreement(votes, rounds=10).raters}
    # ann's others are bob (rag) and cy (finetuned): no majority; cy's others both said rag
    assert (by_rater["ann"].majority_n, by_rater["ann"].with_majority) == (0, None)
    assert (by_rater["cy"].majority_n, by_rater["cy"].with_majority) == (1, 0.0)


def test_agreed_items_keeps_only_unanimous_items_with_enough_votes():
    votes = [{"exchange_id": "both", "rater": "ann", "choice": "rag"},
             {"exchange_id": "both", "rater": "bob", "choice": "rag"},
             {"exchange_id": "split", "rater": "ann", "choice": "rag"},
             {"exchange_id": "split", "rater": "bob", "choice": "finetuned"},
             {"exchange_id": "alone", "rater": "ann", "choice": "finetuned"},
             {"exchange_id": "tied", "rater": "ann", "choice": "tie"},
             {"exchange_id": "tied", "rater": "bob", "choice": "tie"}]
    assert agreed_items(votes) == {"both": "rag", "tied": "tie"}
    assert agreed_items(votes, min_votes=1) == {"both": "rag", "tied": "tie", "alone": "finetuned"}
    assert agreed_items(votes, min_votes=3) == {}


def test_bad_votes_get_a_clear_error():
    with pytest.raises(ValueError, match="voted twice"):
        rater_agreement([{"exchange_id": "e", "rater": "ann", "choice": "rag"},
                         {"exchange_id": "e", "rater": "ann", "choice": "tie"}])
    with pytest.raises(ValueError, match="Vote 1 has no rater"):
        agreed_items([{"exchange_id": "e", "choice": "rag"}])
    with pytest.raises(ValueError, match="min_votes"):
        agreed_items([], min_votes=0)
