"""``python -m pipelines.training``: train a QLoRA adapter on a folder of documents or a pair file.

    python -m pipelines.training --docs assets/corpus --questions assets/questions.jsonl \
        --output assets/adapters/lumenhollow-qlora
    python -m pipelines.training --dataset pairs.jsonl --output data/adapters/mine --max-steps 200
    python -m pipelines.training --config run.json --lr 0.01   # a saved TrainingConfig, lr overridden
    python -m pipelines.training --docs DIR --preset quick --estimate-only   # pairs, steps, minutes; no run

The flags are :class:`~pipelines.training.config.TrainingConfig`'s fields (:mod:`pipelines.training.cli`); the
training itself is :mod:`pipelines.training.sft`. Background runs (:mod:`pipelines.training.jobs`) write their
config to a file and start this command with ``--config``.
"""

from __future__ import annotations

import logging

from pipelines.common.process_exit import exit_now
from pipelines.training.cli import parse_options


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)  # first: --help and a bad flag answer without the trainer
    config, progress_file = options.config, options.progress_file
    from pipelines.common.settings import settings_or_exit

    # Next the settings: a bad ARENA_* variable is one line in a second, not after the trainer's imports (14 s)
    settings = settings_or_exit(**({"model_id": config.model_id} if config.model_id else {}))
    from pipelines.generation.models import resolve_model_path
    from pipelines.training.examples import build_examples, pairs_per_document
    from pipelines.training.sft import estimate_training, split_examples, train_adapter

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    if config.dataset:
        from pipelines.training.data import load_pairs

        pairs = load_pairs(config.dataset)
        print(f"Dataset {config.dataset}: {pairs.summary()}")
        examples, source = pairs.examples, config.dataset
    else:
        examples = build_examples(config.docs, config.questions, recipe=config.recipe,
                                  reading_passages=config.reading_passages)
        source = config.docs
        print("Pairs per document: " + ", ".join(f"{d} {n}" for d, n in pairs_per_document(examples).items()))
    output = config.output or settings.adapter_path
    doing = "Estimating a run" if options.estimate_only else "Training"
    print(f"{doing} on {len(examples)} examples from {source} -> {output}")
    examples, held_out = split_examples(examples, config.eval_fraction, config.seed)
    if options.estimate_only:
        print(f"Estimate: {estimate_training(resolve_model_path(settings), examples, config).summary()}")
        return 0
    report = train_adapter(resolve_model_path(settings), examples, output, config, base_model_id=settings.model_id,
                           eval_examples=held_out, progress_file=progress_file,
                           on_estimate=lambda estimate: print(f"Estimate: {estimate.summary()}", flush=True))
    print(f"Done: {report.steps} steps, loss {report.losses[0]:.3f} -> {report.final_loss:.3f}, "
          f"{report.quantization}, {report.duration_s:.0f} s, adapter in {output}")
    gpu = "" if report.peak_gpu_memory_mb is None else f", peak GPU memory {report.peak_gpu_memory_mb:.0f} MiB"
    tokens = "" if report.tokens_per_s is None else f", {report.tokens_per_s:.0f} real tokens/s"
    print(f"Speed: {report.steps_per_s} steps/s{tokens}, padding {report.padding_share:.0%} of the batches{gpu}")
    return 0


if __name__ == "__main__":
    exit_now(main())  # a clean end skips the ML modules' teardown (2-4 s); errors leave as usual
