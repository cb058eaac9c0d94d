"""A per-user sliding-window limit, so one script cannot flood the vote table.

Example::

    limiter = RateLimiter(per_minute=30)
    limiter.check("session-1")   # raises RateLimitError past 30 calls in 60 s
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class RateLimitError(ValueError):
    """Too many actions in the window; the message says how long to wait."""


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1, got {per_minute}")
        self.per_minute = per_minute
        self.clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, user: str) -> None:
        """Record one action by ``user``, or raise if the last minute already holds ``per_minute``."""
        now = self.clock()
        with self._lock:
            events = self._events[user]
            while events and now - events[0] >= 60:
                events.popleft()
            if len(events) >= self.per_minute:
                wait = 60 - (now - events[0])
                raise RateLimitError(
                    f"Too many votes: at most {self.per_minute} a minute. Try again in {wait:.0f} s."
                )
            events.append(now)
