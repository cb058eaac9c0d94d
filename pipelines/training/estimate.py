"""What a training run will cost, told before it starts: pairs, steps and minutes from a measured warm-up.

A step's time on the CPU is a fixed part (bitsandbytes de-quantises every 4-bit weight for the forward and again
for the backward, whatever the batch holds) plus a part that grows with the tokens in the batch. The warm-up
times a forward and backward on the loaded model on the shortest pairs and on the longest (each twice, averaged,
after one untimed pass that warms the kernels: one timing on a shared machine is noisy), and fits
``fixed + per_token * tokens`` through the two; the run's estimate is that line summed over its planned steps.
No optimizer step is taken: the warm-up leaves the weights as they were (its gradients are cleared).

Example::

    cost = measure_step_cost(model, collator, rows, batch_size=4)
    estimate = estimate_run([len(r["input_ids"]) for r in rows], config, cost)
    print(estimate.summary())   # "443 pairs, 666 steps, about 21 minutes on this machine"
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pipelines.training.config import TrainingConfig


@dataclass(frozen=True)
class StepCost:
    """Seconds of one micro-batch (forward + backward) as ``fixed_s + per_token_s * tokens``."""

    fixed_s: float
    per_token_s: float

    def seconds(self, tokens: float) -> float:
        return self.fixed_s + self.per_token_s * tokens

    @classmethod
    def fit(cls, small: tuple[int, float], large: tuple[int, float]) -> StepCost:
        """The line through two (tokens, seconds) timings; neither part below zero (noise on a busy machine)."""
        (n1, t1), (n2, t2) = small, large
        if n2 <= n1:
            return cls(0.0, max(t1, t2) / max(n1, 1))
        per_token = max(0.0, (t2 - t1) / (n2 - n1))
        fixed = max(0.0, t1 - per_token * n1)
        if fixed == 0.0:  # the line would pass below zero at no tokens: proportional through the larger timing
            per_token = t2 / n2
        return cls(fixed, per_token)


@dataclass(frozen=True)
class RunEstimate:
    pairs: int
    steps: int
    seconds: float
    cost: StepCost

    def summary(self) -> str:
        minutes = self.seconds / 60
        about = f"{minutes:.0f} minutes" if minutes >= 2 else f"{self.seconds:.0f} seconds"
        return f"{self.pairs} pairs, {self.steps} steps, about {about} on this machine"

    def to_dict(self) -> dict:
        return {"pairs": self.pairs, "steps": self.steps, "seconds": round(self.seconds, 1), **asdict(self.cost)}


#: A warm-up times five forward and backward passes; a run of fewer micro-batches than this is over about as soon
#: as its estimate would be, so it starts at once and tells no estimate (tests' and demos' few-step runs).
MIN_MICRO_BATCHES_FOR_WARM_UP = 8


def worth_a_warm_up(run_pairs: int, config: TrainingConfig) -> bool:
    """Whether the run (``run_pairs`` fed, repeats counted) is long enough for its estimate to be worth five extra
    passes before it."""
    return config.steps_for(run_pairs) * config.grad_accumulation >= MIN_MICRO_BATCHES_FOR_WARM_UP


def estimate_run(pair_tokens: list[int], config: TrainingConfig, cost: StepCost,
                 pairs: int | None = None) -> RunEstimate:
    """The run's pairs, steps and seconds from the tokens of every pair it feeds (the schedule: repeats counted):
    each step's micro-batches hold the mean pair's tokens times the batch. ``pairs``: the distinct pairs (shown)."""
    steps = config.steps_for(len(pair_tokens))
    mean = sum(pair_tokens) / len(pair_tokens) if pair_tokens else 0.0
    tokens = mean * min(config.batch_size, max(len(pair_tokens), 1))
    seconds = steps * config.grad_accumulation * cost.seconds(tokens)
    return RunEstimate(len(pair_tokens) if pairs is None else pairs, steps, seconds, cost)


def measure_step_cost(model, collator, rows: list[dict], batch_size: int, repeats: int = 2,
                      loss_of: Callable | None = None) -> StepCost:
    """Time forward + backward on the ``batch_size`` shortest and the ``batch_size`` longest rows (one untimed
    pass first, then ``repeats`` of each, averaged) and fit the line; gradients are cleared after, no weight
    changes. ``loss_of(model, batch)``: the loss the run takes (default: the model's own)."""
    import torch

    if not rows:
        raise ValueError("No tokenized pairs to time a warm-up step on")
    ordered = sorted(rows, key=lambda row: len(row["input_ids"]))
    size = min(batch_size, len(ordered))
    small, large = ordered[:size], ordered[-size:]

    def timed(batch_rows: list[dict], times: int = repeats) -> tuple[int, float]:
        batch = {key: value.to(model.device) for key, value in collator(batch_rows).items()
                 if isinstance(value, torch.Tensor)}
        started = time.perf_counter()
        for _ in range(times):
            (loss_of(model, batch) if loss_of else model(**batch).loss).backward()
        return sum(len(row["input_ids"]) for row in batch_rows), (time.perf_counter() - started) / times

    was_training = model.training
    model.train()
    try:
        timed(small, 1)  # warms the kernels and the allocator: the first pass is slower than any later one
        cost = StepCost.fit(timed(small), timed(large))
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return cost
