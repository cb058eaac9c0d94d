"""JSON-lines parsing shared by the uploads that take it (question sets, training pairs)."""

from __future__ import annotations

import json
from typing import Any


class JsonLineError(ValueError):
    """A line is not JSON; ``line`` is its 1-based number, ``reason`` the parser's message."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"Line {line} is not valid JSON: {reason}")
        self.line = line
        self.reason = reason


def json_lines(text: str) -> list[tuple[int, Any]]:
    """``(line number, value)`` for each non-blank line; :class:`JsonLineError` names the first bad one.

    Lines end at ``\n`` only (JSON Lines): ``str.splitlines`` also splits at U+2028, U+0085 and other
    separators that JSON allows inside a string, which broke valid lines in two.
    """
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise JsonLineError(number, exc.msg) from exc
        except RecursionError as exc:  # a value nested thousands deep
            raise JsonLineError(number, "the value is nested too deeply") from exc
        except ValueError as exc:  # an integer of more than 4,300 digits (Python's conversion limit)
            raise JsonLineError(number, str(exc).split(";")[0]) from exc
    return rows
