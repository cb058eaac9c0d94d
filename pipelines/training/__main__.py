"""``python -m pipelines.training``: train a QLoRA adapter on a folder of documents or a pair file.

    python -m pipelines.training --docs assets/corpus --questions assets/questions.jsonl \
        --output assets/adapters/lumenhollow-qlora
    python -m pipelines.training --dataset pairs.jsonl --output data/adapters/mine --max-steps 200

The training itself is :mod:`pipelines.training.sft`; background runs (:mod:`pipelines.training.jobs`)
start this command as a child process.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipelines.training.config import RECIPES, TrainingConfig
from pipelines.training.sft import build_examples, pairs_per_document, split_examples, train_adapter


def main(argv: list[str] | None = None) -> int:
    from pipelines.common.settings import PROJECT_ROOT, Settings
    from pipelines.generation.models import resolve_model_path

    parser = argparse.ArgumentParser(description="Train a QLoRA adapter on a folder of documents.")
    parser.add_argument("--docs", type=Path, default=PROJECT_ROOT / "assets" / "corpus",
                        help="folder of documents to build template pairs from")
    parser.add_argument("--dataset", type=Path, default=None,
                        help="a JSONL/CSV file of question/answer pairs to train on instead of --docs")
    parser.add_argument("--questions", type=Path, default=PROJECT_ROOT / "assets" / "questions.jsonl",
                        help="reference Q/A (rows with split=train are used)")
    parser.add_argument("--no-questions", action="store_true", help="template pairs from the documents only")
    parser.add_argument("--recipe", choices=RECIPES, default=TrainingConfig.recipe,
                        help="closed-book: facts learned without passages (the fine-tuned column); reading: "
                             "RAFT-style, question + passages (the RAG + fine-tuned column); both (default): the two")
    parser.add_argument("--output", type=Path, default=None, help="adapter folder (default: ARENA_ADAPTER_PATH)")
    parser.add_argument("--model-id", default=None, help="base model (default: ARENA_MODEL_ID)")
    parser.add_argument("--epochs", type=float, default=TrainingConfig.epochs)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--lr", type=float, default=TrainingConfig.learning_rate)
    parser.add_argument("--rank", type=int, default=TrainingConfig.rank)
    parser.add_argument("--alpha", type=int, default=None, help="LoRA alpha (default: twice the rank)")
    parser.add_argument("--dropout", type=float, default=TrainingConfig.dropout)
    parser.add_argument("--grad-accumulation", type=int, default=TrainingConfig.grad_accumulation)
    parser.add_argument("--batch-size", type=int, default=TrainingConfig.batch_size)
    parser.add_argument("--max-length", type=int, default=TrainingConfig.max_length)
    parser.add_argument("--no-4bit", action="store_true", help="plain LoRA on a full-precision base")
    parser.add_argument("--eval-fraction", type=float, default=0.0,
                        help="share of the pairs held out for an eval loss (none below 10 pairs)")
    parser.add_argument("--progress-file", type=Path, default=None, help="JSON lines of train/eval loss per step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    overrides = {"model_id": args.model_id} if args.model_id else {}
    settings = Settings(**overrides)
    if args.dataset:
        from pipelines.training.data import load_pairs

        pairs = load_pairs(args.dataset)
        print(f"Dataset {args.dataset}: {pairs.summary()}")
        examples, source = pairs.examples, args.dataset
    else:
        examples = build_examples(args.docs, None if args.no_questions else args.questions, recipe=args.recipe)
        source = args.docs
        print("Pairs per document: " + ", ".join(f"{d} {n}" for d, n in pairs_per_document(examples).items()))
    config = TrainingConfig(rank=args.rank, alpha=args.alpha or 2 * args.rank, dropout=args.dropout,
                            grad_accumulation=args.grad_accumulation, learning_rate=args.lr, epochs=args.epochs,
                            max_steps=args.max_steps, batch_size=args.batch_size, max_length=args.max_length,
                            four_bit=not args.no_4bit, recipe=args.recipe)
    output = args.output or settings.adapter_path
    print(f"Training on {len(examples)} examples from {source} -> {output}")
    examples, held_out = split_examples(examples, args.eval_fraction, config.seed)
    report = train_adapter(resolve_model_path(settings), examples, output, config, base_model_id=settings.model_id,
                           eval_examples=held_out, progress_file=args.progress_file)
    print(f"Done: {report.steps} steps, loss {report.losses[0]:.3f} -> {report.final_loss:.3f}, "
          f"{report.quantization}, {report.duration_s:.0f} s, adapter in {output}")
    gpu = "" if report.peak_gpu_memory_mb is None else f", peak GPU memory {report.peak_gpu_memory_mb:.0f} MiB"
    print(f"Speed: {report.steps_per_s} steps/s{gpu}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
