"""The command line of ``python -m pipelines.training``, made from :class:`TrainingConfig`'s fields.

Every field is a flag (``learning_rate`` is ``--learning-rate``, also ``--lr``; ``four_bit`` is ``--no-4bit``;
``questions=None`` is ``--no-questions``) whose default is the field's default, so a new setting needs no new
flag. ``--config FILE`` reads a config written by :meth:`TrainingConfig.save` (a background job's); flags given
on the command line override the file. ``--preset quick|thorough`` sets the preset's values
(:data:`~pipelines.training.config.PRESETS`) over the file's or the defaults, and flags override those;
``--estimate-only`` prints the run's pairs, steps and minutes and trains nothing. Light (no transformers), so
parsing is tested without the trainer.

Example::

    config, progress_file = parse_command_line(["--config", "run.json", "--lr", "0.01"])
    config.learning_rate   # 0.01, every other value from run.json
    parse_options(["--preset", "quick", "--estimate-only"]).estimate_only   # True
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, dataclass, fields, replace
from pathlib import Path
from typing import Any

from pipelines.training.config import BATCHING, PRESETS, RECIPES, TrainingConfig, field_types, preset_values

# fields that None switches off, with a --no-<field> flag (as before the flags were made from the fields)
NEGATIONS = {"questions": "template pairs from the documents only"}
# the flags the command line had before they were made from the fields: kept so scripts keep working
ALIASES = {"learning_rate": ["--lr"]}
HELP = {
    "recipe": "closed-book: facts learned without passages (the fine-tuned column); reading: RAFT-style, "
              "question + passages (the RAG + fine-tuned column); both (default): the two",
    "alpha": "LoRA alpha (default: twice the rank)",
    "docs": "folder of documents to build template pairs from",
    "dataset": "a JSONL/CSV file of question/answer pairs to train on instead of --docs",
    "questions": "reference Q/A (rows with split=train are used)",
    "output": "adapter folder (default: ARENA_ADAPTER_PATH)",
    "model_id": "base model (default: ARENA_MODEL_ID)",
    "eval_fraction": "share of the pairs held out for an eval loss (none below 10 pairs, at most 32)",
    "batching": "packed (default): pairs end to end, no padding; grouped: padded batches of similar lengths; "
                "padded: padded random batches (before issue 32)",
    "reading_epochs": "recipe both: how often each reading pair is fed over the whole run, spread over the epochs "
                      "(closed-book pairs: every epoch; default 1)",
    "reading_passages": "passages in a reading pair's prompt, as the RAG prompt shows them (default 1)",
}
CHOICES = {"recipe": RECIPES, "batching": BATCHING}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """Flags for every config field; none has an argparse default, so the parse holds only the flags given."""
    parser = argparse.ArgumentParser(description="Train a QLoRA adapter on a folder of documents or a pair file.",
                                     argument_default=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help="a training config JSON file (flags given here override it)")
    parser.add_argument("--progress-file", type=Path, help="JSON lines of train/eval loss per step")
    parser.add_argument("--preset", choices=tuple(PRESETS),
                        help="quick (the default's values): 3 epochs, LoRA dropout 0; thorough: 6 epochs, LoRA "
                             "dropout 0.05, about twice the time (flags given here override it)")
    parser.add_argument("--estimate-only", action="store_true",
                        help="load the model, time a warm-up, print pairs, steps and minutes; train nothing")
    kinds = field_types()
    for item in fields(TrainingConfig):
        default = item.default if item.default is not MISSING else None
        text = HELP.get(item.name, "")
        if "default" not in text:
            text = f"{text} (default: {default})".strip()
        if item.name == "four_bit":
            parser.add_argument("--no-4bit", dest="four_bit", action="store_false",
                                help="plain LoRA on a full-precision base")
            continue
        if item.name == "answer_logits_only":
            parser.add_argument("--all-logits", dest="answer_logits_only", action="store_false",
                                help="project every position onto the vocabulary (the same loss, slower; "
                                     "default: only where an answer token is next)")
            continue
        choices = CHOICES.get(item.name)
        parser.add_argument(flag(item.name), *ALIASES.get(item.name, []), dest=item.name, type=kinds[item.name],
                            choices=choices, help=text)
        if item.name in NEGATIONS:
            parser.add_argument(flag(f"no_{item.name}"), dest=item.name, action="store_const", const=None,
                                help=NEGATIONS[item.name])
    return parser


@dataclass(frozen=True)
class CommandLine:
    config: TrainingConfig
    progress_file: Path | None = None
    estimate_only: bool = False


def parse_command_line(argv: list[str] | None = None) -> tuple[TrainingConfig, Path | None]:
    """(the run's config, the progress file or None). Exits with a usage message on a bad flag or file."""
    options = parse_options(argv)
    return options.config, options.progress_file


def parse_options(argv: list[str] | None = None) -> CommandLine:
    """The whole command line: the config (file, then preset, then flags), the progress file, estimate only."""
    parser = build_parser()
    given: dict[str, Any] = vars(parser.parse_args(argv))
    config_file: Path | None = given.pop("config", None)
    progress_file: Path | None = given.pop("progress_file", None)
    estimate_only = bool(given.pop("estimate_only", False))
    preset: str | None = given.pop("preset", None)
    try:
        base = TrainingConfig.load(config_file) if config_file else TrainingConfig()
        if preset:
            base = replace(base, **preset_values(preset))
        if "rank" in given and "alpha" not in given:  # alpha follows a rank given here (twice the rank)
            given["alpha"] = 2 * given["rank"]
        config = replace(base, **given)
    except (OSError, ValueError) as exc:
        parser.error(f"{config_file or 'the flags'}: {exc}")
    if config.dataset is None and config.docs is None:
        parser.error("nothing to train on: give --docs or --dataset")
    return CommandLine(config, progress_file, estimate_only)
