"""One descriptor per arena column: its id and every name the UI gives it, in one place.

The id (``name``) is what pipelines, stored answers, votes and scores use; the labels are for people. The
arena tab, the leaderboard, the vote rules and the pipelines all read this registry, so a new column (or a
renamed one) is one entry here.

Example::

    from pipelines.common.columns import COLUMNS, label

    [c.name for c in COLUMNS]        # ['rag', 'finetuned', 'rag_finetuned', 'base']
    label("rag_finetuned")           # 'RAG + fine-tuned'
    label("unknown")                 # 'unknown': an unregistered id shows as itself
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["pair", "third", "floor"]


@dataclass(frozen=True)
class Column:
    """``kind``: ``pair`` = one of the two columns every arena shows; ``third`` = the optional third column;
    ``floor`` = the base model alone, for benches and batch reports (never shown in the arena, never voted)."""

    name: str
    label: str  # tables and plots: the leaderboard, ratings, comments
    short_label: str  # tight spots: vote buttons, the blind-mode reveal, the vote notice
    title: str  # the heading of its arena column
    kind: Kind = "pair"

    @property
    def in_arena(self) -> bool:
        return self.kind != "floor"


RAG = Column("rag", "RAG", "RAG", "RAG · Weaviate hybrid retrieval + base model")
FINETUNED = Column("finetuned", "Fine-tuned", "Fine-tuned", "Fine-tuned · QLoRA adapter, no retrieval")
RAG_FINETUNED = Column("rag_finetuned", "RAG + fine-tuned", "RAG+FT", "RAG + fine-tuned · retrieval and the adapter",
                       kind="third")
BASE = Column("base", "Base model", "Base", "Base model · no retrieval, no adapter", kind="floor")

COLUMNS: tuple[Column, ...] = (RAG, FINETUNED, RAG_FINETUNED, BASE)  # the arena's order, left to right
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

PAIR: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.kind == "pair")  # a session's columns by default
ARENA_COLUMNS: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.in_arena)

TIE = "tie"
BOTH_BAD = "both_bad"
#: What a vote may choose: a column shown in the arena, or no winner.
VOTE_CHOICES: tuple[str, ...] = (*ARENA_COLUMNS, TIE, BOTH_BAD)


def label(name: str) -> str:
    """The column's label; an unregistered id (an old or a new pipeline) is shown as itself."""
    return BY_NAME[name].label if name in BY_NAME else name


def short_label(name: str) -> str:
    return BY_NAME[name].short_label if name in BY_NAME else name


def title(name: str) -> str:
    return BY_NAME[name].title if name in BY_NAME else name


def is_arena_column(name: str) -> bool:
    return name in BY_NAME and BY_NAME[name].in_arena
