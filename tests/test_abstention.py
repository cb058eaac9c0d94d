"""Abstention detection on hand-written answers: the phrasings that decline, the ones that only look like it,
and the tricky mixes (declining, then answering anyway)."""

import pytest

from pipelines.common.abstention import (
    ABSTAINED,
    ABSTAINS,
    FILLER,
    MADE_UP,
    NO_ANSWER,
    STATES,
    abstains,
    answer_correct,
    clauses,
    out_of_corpus_outcome,
)


@pytest.mark.parametrize("answer", [
    "The documents do not say.",
    "That is not in the documents.",
    "The context does not mention the CEO's salary.",
    "The provided passages don't appear to mention a CEO.",
    "I don't know.",
    "I do not know who that is.",
    "I’m not sure.",  # a curly apostrophe
    "There is no information about the CEO in the documents.",
    "No relevant information was found.",
    "I cannot find that in the context.",
    "Sorry, I couldn't find it.",
    "I can't find any mention of it.",
    "The salary is not specified.",
    "Not specified.",
    "It is not mentioned in the text.",
    "The answer cannot be determined from the documents.",
    "Unfortunately, there's no mention of a CEO in the text.",
    "I do not have that information.",
    "Based on the documents, I cannot answer that.",
    "Nothing in the documents covers that.",
    "That is outside the scope of the provided documents.",
    "The documents only cover products; there is not enough information to answer.",
    "I’m sorry, but the documents don’t say.",
    "The context is silent on this.",
    "Insufficient information.",
])
def test_these_answers_abstain(answer):
    assert abstains(answer), clauses(answer)


@pytest.mark.parametrize("answer", [
    "The documents do not say; you could ask the support team.",  # advice adds no fact
    "I don't know. Which sensor do you mean?",  # a question back
    "The documents do not say. Maybe ask HR.",  # "maybe" opens advice here, not a guess
    "The CEO's salary is not stated in the context. I hope this helps!",
    "Sorry, but the documents do not mention it. Please check the datasheet.",
])
def test_abstention_with_advice_or_apology_still_abstains(answer):
    assert abstains(answer), clauses(answer)


@pytest.mark.parametrize("answer", [
    "The documents do not say who, but the CEO is Maria Lopez.",  # declines, then answers anyway: made up
    "Although the documents don't say, the CEO is Maria Lopez.",
    "I'm not sure, probably Maria Lopez.",  # a guess is a statement
    "I don't know; I think it is about 5,000 euros.",
    "The context does not mention it. However, based on general knowledge, the CEO is likely Maria Lopez.",
    "The documents do not say. The T4 weighs 380 g.",  # strict: a side remark states something too
])
def test_declining_then_stating_something_is_made_up(answer):
    assert not abstains(answer), clauses(answer)
    assert out_of_corpus_outcome(answer) == MADE_UP


@pytest.mark.parametrize("answer", [
    "Maria Lopez.",
    "The CEO is Maria Lopez.",
    "No.",  # an answer to a yes/no question, not a refusal
    "The T4 is not available in blue.",  # a negative fact is not an abstention
    "The warranty does not cover water damage.",  # "does not cover" without the documents as subject
    "The support team does not answer calls at night.",
    "Firmware 3.2 added tide compensation.",
])
def test_plain_answers_and_negative_facts_do_not_abstain(answer):
    assert not abstains(answer), clauses(answer)


def test_clauses_show_why():
    assert [(c.text, c.role) for c in clauses("I'm sorry, but the documents don't say who, but the CEO is X.")] == [
        ("i am sorry", FILLER), ("but the documents do not say who", ABSTAINS), ("but the ceo is x", STATES)]
    assert [c.role for c in clauses("Version 3.2 is not mentioned.")] == [ABSTAINS]  # "3.2" is not a sentence end
    assert [c.role for c in clauses("The documents only cover products. They do not say.")] == [FILLER, ABSTAINS]


def test_out_of_corpus_outcomes():
    assert out_of_corpus_outcome("The documents do not say.") == ABSTAINED
    assert out_of_corpus_outcome("The CEO is Maria Lopez.") == MADE_UP
    assert out_of_corpus_outcome("   ") == NO_ANSWER


@pytest.mark.parametrize(("answer", "keys", "answerable", "expected"), [
    ("A Tessel T4 weighs 380 grams.", ["380 grams", "380 g"], True, True),
    ("A Tessel T4 weighs 400 grams.", ["380 grams"], True, False),
    ("The documents do not say how heavy it is.", ["380 grams"], True, False),  # abstaining on an answerable one
    ("The documents do not say exactly, but it weighs 380 grams.", ["380 grams"], True, True),  # it does answer
    ("It weighs 380 grams.", [], True, None),  # no key: cannot tell
    ("The documents do not say.", [], False, True),  # out-of-corpus: abstaining is right
    ("The CEO is Maria Lopez.", [], False, False),  # ... and stating something is made up
    ("", [], False, None),  # no answer: neither
])
def test_answer_correct(answer, keys, answerable, expected):
    assert answer_correct(answer, keys, answerable=answerable) is expected
