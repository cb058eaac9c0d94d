"""The training value types: a pair (``Example``), one run's settings (``TrainingConfig``), the recipes, and
where an adapter and its metadata are written. Light on purpose (no transformers, no torch), so the adapter
registry, the background jobs and the Fine-tune tab use them without loading the trainer.

``TrainingConfig`` is the one definition of a run: the command line's flags are made from its fields
(:mod:`pipelines.training.cli`), a background job writes it to a JSON file and starts the command with
``--config FILE``, and the Fine-tune tab builds one from its form. Its hyperparameters (not where the data
comes from or goes) are what an adapter's metadata records.

Example::

    config = TrainingConfig(max_steps=20, recipe="closed-book", docs=Path("data/documents/Docs"))
    config.save(Path("run.json")); TrainingConfig.load(Path("run.json")) == config   # True
    example = Example(question, answer, origin="reference:1")
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from pipelines.common.settings import PROJECT_ROOT

METADATA_FILE = "arena_adapter.json"


RECIPES = ("both", "closed-book", "reading")
BATCHING = ("packed", "grouped", "padded")  # pipelines.training.batching: how pairs become a batch
DEFAULT_DOCS = PROJECT_ROOT / "assets" / "corpus"
DEFAULT_QUESTIONS = PROJECT_ROOT / "assets" / "questions.jsonl"


@dataclass(frozen=True)
class Example:
    """One supervised pair: the question the user asks and the answer the adapter should give; ``context``:
    the passages shown with the question (the reading recipe), in the RAG prompt's form."""

    question: str
    answer: str
    origin: str
    context: tuple[str, ...] = ()


RUN = {"run": True}  # field metadata: what to train on and where to write, not a hyperparameter


@dataclass
class TrainingConfig:
    """Everything one SFT run takes. The first fields are the hyperparameters (the metadata's shape); the
    fields marked ``RUN`` say where the pairs come from and where the adapter goes."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    learning_rate: float = 2e-3
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 4
    grad_accumulation: int = 1
    max_length: int = 512  # a reading example (question, two passages, answer) needs about 400 tokens
    four_bit: bool = True
    seed: int = 7
    recipe: str = "both"  # "closed-book" (facts), "reading" (RAFT-style: passages), or both for one adapter
    # recipe "both": how often each reading pair is seen over the whole run, spread over the epochs (closed-book
    # pairs are seen every epoch); pipelines.training.schedule. The recipe "reading" sees them every epoch.
    reading_epochs: float = 1.0
    reading_passages: int = 1  # passages in a reading pair's prompt: the RAG prompt's (ARENA_READER_PASSAGES)
    docs: Path | None = field(default=DEFAULT_DOCS, metadata=RUN)  # documents to build template pairs from
    dataset: Path | None = field(default=None, metadata=RUN)  # a JSONL/CSV pair file, trained on instead of docs
    questions: Path | None = field(default=DEFAULT_QUESTIONS, metadata=RUN)  # reference pairs; None: docs only
    output: Path | None = field(default=None, metadata=RUN)  # the adapter folder; None: ARENA_ADAPTER_PATH
    model_id: str | None = field(default=None, metadata=RUN)  # the base model; None: ARENA_MODEL_ID
    eval_fraction: float = field(default=0.0, metadata=RUN)  # share of the pairs held out for an eval loss
    # how the pairs of a step are laid out (packed: end to end, no padding): the speed, not what is learned
    batching: str = field(default="packed", metadata=RUN)
    # logits only where an answer token is next (the same loss and gradients, less work); False: every position's
    answer_logits_only: bool = field(default=True, metadata=RUN)

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise ValueError(f"Unknown training recipe {self.recipe!r}: use one of {', '.join(RECIPES)}")
        if self.batching not in BATCHING:
            raise ValueError(f"Unknown batching {self.batching!r}: use one of {', '.join(BATCHING)}")
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"eval_fraction must be at least 0 and below 1, got {self.eval_fraction}")
        # Values no run can train with (from the API, the form's number boxes or a config file): refused here with
        # the field's name, not accepted to fail in the background (or, a NaN learning rate, to train NaN weights).
        for name in ("rank", "alpha", "batch_size", "grad_accumulation", "reading_passages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_length < 16:
            raise ValueError(f"max_length must be at least 16 tokens, got {self.max_length}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be at least 0 and below 1, got {self.dropout}")
        for name in ("learning_rate", "epochs", "reading_epochs"):
            if not 0.0 < getattr(self, name) < math.inf:
                raise ValueError(f"{name} must be a number above 0, got {getattr(self, name)}")

    def hyperparameters(self) -> dict[str, Any]:
        """The fields an adapter's metadata records under ``hyperparameters`` (the data source is not one)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("run")}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: paths as strings."""
        return {name: str(value) if isinstance(value, Path) else value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """A config from plain values (JSON, a form), each converted to its field's type; an unknown name or a
        value of the wrong kind raises ``ValueError`` naming the field."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"Unknown training settings: {', '.join(sorted(unknown))}")
        hints = field_types()
        return cls(**{name: _convert(name, value, hints[name]) for name, value in values.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError("A training config file holds one JSON object")
        return cls.from_dict(values)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json() + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> TrainingConfig:
        return cls.from_json(path.read_text())

    def reading_passes(self) -> float:
        """How often each reading pair is fed over the run: ``reading_epochs`` when the recipe mixes the two kinds,
        else every epoch (the reading recipe's pairs are the whole run)."""
        return self.reading_epochs if self.recipe == "both" else self.epochs

    def epoch_blocks(self, closed: int, reading: int) -> list[tuple[int, int]]:
        """(closed-book, reading) pairs fed in each epoch: every closed-book pair each epoch (a fractional last
        epoch: that share of them), and ``reading_passes`` passes over the reading pairs cut evenly across the
        epochs. :mod:`pipelines.training.schedule` orders a run by it; the steps below count it."""
        total_reading = round(self.reading_passes() * reading)
        blocks, start = [], 0
        for block in range(math.ceil(self.epochs)):
            end = round(total_reading * min(block + 1, self.epochs) / self.epochs)
            blocks.append((round(min(1.0, self.epochs - block) * closed), end - start))
            start = end
        return blocks

    def pass_steps(self, run_pairs: int) -> int:
        """Optimizer steps that feed ``run_pairs`` pairs once (the Trainer's rule for one pass: whole batches, then
        gradient accumulation rounded up)."""
        batches = max(1, math.ceil(run_pairs / self.batch_size))
        return max(1, math.ceil(batches / self.grad_accumulation))

    def steps_for(self, run_pairs: int) -> int:
        """The run's optimizer steps: one pass over its ``run_pairs``, or ``max_steps`` when set (the Trainer then
        cuts the pass short, or reads the run's order again from the start)."""
        return self.max_steps if self.max_steps > 0 else self.pass_steps(run_pairs)

    def planned_steps(self, pairs: int, reading: int = 0) -> int:
        """Optimizer steps of a run on ``pairs`` distinct pairs, ``reading`` of them reading pairs, so the estimate,
        the Fine-tune tab and the progress bar agree with the run."""
        return self.steps_for(sum(c + r for c, r in self.epoch_blocks(pairs - reading, reading)))


#: Named sets of settings for the Fine-tune tab and ``--preset``, chosen on dev questions by
#: ``bench/finetune_sweep.py`` (batch 4, lr 2e-3, packed batches). ``quick`` is the default (``TrainingConfig``'s
#: own values): 3 epochs, LoRA dropout 0 (no dropout mask per LoRA layer per step: the profile's second cost after
#: the matrix products). ``thorough``: 6 epochs, dropout 0.05, about twice the time. Under the pair schedule
#: (reading pairs once over the run) on the 11 dev questions about ``fleet_register.md`` asked in new words, quick
#: knew 27% (fine-tuned) and 36% (RAG + fine-tuned), thorough 27% and 18% (2026-12-07): the longer run learned
#: no more facts and read passages worse, so it is no longer the default. A larger batch is no lever here: packed
#: batches of 8 gave no more real tokens/s than batches of 4 on 2 cores (docs/training.md). The sample adapter
#: trains in 8 minutes with quick (thorough: about 19); the shipped adapter is quick's.
PRESETS: dict[str, dict[str, Any]] = {
    "quick": {"epochs": 3.0, "batch_size": 4, "learning_rate": 2e-3, "dropout": 0.0, "batching": "packed"},
    "thorough": {"epochs": 6.0, "batch_size": 4, "learning_rate": 2e-3, "dropout": 0.05, "batching": "packed"},
}
DEFAULT_PRESET = "quick"


def preset_values(name: str) -> dict[str, Any]:
    """The settings a preset sets; an unknown name raises ``ValueError`` listing the presets."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def field_types() -> dict[str, type]:
    """Each field's value type, ``X | None`` read as ``X`` (what the command line and JSON convert to)."""
    hints = typing.get_type_hints(TrainingConfig)
    return {f.name: next(t for t in typing.get_args(hints[f.name]) or (hints[f.name],) if t is not type(None))
            for f in fields(TrainingConfig)}


def optional(name: str) -> bool:
    """Whether the field takes None (``Path | None``)."""
    hint = typing.get_type_hints(TrainingConfig)[name]
    return isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)


def _convert(name: str, value: Any, kind: type) -> Any:
    if value is None and optional(name):
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    try:
        return kind(value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: int(inf)
        raise ValueError(f"{name} must be a {kind.__name__}, got {value!r:.60}") from exc


def partial_path(output_dir: Path) -> Path:
    """Where an adapter is written before it is complete; a killed run leaves only this behind."""
    return output_dir.with_name(output_dir.name + ".partial")
