"""Close the loop (experimental): a short DPO run on the active adapter, from the arena's own votes.

The preferred answer of each decided vote becomes ``chosen`` and the other ``rejected``;
TRL's DPOTrainer continues training the adapter (on the same 4-bit base) against a frozen
copy of itself as the reference, and the result is a new adapter version.

Command line::

    python -m pipelines.training.dpo --pairs exports/dpo.jsonl --adapter assets/adapters/lumenhollow-qlora \
        --output data/adapters/lumenhollow-dpo --steps 8

In code::

    report = train_dpo(model_path, adapter_path, dpo_rows(store.rated_exchanges()), output_dir)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.common.jsonl import JsonLineError, json_lines
from pipelines.generation.prompts import ASSISTANT_SYSTEM

if TYPE_CHECKING:  # the trainer's modules load torch and transformers: imported when a run starts
    from pipelines.training.sft import TrainingReport

log = logging.getLogger(__name__)
PAIR_FIELDS = ("prompt", "chosen", "rejected")
NO_PAIRS = "No preference pairs yet: vote for a better answer (not a tie) first."


@dataclass
class DpoConfig:
    steps: int = 8  # ARENA_DPO_STEPS' default too: the button and the command take the setting's value
    beta: float = 0.1
    learning_rate: float = 5e-4
    batch_size: int = 2
    max_length: int = 384
    four_bit: bool = True
    seed: int = 7


def usable_pairs(pairs: list[dict]) -> list[dict]:
    """The pairs with both answers given (an empty chosen or rejected answer teaches nothing)."""
    return [p for p in pairs if str(p.get("chosen") or "").strip() and str(p.get("rejected") or "").strip()]


def read_pairs(path: Path) -> list[dict]:
    """The usable pairs of a ``dpo.jsonl`` file (``pipelines.feedback export``); ``ValueError`` naming the file
    and the line when it cannot be used, before any model is loaded."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"No pairs file at {path}: export one with `python -m pipelines.feedback export`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} cannot be read as UTF-8 text ({exc})") from exc
    try:
        rows = json_lines(text)
    except JsonLineError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    for number, row in rows:
        if not isinstance(row, dict) or not all(isinstance(row.get(name), str) for name in PAIR_FIELDS):
            raise ValueError(f"{path.name}: line {number} is not a preference pair: it needs text fields "
                             f"{', '.join(PAIR_FIELDS)}.")
    pairs = usable_pairs([row for _number, row in rows])
    if not pairs:
        raise ValueError(f"{path.name} holds no usable preference pairs ({len(rows)} rows). {NO_PAIRS}")
    return pairs


def _dataset(pairs: list[dict]):
    from datasets import Dataset

    return Dataset.from_list([
        {
            "prompt": [{"role": "system", "content": ASSISTANT_SYSTEM}, {"role": "user", "content": p["prompt"]}],
            "chosen": [{"role": "assistant", "content": p["chosen"]}],
            "rejected": [{"role": "assistant", "content": p["rejected"]}],
        }
        for p in pairs
    ])


def train_dpo(model_path: str, adapter_path: Path, pairs: list[dict], output_dir: Path,
              config: DpoConfig | None = None, base_model_id: str | None = None) -> TrainingReport:
    """Continue the adapter at ``adapter_path`` with DPO on ``pairs``; write a new adapter version.

    ``ValueError`` when there is nothing to train on or no adapter, before the model is loaded."""
    config = config or DpoConfig()
    pairs = usable_pairs(pairs)
    if not pairs:
        raise ValueError(NO_PAIRS)
    if not (adapter_path / "adapter_config.json").exists():
        raise ValueError(f"No adapter to improve at {adapter_path}")
    from peft import PeftModel
    from trl import DPOConfig, DPOTrainer

    from pipelines.training.sft import (
        LossLog,
        load_training_model,
        partial_dir,
        run_trainer,
        save_adapter,
        trainer_defaults,
    )

    started = time.perf_counter()
    tokenizer, base, quantization = load_training_model(model_path, config.four_bit)
    model = PeftModel.from_pretrained(base, str(adapter_path), is_trainable=True)
    loss_log = LossLog()
    args = DPOConfig(
        output_dir=str(partial_dir(output_dir) / "checkpoints"),
        max_steps=config.steps,
        beta=config.beta,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        max_length=config.max_length,
        **trainer_defaults(config.seed),
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=_dataset(pairs), processing_class=tokenizer,
                         callbacks=[loss_log])
    report = run_trainer(trainer, output_dir, loss_log, quantization, started)
    pairs_hash = hashlib.sha256(json.dumps(pairs, sort_keys=True).encode()).hexdigest()
    save_adapter(trainer.model, output_dir, report, {
        "method": "dpo",
        "parent_adapter": str(adapter_path),
        "base_model": base_model_id or model_path,
        "data_hash": pairs_hash,
        "examples": len(pairs),
        "hyperparameters": asdict(config),
    }, adapters=["default"])
    return report


def improve_active_adapter(backend, feedback, settings, config: DpoConfig | None = None,
                           agreed_only: bool = False) -> tuple[str, TrainingReport]:
    """DPO on every decided vote so far (``agreed_only``: only items every queue rater of which chose alike, two
    votes or more), saved as a new version under the data dir and made active."""
    from datetime import UTC, datetime

    from pipelines.feedback.export import dpo_rows, store_agreed_items
    from pipelines.generation.models import FINETUNED_ADAPTER, resolve_model_path

    current = backend.adapter_paths.get(FINETUNED_ADAPTER)
    if current is None:
        raise ValueError("No fine-tuned adapter is active to improve.")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    output = settings.data_dir / "adapters" / f"{current.name.split('+dpo')[0]}+dpo-{stamp}"
    agreed = store_agreed_items(feedback) if agreed_only else None
    pairs = dpo_rows(feedback.rated_exchanges(), agreed=agreed)
    if agreed_only and not pairs:
        raise ValueError("No item that raters agreed on yet (two or more queue votes, all alike, one answer "
                         "preferred): untick 'only items raters agreed on', or rate more in a queue.")
    report = train_dpo(resolve_model_path(settings), current, pairs, output,
                       config or DpoConfig(steps=settings.dpo_steps), base_model_id=settings.model_id)
    return backend.load_adapter(output, FINETUNED_ADAPTER), report


def main(argv: list[str] | None = None) -> int:
    from pipelines.common.settings import settings_or_exit

    parser = argparse.ArgumentParser(description="Improve an adapter with DPO on exported arena votes.")
    parser.add_argument("--pairs", type=Path, required=True, help="dpo.jsonl from `pipelines.feedback export`")
    parser.add_argument("--adapter", type=Path, default=None, help="adapter to improve (default: ARENA_ADAPTER_PATH)")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=None, help="DPO steps (default: ARENA_DPO_STEPS, 8)")
    parser.add_argument("--beta", type=float, default=DpoConfig.beta)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = settings_or_exit()
    adapter = args.adapter or settings.adapter_path
    try:  # the input is checked first: a bad file or a missing adapter is a message, not a model load
        pairs = read_pairs(args.pairs)
    except ValueError as exc:
        parser.error(str(exc))
    if not (adapter / "adapter_config.json").is_file():
        parser.error(f"No adapter to improve at {adapter} (adapter_config.json missing): pass --adapter.")
    from pipelines.generation.models import resolve_model_path  # torch and transformers: only for a real run

    report = train_dpo(resolve_model_path(settings), adapter, pairs, args.output,
                       DpoConfig(steps=settings.dpo_steps if args.steps is None else args.steps, beta=args.beta),
                       base_model_id=settings.model_id)
    print(f"Done: {report.steps} DPO steps on {len(pairs)} pairs, loss {report.losses[0]:.3f} -> "
          f"{report.final_loss:.3f}, adapter in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
