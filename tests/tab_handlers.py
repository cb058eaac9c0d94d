"""A Gradio tab's event handlers by function name, so a test calls them as the browser's events do, without a
browser or a server: the tab is built inside a throw-away ``gr.Blocks`` and its registered functions are read back.

Example::

    handlers = tab_handlers(lambda: build_arena_tab(arena, "scripted model", ["Who founded Lumenhollow?"]))
    for update in handlers["ask"]("Who founded Lumenhollow?", session, None, [], [], []):
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr


def tab_events(build: Callable[[], None]) -> dict[str, Any]:
    """Build the tab and return each registered event (Gradio's ``BlockFunction``: ``.fn``, ``.inputs``,
    ``.outputs``) under its function's name (the last one wins)."""
    with gr.Blocks() as demo:
        build()
    return {event.name: event for event in demo.fns.values()}


def tab_handlers(build: Callable[[], None]) -> dict[str, Callable[..., Any]]:
    """Build the tab and return each registered handler under its function's name (the last one wins)."""
    return {name: event.fn for name, event in tab_events(build).items()}


def values_of(update: dict, kind: type) -> list[Any]:
    """The values an update dict gives to components of one class (e.g. every ``gr.Chatbot``), in build order."""
    return [value for component, value in update.items() if isinstance(component, kind)]


def value_with_id(update: dict, elem_id: str) -> Any:
    """The value an update dict gives to the component with this ``elem_id`` (KeyError when it gives none)."""
    for component, value in update.items():
        if getattr(component, "elem_id", None) == elem_id:
            return value
    raise KeyError(elem_id)
