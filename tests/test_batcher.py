"""The continuous batcher's scheduling on a scripted batch (no model): joins mid-decode, leaving, the row cap,
arrival order, cancellation, pauses and failures. The real model's batch is tested in test_continuous_batching."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from pipelines.common.events import RowFailure
from pipelines.generation.batcher import ContinuousBatcher
from pipelines.generation.requests import GenerationRequest

pytestmark = pytest.mark.timeout(60)


class ScriptedBatch:
    """Each row emits ``"<name>:<n> "`` per step until its max tokens. ``gated``: each step waits for a permit
    (:meth:`allow`), so a test decides what happens between two steps."""

    def __init__(self, gated: bool = False) -> None:
        self.rows: dict[int, list] = {}  # row id -> [name, tokens emitted, max tokens]
        self.history: list[list[str]] = []  # the row names each step decoded
        self.joins: list[str] = []
        self.permits = threading.Semaphore(0) if gated else None
        self.held = threading.Event()  # set while holding()
        self.fail_join: str | None = None
        self.fail_step_at: int | None = None

    @property
    def row_ids(self) -> list[int]:
        return list(self.rows)

    def allow(self, steps: int = 10**6) -> None:
        self.permits.release(steps)

    @contextmanager
    def holding(self):
        self.held.set()
        try:
            yield self
        finally:
            self.held.clear()

    def join(self, row_id, request, max_new_tokens, temperature):
        name = request.messages[0]["content"]
        if name == self.fail_join:
            raise ValueError(f"cannot prefill {name}")
        self.joins.append(name)
        self.rows[row_id] = [name, 0, max_new_tokens]

    def leave(self, row_ids):
        for row_id in row_ids:
            self.rows.pop(row_id, None)

    def step(self):
        if self.permits is not None:
            assert self.permits.acquire(timeout=20), "the test never allowed this step"
        if self.fail_step_at is not None and len(self.history) == self.fail_step_at:
            self.fail_step_at = None  # one failure
            raise RuntimeError("decode step failed")
        self.history.append([state[0] for state in self.rows.values()])
        out = []
        for row_id, state in list(self.rows.items()):
            state[1] += 1
            out.append((row_id, f"{state[0]}:{state[1]} "))
            if state[1] >= state[2]:
                out.append((row_id, None))
                del self.rows[row_id]
        return out


def request(name: str) -> GenerationRequest:
    return GenerationRequest([{"role": "user", "content": name}])


def answers(stream) -> dict[int, str]:
    texts: dict[int, str] = {}
    ended = set()
    for row, delta in stream:
        assert row not in ended, "a row sent text after it ended"
        if delta is None:
            ended.add(row)
        else:
            texts[row] = texts.get(row, "") + delta
    assert ended == set(texts)
    return texts


def test_a_request_arriving_mid_decode_joins_the_running_batch_and_ended_rows_leave():
    batch = ScriptedBatch(gated=True)
    batcher = ContinuousBatcher(batch, max_rows=8)
    first = batcher.stream([request("a"), request("b")], max_new_tokens=6)
    batch.allow(1)
    assert next(first) == (0, "a:1 ")
    second = batcher.stream([request("c")], max_new_tokens=2)  # arrives while a and b decode
    batch.allow()
    rest_of_first = answers(first)
    assert answers(second) == {0: "c:1 c:2 "}
    assert rest_of_first[1] == "b:1 b:2 b:3 b:4 b:5 b:6 "
    assert batch.history[0] == ["a", "b"]
    assert ["a", "b", "c"] in batch.history, "c never shared a step with a and b"
    assert batch.history[-1] == ["a", "b"]  # c left after its two tokens; a and b went on without it
    assert batcher.largest_batch == 3
    assert batcher.shared_steps == sum(len(names) == 3 for names in batch.history) == 2  # c's two steps
    batcher.close()


def test_the_row_cap_holds_later_requests_in_arrival_order():
    batch = ScriptedBatch(gated=True)
    batcher = ContinuousBatcher(batch, max_rows=3)
    # x decodes (2 rows); y (2 rows) does not fit beside it, z (1 row) would: z still waits for y, never overtakes
    sizes = {"x": 2, "y": 2, "z": 1}
    streams = [batcher.stream([request(f"{name}{n}") for n in range(1, size + 1)], max_new_tokens=3)
               for name, size in sizes.items()]
    batch.allow()  # all three were waiting before the first step
    texts = [answers(stream) for stream in streams]
    assert [len(t) for t in texts] == list(sizes.values())
    assert max(len(names) for names in batch.history) <= 3
    assert batch.joins == ["x1", "x2", "y1", "y2", "z1"]  # first come, first served, whatever fits
    assert not any("z1" in names and "x1" in names for names in batch.history), batch.history
    batcher.close()


def test_a_caller_that_hears_nothing_for_stall_s_gets_a_timeout_and_the_batcher_goes_on():
    batch = ScriptedBatch(gated=True)  # no step is allowed: a stuck batch
    batcher = ContinuousBatcher(batch, max_rows=8, stall_s=0.5)
    with pytest.raises(TimeoutError, match=r"no output from the decode batch for 0\.5 s"):
        answers(batcher.stream([request("stuck")], max_new_tokens=2))
    batch.allow()  # unstuck: the given-up request left, the next one answers
    assert answers(batcher.stream([request("next")], max_new_tokens=1)) == {0: "next:1 "}
    assert batch.joins == ["stuck", "next"] and batcher.rows_decoding == 0
    with pytest.raises(ValueError, match="stall_s"):
        ContinuousBatcher(batch, stall_s=0)
    batcher.close()


def test_a_request_larger_than_the_cap_still_runs_alone():
    batcher = ContinuousBatcher(ScriptedBatch(), max_rows=1)
    assert answers(batcher.stream([request("a"), request("b")], max_new_tokens=1)) == {0: "a:1 ", 1: "b:1 "}
    batcher.close()


def test_a_cancelled_request_frees_its_rows_before_the_next_step():
    batch = ScriptedBatch(gated=True)
    batcher = ContinuousBatcher(batch, max_rows=8)
    long = batcher.stream([request("long")], max_new_tokens=1000)
    other = batcher.submit([request("other")], max_new_tokens=5)
    batch.allow(1)
    next(long)
    long.close()  # the page went away
    batch.allow()
    texts = []
    while (item := other.outbox.get(timeout=20)) is not ticket_end():
        texts.append(item[1])
    assert "".join(t for t in texts if t) == "other:1 other:2 other:3 other:4 other:5 "
    assert sum("long" in names for names in batch.history) <= 2  # the step running when it was cancelled
    assert batcher.rows_decoding == 0
    batcher.close()


def ticket_end():
    from pipelines.generation.batcher import _END

    return _END


def test_a_pause_waits_for_the_answers_in_flight_and_holds_new_requests_until_it_ends():
    batch = ScriptedBatch(gated=True)
    batcher = ContinuousBatcher(batch, max_rows=8)
    stream = batcher.stream([request("a")], max_new_tokens=4)
    batch.allow(1)
    assert next(stream) == (0, "a:1 ")
    seen = {}

    def load_an_adapter():
        with batcher.paused():
            seen["held"] = batch.held.is_set()
            seen["a finished"] = "a" not in [name for name, _, _ in batch.rows.values()]
            later = batcher.submit([request("later")], max_new_tokens=1)  # arrives during the load
            threading.Event().wait(0.3)
            seen["steps for later during the pause"] = sum("later" in names for names in batch.history)
        seen["later"] = later

    loader = threading.Thread(target=load_an_adapter)
    loader.start()
    batch.allow()
    loader.join(20)
    # the answer in flight ended on the adapter it started with, and nobody held the model during the load
    assert {k: seen[k] for k in ("held", "a finished", "steps for later during the pause")} == {
        "held": False, "a finished": True, "steps for later during the pause": 0}
    assert "a:1 " + answers(stream)[0] == "a:1 a:2 a:3 a:4 "
    assert seen["later"].outbox.get(timeout=20) == (0, "later:1 ")  # and the request that waited runs after
    batcher.close()


def test_a_row_that_fails_alone_ends_its_column_and_the_rest_decode_on():

    class OneRowFails(ScriptedBatch):
        def step(self):  # the real batch drops a failed row itself; this one goes on, and the batcher ignores it
            return [(row, RowFailure("rules broke") if delta == "bad:2 " else delta) for row, delta in super().step()]

    batch = OneRowFails()
    batcher = ContinuousBatcher(batch, max_rows=8)
    items = list(batcher.stream([request("good"), request("bad")], max_new_tokens=3))
    assert (1, RowFailure("rules broke")) in items
    assert "".join(d for row, d in items if row == 0 and isinstance(d, str)) == "good:1 good:2 good:3 "
    assert (0, None) in items and (1, None) not in items  # the failure ended row 1; row 0 ended normally
    batcher.close()


def test_a_row_that_cannot_join_ends_alone_and_a_failed_step_ends_the_running_ones():
    batch = ScriptedBatch()
    batch.fail_join = "bad"
    batcher = ContinuousBatcher(batch, max_rows=8)
    items = list(batcher.stream([request("ok"), request("bad"), request("fine")], max_new_tokens=2))
    failures = [delta for row, delta in items if isinstance(delta, RowFailure)]
    assert [row for row, delta in items if isinstance(delta, RowFailure)] == [1]
    assert "cannot prefill bad" in failures[0].message and (1, None) not in items
    assert "".join(d for row, d in items if row == 0 and isinstance(d, str)) == "ok:1 ok:2 "
    assert "".join(d for row, d in items if row == 2 and isinstance(d, str)) == "fine:1 fine:2 "
    assert batch.rows == {}
    only_bad = list(batcher.stream([request("bad")], max_new_tokens=2))  # nothing joined: the request ends
    assert len(only_bad) == 1 and isinstance(only_bad[0][1], RowFailure)
    assert answers(batcher.stream([request("next")], max_new_tokens=1)) == {0: "next:1 "}
    batch.fail_step_at = len(batch.history)
    with pytest.raises(RuntimeError, match="decode step failed"):
        answers(batcher.stream([request("doomed")], max_new_tokens=3))
    assert answers(batcher.stream([request("after")], max_new_tokens=1)) == {0: "after:1 "}  # the thread lives on
    batcher.close()


def test_a_failed_step_leaves_the_waiting_requests_to_run_after_it():
    batch = ScriptedBatch(gated=True)
    batch.fail_step_at = 0
    batcher = ContinuousBatcher(batch, max_rows=8)
    doomed = batcher.stream([request("doomed")], max_new_tokens=3)
    waiting = batcher.stream([request("waiting")], max_new_tokens=1)  # let in one step after the first
    batch.allow()
    with pytest.raises(RuntimeError, match="decode step failed"):
        answers(doomed)
    assert answers(waiting) == {0: "waiting:1 "}
    batcher.close()


def test_close_fails_waiting_requests_and_refuses_new_ones():
    batch = ScriptedBatch(gated=True)
    batcher = ContinuousBatcher(batch, max_rows=8)
    stream = batcher.stream([request("a")], max_new_tokens=100)
    batch.allow(1)
    next(stream)
    closer = threading.Thread(target=batcher.close)
    closer.start()
    batch.allow()
    with pytest.raises(RuntimeError, match="closed"):
        answers(stream)
    closer.join(10)
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit([request("b")], max_new_tokens=1)
