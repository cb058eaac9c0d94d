"""The Fine-tune tab's training form as a :class:`TrainingConfig`: pure functions, tested without Gradio.

The start button's handler receives Gradio's set-of-inputs dict (keyed by component); :func:`form_values` names
each value by its component's ``elem_id`` (``FORM_FIELDS``: ``ft-lr`` is ``learning_rate``, ``ft-batch`` is
``batch_size``...) and :func:`form_config` turns the named values into the run's config, so the settings are
listed once (the config's fields) and the UI's ids map onto them here.

Example::

    values = form_values({rank_slider: 16.0, lr_number: 0.001, questions_checkbox: True, ...})
    config = form_config(values, docs=Path("data/documents/Docs"), questions_file=Path("assets/questions.jsonl"))
    preset_inputs("quick")   # {"ft-epochs": 3.0, "ft-batch": 4, "ft-lr": 0.002, "ft-dropout": 0.0}: what it sets
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.training.config import DEFAULT_PRESET, DEFAULT_QUESTIONS, TrainingConfig, preset_values

# elem_id of each input of the start button -> the config field it sets, or a form-only name
FORM_FIELDS: dict[str, str] = {
    "ft-rank": "rank", "ft-alpha": "alpha", "ft-dropout": "dropout", "ft-lr": "learning_rate",
    "ft-epochs": "epochs", "ft-max-steps": "max_steps", "ft-batch": "batch_size",
    "ft-accumulation": "grad_accumulation", "ft-max-length": "max_length", "ft-reading-epochs": "reading_epochs",
    "ft-4bit": "four_bit",
    "ft-recipe": "recipe", "ft-preset": "preset",  # preset: sets the inputs below, then its batching
    "ft-questions": "use_questions",  # sets questions (the question set, or None)
    "ft-password": "password", "ft-collection": "collection", "ft-use-table": "use_table", "ft-pairs-table": "pairs",
}
HYPERPARAMETER_FIELDS = ("rank", "alpha", "dropout", "learning_rate", "epochs", "batch_size", "grad_accumulation",
                         "max_length", "reading_epochs")
INPUT_OF = {name: elem_id for elem_id, name in FORM_FIELDS.items()}
EVAL_FRACTION = 0.1  # the tab says: 10% held out for the eval loss once there are 10 pairs or more


def form_values(given: Mapping[Any, Any]) -> dict[str, Any]:
    """Gradio's set-of-inputs dict as ``{name: value}``, each component named by ``FORM_FIELDS[elem_id]``."""
    return {FORM_FIELDS[component.elem_id]: value for component, value in given.items()}


def preset_inputs(name: str) -> dict[str, Any]:
    """``{elem_id: value}`` of the inputs a preset sets (choosing it in the tab moves them; the user may then
    change any); an unknown name raises ``ValueError``."""
    return {INPUT_OF[field]: value for field, value in preset_values(name).items() if field in INPUT_OF}


def form_config(values: Mapping[str, Any], *, docs: Path | None, questions_file: Path | None = None,
                dataset: Path | None = None) -> TrainingConfig:
    """The run the form asks for: the preset's values (the default: quick) under the inputs' own, sliders'
    floats as ints, an empty max steps -1 (train by epochs), the questions tick the question set
    (``questions_file``, else the command line's default) or none."""
    preset = preset_values(values.get("preset") or DEFAULT_PRESET)
    settings = {name: values[name] for name in HYPERPARAMETER_FIELDS if name in values}
    questions = (questions_file or DEFAULT_QUESTIONS) if values.get("use_questions") else None
    return TrainingConfig.from_dict({
        **preset,
        **settings,
        "max_steps": values.get("max_steps") or -1,  # converted (or refused, naming it) as every field is
        "four_bit": bool(values.get("four_bit", TrainingConfig.four_bit)),
        "recipe": values.get("recipe") or TrainingConfig.recipe,
        "docs": docs, "dataset": dataset, "questions": questions, "eval_fraction": EVAL_FRACTION,
    })
