"""Group commit: writes that arrive while another write commits wait, then commit together in one transaction.

A SQLite commit with ``synchronous=FULL`` costs an fsync, and SQLite has one writer at a time, so twenty
raters voting at once otherwise queue twenty fsyncs one behind the other. Here the first caller leads: it
commits every item queued so far in one transaction; callers that arrive meanwhile queue up, and the first
of them leads the next group when the commit ends. No caller waits for a timer (a lone vote commits at once),
and each caller returns only after the transaction holding its item has committed: an acknowledged write is
on disk exactly as before, with one fsync per group instead of one per write.

Example::

    group = GroupCommit(lambda items: [insert_one(conn, item) for item in items])  # one transaction
    vote_id = group.submit(row)   # from any thread; returns this item's outcome once committed
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcome = TypeVar("Outcome")


@dataclass
class _Slot(Generic[Item]):
    item: Item
    done: bool = False
    outcome: object = None
    error: BaseException | None = field(default=None)


class GroupCommit(Generic[Item, Outcome]):
    """Runs ``commit(items)`` for the items queued by concurrent callers, one group at a time.

    ``commit`` gets the queued items in arrival order and returns one outcome per item, or raises; an
    outcome that is an exception is raised in the caller that queued that item, and an exception ``commit``
    raises is raised in every caller of the group.
    """

    def __init__(self, commit: Callable[[list[Item]], list[Outcome | BaseException]]) -> None:
        self._commit = commit
        self._changed = threading.Condition()
        self._queue: list[_Slot[Item]] = []
        self._leading = False

    def submit(self, item: Item) -> Outcome:
        """Queue ``item``, lead the next group unless a commit is under way, and return its outcome."""
        slot = _Slot(item)
        with self._changed:
            self._queue.append(slot)
            while self._leading and not slot.done:
                self._changed.wait()
            leads = not slot.done
            if leads:
                self._leading = True
                group, self._queue = self._queue, []
        if leads:
            self._lead(group)
        if slot.error is not None:
            raise slot.error
        return slot.outcome  # type: ignore[return-value]

    def _lead(self, group: list[_Slot[Item]]) -> None:
        try:
            outcomes = self._commit([slot.item for slot in group])
            if len(outcomes) != len(group):
                raise RuntimeError(f"group commit: {len(outcomes)} outcomes for {len(group)} items")
            for slot, outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    slot.error = outcome
                else:
                    slot.outcome = outcome
        except Exception as exc:  # nothing of this group committed: every caller in it gets the error
            for slot in group:
                slot.error = exc
        except BaseException:  # interrupted (KeyboardInterrupt, SystemExit) in the leading thread
            for slot in group:
                slot.error = RuntimeError("The write was interrupted before it committed.")
            raise  # in the leader itself; each follower gets the RuntimeError
        finally:
            with self._changed:
                for slot in group:
                    slot.done = True
                self._leading = False
                self._changed.notify_all()
