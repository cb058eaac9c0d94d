"""Training cost: seconds per step of our QLoRA path (transformers Trainer) vs a bare peft loop, in one run.

Same base model (4-bit NF4 where bitsandbytes allows), same LoRA (all linear layers, same rank),
same examples, same batch size and max length, completion-only loss in both. The first steps
are warm-up and not counted.

  ratio = our seconds per step / bare loop seconds per step   (goal <= 1.1)

    python bench/train.py [--steps 12] [--warmup 2] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def ours(model_path: str, examples, config, warmup: int) -> float:
    from pipelines.training.sft import train_adapter

    with tempfile.TemporaryDirectory() as tmp:
        progress = Path(tmp) / "progress.jsonl"
        train_adapter(model_path, examples, Path(tmp) / "adapter", config, progress_file=progress)
        rows = [json.loads(line) for line in progress.read_text().splitlines() if '"loss"' in line]
    timed = [row for row in rows if row["step"] > warmup]
    return (timed[-1]["elapsed_s"] - rows[warmup - 1]["elapsed_s"]) / len(timed)


def bare(model_path: str, examples, config, warmup: int) -> float:
    """The textbook loop: peft model, AdamW, forward/backward/step on padded completion-only batches."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from pipelines.generation.prompts import ASSISTANT_SYSTEM
    from pipelines.training.sft import load_training_model

    tokenizer, model, _ = load_training_model(model_path, config.four_bit)
    if getattr(model, "is_loaded_in_4bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model = get_peft_model(model, LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                             target_modules="all-linear", task_type="CAUSAL_LM"))
    torch.manual_seed(config.seed)
    rows = []
    for example in examples:
        prompt = [{"role": "system", "content": ASSISTANT_SYSTEM}, {"role": "user", "content": example.question}]
        prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
        prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(example.answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        ids = (list(prompt_ids) + answer_ids)[: config.max_length]
        labels = ([-100] * len(prompt_ids) + answer_ids)[: config.max_length]
        rows.append((ids, labels))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    order: list[int] = []
    shuffle = random.Random(config.seed)
    while len(order) < config.max_steps * config.batch_size:  # shuffled epochs, as the Trainer's sampler does:
        epoch = list(range(len(rows)))                         # consecutive rows are alike in length and would
        shuffle.shuffle(epoch)                                  # pad less than the Trainer's random batches
        order += epoch
    times = []
    for step in range(config.max_steps):
        batch = [rows[order[step * config.batch_size + i]] for i in range(config.batch_size)]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.tensor([ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
        started = time.perf_counter()
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - started)
    return sum(times[warmup:]) / len(times[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()

    from pipelines.common.settings import Settings
    from pipelines.generation.models import resolve_model_path
    from pipelines.training.config import TrainingConfig
    from pipelines.training.examples import build_examples

    settings = Settings()
    model_path = resolve_model_path(settings)
    examples = build_examples(settings.corpus_dir, settings.questions_file)
    config = TrainingConfig(max_steps=args.steps, batch_size=args.batch_size)
    ours_s = ours(model_path, examples, config, args.warmup)
    bare_s = bare(model_path, examples, config, args.warmup)
    print(f"train ({len(examples)} examples, batch {args.batch_size}, {args.steps} steps, first {args.warmup} not "
          f"counted, rank {config.rank}, 4-bit {config.four_bit})")
    print(f"  seconds per step, ours (transformers Trainer) / bare peft loop : {ours_s / bare_s:.2f}  (goal <= 1.1; "
          f"{ours_s:.2f} s vs {bare_s:.2f} s)")


if __name__ == "__main__":
    main()
