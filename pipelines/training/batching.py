"""How tokenized pairs become a training batch, and what each batch cost: the padding-free lever of issue 32.

Three ways (``TrainingConfig.batching``), the same pairs per step in each:

- ``packed`` (the default): the batch's pairs are laid end to end in one row (transformers'
  ``DataCollatorWithFlattening``) with position ids restarting at 0 for each pair, so the attention mask
  transformers derives from the position ids stops at every pair's boundary, and the first label of every pair
  is -100, so no label is predicted across a boundary. No padding at all; the loss is the mean over the answer
  tokens, the same number the padded batch gives (``tests/test_training_speed.py`` checks it on the real model).
- ``grouped``: padded batches of pairs of similar length (the Trainer's ``group_by_length`` sampler).
- ``padded``: padded batches of randomly drawn pairs (what training did before: about 41% of the tokens of the
  sample corpus's batches were padding).

Whichever way, the loss is taken on the answer tokens only, and :func:`answer_loss` projects onto the vocabulary
(576 x 49k for the offline model, then a softmax over 49k) only at the positions that predict an answer token,
through the model's own ``logits_to_keep`` (a boolean mask, transformers 5): a reading pair's prompt is ~90% of
its tokens and needs no logits at all. The loss and the gradients are the full-logits ones
(``tests/test_training_speed.py``); only the work is less.

A pair longer than ``max_length`` is cut to it, never split across batches (:func:`~pipelines.training.sft.
tokenize_examples` refuses one whose answer would be cut away), so a packed row holds whole pairs only.

Example::

    collator = BatchLog(make_collator(tokenizer, "packed"))
    batch = collator([row_a, row_b])        # one row: row_a then row_b, positions 0.. and 0..
    collator.padding_share()                # 0.0
    loss = answer_loss(model, batch)        # == model(**batch).loss, with logits only where an answer token is next
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.training.config import BATCHING


def make_collator(tokenizer, batching: str) -> Callable[[list[dict]], dict]:
    """The data collator for a batching mode; labels of padding and of each pair's first token are -100."""
    from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening

    if batching not in BATCHING:
        raise ValueError(f"Unknown batching {batching!r}: use one of {', '.join(BATCHING)}")
    if batching == "packed":
        return DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)


def answer_positions(labels):
    """Boolean mask of the positions whose next token is a trained (answer) token: the only logits the loss reads."""
    import torch

    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != -100
    return keep


def answer_loss(model, batch: dict, num_items_in_batch=None):
    """The causal-LM loss over the answer tokens (mean, or the sum over ``num_items_in_batch`` as the Trainer
    counts them across gradient accumulation: transformers' own rule), computing logits only where it reads them."""
    import torch.nn.functional as F

    labels = batch["labels"]
    keep = answer_positions(labels)
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    logits = model(**inputs, logits_to_keep=keep).logits  # (kept positions, vocabulary)
    targets = labels[:, 1:][keep[:, :-1]]
    total = F.cross_entropy(logits.float(), targets.to(logits.device), reduction="sum")
    return total / (num_items_in_batch if num_items_in_batch is not None else max(1, targets.numel()))


def sampling_strategy(batching: str) -> str:
    """The Trainer's ``train_sampling_strategy`` for a batching mode: the run's schedule is already shuffled
    (:mod:`pipelines.training.schedule`), so it is read in order; ``grouped`` regroups it by length."""
    return "group_by_length" if batching == "grouped" else "sequential"


@dataclass
class BatchLog:
    """A collator that counts, for each training batch it builds, the real (pair) tokens and the token slots
    (real + padding): the bench's tokens/s and padding share, and the metadata's. Only batches of the ``counted``
    rows (the training set, by identity) are counted: the Trainer collates its held-out batches with it too."""

    collator: Callable[[list[dict]], dict]
    counted: list[dict] | None = None  # None: count every batch
    batches: list[tuple[int, int]] = field(default_factory=list)  # (real tokens, slots) per batch, in order

    def __post_init__(self) -> None:
        self._ids = None if self.counted is None else {id(row) for row in self.counted}

    def __call__(self, features: list[dict]) -> dict[str, Any]:
        batch = self.collator(features)
        if self._ids is None or id(features[0]) in self._ids:
            real = sum(len(feature["input_ids"]) for feature in features)
            self.batches.append((real, int(batch["input_ids"].numel())))
        return batch

    def real_tokens(self, first: int = 0, last: int | None = None) -> int:
        return sum(real for real, _ in self.batches[first:last])

    def padding_share(self, first: int = 0, last: int | None = None) -> float:
        """Share of the token slots of batches ``first..last`` that are padding (0.0 when packed)."""
        slots = sum(total for _, total in self.batches[first:last])
        return 1.0 - self.real_tokens(first, last) / slots if slots else 0.0
