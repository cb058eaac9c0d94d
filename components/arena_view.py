"""What the arena tab shows, as plain data: no Gradio here, so every rule is unit-tested without a browser.

``components/arena.py`` wires these to the components: an :class:`ExchangeView` follows one exchange's
events and says what each column (chat, status line, title), the context panel and the notice show; the
functions give the titles, vote buttons and vote notice for named and blind mode. Blind mode labels the
columns A, B (C), hides the context panel and the citations (they would tell which column is RAG), and
reveals who was who once the user has voted.

Example::

    view = ExchangeView("Who founded Lumenhollow?", ["rag", "finetuned"], blind=False)
    for name, event in arena.ask(question, session):
        frame = view.apply(name, event, session.shown_order, voted=session.voted)
        frame.chats(histories), frame.statuses, frame.titles, frame.context, frame.notice
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from components.rendering import citations_line, context_panel_html, status_line
from pipelines.common.columns import BOTH_BAD, BY_NAME, PAIR, RAG, TIE, is_arena_column, short_label, title
from pipelines.common.events import ContextEvent, DoneEvent, ErrorEvent, RecordedEvent, RetrievedChunk, TokenEvent

BLIND_LABELS = ("A", "B", "C")
POSITIONS = ("left", "right", "third")  # the third column sits right of the other two
TWO_COLUMNS = PAIR
HIDDEN_PANEL = context_panel_html([], error="Hidden in blind mode until you vote (it would tell which column is RAG).")
RECORDED = "Answers recorded. Which one is better?"
NO_WINNER_VERDICTS = {TIE: "a tie", BOTH_BAD: "none is good"}


def arena_columns(pipelines: Sequence[str]) -> list[str]:
    """The arena's pipelines the tab can show, in the arena's order (the base-model floor is left out)."""
    return [name for name in pipelines if is_arena_column(name)]


def vote_labels(blind: bool, order: Sequence[str]) -> dict[str, str]:
    """The vote buttons' texts by key (left, right, third, tie, both_bad); "" hides a button."""
    names = [BLIND_LABELS[i] if blind else short_label(name) for i, name in enumerate(order)]
    if len(names) == 2:
        return {"left": f"👈 {names[0]} is better", "right": f"👉 {names[1]} is better", "third": "",
                TIE: "🤝 Tie", BOTH_BAD: "👎 Both are bad"}
    return {"left": f"🥇 {names[0]} is best", "right": f"🥇 {names[1]} is best", "third": f"🥇 {names[2]} is best",
            TIE: "🤝 Tie", BOTH_BAD: "👎 All are bad"}


def titles(order: Sequence[str], blind: bool, voted: bool) -> list[str]:
    """Each column's heading: its title when named; "Model A" when blind, with the name once voted."""
    if not blind:
        return [f"### {title(name)}" for name in order]
    if voted:
        return [f"### Model {label} — revealed: {short_label(name)}"
                for label, name in zip(BLIND_LABELS, order, strict=False)]
    return [f"### Model {label}" for label in BLIND_LABELS[: len(order)]]


def verdict(choice: str) -> str:
    """The vote as words; the optional third column can only win among three, hence "best"."""
    if choice in NO_WINNER_VERDICTS:
        return NO_WINNER_VERDICTS[choice]
    third = choice in BY_NAME and BY_NAME[choice].kind == "third"
    return f"{short_label(choice)} is {'best' if third else 'better'}"


def vote_notice(vote_id: int, choice: str, blind: bool, order: Sequence[str]) -> str:
    """The notice after a stored vote; in blind mode it reveals which column was which."""
    message = f"✅ Vote #{vote_id} stored: {verdict(choice)}. RAGAS scores appear in the Evaluation tab."
    if not blind:
        return message
    reveal = ", ".join(f"{label} was {short_label(name)}" for label, name in zip(BLIND_LABELS, order, strict=False))
    return f"{message} Revealed: {reveal}."


@dataclass(frozen=True)
class Frame:
    """What the tab shows after one event. ``context``/``held`` None: the panel (or the panel held back for
    after a blind vote) stays as it is."""

    question: str
    order: tuple[str, ...]  # the columns from left to right
    answers: tuple[str, ...]  # per position
    statuses: tuple[str, ...]  # per position
    titles: tuple[str, ...]  # per position
    blind: bool
    context: str | None = None
    held: str | None = None
    notice: str = ""
    votes_open: bool = False

    def chats(self, histories: Sequence[list]) -> list[list[dict]]:
        """Each column's conversation: its earlier turns (none in blind mode), the question, the answer so far."""
        shown = []
        for position, answer in enumerate(self.answers):
            earlier = [] if self.blind else list(histories[position])
            turn = [{"role": "user", "content": self.question}]
            if answer:
                turn.append({"role": "assistant", "content": answer})
            shown.append(earlier + turn)
        return shown


class ExchangeView:
    """The state of one exchange on screen, fed the arena's events in order."""

    def __init__(self, question: str, columns: Sequence[str], blind: bool) -> None:
        self.question = question
        self.blind = blind
        self.answers = dict.fromkeys(columns, "")
        self.statuses = {name: status_line(None, running=True) for name in columns}
        self.cited: dict[str, list[RetrievedChunk]] = {}  # per column: the passages its prompt held

    def apply(self, name: str, event: object, order: Sequence[str], voted: bool = False) -> Frame:
        """Take one ``(name, event)`` of :meth:`Arena.ask`; ``order`` is the session's shown order."""
        panel: str | None = None
        notice, votes_open = "", False
        if isinstance(event, ContextEvent):
            self.cited[name] = [c for c in event.chunks  # citations: of the passages the model read
                                if event.in_prompt is None or c.rank in event.in_prompt]
            panel = context_panel_html(event.chunks, query=self.question)
        elif isinstance(event, TokenEvent):
            self.answers[name] += event.text
        elif isinstance(event, DoneEvent):
            self.answers[name] = event.answer or "(empty answer)"
            self.statuses[name] = status_line(event.timings, hide_retrieval=self.blind)
            if self.cited.get(name) and not self.blind:  # in blind mode citations would give RAG away
                self.statuses[name] += "  \n" + citations_line(event.answer, self.cited[name])
        elif isinstance(event, ErrorEvent):
            self.answers[name] = f"⚠️ {event.message}"
            self.statuses[name] = status_line(None, error=event.message)
            if name == RAG.name:  # the panel shows RAG's passages, so it shows RAG's error
                panel = context_panel_html([], error=event.message)
        elif isinstance(event, RecordedEvent):
            notice, votes_open = RECORDED, True
        context, held = (None, None) if panel is None else (HIDDEN_PANEL, panel) if self.blind else (panel, None)
        return self.frame(order, voted, context=context, held=held, notice=notice, votes_open=votes_open)

    def frame(self, order: Sequence[str], voted: bool = False, **shown) -> Frame:
        order = tuple(order)
        return Frame(self.question, order, tuple(self.answers[name] for name in order),
                     tuple(self.statuses[name] for name in order), tuple(titles(order, self.blind, voted)),
                     self.blind, **shown)
