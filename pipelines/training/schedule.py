"""The order a run feeds its pairs: every closed-book pair each epoch, each reading pair ``reading_epochs`` times.

Why: on the CPU default a run's time is per token, and a reading pair (the question, a passage, the answer read
from it) costs about twice a closed-book pair's tokens; on the sample corpus they held 74% of an epoch's tokens.
Facts are learned closed-book and need repetition (several phrasings, several epochs: Ovadia et al. 2023,
arXiv 2312.05934); reading is one skill practised on many facts (RAFT), not a fact to repeat. So the recipe
``both`` feeds every closed-book pair each epoch and spreads ``reading_epochs`` passes over the reading pairs
across the run, a different share each epoch (:meth:`TrainingConfig.epoch_blocks` says how many of each). Each
epoch's pairs are shuffled together with a seeded generator; the Trainer then reads the run in this order, once.

Example::

    schedule = run_schedule(examples, TrainingConfig(epochs=3, reading_epochs=1))
    len(schedule.order)      # 3 x the closed-book pairs + 1 x the reading pairs
    schedule.epoch_ends      # pairs fed by the end of each epoch, e.g. [331, 662, 993]
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pipelines.training.config import TrainingConfig

# A pair (``pipelines.training.config.Example``): anything with a ``context`` (the reading recipe's passages).
ExampleT = TypeVar("ExampleT")


@dataclass(frozen=True)
class RunSchedule(Generic[ExampleT]):
    order: list[ExampleT]  # every pair the run feeds, in order (repeats included)
    epoch_ends: list[int]  # len(order[:end]) at the end of each epoch

    def epoch_end_steps(self, config: TrainingConfig) -> list[int]:
        """The optimizer step at which each epoch's last pair has been fed (snapshots per epoch are taken there)."""
        return [config.pass_steps(end) for end in self.epoch_ends if end]


def is_reading(example) -> bool:
    """A reading pair shows passages with its question; a closed-book pair shows none."""
    return bool(example.context)


def run_schedule(examples: Sequence[ExampleT], config: TrainingConfig) -> RunSchedule[ExampleT]:
    """The run's pairs in feeding order (see the module docstring); the same examples and seed give the same order."""
    rng = random.Random(config.seed)
    closed = [e for e in examples if not is_reading(e)]
    reading = [e for e in examples if is_reading(e)]
    blocks = config.epoch_blocks(len(closed), len(reading))
    passes = math.ceil(sum(r for _, r in blocks) / len(reading)) if reading else 0
    reading_stream = iter(list(itertools.chain.from_iterable(rng.sample(reading, len(reading)) for _ in range(passes))))
    order: list[ExampleT] = []
    ends: list[int] = []
    for closed_count, reading_count in blocks:
        epoch = rng.sample(closed, len(closed))[:closed_count] + list(itertools.islice(reading_stream, reading_count))
        rng.shuffle(epoch)
        order += epoch
        ends.append(len(order))
    return RunSchedule(order, ends)
