"""The RAG reader on the real model: given the passage that holds the fact, the RAG column states it.

The retriever here is a fixed seam (it returns the passage holding the key, ranked first, then a distractor)
so the test measures the reader alone; retrieval itself is tested on the real Weaviate elsewhere, and
``bench/answer_quality.py`` measures both together.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.arena.finetuned import BasePipeline
from pipelines.arena.rag import RagPipeline
from pipelines.common.correctness import key_present
from pipelines.common.events import DoneEvent, RetrievedChunk
from pipelines.common.questions import load_questions
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.chunking import chunk_document
from pipelines.runtime import answer_rules, reader_options

ROOT = Path(__file__).resolve().parent.parent


class PassageRetriever:
    """Returns the given passages as ranked hits, whatever the question."""

    def __init__(self, passages: list[str]) -> None:
        self.passages = passages

    def run(self, query, top_k, sources=None):
        return [RetrievedChunk(text, "doc.md", i, 1.0 / (i + 1), i + 1) for i, text in enumerate(self.passages)][:top_k]


@pytest.fixture
def batched_backend(backend):
    """The session's model with batching across sessions on for one test (as the app runs it), then off again."""
    backend.batch_across_sessions(24)
    yield backend
    backend.close()
    backend.batcher = None


def test_rag_states_the_key_when_its_passage_is_in_the_prompt(batched_backend, test_settings, tmp_path):
    corpus = ROOT / "assets" / "corpus"
    items = [i for i in load_questions(ROOT / "assets" / "questions.jsonl") if i.split == "test" and i.answerable]
    chunks = {i.source: chunk_document(i.source, (corpus / i.source).read_text(), words=110) for i in items}
    rules = answer_rules(test_settings)
    store = FeedbackStore.open(tmp_path / "feedback.sqlite3")

    def ask(item) -> dict[str, bool]:
        """One question, both columns, as a rater in its own session; which column stated the key."""
        gold = next(c.text for c in chunks[item.source] if key_present(c.text, item.keys))
        distractor = next(c.text for source, found in chunks.items() if source != item.source for c in found)
        rag = RagPipeline.from_retriever(PassageRetriever([gold, distractor]), top_k=3)
        rag.reader, rag.rules = reader_options(test_settings), rules
        arena = Arena([rag, BasePipeline(batched_backend, rules=rules)], batched_backend, store, max_new_tokens=48,
                      max_prompt_chars=4000)
        right = {}
        for name, event in arena.ask(item.question, ArenaSession(columns=("rag", "base"))):
            if isinstance(event, DoneEvent):
                right[name] = key_present(event.answer, item.keys)
                assert "\n" not in event.answer.strip()   # the stop rule: one sentence, no drift
        return right

    # Every question at once, as raters asking together: their rows share decode steps (greedy answers equal
    # to each asked alone: tests/test_continuous_batching.py): 32 s here where one after another took 71 s in CI.
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        answered = list(pool.map(ask, items))
    right = {name: sum(found[name] for found in answered) for name in ("rag", "base")}
    # Measured with the defaults: 6 of 12 (docs/evaluation.md's answer-quality table has the retrieval path).
    # The base model cannot know these invented facts; reading the passage is what makes the RAG column right.
    assert right["rag"] >= 0.4 * len(items), right
    assert right["base"] <= 0.1 * len(items), right


def test_prompt_forms_keep_the_panel_numbers_and_the_chosen_passages():
    from pipelines.generation.prompts import ReaderOptions, rag_messages, trim_passage

    chunks = [RetrievedChunk(text, "doc.md", i, 1.0, i + 1) for i, text in
              enumerate(["The T4 weighs 380 grams. It is grey.", "Pim is the mascot.", "Other."])]
    one = rag_messages("How heavy is the T4?", chunks, [], ReaderOptions())[-1]["content"]
    assert one == "Context:\n[1] The T4 weighs 380 grams. It is grey.\n\nQuestion: How heavy is the T4?\nAnswer:"
    two = rag_messages("Who is Pim?", chunks, [], ReaderOptions(form="instruct", passages=2))[-1]["content"]
    assert "[1] The T4" in two and "[2] Pim" in two and "[3]" not in two and two.startswith("Passages:")
    assert rag_messages("q", chunks, [], ReaderOptions(system=False))[0]["role"] == "user"
    picked = rag_messages("Who is Pim?", chunks, [], ReaderOptions(pick="overlap"))[-1]["content"]
    assert "[2] Pim is the mascot." in picked and "[1]" not in picked   # most shared words; its panel number kept
    assert trim_passage("Intro here. The T4 weighs 380 grams. Colour grey. Unrelated end.", "How heavy is the T4?",
                        0) == "The T4 weighs 380 grams."
    assert trim_passage("Nothing matches.", "Who is Pim?", 1) == "Nothing matches."


def test_the_reader_may_be_told_it_can_decline_and_the_copy_rule_lets_it():
    from pipelines.common.abstention import abstains
    from pipelines.generation.prompts import ABSTAIN_ANSWER, ReaderOptions, copy_source, rag_messages

    chunks = [RetrievedChunk("The T4 weighs 380 grams.", "doc.md", 0, 1.0, 1)]
    user = rag_messages("Who is the CEO?", chunks, [], ReaderOptions(abstain="user"))
    assert user[-1]["content"].endswith(f'Question: Who is the CEO?\nIf the context does not answer the question, '
                                        f'say "{ABSTAIN_ANSWER}".\nAnswer:')
    assert ABSTAIN_ANSWER not in user[0]["content"]
    system = rag_messages("Who is the CEO?", chunks, [], ReaderOptions(abstain="system"))
    assert ABSTAIN_ANSWER in system[0]["content"] and ABSTAIN_ANSWER not in system[-1]["content"]
    assert rag_messages("q", chunks, [], ReaderOptions())[-1]["content"].endswith("Question: q\nAnswer:")
    passages = [(1, "The T4 weighs 380 grams.")]
    assert ABSTAIN_ANSWER in copy_source("Who?", passages, ReaderOptions(abstain="user"))
    assert ABSTAIN_ANSWER not in copy_source("Who?", passages, ReaderOptions())
    assert copy_source("Who?", passages, ReaderOptions(copy="off", abstain="user")) is None
    assert abstains(ABSTAIN_ANSWER)   # what the reader is told to say is what the scorer counts as declining
    with pytest.raises(ValueError, match="abstain"):
        ReaderOptions(abstain="maybe")


def test_reader_and_answer_rules_come_from_the_settings(monkeypatch):
    from pipelines.common.settings import Settings

    monkeypatch.setenv("ARENA_READER_PROMPT", "instruct")
    monkeypatch.setenv("ARENA_READER_PASSAGES", "3")
    monkeypatch.setenv("ARENA_ANSWER_SENTENCES", "2")
    monkeypatch.setenv("ARENA_NO_REPEAT_NGRAM", "0")
    monkeypatch.setenv("ARENA_READER_COPY", "spans")
    monkeypatch.setenv("ARENA_READER_ABSTAIN", "user")
    settings = Settings()
    assert reader_options(settings).abstain == "user"
    assert reader_options(settings).copy == "spans"
    assert (reader_options(settings).form, reader_options(settings).passages) == ("instruct", 3)
    assert (answer_rules(settings).max_sentences, answer_rules(settings).no_repeat_ngram) == (2, 0)


def test_real_model_stops_at_the_sentence_end_and_does_not_loop(backend):
    """Without the guard the model loops on this prompt (checked first, so the test can fail)."""
    import itertools
    import re

    from pipelines.generation.answer_rules import AnswerRules
    from pipelines.generation.prompts import plain_messages
    from pipelines.generation.requests import GenerationRequest

    def answer(rules: AnswerRules, prompt: str, tokens: int = 48) -> str:
        return "".join(d for _, d in backend.stream([GenerationRequest(plain_messages(prompt, []), rules=rules)],
                                                    tokens) if d).strip()

    def longest_run(text: str) -> int:  # the most times one word follows itself
        words, best, run = re.findall(r"\w+", text.lower()), 1, 1
        for previous, word in itertools.pairwise(words):
            run = run + 1 if word == previous else 1
            best = max(best, run)
        return best

    loop = "Say the word quay again and again: quay quay quay quay quay quay quay quay"
    assert longest_run(answer(AnswerRules(), loop)) >= 6
    assert longest_run(answer(AnswerRules(no_repeat_ngram=2), loop)) < 3
    text = answer(AnswerRules(max_sentences=1), "Tell me three facts about rivers.", 64)
    body = re.sub(r"^\d{1,2}[.)]\s+", "", text)  # a list marker opening the answer is no sentence
    assert body and body[-1] in ".!?" and not re.search(r"[.!?]\s+\S", body), text
