"""Batching across sessions: one thread decodes the rows of every waiting request together (continuous
batching), so twenty raters share each decode step instead of queueing behind one another.

A request (one question's columns: two or three rows, each with its own adapter, max tokens and stop rule)
is admitted between two decode steps when its rows fit under ``max_rows``, in arrival order (a request never
overtakes an earlier one); its prompts are prefilled, its rows join the running batch, and each row leaves as
soon as it ends (a row that fails alone, joining or decoding, ends with a ``RowFailure``, and the others go on).
Each request streams to its own caller; a caller that stops reading (a closed page) cancels its request, and
its rows leave before the next step; a caller that hears nothing for ``stall_s`` (a batch that deadlocked) gets
a ``TimeoutError`` instead of waiting for ever. Loading an adapter pauses the batch
(:meth:`ContinuousBatcher.paused`): no request is let in, the answers being decoded finish on the adapter they
started with, and then the load runs.
The batch is either engine's: :class:`~.decode_batch.DecodeBatch` or :class:`~.llama_cpp_batch.LlamaCppBatch`.

Example::

    batcher = ContinuousBatcher(DecodeBatch(backend), max_rows=16)
    for row, delta in batcher.stream([GenerationRequest(messages)], max_new_tokens=64):
        print(delta or "")                  # another thread's request decodes in the same steps
    batcher.close()
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.common.events import RowFailure
from pipelines.generation.requests import GenerationRequest

log = logging.getLogger(__name__)
_END = object()  # a ticket's outbox: every row ended


class StepBatch(Protocol):
    """What the batcher needs of a decode batch (either engine's: ``DecodeBatch``, ``LlamaCppBatch``)."""

    @property
    def row_ids(self) -> list[int]: ...

    def holding(self) -> AbstractContextManager[object]:
        """Hold the model for a run of steps; the rows stay in the batch after it is released."""
        ...

    def join(self, row_id: int, request: GenerationRequest, max_new_tokens: int, temperature: float) -> None: ...

    def leave(self, row_ids: set[int]) -> None: ...

    def step(self) -> list[tuple[int, str | RowFailure | None]]: ...


@dataclass(eq=False)
class Ticket:
    """One caller's request: its rows' outputs arrive in ``outbox`` as ``(row, delta)``, then the end marker."""

    requests: list[GenerationRequest]
    max_new_tokens: int
    temperature: float
    outbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    row_ids: dict[int, int] = field(default_factory=dict)  # batch row id -> this request's row
    open_rows: int = 0
    cancelled: bool = False

    def finish(self, error: BaseException | None = None) -> None:
        if error is not None:
            self.outbox.put(error)
        self.outbox.put(_END)


class ContinuousBatcher:
    """Admits requests of every caller into one running decode batch, on one background thread."""

    def __init__(self, batch: StepBatch, max_rows: int = 16, stall_s: float = 600.0) -> None:
        """``stall_s``: the longest a caller waits for its request's next output (its turn in the queue, an adapter
        load, a step) before the request fails with ``TimeoutError``; far above any wait a working batch causes."""
        if max_rows < 1:
            raise ValueError("max_rows must be at least 1")
        if not stall_s > 0:
            raise ValueError("stall_s must be positive")
        self.batch = batch
        self.max_rows = max_rows
        self.stall_s = stall_s
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._active: dict[int, Ticket] = {}  # batch row id -> its ticket
        self._row_ids = itertools.count()
        self._pauses = 0
        self._holding = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.steps = 0  # decode steps run (for tests and benchmarks)
        self.largest_batch = 0  # the most rows one step decoded
        self.shared_steps = 0  # steps that decoded rows of more than one request (sessions batched together)

    # --- callers -------------------------------------------------------------------------------------------
    def stream(self, requests: list[GenerationRequest], max_new_tokens: int,
               temperature: float = 0.0) -> Iterator[tuple[int, str | RowFailure | None]]:
        """Yield ``(row, delta)`` for this request's rows as the shared batch decodes them, ``(row, None)`` when
        a row ends. The request waits for its turn from this call on; closing the iterator early cancels it;
        a failure is raised here, and so is ``TimeoutError`` after ``stall_s`` with no output."""
        return self._drain(self.submit(requests, max_new_tokens, temperature))

    def _drain(self, ticket: Ticket) -> Iterator[tuple[int, str | RowFailure | None]]:
        try:
            while True:
                try:
                    item = ticket.outbox.get(timeout=self.stall_s)
                except queue.Empty:
                    raise TimeoutError(f"no output from the decode batch for {self.stall_s:g} s: the request "
                                       "was given up (the batch is stuck)") from None
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.cancel(ticket)

    def submit(self, requests: list[GenerationRequest], max_new_tokens: int, temperature: float = 0.0) -> Ticket:
        ticket = Ticket(list(requests), max_new_tokens, temperature)
        with self._cond:
            if self._stopped:
                raise RuntimeError("The batcher is closed")
            if not ticket.requests:
                ticket.finish()
                return ticket
            self._waiting.append(ticket)
            self._ensure_thread()
            self._cond.notify_all()
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        """Stop a request: waiting, it is dropped; decoding, its rows leave before the next step."""
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            ticket.cancelled = True
            self._cond.notify_all()
        ticket.finish()  # whoever still reads it stops here

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No decode step runs inside this block (to load an adapter): the rows decoding finish first, so an
        answer never changes adapter half-way, and requests arriving meanwhile wait for the block to end."""
        with self._cond:
            self._pauses += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: not self._holding)
        try:
            yield
        finally:
            with self._cond:
                self._pauses -= 1
                self._cond.notify_all()

    def close(self) -> None:
        """End the thread; requests still waiting or decoding get an error."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    @property
    def rows_decoding(self) -> int:
        with self._cond:
            return len(self._active)

    # --- the decode thread ---------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="continuous-batcher", daemon=True)
            self._thread.start()

    def _has_work(self) -> bool:
        return bool(self._waiting or self._active)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopped or (self._pauses == 0 and self._has_work()))
                if self._stopped:
                    break
                self._holding = True
            try:
                with self.batch.holding():
                    self._steps_while_held()
            except Exception as exc:  # holding itself failed (the model could not be taken): fail every request
                log.exception("the decode batch could not run")
                self._fail_all(exc, waiting=True)
            finally:
                with self._cond:
                    self._holding = False
                    self._cond.notify_all()
        self._fail_all(RuntimeError("The batcher was closed"), waiting=True)

    def _steps_while_held(self) -> None:
        """Decode steps until there is no work or the batcher closes; while a pause is asked for, no request
        is let in and the rows decoding finish first (an answer never changes adapter half-way)."""
        while True:
            with self._cond:
                if self._stopped or (not self._active and (self._pauses or not self._waiting)):
                    return
                cancelled = {row for row, ticket in self._active.items() if ticket.cancelled}
                for row in cancelled:
                    del self._active[row]
                admitted = [] if self._pauses else self._admit()
            try:
                if cancelled:
                    self.batch.leave(cancelled)
                for ticket in admitted:
                    self._join(ticket)
                if not self.batch.row_ids:
                    continue
                self.largest_batch = max(self.largest_batch, len(self.batch.row_ids))
                requests = len(set(self._active.values()))  # only this thread changes _active
                outputs = self.batch.step()
            except Exception as exc:  # the batch itself failed: every request in it gets the error
                log.exception("a decode step failed")
                self._fail_all(exc, also=admitted)
                continue
            self.steps += 1
            self.shared_steps += requests > 1
            self._deliver(outputs)

    def _admit(self) -> list[Ticket]:
        """The oldest waiting request if its rows fit (any request fits an empty batch); called locked.

        One request per step: a step right after its prefill gives its first token, instead of after the
        prefills of every request that arrived with it."""
        if not self._waiting:
            return []
        ticket = self._waiting[0]
        if self._active and len(self._active) + len(ticket.requests) > self.max_rows:
            return []
        return [self._waiting.popleft()]

    def _join(self, ticket: Ticket) -> None:
        """Prefill the ticket's rows into the batch. A row that cannot join (its prompt too long, its rules
        broken) ends alone with a ``RowFailure`` and the request's other rows decode on; a request none of
        whose rows joined ends here."""
        joined: set[int] = set()
        for index, request in enumerate(ticket.requests):
            row_id = next(self._row_ids)
            try:
                self.batch.join(row_id, request, ticket.max_new_tokens, ticket.temperature)
            except Exception as exc:
                log.exception("row %d of a request could not join the batch", index)
                ticket.outbox.put((index, RowFailure(f"{type(exc).__name__}: {exc}")))
                continue
            joined.add(row_id)
            ticket.row_ids[row_id] = index
        if not joined:
            ticket.finish()
            return
        ticket.open_rows = len(joined)
        with self._cond:
            self._active.update(dict.fromkeys(joined, ticket))

    def _deliver(self, outputs: list[tuple[int, str | RowFailure | None]]) -> None:
        for row_id, delta in outputs:
            ended = delta is None or isinstance(delta, RowFailure)  # a failed row ends with its failure
            with self._cond:
                ticket = self._active.get(row_id)
                if ticket is None:
                    continue
                if ended:
                    del self._active[row_id]
            ticket.outbox.put((ticket.row_ids[row_id], delta))
            if ended:
                ticket.open_rows -= 1
                if ticket.open_rows == 0:
                    ticket.finish()

    def _fail_all(self, error: BaseException, also: Sequence[Ticket] = (), waiting: bool = False) -> None:
        """End every request in the batch and ``also`` (being let in) with ``error``, and the waiting ones too
        when ``waiting``; empty the batch. A failed step leaves the waiting requests to run afterwards."""
        with self._cond:
            tickets = list(dict.fromkeys([*self._active.values(), *also, *(self._waiting if waiting else ())]))
            self._active.clear()
            if waiting:
                self._waiting.clear()
        for ticket in tickets:
            ticket.finish(error)
        try:
            self.batch.leave(set(self.batch.row_ids))  # every row, those of a request half let in too
        except Exception:  # a broken batch must not stop the thread
            log.exception("could not empty the decode batch")
