"""Multi-turn arena conversations: Regenerate, New conversation and the history window, asserted on what the
backend was asked (each row's chat messages). The arena tab's own handlers drive a real Arena over the scripted
backend and retriever (tests/fakes.py) and a real SQLite store: no model, no Weaviate, no browser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
import pytest

from components.arena import build_arena_tab
from pipelines.arena.arena import Arena, ArenaSession
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.arena.rag_finetuned import RagFinetunedPipeline
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.retrieval import RetrievalOptions
from tests.fakes import ScriptedBackend, ScriptedRetriever
from tests.tab_handlers import tab_handlers, value_with_id, values_of

ANSWERS = {None: "Ada Quist founded Lumenhollow.", "finetuned": "Lumenhollow was founded by Ada."}
QUESTIONS = ["Who founded Lumenhollow?", "When was it founded?", "Where is the office?", "How many desks?"]


def make_arena(tmp_path: Path, history_turns: int = 2) -> Arena:
    backend = ScriptedBackend(ANSWERS)
    rag = RagPipeline.from_retriever(ScriptedRetriever())
    return Arena([rag, FinetunedPipeline(backend), RagFinetunedPipeline(rag, backend)], backend,
                 FeedbackStore.open(tmp_path / "feedback.sqlite3"), max_new_tokens=32, max_prompt_chars=200,
                 history_turns=history_turns)


def arena_tab(arena: Arena) -> dict[str, Callable]:
    return tab_handlers(lambda: build_arena_tab(arena, "scripted model", QUESTIONS))


def last_update(updates) -> dict:
    """Drain a streaming handler; its last update is what the page ends up showing."""
    *_, last = updates
    return last


def asked(batch) -> dict[str | None, list[dict[str, str]]]:
    """Each row's messages in one backend batch, keyed by adapter (None: the RAG row)."""
    return {request.adapter: request.messages for request in batch}


def user_texts(messages: list[dict[str, str]]) -> list[str]:
    return [m["content"] for m in messages if m["role"] == "user"]


def test_regenerate_asks_the_last_question_again_with_the_conversation_so_far(tmp_path):
    arena = make_arena(tmp_path)
    handlers = arena_tab(arena)
    state = ArenaSession()
    nothing_yet = last_update(handlers["ask_again"](state, None, [], [], []))
    assert "Type a question first" in value_with_id(nothing_yet, "notice") and arena.backend.batches == []

    last_update(handlers["ask"](QUESTIONS[0], state, None, [], [], []))
    first_exchange = state.exchange_id
    update = last_update(handlers["ask_again"](state, None, [], [], []))
    assert len(arena.backend.batches) == 2
    again = asked(arena.backend.batches[1])
    # the finetuned row: its earlier turn, then the same question once more
    assert again["finetuned"][1:] == [{"role": "user", "content": QUESTIONS[0]},
                                      {"role": "assistant", "content": ANSWERS["finetuned"]},
                                      {"role": "user", "content": QUESTIONS[0]}]
    assert QUESTIONS[0] in again[None][-1]["content"]  # the RAG row's last turn: the question with its passages
    # a new exchange is stored (the earlier one stays), and the columns show the new answers
    assert state.exchange_id != first_exchange and state.last_question == QUESTIONS[0]
    assert arena.feedback.exchange(state.exchange_id)["question"] == QUESTIONS[0]
    assert arena.feedback.exchange(first_exchange)["question"] == QUESTIONS[0]
    left, right = values_of(update, gr.Chatbot)  # the two columns shown (the third is off)
    assert left[-1] == {"role": "assistant", "content": ANSWERS[None]}
    assert right[-1] == {"role": "assistant", "content": ANSWERS["finetuned"]}


def test_new_conversation_forgets_the_turns_and_keeps_the_rater_and_retrieval(tmp_path):
    arena = make_arena(tmp_path)
    handlers = arena_tab(arena)
    retrieval = RetrievalOptions(top_k=2, alpha=0.25)
    state = ArenaSession(retrieval=retrieval)
    for question in QUESTIONS[:2]:
        last_update(handlers["ask"](question, state, None, [], [], []))
    assert len(state.histories["finetuned"]) == 4
    state.user_name = "ada"  # signed in (the handlers set it from the OAuth profile; None here)

    update = handlers["new_conversation"](False, False, state)
    (fresh,) = [value for value in values_of(update, gr.State) if isinstance(value, ArenaSession)]
    assert fresh.histories == {} and fresh.exchange_id is None and fresh.last_question is None
    assert (fresh.session_id, fresh.user_name, fresh.retrieval) == (state.session_id, "ada", retrieval)
    assert values_of(update, gr.Chatbot) == [[], [], []]  # every column, the hidden third too

    last_update(handlers["ask"](QUESTIONS[2], fresh, None, [], [], []))
    rows = asked(arena.backend.batches[-1])
    assert rows["finetuned"][1:] == [{"role": "user", "content": QUESTIONS[2]}]  # the system prompt, the question
    assert user_texts(rows[None]) == [rows[None][-1]["content"]] and QUESTIONS[2] in rows[None][-1]["content"]
    asked_before = " ".join(m["content"] for batch in arena.backend.batches[-1:] for r in batch for m in r.messages)
    assert not any(question in asked_before for question in QUESTIONS[:2])
    # Regenerate after a new conversation repeats its own last question, not one of the old conversation
    last_update(handlers["ask_again"](fresh, None, [], [], []))
    assert user_texts(asked(arena.backend.batches[-1])["finetuned"]) == [QUESTIONS[2], QUESTIONS[2]]


@pytest.mark.parametrize("turns", [0, 1, 2, 5])
def test_only_the_last_history_turns_reach_the_prompt(tmp_path, turns):
    """``history_turns`` (ARENA_HISTORY_TURNS) bounds the prompt: a long chat must not grow it without end."""
    arena = make_arena(tmp_path, history_turns=turns)
    session = ArenaSession(columns=("rag", "finetuned", "rag_finetuned"))
    for question in QUESTIONS:
        list(arena.ask(question, session))
    previous = QUESTIONS[:-1]
    earlier = previous[len(previous) - min(turns, len(previous)):]
    batch = arena.backend.batches[-1]
    assert len(batch) == 3
    for request in batch:
        messages = request.messages
        assert messages[0]["role"] == "system"
        window = messages[1:-1]  # between the system prompt and the new question
        assert user_texts(window) == earlier, request.adapter
        assert [m["role"] for m in window] == ["user", "assistant"] * len(earlier)
        # each column's window holds its own earlier answers, not another column's
        own = ANSWERS[request.adapter]
        assert all(m["content"] == own for m in window if m["role"] == "assistant")
        assert QUESTIONS[-1] in messages[-1]["content"]
