"""Training throughput (issue 32): real tokens per second, padding share and seconds per step of our QLoRA path,
each lever alone, against a bare peft LoRA loop on the same pairs, in one run.

The pairs are a seeded sample of the default recipe's ("both": short closed-book pairs and long reading pairs)
on the sample corpus (or ``--docs``). Every variant trains ``--steps`` steps from a fresh LoRA; the first
``--warmup`` are not counted. Rows:

- ``padded``: the path before issue 32 (random pairs, padded to the longest of the batch, logits everywhere)
- ``grouped``: padded, pairs of similar length together (the Trainer's group_by_length sampler)
- ``packed``: pairs end to end, no padding, logits only where an answer token is next (the default now), at
  each ``--batch-sizes`` (the step-time curve)
- ``alllogits``: packed, but every position projected onto the vocabulary (the answer-only lever, alone)
- ``nodropout``: packed, LoRA dropout 0 (the profile's second cost: a dropout mask per LoRA layer per step): the
  quick preset's setting (on dev its 3-epoch accuracy equalled dropout 0.05's; thorough keeps 0.05)
- ``bare fp32``: the textbook loop (peft model on an fp32 base, AdamW, forward/backward/step, padded random
  batches, no Trainer); ``bare 4-bit``: the same loop on the 4-bit base (isolates the Trainer's own cost)

  ratio = our real tokens/s / the bare fp32 loop's   (goal >= 1.0)

It also prints the estimate the packed run gave before its first step against the loop's measured time, and,
with ``--profile``, the top operators of one packed 4-bit step (torch.profiler).

    python bench/train_throughput.py [--pairs 64] [--steps 8] [--warmup 2] [--batch-sizes 4,8] [--profile]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from transformers import TrainerCallback  # noqa: E402


class StepTimes(TrainerCallback):
    """Seconds of each optimizer step (data, forward, backward, optimizer: everything the loop does)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._began = 0.0

    def on_step_begin(self, args, state, control, **kwargs) -> None:
        self._began = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs) -> None:
        self.times.append(time.perf_counter() - self._began)


def row(name: str, batch: int, times: list[float], batches: list[tuple[int, int]], warmup: int) -> dict:
    timed, counted = times[warmup:], batches[warmup:len(times)]
    real, slots = sum(r for r, _ in counted), sum(s for _, s in counted)
    return {"variant": name, "batch": batch, "s_per_step": sum(timed) / len(timed),
            "tokens_per_s": real / sum(timed), "padding": 1 - real / slots if slots else 0.0}


def ours(model_path: str, examples, config, warmup: int, name: str) -> tuple[dict, object]:
    from pipelines.training.sft import train_adapter

    timer, told = StepTimes(), []
    with tempfile.TemporaryDirectory() as tmp:
        report = train_adapter(model_path, examples, Path(tmp) / "adapter", config, extra_callbacks=[timer],
                               on_estimate=told.append)
    return row(name, config.batch_size, timer.times, report.batches, warmup), report


def bare(model_path: str, examples, config, warmup: int, name: str) -> dict:
    """The textbook loop on the same tokenized rows: peft model, AdamW, forward/backward/step, padded batches."""
    import torch

    from pipelines.training.sft import lora_model, tokenize_examples

    tokenizer, model, _ = lora_model(model_path, config)
    rows = tokenize_examples(tokenizer, examples, config.max_length)
    torch.manual_seed(config.seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    order: list[int] = []
    shuffle = random.Random(config.seed)
    while len(order) < config.max_steps * config.batch_size:  # shuffled epochs, as the Trainer's sampler does
        epoch = list(range(len(rows)))
        shuffle.shuffle(epoch)
        order += epoch
    times, batches = [], []
    for step in range(config.max_steps):
        started = time.perf_counter()
        batch = [rows[order[step * config.batch_size + i]] for i in range(config.batch_size)]
        width = max(len(r["input_ids"]) for r in batch)

        def pad(seq: list[int], width: int = width) -> int:
            return width - len(seq)

        input_ids = torch.tensor([r["input_ids"] + [tokenizer.pad_token_id] * pad(r["input_ids"]) for r in batch])
        labels = torch.tensor([r["labels"] + [-100] * pad(r["labels"]) for r in batch])
        mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * pad(r["input_ids"]) for r in batch])
        model(input_ids=input_ids, attention_mask=mask, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
        batches.append((sum(len(r["input_ids"]) for r in batch), int(input_ids.numel())))
    return row(name, config.batch_size, times, batches, warmup)


def profile(model_path: str, examples, config, top: int = 12) -> str:
    """torch.profiler's table of one packed forward + backward on the 4-bit LoRA model (after one untimed)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from pipelines.training.batching import make_collator
    from pipelines.training.sft import lora_model, tokenize_examples

    tokenizer, model, _ = lora_model(model_path, config)
    rows = tokenize_examples(tokenizer, examples, config.max_length)[: config.batch_size]
    batch = make_collator(tokenizer, "packed")(rows)
    model.train()
    model(**batch).loss.backward()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        model(**batch).loss.backward()
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top, max_name_column_width=48)


def sample(examples, pairs: int, seed: int):
    if pairs <= 0 or pairs >= len(examples):
        return list(examples)
    return random.Random(seed).sample(list(examples), pairs)


def _row_text(row: dict) -> str:
    """A variant's figures as it finishes (not indented: bench/run_all.py collects only the indented ratio lines)."""
    return (f"{row['variant']}: {row['s_per_step']:.2f} s a step of {row['batch']} pairs, "
            f"{row['tokens_per_s']:.0f} real tokens/s, padding {row['padding']:.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=Path, help="documents to build the pairs from (default: the sample corpus)")
    parser.add_argument("--pairs", type=int, default=64, help="seeded sample of the pairs (0: all)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-sizes", default="4,8", help="packed batch sizes (the step-time curve)")
    parser.add_argument("--only", default="", help="comma-separated variants to run (default: all)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import torch

    from pipelines.common.settings import Settings
    from pipelines.generation.models import resolve_model_path
    from pipelines.training.config import TrainingConfig
    from pipelines.training.examples import build_examples

    settings = Settings()
    model_path = resolve_model_path(settings)
    base = TrainingConfig(max_steps=args.steps)
    all_pairs = build_examples(args.docs or settings.corpus_dir, settings.questions_file, recipe=base.recipe)
    examples = sample(all_pairs, args.pairs, base.seed)
    print(f"train throughput: {len(examples)} of {len(all_pairs)} pairs ({base.recipe} recipe), {args.steps} steps, "
          f"first {args.warmup} not counted, rank {base.rank}, max length {base.max_length}; torch threads "
          f"{torch.get_num_threads()} of {os.cpu_count()} cores; gradient checkpointing "
          f"{'on (CUDA)' if torch.cuda.is_available() else 'off (CPU)'}", flush=True)
    wanted = set(filter(None, args.only.split(",")))
    rows, estimate_line = [], ""
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    runs = [("padded", replace(base, batching="padded", answer_logits_only=False)),
            ("grouped", replace(base, batching="grouped"))]
    runs += [(f"packed b{size}", replace(base, batching="packed", batch_size=size)) for size in sizes]
    runs.append(("alllogits", replace(base, batching="packed", answer_logits_only=False)))
    runs.append(("nodropout", replace(base, batching="packed", dropout=0.0)))
    # Whichever variant ran first measured slow in two runs (1.4-4x its time later in the run; a fresh process alone
    # was not, so likely other work ending as the bench starts). One short run of the default goes first, uncounted.
    ours(model_path, examples, replace(base, max_steps=args.warmup + 1), args.warmup, "process warm-up")
    for name, config in runs:
        if wanted and name.split()[0] not in wanted:
            continue
        result, report = ours(model_path, examples, config, args.warmup, name)
        rows.append(result)
        if name.startswith("packed") and report.estimate is not None and not estimate_line:
            estimate_line = (f"estimate before the run ({name}): {report.estimate.seconds:.0f} s for "
                             f"{report.estimate.steps} steps; measured loop {report.train_s:.0f} s "
                             f"(ratio {report.train_s / report.estimate.seconds:.2f}; within 0.5-2 required)")
        print(f"- {_row_text(result)}", flush=True)
    for name, four_bit in (("bare fp32", False), ("bare 4-bit", True)):
        if wanted and name.replace(" ", "-") not in wanted and "bare" not in wanted:
            continue
        rows.append(bare(model_path, examples, replace(base, four_bit=four_bit), args.warmup, name))
        print(f"- {_row_text(rows[-1])}", flush=True)
    reference = next((r for r in rows if r["variant"] == "bare fp32"), None)
    print("\n| variant | pairs/step | s/step | real tokens/s | padding share | tokens/s vs bare fp32 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['tokens_per_s'] / reference['tokens_per_s']:.2f}" if reference else "–"
        print(f"| {r['variant']} | {r['batch']} | {r['s_per_step']:.2f} | {r['tokens_per_s']:.0f} | "
              f"{r['padding']:.0%} | {ratio} |")
    if reference:  # one line per variant in the "label : ratio" form bench/run_all.py collects
        print()
        for r in rows:
            if not r["variant"].startswith("bare"):
                print(f"  {r['variant']} real tokens/s vs bare fp32 peft loop: "
                      f"{r['tokens_per_s'] / reference['tokens_per_s']:.2f}  (goal >= 1.0; padding {r['padding']:.0%})")
    if estimate_line:
        print("\n" + estimate_line)
    if args.profile:
        print("\nprofile of one packed 4-bit step (forward + backward):")
        print(profile(model_path, examples, replace(base, batching="packed")))


if __name__ == "__main__":
    main()
