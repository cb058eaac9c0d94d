"""The RAG reader's copy rule, on the real tokenizer and the real model."""

import re

import pytest

from pipelines.common.events import RetrievedChunk
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.copy_rule import CopyRule
from pipelines.generation.prompts import ReaderOptions, rag_messages
from pipelines.generation.requests import GenerationRequest

PASSAGE = "Each Quillon class ferry has a battery bank that stores 1.4 megawatt-hours, charged at Thrumwick."


@pytest.fixture(scope="module")
def tokenizer(backend):
    return backend.tokenizer


def test_only_the_texts_tokens_and_punctuation_are_allowed(tokenizer):
    rule = CopyRule(tokenizer, PASSAGE, eos={tokenizer.eos_token_id})
    allowed = {tokenizer.decode([i]).strip() for i in rule.allowed}
    assert {"battery", "1", "4", "."} <= allowed
    assert "passage" not in allowed and "London" not in allowed
    mask = rule.outside([], len(tokenizer))
    assert not mask[tokenizer.eos_token_id] and mask.sum() > len(tokenizer) - 200


def test_spans_copy_numbers_whole(tokenizer):
    words, spans = (CopyRule(tokenizer, PASSAGE, spans=s, eos={tokenizer.eos_token_id}) for s in (False, True))
    four = tokenizer.convert_tokens_to_ids("4")
    dot = tokenizer.convert_tokens_to_ids(".")
    one = tokenizer.convert_tokens_to_ids("1")
    assert one in words.allowed_after(dot)                # "4.1" is possible with words only
    assert one not in spans.allowed_after(dot)            # but "." is followed by "4" in the text, never "1"
    assert four in spans.allowed_after(dot)
    assert spans.outside([dot], len(tokenizer))[one] and not spans.outside([dot], len(tokenizer))[four]


def test_real_model_answers_in_the_passages_words(backend):
    """With ``spans`` every word of the answer is a word of the passage or the question (numbers whole)."""
    chunk = RetrievedChunk(PASSAGE, "fleet.md", 0, 1.0, 1)
    question = "How much energy does the battery bank of a Quillon ferry store?"
    messages = rag_messages(question, [chunk], [], ReaderOptions(copy="spans"))
    rules = AnswerRules(max_sentences=1)
    request = GenerationRequest(messages, rules=rules, copy_from=f"{question}\n{PASSAGE}", copy_spans=True)
    answer = "".join(d for _, d in backend.stream([request], 40) if d)
    free = "".join(d for _, d in backend.stream([GenerationRequest(messages, rules=rules)], 40) if d)
    source = set(re.findall(r"\w+", (question + PASSAGE).lower()))
    print(f"copy: {answer!r}\nfree: {free!r}")
    assert answer.strip() and set(re.findall(r"\w+", answer.lower())) <= source, answer
