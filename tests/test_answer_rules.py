"""The stop rule and the loop guard, on text and token ids checked by hand."""

import pytest

from pipelines.generation.answer_rules import AnswerRules

SENTENCE = AnswerRules(max_sentences=1)


@pytest.mark.parametrize(("text", "kept"), [
    ("It weighs 380 grams. It is grey", "It weighs 380 grams."),
    ("Firmware 3.2 was released", None),                      # a decimal point is no end
    ("Firmware 3.2. Then", "Firmware 3.2."),
    ("See e.g. the datasheet. More", "See e.g. the datasheet."),  # an abbreviation is no end
    ("Pim\nThe heron", "Pim"),                                # a line break after text ends it
    ("\n  Pim is the mascot! Yes", "Pim is the mascot!"),     # leading white space is not an answer
    ("Is it? Yes", "Is it?"),
    ("Still going", None),
])
def test_answer_end(text, kept):
    end = SENTENCE.answer_end(text)
    assert (None if end is None else text[:end].strip()) == kept


def test_two_sentences():
    text = "1. The fee is 7 euros. It rose in 2024. Then more"
    assert text[:AnswerRules(max_sentences=2).answer_end(text)] == "1. The fee is 7 euros. It rose in 2024."


def test_no_stop_rule_never_ends():
    assert AnswerRules().answer_end("One. Two. Three.\n") is None


def test_banned_tokens_block_only_repeats_of_the_answer():
    rules = AnswerRules(no_repeat_ngram=3)
    assert rules.banned_tokens([5, 6, 7, 5, 6]) == {7}            # "5 6 7" would come again
    assert rules.banned_tokens([5, 6, 7, 8, 9]) == set()
    assert rules.banned_tokens([1, 1]) == set()                   # shorter than n: nothing to repeat
    assert AnswerRules(no_repeat_ngram=2).banned_tokens([4, 9, 4]) == {9}
    assert AnswerRules(no_repeat_ngram=1).banned_tokens([4, 9]) == {4, 9}
    assert AnswerRules().banned_tokens([5, 6, 5, 6]) == set()     # off
