"""The Rating queue tab's handlers and the queue endpoints, called as the browser's events and gradio_client do,
on a real SQLite feedback store with real :class:`RatingQueues` (no server, no browser; the browser flow is in
test_browser_queue.py)."""

from __future__ import annotations

import sqlite3

import gradio as gr
import pytest

from components.api_queue import queue_endpoints
from components.arena_view import HIDDEN_PANEL
from components.rating_queue import NO_QUEUE, NOTHING_LEFT, RaterState, build_rating_queue_tab, pasted_ids
from pipelines.common.auth import AdminAuth
from pipelines.common.events import PipelineResult, RetrievedChunk, Timings
from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.store import FeedbackStore
from tests.tab_handlers import tab_events, value_with_id

PASSWORD = "s3cret"
PASSAGE = RetrievedChunk("The Tessel T4 runs 14 hours on one charge.", "tessel_t4_datasheet.md", 0, 0.91, 1,
                         heading="Battery")


def results(n: int) -> list[PipelineResult]:
    """A stored exchange's two answers: RAG with its passage and a citation, fine-tuned without."""
    return [PipelineResult("rag", f"It runs 14 hours [1]. <b>item {n}</b>", [PASSAGE], timings=Timings(0.1, 0.5)),
            PipelineResult("finetuned", f"About ten hours (item {n}).", timings=Timings(0.1, 0.5))]


@pytest.fixture
def stored(store) -> list[str]:
    """Two exchanges of one batch run, as a batch evaluation leaves them."""
    return [store.record_exchange("batch-20261206T101010", f"How long does the T4 run? ({n})", results(n))
            for n in range(2)]


def tab(queues: RatingQueues, auth: AdminAuth | None = None) -> dict:
    events = tab_events(lambda: build_rating_queue_tab(queues, auth or AdminAuth(None)))
    return {name: event.fn for name, event in events.items()}


def votes_in(store: FeedbackStore) -> list[tuple]:
    with sqlite3.connect(store.url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT exchange_id, choice, rater FROM votes ORDER BY id").fetchall()


def test_two_raters_rate_the_same_items_blind_and_see_who_was_who_after_their_vote(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("T4 battery", stored, raters_per_item=2, blind=True, guidelines="Prefer **cited** facts.")
    handlers = tab(queues)
    seen: dict[str, list[str]] = {}
    for rater in ("ana", "ben"):
        state = RaterState(session_id=f"session-{rater}")
        picked = handlers["choose"](queue.id, state)
        assert "Prefer **cited** facts." in value_with_id(picked, "rq-guidelines")
        if rater == "ana":
            assert value_with_id(picked, "rq-progress") == "you: 0 done, 2 left · queue: 0/4 votes (0/2 items complete)"
        for _ in range(2):
            shown = handlers["next_item"](state)
            item = state.item
            assert item is not None and item.exchange_id in stored
            assert value_with_id(shown, "rq-a-title") == "### Answer A"  # blind: no pipeline named before the vote
            assert value_with_id(shown, "rq-context") == HIDDEN_PANEL
            assert value_with_id(shown, "rq-a-sources") == "" and value_with_id(shown, "rq-b-sources") == ""
            answers = {value_with_id(shown, "rq-a-answer"), value_with_id(shown, "rq-b-answer")}
            assert any("&lt;b&gt;item" in text for text in answers)  # model text is escaped, never rendered
            assert value_with_id(shown, "rq-vote-a").interactive is True

            voted = handlers["vote_a"](state)
            left = item.answers[0].pipeline
            assert "Revealed: A was" in value_with_id(voted, "rq-notice")
            assert value_with_id(voted, "rq-a-title").endswith({"rag": "RAG", "finetuned": "Fine-tuned"}[left])
            assert "tessel_t4_datasheet.md" in value_with_id(voted, "rq-context")  # the context, once voted
            assert value_with_id(voted, "rq-vote-a").interactive is False
            seen.setdefault(rater, []).append(item.exchange_id)
            assert votes_in(store)[-1] == (item.exchange_id, left, f"session-{rater}")
        assert value_with_id(voted, "rq-progress").startswith("you: 2 done, 0 left · queue: ")
    assert sorted(seen["ana"]) == sorted(seen["ben"]) == sorted(stored)  # N=2: both raters rate both items
    assert len(votes_in(store)) == 4

    third = RaterState(session_id="session-cy")
    handlers["choose"](queue.id, third)
    shown = handlers["next_item"](third)
    assert value_with_id(shown, "rq-notice") == NOTHING_LEFT and third.item is None
    assert value_with_id(shown, "rq-progress") == "you: 0 done, 0 left · queue: 4/4 votes (2/2 items complete)"


def test_a_named_queue_shows_pipelines_context_and_sources_before_the_vote(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("named", stored[:1], raters_per_item=1, blind=False)
    handlers = tab(queues)
    state = RaterState(session_id="s1")
    handlers["choose"](queue.id, state)
    shown = handlers["next_item"](state)
    titles = {value_with_id(shown, "rq-a-title"), value_with_id(shown, "rq-b-title")}
    assert titles == {"### RAG", "### Fine-tuned"}
    assert "tessel_t4_datasheet.md" in value_with_id(shown, "rq-context")
    rag_side = "a" if state.item.answers[0].pipeline == "rag" else "b"
    assert "Cites [1] tessel_t4_datasheet.md" in value_with_id(shown, f"rq-{rag_side}-sources")
    assert "RAG is better" in value_with_id(shown, f"rq-vote-{rag_side}").value


def test_a_signed_in_rater_is_their_user_name(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("signed in", stored[:1], raters_per_item=1)
    handlers = tab(queues)
    state = RaterState(session_id="s-anon")
    profile = gr.OAuthProfile({"name": "Ana", "preferred_username": "ana-hf", "profile": "", "picture": ""})
    handlers["choose"](queue.id, state, profile)
    handlers["next_item"](state, profile)
    handlers["vote_tie"](state, profile)
    assert votes_in(store) == [(stored[0], "tie", "ana-hf")]


def test_errors_are_shown_and_nothing_is_stored_twice(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("errors", stored, raters_per_item=1)
    handlers = tab(queues)
    lost = RaterState(session_id="s-lost")
    assert NO_QUEUE in value_with_id(handlers["next_item"](lost), "rq-notice")
    assert "Press Next" in value_with_id(handlers["vote_a"](lost), "rq-notice")

    state = RaterState(session_id="s-two")
    handlers["choose"](queue.id, state)
    handlers["next_item"](state)
    handlers["vote_b"](state)
    again = handlers["vote_b"](state)  # a double click
    assert "already voted" in value_with_id(again, "rq-notice")
    assert len(votes_in(store)) == 1

    # a vote on an item the queue never gave this rater: the store refuses it, the tab says why, nothing stored
    other = RaterState(session_id="s-other", queue_id=queue.id, item=state.item)
    refused = handlers["vote_a"](other)
    assert value_with_id(refused, "rq-notice").startswith("⚠️")
    assert len(votes_in(store)) == 1

    gone = handlers["choose"]("no-such-queue", RaterState(session_id="s3"))
    assert value_with_id(gone, "rq-notice").startswith("⚠️")


def test_the_admin_builds_a_queue_from_a_batch_run_or_pasted_ids_and_marks_gold(store, stored):
    queues = RatingQueues(store)
    handlers = tab(queues, AdminAuth(PASSWORD))
    create = handlers["do_create"]
    with pytest.raises(gr.Error, match="admin password"):
        create("wrong", "q", "batch-20261206T101010", "", 2, True, "")
    assert queues.queues() == []

    status, _ = create(PASSWORD, "", None, "", 2, True, "")  # neither a batch run nor ids
    assert status.startswith("⚠️") and queues.queues() == []
    status, _ = create(PASSWORD, "", None, "not an id", 2, True, "")
    assert "No exchange id" in status and queues.queues() == []
    status, _ = create(PASSWORD, "", None, "", 0, True, "")
    assert status.startswith("⚠️") and queues.queues() == []

    status, picker = create(PASSWORD, "", "batch-20261206T101010", "", 2, True, "Be *strict*.")
    assert "2 items, 2 rater(s) each, blind" in status, status
    (from_run,) = queues.queues()
    assert from_run.name == "batch-20261206T101010" and from_run.guidelines == "Be *strict*."
    assert picker.value == from_run.id

    status, _ = create(PASSWORD, "pasted", None, f"{stored[1]},\n{stored[1]} junk", 1, False, "")
    assert "1 items, 1 rater(s) each." in status
    pasted = next(q for q in queues.queues() if q.name == "pasted")
    assert not pasted.blind

    gold = handlers["do_gold"]
    with pytest.raises(gr.Error, match="admin password"):
        gold("", pasted.id, stored[1], "rag")
    assert gold(PASSWORD, pasted.id, stored[1], "rag").startswith("✅")
    assert gold(PASSWORD, pasted.id, "f" * 32, "rag").startswith("⚠️")  # not an item of that queue
    state = RaterState(session_id="s-gold")
    handlers["choose"](pasted.id, state)
    handlers["next_item"](state)
    handlers["vote_a"](state)
    (row,) = queues.queue_votes(pasted.id)
    assert row["gold"] == "rag" and row["exchange_id"] == stored[1]


def test_pasted_ids_keep_order_and_drop_repeats():
    a, b = "a" * 32, "0123456789abcdef" * 2
    assert pasted_ids(f"{b}, {a}\n{b}") == [b, a]
    assert pasted_ids("nothing here") == []


def endpoints(queues: RatingQueues) -> dict:
    return {fn.__name__: fn for fn in queue_endpoints(queues)}


def test_the_api_hands_out_labelled_items_and_maps_a_and_b_to_the_pipelines(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("api", stored, raters_per_item=1, blind=True)
    api = endpoints(queues)
    assert [q["id"] for q in api["rating_queues"]()] == [queue.id]
    item = api["queue_next"](queue.id, "bot-1")
    assert [a["label"] for a in item["answers"]] == ["A", "B"]
    assert all("pipeline" not in a for a in item["answers"])  # blind: no names before the vote
    shown_b = queues.next_item(queue.id, "bot-1").answers[1].pipeline  # the open item, in this rater's order
    result = api["queue_vote"](queue.id, item["exchange_id"], "B", "bot-1")
    assert result["choice"] == shown_b and result["revealed"]["B"] == shown_b
    assert result["progress"]["rater_done"] == 1
    assert votes_in(store) == [(item["exchange_id"], shown_b, "bot-1")]

    with pytest.raises(gr.Error, match="not your open item"):  # never given it: refused, and no seat taken for
        api["queue_vote"](queue.id, stored[1 - stored.index(item["exchange_id"])], "A", "bot-2")  # bot-2 (below)
    with pytest.raises(gr.Error, match="not your open item"):
        api["queue_vote"](queue.id, item["exchange_id"], "A", "bot-1")  # twice
    with pytest.raises(gr.Error, match="Unknown choice"):
        api["queue_vote"](queue.id, item["exchange_id"], "rag", "bot-1")  # a name would unblind a blind queue
    with pytest.raises(gr.Error, match="rater is required"):
        api["queue_next"](queue.id, "  ")
    assert len(votes_in(store)) == 1

    second = api["queue_next"](queue.id, "bot-1")   # N=1: free, as bot-2's refused vote took no seat
    assert second["exchange_id"] not in ("", item["exchange_id"])
    api["queue_vote"](queue.id, second["exchange_id"], "tie", "bot-1")
    assert api["queue_next"](queue.id, "bot-1")["exchange_id"] == ""  # nothing left
    assert api["queue_next"](queue.id, "bot-2")["exchange_id"] == ""  # N=1: both items are done


def test_a_skipped_item_goes_back_to_the_pool_at_once_and_never_to_the_rater_again(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("T4 battery", stored, raters_per_item=1, blind=False)
    handlers = tab(queues)
    ana, ben = RaterState(session_id="session-ana"), RaterState(session_id="session-ben")
    handlers["choose"](queue.id, ana)
    handlers["next_item"](ana)
    skipped = ana.item.exchange_id
    handlers["skip"](ana)
    assert ana.item is not None and ana.item.exchange_id != skipped   # the next item at once
    handlers["choose"](queue.id, ben)
    handlers["next_item"](ben)
    assert ben.item.exchange_id == skipped   # its one seat was free again, not held until a timeout
    handlers["vote_a"](ana)
    shown = handlers["skip"](ana)   # nothing left for ana: the skipped item is never hers again
    assert ana.item is None and value_with_id(shown, "rq-notice") == NOTHING_LEFT
    assert [row[0] for row in votes_in(store)] == [stored[1 - stored.index(skipped)]]


def test_the_admin_edits_the_guidelines_and_later_votes_record_the_new_version(store, stored):
    queues = RatingQueues(store)
    queue = queues.create("T4 battery", stored, raters_per_item=1, guidelines="Prefer cited facts.")
    handlers = tab(queues, AdminAuth(PASSWORD))
    with pytest.raises(gr.Error):
        handlers["do_guidelines"]("wrong", queue.id, "Anything goes.")
    assert queues.queue(queue.id).guidelines_version == 1   # refused: nothing changed
    ana = RaterState(session_id="session-ana")
    handlers["choose"](queue.id, ana)
    handlers["next_item"](ana)
    handlers["vote_a"](ana)
    status, shown = handlers["do_guidelines"](PASSWORD, queue.id, "Prefer the **shorter** answer.")
    assert "version 2" in status and shown.startswith("#### Guidelines (version 2)") and "**shorter**" in shown
    picked = handlers["choose"](queue.id, ana)
    assert "**shorter**" in value_with_id(picked, "rq-guidelines")
    handlers["next_item"](ana)
    handlers["vote_a"](ana)
    assert [vote["guidelines_version"] for vote in queues.queue_votes(queue.id)] == [1, 2]
    assert handlers["do_guidelines"](PASSWORD, None, "x")[0].startswith("⚠️")
