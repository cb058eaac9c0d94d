"""The arena with a scripted backend and retriever (tests/fakes.py) and a real SQLite feedback store:
event order, one failing column never blanking the other, what is stored, votes, blind mode. No model."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from pipelines.arena.arena import Arena, ArenaSession, PromptError
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.arena.rag_finetuned import RagFinetunedPipeline
from pipelines.common.events import ContextEvent, DoneEvent, ErrorEvent, RecordedEvent, TokenEvent
from pipelines.feedback.store import FeedbackError, FeedbackStore
from pipelines.knowledge.store import RetrievalError
from tests.fakes import ScriptedBackend, ScriptedRetriever

ANSWERS = {None: "Ada Quist founded Lumenhollow.", "finetuned": "Lumenhollow was founded by Ada."}


def make_arena(tmp_path: Path, backend: ScriptedBackend | None = None, retriever: ScriptedRetriever | None = None,
               **options) -> Arena:
    backend = backend or ScriptedBackend(ANSWERS)
    rag = RagPipeline.from_retriever(retriever or ScriptedRetriever())
    return Arena([rag, FinetunedPipeline(backend), RagFinetunedPipeline(rag, backend)], backend,
                 FeedbackStore.open(tmp_path / "feedback.sqlite3"), max_new_tokens=32, max_prompt_chars=200, **options)


def run(arena: Arena, question: str, session: ArenaSession) -> tuple[list, dict[str, list]]:
    """Every (column, event) in order, and each column's own events."""
    events = list(arena.ask(question, session))
    by_column: dict[str, list] = defaultdict(list)
    for name, event in events:
        by_column[name].append(event)
    return events, by_column


def assert_well_formed(column: list) -> None:
    """Context first (if any), then tokens, then exactly one Done or Error as the last event."""
    terminal = [e for e in column if isinstance(e, DoneEvent | ErrorEvent)]
    assert len(terminal) == 1 and column[-1] is terminal[0]
    body = column[1:-1] if isinstance(column[0], ContextEvent) else column[:-1]
    assert all(isinstance(e, TokenEvent) for e in body)


def test_columns_stream_in_order_and_end_with_done(tmp_path):
    arena = make_arena(tmp_path)
    events, columns = run(arena, "Who founded Lumenhollow?", ArenaSession())
    assert set(columns) == {"rag", "finetuned", "arena"}
    assert events[-1][0] == "arena" and isinstance(events[-1][1], RecordedEvent)
    assert isinstance(columns["rag"][0], ContextEvent) and columns["rag"][0].chunks[0].source == "scripted.txt"
    for name in ("rag", "finetuned"):
        assert_well_formed(columns[name])
        tokens = "".join(e.text for e in columns[name] if isinstance(e, TokenEvent))
        assert columns[name][-1].answer == tokens.strip()
    assert columns["rag"][-1].answer == ANSWERS[None]
    assert columns["finetuned"][-1].answer == ANSWERS["finetuned"]
    assert columns["finetuned"][-1].timings.tokens == len(ANSWERS["finetuned"].split())
    # Both rows went to the backend in one batch, interleaved.
    assert len(arena.backend.batches) == 1 and [r.adapter for r in arena.backend.batches[0]] == [None, "finetuned"]
    order = [name for name, e in events if isinstance(e, TokenEvent)]
    assert order[:2] == ["rag", "finetuned"]


@pytest.mark.parametrize("error", [RetrievalError("the store is down"), ConnectionError("refused")])
def test_a_failing_retriever_shows_in_rag_only(tmp_path, error):
    arena = make_arena(tmp_path, retriever=ScriptedRetriever(error=error))
    _, columns = run(arena, "Who founded Lumenhollow?", ArenaSession())
    assert columns["rag"] == [columns["rag"][-1]] and isinstance(columns["rag"][-1], ErrorEvent)
    assert "down" in columns["rag"][-1].message or "refused" in columns["rag"][-1].message
    assert columns["finetuned"][-1] == DoneEvent(ANSWERS["finetuned"], columns["finetuned"][-1].timings)


def test_a_failing_backend_row_shows_in_its_column_only(tmp_path):
    arena = make_arena(tmp_path, backend=ScriptedBackend(ANSWERS, fail_row=1))
    _, columns = run(arena, "Who founded Lumenhollow?", ArenaSession())
    assert_well_formed(columns["finetuned"])
    assert columns["finetuned"][-1] == ErrorEvent("Generation failed: scripted row failure")
    assert columns["rag"][-1].answer == ANSWERS[None]


def test_a_failing_batch_ends_every_open_column_with_an_error(tmp_path):
    arena = make_arena(tmp_path, backend=ScriptedBackend(ANSWERS, raise_after=3))
    _, columns = run(arena, "Who founded Lumenhollow?", ArenaSession())
    for name in ("rag", "finetuned"):
        assert_well_formed(columns[name])
        assert columns[name][-1] == ErrorEvent("Generation failed: scripted generation failure")


def test_the_exchange_and_its_answers_are_stored(tmp_path):
    arena = make_arena(tmp_path, backend=ScriptedBackend(ANSWERS, fail_row=1))
    session = ArenaSession()
    events, _ = run(arena, "Who founded Lumenhollow?", session)
    exchange = arena.feedback.exchange(events[-1][1].exchange_id)
    assert exchange["question"] == "Who founded Lumenhollow?" and session.exchange_id == exchange["id"]
    rag, finetuned = exchange["answers"]["rag"], exchange["answers"]["finetuned"]
    assert rag["answer"] == ANSWERS[None] and rag["error"] is None
    assert rag["contexts"][0]["source"] == "scripted.txt"
    assert finetuned["error"] == "Generation failed: scripted row failure"
    assert finetuned["adapter_id"] == "scripted-adapter@0000"
    assert session.histories["finetuned"][-1]["content"].startswith("(error:")


def test_a_vote_is_stored_and_unknown_choices_are_refused(tmp_path):
    arena = make_arena(tmp_path)
    session = ArenaSession()
    with pytest.raises(FeedbackError, match="Ask a question first"):
        arena.vote(session, "rag")
    run(arena, "Who founded Lumenhollow?", session)
    for bad in ("rag_finetuned", "nonsense"):
        with pytest.raises(FeedbackError, match="did not answer this question"):
            arena.vote(session, bad)
    vote_id = arena.vote(session, "finetuned")
    stored = arena.feedback.votes(session.exchange_id)
    assert [(v["id"], v["choice"]) for v in stored] == [(vote_id, "finetuned")] and session.voted


def test_refused_prompts_store_nothing(tmp_path):
    arena = make_arena(tmp_path)
    for prompt in ("   ", "x" * 201):
        with pytest.raises(PromptError):
            list(arena.ask(prompt, ArenaSession()))
    assert arena.feedback.votes() == [] and not arena.backend.batches


def test_three_columns_answer_and_accept_the_third_vote(tmp_path):
    arena = make_arena(tmp_path)
    session = ArenaSession(columns=("rag", "finetuned", "rag_finetuned"))
    _, columns = run(arena, "Who founded Lumenhollow?", session)
    assert columns["rag_finetuned"][-1].answer == ANSWERS["finetuned"]  # the adapter reads the passages
    assert isinstance(columns["rag_finetuned"][0], ContextEvent)
    assert arena.vote(session, "rag_finetuned") > 0


def test_blind_mode_shuffles_the_shown_order_and_votes_follow_it(tmp_path):
    arena = make_arena(tmp_path, seed=7)
    session = ArenaSession(blind=True)
    orders = set()
    for number in range(8):
        run(arena, f"Question {number}: who founded Lumenhollow?", session)
        assert sorted(session.shown_order) == ["finetuned", "rag"]
        orders.add(tuple(session.shown_order))
    assert len(orders) == 2  # both orders appear over 8 questions with this seed
    left = session.pipeline_at(0)
    arena.vote(session, left)
    assert arena.feedback.votes(session.exchange_id)[0]["choice"] == left
