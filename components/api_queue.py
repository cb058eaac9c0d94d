"""Public API: rating queues for programs and agents: list the queues, get the next item, vote on it.

Each call is self-contained (no browser session): the caller names itself with ``rater`` (the signed-in Hugging
Face user, when there is one, overrides it, as ``votes.rater`` does). In a blind queue the answers come as "A" and
"B" in the order this rater sees them, without their pipelines, and ``queue_vote`` takes "A", "B", "tie" or
"both_bad" and reveals them. Nothing here generates: the items are stored answers, so these endpoints skip
Gradio's event queue (``components/api.py``): one plain ``POST /gradio_api/run/queue_next`` answers at once. A
caller by plain HTTP should keep one ``session_hash`` in the body across its calls, as a browser and
``gradio_client`` do: without one Gradio builds a fresh session of every component per call (~30 ms of CPU here).

Example (``gradio_client``)::

    item = client.predict(queue_id=qid, rater="ana", api_name="/queue_next")
    client.predict(queue_id=qid, exchange_id=item["exchange_id"], choice="A", rater="ana", api_name="/queue_vote")
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import gradio as gr

from components.admin import signed_in_user
from pipelines.common.columns import BOTH_BAD, TIE, VOTE_CHOICES
from pipelines.feedback.queues import QueueError, QueueItem, RatingQueues
from pipelines.feedback.store import FeedbackError

LABELS = ("A", "B")
MAX_RATER_CHARS = 128  # votes.rater and queue_claims.rater hold 128


def _rater(rater: object) -> str:
    """The signed-in user, else the caller's own name for itself; a clear error when neither is given."""
    user = signed_in_user()
    if user:
        return user
    if not isinstance(rater, str) or not rater.strip():
        raise gr.Error("rater is required: a name for yourself (or sign in with Hugging Face).")
    if len(rater.strip()) > MAX_RATER_CHARS:
        raise gr.Error(f"rater is too long: at most {MAX_RATER_CHARS} characters.")
    return rater.strip()


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise gr.Error(f"{name} must be given (text).")
    return value.strip()


def item_payload(item: QueueItem, blind: bool) -> dict:
    """One item as the API returns it: labelled answers (pipelines only when the queue is not blind)."""
    shown = []
    for tag, answer in zip(LABELS, item.answers, strict=False):
        entry = {"label": tag, "answer": answer.answer, "error": answer.error, "contexts": answer.contexts}
        if not blind:
            entry["pipeline"] = answer.pipeline
        shown.append(entry)
    return {"queue_id": item.queue_id, "exchange_id": item.exchange_id, "question": item.question,
            "position": item.position, "blind": blind, "answers": shown}


def queue_endpoints(queues: RatingQueues) -> list[Callable]:
    """The queue endpoints; ``queues`` does the work, these give Gradio names, types and docs."""

    def rating_queues() -> list[dict]:
        """The rating queues: id, name, raters per item, blind or not, guidelines (Markdown) and its version,
        creation time and number of items.

        Returns:
            one dict per queue, newest first as the store lists them.
        """
        return [asdict(info) for info in queues.queues()]

    def queue_next(queue_id: str, rater: str = "") -> dict:
        """The next item of a queue for this rater: its open item, else one that still needs raters and that
        this rater never had. Stored answers only: nothing is generated.

        Args:
            queue_id: the queue's id (from rating_queues).
            rater: your name as a rater (ignored when you are signed in with Hugging Face: that name counts).

        Returns:
            exchange_id (for queue_vote), question, position and the two answers labelled A and B (with their
            retrieved contexts; with their pipelines only when the queue is not blind), and this rater's and the
            queue's progress; exchange_id is "" when nothing is left for this rater.
        """
        who, qid = _rater(rater), _text("queue_id", queue_id)
        try:
            info = queues.queue(qid)
            item = queues.next_item(qid, who)
            progress = asdict(queues.progress(qid, who))
        except FeedbackError as exc:
            raise gr.Error(str(exc)) from exc
        if item is None:
            return {"queue_id": qid, "exchange_id": "", "rater": who, "progress": progress,
                    "message": "Nothing left for this rater in this queue."}
        return {**item_payload(item, info.blind), "rater": who, "progress": progress}

    def queue_vote(queue_id: str, exchange_id: str, choice: str, rater: str = "") -> dict:
        """Vote on the item queue_next gave this rater; stored as an arena vote (the leaderboard counts it).

        Args:
            queue_id: the queue's id.
            exchange_id: the item's exchange_id from queue_next.
            choice: "A" or "B" (the better answer, as queue_next labelled them), "tie" or "both_bad"; in a queue
                that is not blind also a pipeline name (rag, finetuned).
            rater: the same name given to queue_next.

        Returns:
            the vote's id, the stored choice, which pipeline each label was, and the progress after the vote.
        """
        who = _rater(rater)
        qid, eid, picked = _text("queue_id", queue_id), _text("exchange_id", exchange_id), _text("choice", choice)
        try:
            info = queues.queue(qid)
            stored, revealed = _resolve(queues, qid, eid, who, picked, info.blind)
            vote_id = queues.vote(qid, eid, who, stored, session_id=who, user_name=signed_in_user())
            progress = asdict(queues.progress(qid, who))
        except FeedbackError as exc:
            raise gr.Error(str(exc)) from exc
        return {"vote_id": vote_id, "exchange_id": eid, "choice": stored, "revealed": revealed,
                "progress": progress}

    return [rating_queues, queue_next, queue_vote]


def _resolve(queues: RatingQueues, queue_id: str, exchange_id: str, rater: str, choice: str,
             blind: bool) -> tuple[str, dict[str, str]]:
    """The stored choice for "A"/"B"/tie/both_bad (or a pipeline name in a named queue), and the label→pipeline
    reveal, read from the item this rater holds (the order queue_next gave), without claiming anything."""
    lowered = choice.lower()
    if lowered in (TIE, BOTH_BAD):
        stored = lowered
    elif choice.upper() in LABELS or (not blind and lowered in VOTE_CHOICES):
        stored = ""
    else:
        allowed = '"A", "B", "tie" or "both_bad"' + ("" if blind else " or a pipeline name")
        raise QueueError(f"Unknown choice {choice!r}: expected {allowed}.")
    open_item = queues.held_item(queue_id, exchange_id, rater)  # in the order queue_next gave it; reads only
    if open_item is None:
        if stored:  # tie / both bad need no order: the store says why it refuses (voted already, not assigned)
            return stored, {}
        raise QueueError(f"Exchange {exchange_id} is not your open item in this queue (not given to you by "
                         "queue_next, or voted already): call queue_next for your item.")
    revealed = {tag: answer.pipeline for tag, answer in zip(LABELS, open_item.answers, strict=False)}
    if not stored:
        stored = revealed[choice.upper()] if choice.upper() in LABELS else lowered
    return stored, revealed
