"""Integration: both columns through the real model, real Weaviate and a real SQLite file."""

import copy

import pytest

from pipelines.arena.arena import Arena, ArenaSession, PromptError
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.common.events import ContextEvent, DoneEvent, ErrorEvent, RecordedEvent
from pipelines.feedback.store import FeedbackError, FeedbackStore
from pipelines.knowledge.retrieval import HybridRetriever
from pipelines.knowledge.store import KnowledgeStore, connect
from tests.conftest import start_weaviate


def make_arena(backend, retriever, tmp_path, **kwargs):
    """Answers of 8 tokens by default (a 4-bit decode step is about 0.2 s here): the tests that need longer ones,
    or only a few tokens, say so."""
    limits = {"max_new_tokens": 8, "max_prompt_chars": 500, **kwargs}
    return Arena([RagPipeline.from_retriever(retriever, top_k=3), FinetunedPipeline(backend)], backend,
                 FeedbackStore.open(tmp_path / "f.sqlite3"), **limits)


def collect(arena, question, session):
    events = {"rag": [], "finetuned": [], "arena": []}
    for name, event in arena.ask(question, session):
        events[name].append(event)
    return events


def test_both_columns_answer_and_the_exchange_is_stored(backend, knowledge, tmp_path):
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path)
    session = ArenaSession()
    events = collect(arena, "What is the battery life of the Tessel T4?", session)
    context = next(e for e in events["rag"] if isinstance(e, ContextEvent))
    assert context.chunks[0].source == "tessel_t4_datasheet.md"
    for name in ("rag", "finetuned"):
        done = events[name][-1]
        assert isinstance(done, DoneEvent) and done.answer
        assert done.timings.first_token_s <= done.timings.total_s
    recorded = events["arena"][0]
    assert isinstance(recorded, RecordedEvent) and session.exchange_id == recorded.exchange_id
    stored = arena.feedback.exchange(recorded.exchange_id)
    assert stored["answers"]["rag"]["contexts"][0]["source"] == "tessel_t4_datasheet.md"
    assert stored["answers"]["finetuned"]["adapter_id"].startswith("lumenhollow-qlora@")
    vote_id = arena.vote(session, "rag")
    assert arena.feedback.votes(recorded.exchange_id)[0]["id"] == vote_id
    assert session.last_question == "What is the battery life of the Tessel T4?"  # for "regenerate"
    # multi-turn: each column keeps its own history
    assert [m["role"] for m in session.histories["rag"]] == ["user", "assistant"]


def test_tabs_sharing_a_state_template_get_their_own_session_ids(backend, knowledge, tmp_path):
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path, max_new_tokens=4)  # about the sessions
    template = ArenaSession()  # Gradio deep-copies the State's initial value for every tab
    first, second = copy.deepcopy(template), copy.deepcopy(template)
    collect(arena, "What does quiet mode do?", first)
    collect(arena, "What does quiet mode do?", second)
    assert first.session_id and second.session_id and first.session_id != second.session_id


def test_empty_and_huge_prompts_are_refused_and_nothing_is_stored(backend, knowledge, tmp_path):
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path)
    session = ArenaSession()
    with pytest.raises(PromptError, match="Type a question"):
        list(arena.ask("   ", session))
    with pytest.raises(PromptError, match="limit is 500"):
        list(arena.ask("x" * 100_000, session))
    with pytest.raises(FeedbackError, match="Ask a question first"):
        arena.vote(session, "tie")
    assert arena.feedback.votes() == [] and session.exchange_id is None


def test_weaviate_stopped_mid_session_keeps_finetuned_answering(backend, embedder, tmp_path, test_settings):
    server = start_weaviate(tmp_path / "weaviate")
    client = connect(test_settings, server.http_port, server.grpc_port)
    try:
        store = KnowledgeStore(client, "DownDocs", embedder)
        store.ensure_collection()
        from pipelines.knowledge.chunking import Chunker
        from pipelines.knowledge.ingest import ingest_folder
        ingest_folder(store, test_settings.corpus_dir, Chunker(120, 30))
        arena = make_arena(backend, HybridRetriever(store), tmp_path)
        session = ArenaSession()
        first = collect(arena, "Who leads the Lumenhollow support team?", session)
        assert isinstance(first["rag"][-1], DoneEvent)
        server.stop()
        second = collect(arena, "Who runs the River Safety course?", session)
        assert isinstance(second["rag"][-1], ErrorEvent)
        assert "Weaviate is unreachable" in second["rag"][-1].message
        assert isinstance(second["finetuned"][-1], DoneEvent) and second["finetuned"][-1].answer
        stored = arena.feedback.exchange(second["arena"][0].exchange_id)
        assert "unreachable" in stored["answers"]["rag"]["error"]
        arena.vote(session, "finetuned")
        assert len(arena.feedback.votes()) == 1
    finally:
        client.close()
        server.stop()


def test_no_model_gives_clear_errors_in_both_columns(tmp_path):
    arena = Arena([RagPipeline(None, unavailable_reason="store down"), FinetunedPipeline(None)], None,
                  FeedbackStore.open(tmp_path / "f.sqlite3"), max_new_tokens=8, max_prompt_chars=100,
                  model_error="no such model")
    events = collect(arena, "hello?", ArenaSession())
    assert events["rag"][-1] == ErrorEvent("The model is not loaded: no such model")
    assert isinstance(events["finetuned"][-1], ErrorEvent)


def test_blind_mode_shuffles_columns_and_votes_map_through_the_shown_order(backend, knowledge, tmp_path):
    # Four tokens an answer: the test is about the columns' order and the votes' mapping, not the answers.
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path, seed=3, max_new_tokens=4)
    session = ArenaSession(blind=True)
    orders = set()
    for _ in range(6):
        events = collect(arena, "Who founded Lumenhollow Instruments?", session)
        orders.add(tuple(session.shown_order))
        view = arena.feedback.view(events["arena"][0].exchange_id)
        assert view == {"mode": "blind", "shown_order": session.shown_order}
    assert orders == {("rag", "finetuned"), ("finetuned", "rag")}
    arena.vote(session, session.pipeline_at(1))
    assert arena.feedback.votes(session.exchange_id)[-1]["choice"] == session.shown_order[1]
    rating_id = arena.rate(session, 0, score=5, tags=["correct"], comment="ok")
    assert arena.feedback.ratings(session.exchange_id)[0]["id"] == rating_id
    assert arena.feedback.ratings(session.exchange_id)[0]["pipeline"] == session.shown_order[0]


def test_votes_past_the_rate_limit_are_refused_and_not_stored(backend, knowledge, tmp_path):
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path, votes_per_minute=2, max_new_tokens=4)
    session = ArenaSession()
    collect(arena, "What does quiet mode do?", session)
    arena.vote(session, "rag")
    arena.vote(session, "tie")
    with pytest.raises(FeedbackError, match="Too many votes"):
        arena.vote(session, "finetuned")
    assert [v["choice"] for v in arena.feedback.votes()] == ["rag", "tie"]


def test_bad_ratings_are_refused(backend, knowledge, tmp_path):
    arena = make_arena(backend, HybridRetriever(knowledge), tmp_path, max_new_tokens=4)
    session = ArenaSession()
    with pytest.raises(FeedbackError, match="Ask a question first"):
        arena.rate(session, 0, score=3, tags=[], comment="")
    collect(arena, "What does quiet mode do?", session)
    for kwargs, message in [({"score": 9}, "1 to 5"), ({"tags": ["great"]}, "Unknown tags"),
                            ({"comment": "x" * 5000}, "limit"), ({}, "Nothing to save")]:
        with pytest.raises(FeedbackError, match=message):
            arena.rate(session, 0, **{"score": None, "tags": [], "comment": "", **kwargs})
    assert arena.feedback.ratings() == []



def test_third_column_reads_the_passages_with_the_adapter_and_best_of_three_votes(backend, knowledge, tmp_path):
    from pipelines.arena.rag_finetuned import RagFinetunedPipeline
    from pipelines.feedback.leaderboard import store_leaderboard

    rag = RagPipeline.from_retriever(HybridRetriever(knowledge), top_k=3)
    arena = Arena([rag, FinetunedPipeline(backend), RagFinetunedPipeline(rag, backend)], backend,
                  FeedbackStore.open(tmp_path / "f.sqlite3"), max_new_tokens=24, max_prompt_chars=500)
    two = ArenaSession()
    assert "rag_finetuned" not in {n for n, _ in arena.ask("Who founded Lumenhollow?", two)}  # off by default

    session = ArenaSession(columns=("rag", "finetuned", "rag_finetuned"))
    events: dict[str, list] = {}
    for name, event in arena.ask("What is the battery life of the Tessel T4?", session):
        events.setdefault(name, []).append(event)
    both = events["rag_finetuned"]
    assert [e.chunks[0].source for e in both if isinstance(e, ContextEvent)] == ["tessel_t4_datasheet.md"]
    assert isinstance(both[-1], DoneEvent) and both[-1].answer
    stored = arena.feedback.exchange(session.exchange_id)["answers"]
    assert stored["rag_finetuned"]["adapter_id"] == stored["finetuned"]["adapter_id"] is not None
    assert stored["rag"]["adapter_id"] is None
    assert stored["rag_finetuned"]["contexts"] == stored["rag"]["contexts"]
    # the same prompt with and without the adapter: the one batch really switched adapters per row
    assert stored["rag_finetuned"]["answer"] != stored["rag"]["answer"]
    prepared = {p.name: p.prepare("What is the battery life of the Tessel T4?", []) for p in arena.pipelines}
    assert prepared["rag"].request.copy_from and prepared["rag_finetuned"].request.copy_from is None

    with pytest.raises(FeedbackError, match="did not answer"):
        arena.vote(two, "rag_finetuned")  # the two-column exchange had no third answer
    arena.vote(session, "rag_finetuned")
    rows = {r.pipeline: r for r in store_leaderboard(arena.feedback, rounds=10)}
    assert rows["rag_finetuned"].wins == 2 and rows["rag"].losses == 1 and rows["finetuned"].losses == 1
