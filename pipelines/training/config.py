"""The training value types: a pair (``Example``), a run's hyperparameters (``TrainingConfig``), the recipes,
and where an adapter and its metadata are written. Light on purpose (no transformers, no torch), so the
adapter registry, the background jobs and the Fine-tune tab use them without loading the trainer.

Example::

    config = TrainingConfig(max_steps=20, recipe="closed-book")
    example = Example(question, answer, origin="reference:1")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

METADATA_FILE = "arena_adapter.json"


RECIPES = ("both", "closed-book", "reading")


@dataclass(frozen=True)
class Example:
    """One supervised pair: the question the user asks and the answer the adapter should give; ``context``:
    the passages shown with the question (the reading recipe), in the RAG prompt's form."""

    question: str
    answer: str
    origin: str
    context: tuple[str, ...] = ()


@dataclass
class TrainingConfig:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    learning_rate: float = 2e-3
    epochs: float = 6.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accumulation: int = 1
    max_length: int = 512  # a reading example (question, two passages, answer) needs about 400 tokens
    four_bit: bool = True
    seed: int = 7
    recipe: str = "both"  # "closed-book" (facts), "reading" (RAFT-style: passages), or both for one adapter


def partial_path(output_dir: Path) -> Path:
    """Where an adapter is written before it is complete; a killed run leaves only this behind."""
    return output_dir.with_name(output_dir.name + ".partial")
