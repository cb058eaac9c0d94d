"""Property-based fuzzing of every text that reaches the feedback store, on SQLite and on PostgreSQL: questions,
answers, errors, passages, history, model and adapter ids, pipeline names, session ids, user names, comments,
metric names, reasons and scorers, plus the exchange ids that look-ups take from API clients.

Generated text holds NUL (PostgreSQL refuses it in text; SQLite kept it), lone surrogates (a JSON payload's
``"\\ud800"``; neither driver encodes them), right-to-left marks, quotes, and strings longer than a column
(PostgreSQL refuses them; SQLite kept them). Both backends must store the same normalised text (NUL removed,
lone surrogates replaced, cut to the column) or refuse with :class:`FeedbackError`; never a driver error.

The PostgreSQL run starts the tests' server (``postgres_url``), so it is marked ``integration``; the SQLite
run is a unit test. The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper
run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_feedback_store.py --hypothesis-show-statistics
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipelines.common.events import PipelineResult, RetrievedChunk
from pipelines.feedback.store import FeedbackError, FeedbackStore

ODD = st.sampled_from(["\x00", "a\x00b", "\ud800", "x\udfffy", "\u202eevil\u202c", "'; DROP TABLE votes; --", "\\",
                       "\U0001f642", "\r\n", "ｆｕｌｌ", "e\u0301"])
TEXT = st.lists(st.one_of(st.text(max_size=20), ODD), max_size=6).map("".join)
LONG = st.one_of(TEXT, st.integers(0, 400).map(lambda n: "n" * n))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request, tmp_path_factory) -> Iterator[str]:
    """A fresh database on each backend for this module (PostgreSQL: the tests' server, one new database)."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("fuzz-store") / "feedback.sqlite3")
        return
    from tests.postgres import create_database

    yield create_database(request.getfixturevalue("postgres_url"), prefix="fuzz")


@pytest.fixture(scope="module")
def store(target: str) -> Iterator[FeedbackStore]:
    from pathlib import Path

    opened = FeedbackStore.open(target if "://" in target else Path(target))
    yield opened
    opened.close()


def stored(text: str | None, length: int | None = None) -> str | None:
    """The text as both backends keep it: NUL removed, each lone surrogate replaced, cut to the column's length."""
    if text is None:
        return None
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text[:length] if length else text


@given(session_id=LONG, question=TEXT, answer=TEXT, error=st.one_of(st.none(), TEXT), model_id=LONG,
       adapter_id=st.one_of(st.none(), LONG), passage=TEXT, source=TEXT, history=TEXT,
       user_name=st.one_of(st.none(), LONG), comment=TEXT.map(lambda c: c[:2000]), metric=LONG, reason=TEXT,
       scorer=LONG)
@example(session_id="s", question="Who\x00 founded Lumenhollow?", answer="Ada\x00", error=None, model_id="m",
         adapter_id=None, passage="p\x00", source="s.txt", history="h", user_name=None, comment="nul\x00",
         metric="faithfulness", reason="r", scorer="j")  # PostgreSQL refused the NUL: a driver error (DataError)
@example(session_id="s", question="\ud800", answer="a", error=None, model_id="m", adapter_id=None, passage="p",
         source="s", history="h", user_name=None, comment="", metric="m", reason="", scorer="j")  # UnicodeEncodeError
@example(session_id="s" * 65, question="q", answer="a", error=None, model_id="m" * 300, adapter_id="a" * 300,
         passage="p", source="s", history="h", user_name="u" * 200, comment="c", metric="m" * 200, reason="r",
         scorer="j" * 300)  # PostgreSQL: value too long for type character varying(...)
def test_every_text_is_stored_the_same_way_on_both_backends(
        store: FeedbackStore, session_id: str, question: str, answer: str, error: str | None, model_id: str,
        adapter_id: str | None, passage: str, source: str, history: str, user_name: str | None, comment: str,
        metric: str, reason: str, scorer: str) -> None:
    """An exchange, a vote, a rating and scores with generated text: stored normalised, or refused clearly."""
    chunk = RetrievedChunk(text=passage, source=source, chunk_index=0, score=0.5, rank=1)
    results = [PipelineResult("rag", answer, [chunk], error, None, model_id, adapter_id),
               PipelineResult("finetuned", answer, [], None, None, model_id, adapter_id)]
    try:
        exchange_id = store.record_exchange(session_id, question, results, [{"role": "user", "content": history}],
                                            user_name=user_name)
    except FeedbackError as exc:
        assert str(exc).strip()
        return
    saved = store.exchange(exchange_id)
    assert saved["question"] == stored(question) and saved["session_id"] == stored(session_id, 64)
    assert saved["user_name"] == stored(user_name, 128)
    rag = saved["answers"]["rag"]
    assert rag["answer"] == stored(answer) and rag["error"] == stored(error)
    assert rag["model_id"] == stored(model_id, 256) and rag["adapter_id"] == stored(adapter_id, 256)
    assert rag["contexts"][0]["text"] == stored(passage) and rag["contexts"][0]["source"] == stored(source)

    vote_id = store.add_vote(exchange_id, "rag", session_id=session_id, user_name=user_name)
    vote = store.votes(exchange_id)[-1]
    assert vote["id"] == vote_id and vote["session_id"] == stored(session_id, 64)
    assert vote["rater"] == (stored(user_name, 128) or stored(session_id, 64))[:128]

    if comment.strip().replace("\x00", ""):
        store.add_rating(exchange_id, "rag", session_id=session_id, comment=comment, user_name=user_name)
        assert store.ratings(exchange_id)[-1]["comment"] == stored(comment)

    store.add_scores(exchange_id, [{"pipeline": "rag", "metric": metric, "value": 0.5, "status": "ok",
                                    "reason": reason}], scorer=scorer)
    score = store.scores(exchange_id)[-1]
    assert score["metric"] == stored(metric, 128) and score["reason"] == stored(reason)
    assert score["scorer"] == stored(scorer, 256)


@given(exchange_id=st.one_of(LONG, st.sampled_from(["\x00", "0" * 32 + "\x00", "x" * 33, "\ud800"])),
       choice=st.one_of(TEXT, st.sampled_from(["rag", "tie", "both_bad"])), pipeline=LONG)
@example(exchange_id="\x00", choice="rag", pipeline="rag")  # PostgreSQL: DataError in the look-up
@example(exchange_id="x" * 40, choice="rag", pipeline="rag")  # PostgreSQL: value too long in the vote insert
def test_look_ups_by_unknown_ids_are_refused_or_empty(store: FeedbackStore, exchange_id: str, choice: str,
                                                     pipeline: str) -> None:
    """Ids an API client makes up: no exchange, no rows, and a vote or rating on them is a FeedbackError."""
    assert store.exchange(exchange_id) is None and store.view(exchange_id) is None
    assert store.votes(exchange_id) == [] or not exchange_id
    with pytest.raises(FeedbackError):
        store.add_vote(exchange_id, choice, session_id="s")
    with pytest.raises(FeedbackError):
        store.add_rating(exchange_id, pipeline, session_id="s", score=3)
