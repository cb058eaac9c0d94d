"""Key-fact presence and token F1 on cases checked by hand."""

import pytest

from pipelines.common.correctness import (
    Interval,
    correctness_scores,
    key_present,
    mean_interval,
    normalise_answer,
    proportion_interval,
    token_f1,
)


@pytest.mark.parametrize(("answer", "keys", "expected"), [
    ("A Tessel T4 weighs 380 grams.", "380 grams", True),
    ("It weighs 380 g.", ["380 grams", "380 g"], True),           # a list of acceptable keys
    ("The mascot is PIM, a heron!", "Pim", True),                   # case and punctuation
    ("The mascot is a heron called Pimlico.", "Pim", False),        # whole words only
    ("Lumenhollow employed 140 people.", "14", False),              # 14 is not in 140
    ("The price is 1,240 euros.", "1240 euros", True),              # thousands separator
    ("The price is 1240 euros.", "1,240 euros", True),
    ("It was founded on 3 May 2019.", "3 May 2019", True),
    ("It was founded in May.", "3 May 2019", False),                # part of the key is not the key
    ("The answer is unknown.", [], False),                          # no key: never present
    ("Version 3.2 fixed it.", "3.2", True),
])
def test_key_present(answer, keys, expected):
    assert key_present(answer, keys) is expected


def test_normalise_answer_drops_articles_and_punctuation():
    assert normalise_answer("The  Heron, called “Pim”!") == "heron called pim"


def test_token_f1_by_hand():
    assert token_f1("Pim the heron", ["Pim"]) == pytest.approx(2 * 0.5 * 1.0 / 1.5)   # P=1/2, R=1
    assert token_f1("380 grams", ["380 grams"]) == 1.0
    assert token_f1("nothing here", ["380 grams"]) == 0.0
    assert token_f1("380 g", ["380 grams", "380 g"]) == 1.0                      # best of the keys


def test_correctness_scores_without_key_fall_back_to_reference():
    scores = correctness_scores("It weighs 380 grams", [], "A Tessel T4 weighs 380 grams.")
    assert scores["key_fact"] is None
    assert scores["token_f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)   # 3 common: P 3/4, R 3/5 ("a" dropped)


def test_proportion_interval_is_wilson():
    interval = proportion_interval(12, 20)
    assert interval.mean == 0.6 and interval.n == 20
    assert interval.low == pytest.approx(0.3866, abs=1e-3) and interval.high == pytest.approx(0.7812, abs=1e-3)
    assert proportion_interval(0, 0) == Interval(0.0, 0.0, 1.0, 0)
    assert str(proportion_interval(1, 2)).startswith("50% [")


def test_mean_interval_narrows_with_more_values():
    few, many = mean_interval([0.0, 1.0] * 2), mean_interval([0.0, 1.0] * 50)
    assert few.mean == many.mean == 0.5
    assert many.high - many.low < few.high - few.low
    assert few.low >= 0.0 and few.high <= 1.0
