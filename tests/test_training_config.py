"""TrainingConfig as the one definition of a run: JSON, the command line, the job's command and the tab's form.

No model, no training: the job is started with a stand-in interpreter (``true``) that exits at once.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from components.finetune_form import EVAL_FRACTION, FORM_FIELDS, form_config, form_values
from pipelines.common.settings import Settings
from pipelines.training.cli import parse_command_line
from pipelines.training.config import DEFAULT_DOCS, DEFAULT_QUESTIONS, TrainingConfig
from pipelines.training.jobs import TrainingJobs

# the adapter metadata's "hyperparameters", in this order, as before the config held the data source
HYPERPARAMETERS = ["rank", "alpha", "dropout", "learning_rate", "epochs", "max_steps", "batch_size",
                   "grad_accumulation", "max_length", "four_bit", "seed", "recipe",
                   "reading_epochs", "reading_passages"]


def custom(tmp_path: Path) -> TrainingConfig:
    """A config where every field differs from its default."""
    return TrainingConfig(rank=16, alpha=8, dropout=0.1, learning_rate=1e-4, epochs=2.5, max_steps=30, batch_size=2,
                          grad_accumulation=3, max_length=256, four_bit=False, seed=11, recipe="reading",
                          reading_epochs=2.0, reading_passages=3,
                          docs=tmp_path / "docs", dataset=tmp_path / "pairs.jsonl", questions=None,
                          output=tmp_path / "out", model_id="org/model", eval_fraction=0.2, batching="grouped",
                          answer_logits_only=False)


def test_every_field_is_set_in_the_custom_config(tmp_path):
    default, changed = TrainingConfig(), custom(tmp_path)
    assert all(getattr(default, f.name) != getattr(changed, f.name) for f in dataclasses.fields(TrainingConfig))


def test_config_round_trips_through_json(tmp_path):
    config = custom(tmp_path)
    assert TrainingConfig.from_json(config.to_json()) == config
    assert TrainingConfig.load(config.save(tmp_path / "run" / "config.json")) == config
    assert TrainingConfig.from_json(TrainingConfig().to_json()) == TrainingConfig()


def test_hyperparameters_keep_the_metadata_shape(tmp_path):
    hyper = custom(tmp_path).hyperparameters()
    assert list(hyper) == HYPERPARAMETERS and hyper["learning_rate"] == 1e-4 and hyper["recipe"] == "reading"


def test_bad_values_are_refused_by_name():
    with pytest.raises(ValueError, match="Unknown training settings: colour"):
        TrainingConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="rank must be a int"):
        TrainingConfig.from_dict({"rank": "eight"})
    with pytest.raises(ValueError, match="four_bit must be true or false"):
        TrainingConfig.from_dict({"four_bit": "no"})
    with pytest.raises(ValueError, match="Unknown training recipe"):
        TrainingConfig(recipe="open-book")


def test_command_line_defaults_are_the_dataclass_defaults():
    assert parse_command_line([]) == (TrainingConfig(), None)


def test_command_line_flags_override_the_config_file(tmp_path):
    saved = custom(tmp_path).save(tmp_path / "run.json")
    config, progress = parse_command_line(["--config", str(saved), "--lr", "0.01", "--progress-file", "p.jsonl"])
    assert config == dataclasses.replace(custom(tmp_path), learning_rate=0.01) and progress == Path("p.jsonl")
    config, _ = parse_command_line(["--config", str(saved), "--docs", "d", "--questions", "q.jsonl", "--no-4bit"])
    assert (config.docs, config.questions, config.rank, config.alpha) == (Path("d"), Path("q.jsonl"), 16, 8)


def test_command_line_keeps_its_old_flags():
    config, _ = parse_command_line(["--rank", "16", "--no-questions", "--no-4bit", "--recipe", "closed-book",
                                    "--max-steps", "5", "--batch-size", "2", "--grad-accumulation", "2",
                                    "--max-length", "128", "--eval-fraction", "0.1", "--model-id", "m",
                                    "--dataset", "pairs.jsonl", "--output", "out", "--epochs", "1", "--dropout", "0"])
    assert config == TrainingConfig(rank=16, alpha=32, questions=None, four_bit=False, recipe="closed-book",
                                    max_steps=5, batch_size=2, grad_accumulation=2, max_length=128,
                                    eval_fraction=0.1, model_id="m", dataset=Path("pairs.jsonl"),
                                    output=Path("out"), epochs=1.0, dropout=0.0)
    assert parse_command_line(["--rank", "4", "--alpha", "4"])[0].alpha == 4  # alpha given: kept


@pytest.mark.parametrize("argv", [["--recipe", "open-book"], ["--eval-fraction", "1.5"], ["--config", "nowhere.json"]])
def test_command_line_refuses_bad_values(argv, capsys):
    with pytest.raises(SystemExit):
        parse_command_line(argv)
    assert "error" in capsys.readouterr().err


class Input:
    """A stand-in for a Gradio component: hashable, with an elem_id."""

    def __init__(self, elem_id: str) -> None:
        self.elem_id = elem_id


FORM = {"rank": 16.0, "alpha": 40.0, "dropout": 0.2, "learning_rate": 0.001, "epochs": 3, "max_steps": 12.0,
        "batch_size": 8.0, "grad_accumulation": 2.0, "max_length": 384.0, "reading_epochs": 2, "four_bit": False,
        "recipe": "closed-book", "preset": "thorough", "use_questions": True, "password": "pw", "collection": "Docs",
        "use_table": False, "pairs": None}


def test_form_values_name_each_input_by_its_elem_id():
    given = {Input(elem_id): FORM[name] for elem_id, name in FORM_FIELDS.items()}
    assert form_values(given) == FORM
    config_fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    assert set(FORM_FIELDS.values()) - config_fields == {"use_questions", "password", "collection", "use_table",
                                                         "pairs", "preset"}
    assert FORM_FIELDS["ft-lr"] == "learning_rate" and FORM_FIELDS["ft-batch"] == "batch_size"
    assert FORM_FIELDS["ft-accumulation"] == "grad_accumulation" and FORM_FIELDS["ft-4bit"] == "four_bit"


def test_the_form_maps_each_field_to_the_config(tmp_path):
    config = form_config(FORM, docs=tmp_path / "docs", questions_file=tmp_path / "q.jsonl")
    assert config == TrainingConfig(rank=16, alpha=40, dropout=0.2, learning_rate=0.001, epochs=3.0, max_steps=12,
                                    batch_size=8, grad_accumulation=2, max_length=384, reading_epochs=2.0,
                                    four_bit=False,
                                    recipe="closed-book", docs=tmp_path / "docs", questions=tmp_path / "q.jsonl",
                                    dataset=None, eval_fraction=EVAL_FRACTION)
    assert isinstance(config.rank, int) and isinstance(config.epochs, float) and isinstance(config.reading_epochs,
                                                                                           float)
    plain = form_config({**FORM, "use_questions": False, "max_steps": None, "recipe": ""}, docs=None,
                        dataset=tmp_path / "pairs.jsonl")
    assert (plain.questions, plain.max_steps, plain.recipe, plain.docs, plain.dataset) == (
        None, -1, TrainingConfig.recipe, None, tmp_path / "pairs.jsonl")
    assert form_config({"use_questions": True}, docs=None).questions == DEFAULT_QUESTIONS  # the CLI's default
    assert TrainingConfig().docs == DEFAULT_DOCS


def test_the_job_starts_the_command_with_the_forms_config_file(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "vault.md").write_text("# Vault\nThe vault code is 7741.")
    jobs = TrainingJobs(Settings(data_dir=tmp_path / "data", model_id="org/base"), python=shutil.which("true"))
    config = form_config(FORM, docs=docs, questions_file=tmp_path / "q.jsonl")
    job = jobs.start(config, name="docs")
    jobs.wait(30)
    command = job.process.args
    assert command[1:3] == ["-m", "pipelines.training"] and command[command.index("--config") + 1] == str(
        job.config_file)
    assert command[command.index("--progress-file") + 1] == str(job.progress_file)
    assert TrainingConfig.load(job.config_file) == dataclasses.replace(config, output=job.output_dir,
                                                                       model_id="org/base")
    assert job.status == "failed"  # the stand-in wrote no adapter

    with pytest.raises(ValueError, match="No documents to train on"):
        jobs.start(dataclasses.replace(config, docs=tmp_path / "empty"))


def test_held_out_pairs_are_a_fraction_capped_and_none_for_tiny_sets():
    """The eval pass runs every sixth of a run: an uncapped tenth of a large pair set made it slower than training."""
    from pipelines.training.config import Example
    from pipelines.training.sft import MAX_HELD_OUT, split_examples

    pairs = [Example(f"q{i}?", f"a{i}.", "test") for i in range(1000)]
    train, held = split_examples(pairs, 0.1)
    assert len(held) == MAX_HELD_OUT and len(train) == 1000 - MAX_HELD_OUT and not set(held) & set(train)
    assert len(split_examples(pairs[:100], 0.1)[1]) == 10   # under the cap: the fraction
    assert split_examples(pairs[:9], 0.5) == (pairs[:9], [])   # too few to hold any out
    assert split_examples(pairs, 0.1) == split_examples(pairs, 0.1)   # seeded: the same split every run
