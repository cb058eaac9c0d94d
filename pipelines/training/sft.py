"""QLoRA fine-tuning on the user's documents: 4-bit NF4 base + LoRA (peft) trained with transformers' Trainer.

Command line (:mod:`pipelines.training.__main__`; the shipped adapter in ``assets/adapters/`` was made
with the defaults)::

    python -m pipelines.training --docs assets/corpus --questions assets/questions.jsonl \
        --output assets/adapters/lumenhollow-qlora
    python -m pipelines.training --dataset pairs.jsonl --output data/adapters/mine --max-steps 200

In code::

    examples = build_examples(Path("assets/corpus"), Path("assets/questions.jsonl"))  # training/examples.py
    report = train_adapter(model_path, examples, Path("out"), TrainingConfig(max_steps=4))
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from transformers import TrainerCallback

from pipelines.common.documents import document_files
from pipelines.common.question_types import DocumentStamp
from pipelines.generation.prompts import ASSISTANT_SYSTEM, ReaderOptions, rag_user_text
from pipelines.training.batching import BatchLog, answer_loss, make_collator, sampling_strategy
from pipelines.training.config import METADATA_FILE, Example, TrainingConfig, partial_path
from pipelines.training.estimate import RunEstimate, estimate_run, measure_step_cost, worth_a_warm_up
from pipelines.training.examples import data_hash
from pipelines.training.registry import recover_adapter, retired_path
from pipelines.training.schedule import is_reading, run_schedule

log = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    output_dir: Path
    steps: int
    losses: list[float] = field(default_factory=list)
    quantization: str = ""
    duration_s: float = 0.0
    steps_per_s: float | None = None  # the training loop's own rate (Trainer's metric, loading excluded)
    peak_gpu_memory_mb: float | None = None  # CUDA only: QLoRA vs LoRA is compared on these two
    train_s: float | None = None  # the training loop alone (Trainer's train_runtime): what the estimate predicts
    real_tokens: int = 0  # pair tokens fed to the training loop, padding not counted
    padding_share: float = 0.0  # share of the batches' token slots that were padding (0 when packed)
    batches: list[tuple[int, int]] = field(default_factory=list)  # (real tokens, slots) of each trained batch
    estimate: RunEstimate | None = None  # told before the loop started (train_adapter's on_estimate)

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.real_tokens / self.train_s if self.train_s and self.real_tokens else None


def tokenize_example(tokenizer, example: Example, max_length: int) -> dict[str, list[int]] | None:
    """One chat-formatted pair with completion-only labels (the prompt's tokens are -100); None when its
    prompt leaves fewer than 8 answer tokens under ``max_length`` (the pair would teach nothing).

    The prompt is rendered exactly as generation renders it (chat template, generation prompt
    added), so the adapter learns on the text it will see when it answers.
    """
    user = example.question
    if example.context:  # the reading recipe: the RAG column's own prompt form
        user = rag_user_text(example.question, list(enumerate(example.context, start=1)), ReaderOptions().form)
    prompt = [{"role": "system", "content": ASSISTANT_SYSTEM}, {"role": "user", "content": user}]
    prompt_text = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
    full_text = tokenizer.apply_chat_template(
        [*prompt, {"role": "assistant", "content": example.answer}], tokenize=False)
    if not full_text.startswith(prompt_text):  # a template that rewrites earlier turns: train on the whole
        prompt_text = ""
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"] if prompt_text else []
    completion_ids = tokenizer(full_text[len(prompt_text):], add_special_tokens=False)["input_ids"]
    if len(prompt_ids) + min(len(completion_ids), 8) > max_length:
        return None
    ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([-100] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def tokenize_each(tokenizer, examples: list[Example], max_length: int) -> list[dict[str, list[int]] | None]:
    """:func:`tokenize_example` for each pair, None where it does not fit (counted in one warning)."""
    rows = [tokenize_example(tokenizer, example, max_length) for example in examples]
    if None in rows:
        log.warning("%d of %d examples left out: their prompt fills max_length %d (raise it)",
                    rows.count(None), len(examples), max_length)
    return rows


def tokenize_examples(tokenizer, examples: list[Example], max_length: int) -> list[dict[str, list[int]]]:
    """The pairs that fit, as the rows the Trainer's data loader indexes (a plain list: no ``datasets``/pyarrow
    needed on a bare GPU box)."""
    return [row for row in tokenize_each(tokenizer, examples, max_length) if row is not None]


def scheduled_rows(tokenizer, examples: list[Example], config: TrainingConfig) -> tuple[list[dict], list[int]]:
    """The rows of the whole run in feeding order (:mod:`pipelines.training.schedule`: closed-book pairs every
    epoch, reading pairs ``reading_epochs`` times), each pair tokenized once (a repeated pair is the same row
    object), and the optimizer step that ends each epoch."""
    tokenized = dict(zip(examples, tokenize_each(tokenizer, examples, config.max_length), strict=True))
    schedule = run_schedule([e for e in examples if tokenized[e] is not None], config)
    return [tokenized[e] for e in schedule.order], schedule.epoch_end_steps(config)


def load_training_model(model_path: str, four_bit: bool):
    """Tokenizer (with a pad token) and base model for training: NF4 4-bit (QLoRA) when asked and bitsandbytes
    allows, else 16-bit on CUDA / fp32 on CPU; plus a label saying which, and whether 4-bit fell back."""
    from transformers import AutoTokenizer

    from pipelines.generation.models import load_causal_lm

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_causal_lm(model_path, four_bit=four_bit)
    quantized = bool(getattr(model, "is_loaded_in_4bit", False))
    if four_bit and not quantized:
        log.warning("bitsandbytes 4-bit is unavailable here: training plain LoRA on a full-precision base")
    if quantized:
        return tokenizer, model, "4-bit NF4 (QLoRA)"
    precision = str(model.dtype).removeprefix("torch.")
    return tokenizer, model, f"{precision} (LoRA fallback)" if four_bit else f"{precision} (LoRA)"


#: At most this many pairs are held out for the eval loss, whatever the fraction: the eval pass runs at every
#: sixth of the run, and on a CPU 70 held-out reading pairs (a tenth of the sample corpus's) took longer than the
#: training steps between them. 32 pairs give a usable curve at a bounded cost.
MAX_HELD_OUT = 32


def split_examples(examples: list[Example], eval_fraction: float, seed: int = 7,
                   max_held_out: int = MAX_HELD_OUT) -> tuple[list[Example], list[Example]]:
    """(train, held-out) with a seeded shuffle; no held-out set below 10 examples (it would starve training),
    and at most ``max_held_out`` held out (the rest train)."""
    import random

    if max_held_out < 1:
        raise ValueError(f"max_held_out must be at least 1, got {max_held_out}")
    if eval_fraction <= 0 or len(examples) < 10:
        return list(examples), []
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    held = min(max(1, round(len(shuffled) * eval_fraction)), max_held_out)
    return shuffled[held:], shuffled[:held]


class ProgressFile(TrainerCallback):
    """Appends one JSON line per logged step (train or eval loss) so another process can draw the curve."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")

    def _write(self, row: dict) -> None:
        with self.path.open("a") as out:
            out.write(json.dumps(row) + "\n")

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        self._write({"event": "start", "max_steps": state.max_steps,
                     "elapsed_s": round(time.perf_counter() - self.started, 2)})

    def estimated(self, estimate: RunEstimate) -> None:
        """Pairs, steps and seconds, before the first step: the Fine-tune tab shows them while the run warms up."""
        self._write({"event": "estimate", **estimate.to_dict(),
                     "elapsed_s": round(time.perf_counter() - self.started, 2)})

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        logs = logs or {}
        row = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0.0, 3),
               "elapsed_s": round(time.perf_counter() - self.started, 2)}
        for key in ("loss", "eval_loss"):
            if key in logs:
                self._write({**row, key: float(logs[key])})


def document_hashes(docs: Path) -> dict[str, str]:
    """name -> sha256 of every document the pairs were built from, the digest the verdict compares them by
    (:class:`~pipelines.common.question_types.DocumentStamp`)."""
    if not docs.is_dir():
        return {}
    return {path.name: DocumentStamp.of_file(path).sha256 for path in document_files(docs)}


class EpochSnapshots(TrainerCallback):
    """Saves the LoRA weights at the end of each epoch to ``folder/epoch-N``: with the constant learning rate,
    one run of N epochs gives the adapters of 1..N epochs, so a sweep over epochs costs one training run (with
    ``reading_epochs`` below the epochs, epoch k of an N-epoch run has read k/N of the reading pairs).
    The Trainer reads the run's schedule as one pass, so :func:`train_adapter` tells it the steps that end an
    epoch (``epoch_steps``, counted in the pass); a ``max_steps`` beyond the pass reads it again, epoch by epoch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.epoch_steps: list[int] = []

    def on_step_end(self, args, state, control, model=None, **kwargs) -> None:
        if model is None or not self.epoch_steps:
            return
        passes, step = divmod(state.global_step - 1, self.epoch_steps[-1])
        if step + 1 in self.epoch_steps:
            epoch = passes * len(self.epoch_steps) + self.epoch_steps.index(step + 1) + 1
            model.save_pretrained(self.folder / f"epoch-{epoch}")


def lora_model(model_path: str, config: TrainingConfig):
    """(tokenizer, the base with fresh LoRA layers on every linear layer, quantization label): the QLoRA recipe
    (norms in fp32, and on CUDA gradient checkpointing; on a CPU it would recompute the forward for memory that
    a small model does not need)."""
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    tokenizer, model, quantization = load_training_model(model_path, config.four_bit)
    # Training never reads a KV cache, and with one transformers skips the mask it derives from a packed batch's
    # position ids: measured, a packed batch then lets each pair attend to the pairs before it (loss 3.30 where the
    # padded batch gives 2.11); without it the packed loss equals the padded one (tests/test_training_speed.py).
    model.config.use_cache = False
    if "4-bit" in quantization:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=torch.cuda.is_available())
    model = get_peft_model(model, LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules="all-linear", task_type="CAUSAL_LM",
    ))
    return tokenizer, model, quantization


def warm_up_estimate(model, tokenizer, rows: list[dict], config: TrainingConfig, pairs: int) -> RunEstimate:
    """The run's cost from a measured warm-up on the loaded model (:mod:`pipelines.training.estimate`); ``rows``:
    the run's scheduled rows, ``pairs``: the distinct pairs among them."""
    cost = measure_step_cost(model, make_collator(tokenizer, config.batching), rows, config.batch_size,
                             loss_of=answer_loss if config.answer_logits_only else None)
    return estimate_run([len(row["input_ids"]) for row in rows], config, cost, pairs)


def estimate_training(model_path: str, examples: list[Example], config: TrainingConfig) -> RunEstimate:
    """Pairs, steps and minutes of a run, without running it: load the model, time the warm-up, nothing written."""
    if not examples:
        raise ValueError("No training examples: add documents or a dataset first.")
    tokenizer, model, _ = lora_model(model_path, config)
    rows, _ = scheduled_rows(tokenizer, examples, config)
    return warm_up_estimate(model, tokenizer, rows, config, len(examples))


def train_adapter(model_path: str, examples: list[Example], output_dir: Path, config: TrainingConfig,
                  base_model_id: str | None = None, eval_examples: list[Example] | None = None,
                  progress_file: Path | None = None,
                  extra_callbacks: list[TrainerCallback] | None = None,
                  on_estimate: Callable[[RunEstimate], None] | None = None) -> TrainingReport:
    """Train a LoRA adapter and write it, with its metadata, to ``output_dir`` (atomically);
    ``extra_callbacks`` (e.g. :class:`EpochSnapshots`) join the trainer's own. With ``on_estimate`` (or a progress
    file), a warm-up is timed first and the run's estimate is handed to it before the first step (not for a run of
    under :data:`MIN_MICRO_BATCHES_FOR_WARM_UP` micro-batches: it would take about as long as the run)."""
    import torch
    from transformers import TrainingArguments

    if not examples:
        raise ValueError("No training examples: add documents or a dataset first.")
    started = time.perf_counter()
    cuda = torch.cuda.is_available()
    tokenizer, model, quantization = lora_model(model_path, config)
    rows, epoch_steps = scheduled_rows(tokenizer, examples, config)
    loss_log = LossLog()
    callbacks: list[TrainerCallback] = [loss_log]
    progress = ProgressFile(progress_file) if progress_file is not None else None
    if progress is not None:
        callbacks.append(progress)
    estimate = None
    if (on_estimate is not None or progress is not None) and worth_a_warm_up(len(rows), config):
        estimate = warm_up_estimate(model, tokenizer, rows, config, len(examples))
        for tell in (on_estimate, progress.estimated if progress else None):
            if tell is not None:
                tell(estimate)
    for callback in extra_callbacks or []:
        if isinstance(callback, EpochSnapshots):
            callback.epoch_steps = epoch_steps
        callbacks.append(callback)
    partial = partial_dir(output_dir)
    eval_kwargs = {}
    if eval_examples:
        total = config.steps_for(len(rows))
        eval_kwargs = {"eval_strategy": "steps", "eval_steps": max(1, total // 6),
                       "per_device_eval_batch_size": config.batch_size, "prediction_loss_only": True}
    args = TrainingArguments(
        output_dir=str(partial / "checkpoints"),
        num_train_epochs=1,  # the schedule holds the epochs: the Trainer reads it once, in its order
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        gradient_checkpointing=cuda,
        optim="paged_adamw_8bit" if cuda and "4-bit" in quantization else "adamw_torch",
        remove_unused_columns=False,
        train_sampling_strategy=sampling_strategy(config.batching),
        disable_tqdm=False,
        **eval_kwargs,
        **trainer_defaults(config.seed),
    )
    batches = BatchLog(make_collator(tokenizer, config.batching), counted=rows)
    # transformers' Trainer, not TRL's SFTTrainer: TRL 1.16 always adds a fused LM head that recomputes the
    # 49k-vocabulary projection in the backward pass (measured 1.49-1.70x a bare peft loop per step on CPU).
    trainer = trainer_class(config.answer_logits_only)(
        model=model, args=args, train_dataset=rows,
        eval_dataset=tokenize_examples(tokenizer, eval_examples, config.max_length) if eval_examples else None,
        data_collator=batches, processing_class=tokenizer, callbacks=callbacks,
    )
    report = run_trainer(trainer, output_dir, loss_log, quantization, started)
    trained = report.steps * config.grad_accumulation  # the loader builds one batch ahead: that one never trained
    report.real_tokens, report.padding_share = batches.real_tokens(0, trained), batches.padding_share(0, trained)
    report.batches = batches.batches[:trained]
    report.estimate = estimate
    save_adapter(trainer.model, output_dir, report, {
        "method": "sft",
        "recipe": config.recipe,
        "base_model": base_model_id or model_path,
        "data_hash": data_hash(examples),
        # each document's digest at training time: a later change to one is an "updated fact" for this adapter
        "document_hashes": document_hashes(config.docs) if config.docs and not config.dataset else {},
        "examples": len(examples),
        "reading_examples": sum(map(is_reading, examples)),
        "run_pairs": len(rows),  # pairs fed over the run, repeats counted (pipelines.training.schedule)
        "held_out_examples": len(eval_examples or []),
        "eval_losses": loss_log.eval_losses,
        "hyperparameters": config.hyperparameters(),
        "batching": config.batching,
        "padding_share": round(report.padding_share, 3),
        "tokens_per_s": None if report.tokens_per_s is None else round(report.tokens_per_s, 1),
        "estimate_s": None if estimate is None else round(estimate.seconds, 1),
    })
    return report


def trainer_class(answer_logits_only: bool) -> type:
    """transformers' ``Trainer``, or one whose loss computes logits only where an answer token is next
    (:func:`~pipelines.training.batching.answer_loss`: the same loss and gradients, without projecting every
    prompt token onto the 49k vocabulary)."""
    from transformers import Trainer

    if not answer_logits_only:
        return Trainer

    class AnswerLogitsTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_loss(model, inputs, num_items_in_batch)
            return (loss, {}) if return_outputs else loss

    return AnswerLogitsTrainer


def run_trainer(trainer, output_dir: Path, loss_log: LossLog, quantization: str, started: float) -> TrainingReport:
    """Train, and report what the run measured: losses, the Trainer's steps/s and, on CUDA, peak GPU memory
    (counted from the start of training: the figures that compare QLoRA and LoRA, SFT and DPO runs)."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    metrics = trainer.train().metrics
    return TrainingReport(output_dir, trainer.state.global_step, loss_log.losses, quantization,
                          time.perf_counter() - started, metrics.get("train_steps_per_second"),
                          torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                          train_s=metrics.get("train_runtime"))


def trainer_defaults(seed: int) -> dict:
    """Arguments every training run here shares: constant LR, a loss logged each step, no
    checkpoints or trackers, bf16 on CUDA and the CPU path elsewhere."""
    import torch

    cuda = torch.cuda.is_available()
    return {"lr_scheduler_type": "constant", "logging_steps": 1, "save_strategy": "no", "report_to": [],
            "seed": seed, "bf16": cuda, "use_cpu": not cuda}


def partial_dir(output_dir: Path) -> Path:
    """The partial folder, emptied of any earlier unfinished run; a previous version that a crash left set aside
    mid-replacement is put back first (:func:`~pipelines.training.registry.recover_adapter`), never deleted."""
    recover_adapter(output_dir)
    partial = partial_path(output_dir)
    shutil.rmtree(partial, ignore_errors=True)
    return partial


class LossLog(TrainerCallback):
    """A trainer callback that keeps every logged training loss."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.eval_losses: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if logs and "loss" in logs:
            self.losses.append(float(logs["loss"]))
        if logs and "eval_loss" in logs:
            self.eval_losses.append(float(logs["eval_loss"]))


def save_adapter(model, output_dir: Path, report: TrainingReport, metadata: dict,
                 adapters: list[str] | None = None) -> None:
    """Write the adapter and its metadata to ``output_dir`` atomically (``.partial`` then rename)."""
    import torch

    partial = partial_dir(output_dir)
    model.save_pretrained(partial, selected_adapters=adapters)
    saved = partial / adapters[0] if adapters and adapters[0] != "default" else partial
    metadata = {
        **metadata,
        "steps": report.steps,
        "final_loss": report.final_loss,
        "losses": report.losses,
        "quantization": report.quantization,
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "duration_s": round(report.duration_s, 1),
        "steps_per_s": report.steps_per_s,
        "peak_gpu_memory_mb": None if report.peak_gpu_memory_mb is None else round(report.peak_gpu_memory_mb),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (saved / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    # The previous version is moved aside whole, not deleted in place: a crash while deleting it could leave its
    # config and weights without their metadata, which the registry would list. Renames are atomic; a crash
    # between the two leaves no output_dir, and recover_adapter (the registry, the next run) puts the old one back.
    recover_adapter(output_dir)  # a leftover set aside by an earlier run: back in place, or deleted
    retired = retired_path(output_dir)
    if output_dir.exists():
        output_dir.rename(retired)
    saved.rename(output_dir)
    shutil.rmtree(retired, ignore_errors=True)
    shutil.rmtree(partial, ignore_errors=True)
