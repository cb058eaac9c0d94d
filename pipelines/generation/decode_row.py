"""One row of a decode: what it asked for, the tokens it picked, and its text so far; the rules every engine
shares (stop rule, loop guard, copy rule, temperature), so the transformers batch (:mod:`.decode_batch`) and
the llama.cpp batch (:mod:`.llama_cpp_batch`) answer by the same rules from the logits each computes.

Example::

    row = DecodeRow.start(0, GenerationRequest(messages), tokenizer, max_new_tokens=64)
    while True:
        deltas, ended = row.accept(row.pick(next_token_logits))   # logits: a 1-D float tensor
        ...                                       # feed the picked token to the model; stop when ended
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from transformers import PreTrainedTokenizerBase

from pipelines.generation.copy_rule import CopyRule
from pipelines.generation.decoding import BASE_ADAPTER
from pipelines.generation.requests import GenerationRequest


class IncrementalDecoder:
    """Turns one row's token ids into text deltas, holding back incomplete multi-byte characters."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.sent = ""

    def push(self, token: int) -> str:
        self.tokens.append(token)
        text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        delta, self.sent = text[len(self.sent) :], text
        return delta


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    """The prompt text of a chat: the tokenizer's chat template with the assistant's turn opened."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant:"


def eos_ids(tokenizer: PreTrainedTokenizerBase) -> set[int]:
    """Every token id that ends a turn for this tokenizer's chat format."""
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    for token in ("<|im_end|>", "<|endoftext|>", "<|eot_id|>"):
        token_id = tokenizer.convert_tokens_to_ids(token)
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
            ids.add(token_id)
    return ids


@dataclass
class DecodeRow:
    """One row's token-level state: what it asked for, what it generated, and its text so far."""

    row_id: int
    request: GenerationRequest
    max_new_tokens: int
    temperature: float
    decoder: IncrementalDecoder
    copy_rule: CopyRule | None
    eos: set[int]  # the tokens that end its turn
    generated: list[int] = field(default_factory=list)
    picked: int = 0

    @classmethod
    def start(cls, row_id: int, request: GenerationRequest, tokenizer: PreTrainedTokenizerBase,
              max_new_tokens: int, temperature: float = 0.0, eos: set[int] | None = None) -> DecodeRow:
        """A new row, with its copy rule built from the request's text (when it has one)."""
        eos = eos_ids(tokenizer) if eos is None else eos
        copy_rule = (CopyRule(tokenizer, request.copy_from, spans=request.copy_spans, eos=eos)
                     if request.copy_from is not None else None)
        return cls(row_id, request, max_new_tokens, temperature, IncrementalDecoder(tokenizer), copy_rule, eos)

    @property
    def adapter(self) -> str:
        return self.request.adapter or BASE_ADAPTER

    def accept(self, token: int) -> tuple[list[str | None], bool]:
        """Take the picked token: the text deltas to send (``None`` last when the row ended) and whether it ended."""
        self.picked += 1
        if token in self.eos:
            return [None], True
        self.generated.append(token)
        delta = self.decoder.push(token)
        end = self.request.rules.answer_end(self.decoder.sent) if delta else None
        if end is not None:  # the answer's sentence is complete: keep it, drop what follows
            keep = end - (len(self.decoder.sent) - len(delta))
            return ([delta[:keep]] if keep > 0 else []) + [None], True
        out: list[str | None] = [delta] if delta else []
        if self.picked >= self.max_new_tokens:
            return [*out, None], True
        return out, False

    def constrain(self, logits: torch.Tensor) -> None:
        """Forbid, in this row's logits, the tokens that would repeat an n-gram of its answer or leave its
        copy rule's text."""
        banned = self.request.rules.banned_tokens(self.generated)
        if banned:
            logits[list(banned)] = float("-inf")
        if self.copy_rule is not None:
            logits[self.copy_rule.outside(self.generated, logits.shape[-1]).to(logits.device)] = float("-inf")

    def pick(self, logits: torch.Tensor) -> int:
        """The next token from this row's logits (1-D, changed in place by :meth:`constrain`): the best one,
        or a sample at the row's temperature."""
        self.constrain(logits)
        if self.temperature > 0:
            probabilities = torch.softmax(logits / self.temperature, dim=-1)
            return int(torch.multinomial(probabilities, num_samples=1)[0])
        return int(logits.argmax())
