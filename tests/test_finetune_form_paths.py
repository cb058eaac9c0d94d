"""The Fine-tune tab's paths to a training job, through its own handlers: an uploaded pair file (any accepted
column names) -> the table -> the dataset the job trains on; no documents or no usable pairs -> a clear message
and no job; bad pair files -> a message naming the problem. The job runs a stand-in command (``true``), so
nothing is trained and no model is loaded."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from components.finetune import build_finetune_tab
from components.finetune_form import FORM_FIELDS
from pipelines.common.auth import AdminAuth
from pipelines.common.settings import Settings
from pipelines.training.config import TrainingConfig
from pipelines.training.data import load_pairs
from pipelines.training.jobs import TrainingJobs
from tests.tab_handlers import tab_events, value_with_id

PAIRS = [("What is the Zorblat code?", "The code is 7741-Quince."), ("Who guards the vault?", "Ottoline Marsh.")]
FORM = {"rank": 8.0, "alpha": 16.0, "dropout": 0.05, "learning_rate": 0.002, "epochs": 1, "max_steps": 2.0,
        "batch_size": 2.0, "grad_accumulation": 1.0, "max_length": 256.0, "reading_epochs": 1.0, "four_bit": False,
        "recipe": "closed-book", "preset": "thorough", "use_questions": False, "password": "", "collection": "Docs",
        "use_table": True, "pairs": None}


class KeptDocuments:
    """What the Fine-tune tab asks of the knowledge base: collection names, and where their originals are kept."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def collections(self) -> list[str]:
        return ["Docs", "Empty"]

    def originals_dir(self, collection: str | None) -> Path:
        return self.root / "documents" / (collection or "Docs")


class FinetuneTab:
    """The tab built on a stand-in training command; ``start(**form)`` presses Start with the form's values."""

    def __init__(self, tmp_path: Path, knowledge: KeptDocuments | None) -> None:
        settings = Settings(data_dir=tmp_path / "data", model_id="org/base")
        self.jobs = TrainingJobs(settings, python=shutil.which("true"))
        self.events = tab_events(lambda: build_finetune_tab(self.jobs, knowledge, AdminAuth(None), [], None,
                                                            lambda: "none"))

    def upload(self, path: Path) -> dict:
        return self.events["do_upload"].fn(str(path))

    def start(self, **values) -> str:
        event = self.events["do_start"]
        form = {**FORM, **values}
        update = event.fn({component: form[FORM_FIELDS[component.elem_id]] for component in event.inputs})
        return value_with_id(update, "ft-status")


@pytest.fixture()
def docs(tmp_path: Path) -> KeptDocuments:
    kept = KeptDocuments(tmp_path)
    folder = kept.originals_dir("Docs")
    folder.mkdir(parents=True)
    (folder / "vault.md").write_text("# Vault\nThe Zorblat vault code is 7741-Quince.")
    return kept


def write_pair_file(path: Path, question: str, answer: str) -> Path:
    if path.suffix == ".csv":
        with path.open("w", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([question, answer])
            writer.writerows(PAIRS)
    else:
        path.write_text("".join(json.dumps({question: q, answer: a}) + "\n" for q, a in PAIRS))
    return path


@pytest.mark.parametrize("columns", [("question", "answer"), ("instruction", "output"), ("prompt", "completion")])
@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_an_uploaded_pair_file_is_what_the_job_trains_on(tmp_path, docs, columns, suffix):
    tab = FinetuneTab(tmp_path, docs)
    update = tab.upload(write_pair_file(tmp_path / f"pairs{suffix}", *columns))
    table = value_with_id(update, "ft-pairs-table")
    assert list(table.columns) == ["question", "answer"]  # every accepted naming lands in the same two columns
    assert list(table.itertuples(index=False, name=None)) == PAIRS
    assert value_with_id(update, "ft-use-table") is True and value_with_id(update, "ft-pairs-info") == "2 pairs"

    status = tab.start(pairs=table)
    assert "started" in status and "Training pairs: 2 pairs" in status
    job = tab.jobs.wait(30)
    config = TrainingConfig.load(job.config_file)  # what the training command reads (``--config``)
    assert config.dataset is not None and config.dataset.is_file()
    assert [(e.question, e.answer) for e in load_pairs(config.dataset).examples] == PAIRS
    assert (config.max_steps, config.recipe, config.four_bit) == (2, "closed-book", False)


def test_the_edited_table_drops_empty_cells_instead_of_training_on_nan(tmp_path, docs):
    """An empty cell of the pandas table is NaN: it once became the text "nan" and was trained on."""
    tab = FinetuneTab(tmp_path, docs)
    table = pd.DataFrame([*PAIRS, ("What is the vault's colour?", float("nan")), (None, "An orphan answer.")],
                         columns=["question", "answer"])
    status = tab.start(pairs=table)
    assert "Training pairs: 2 pairs; 2 rows dropped (row 3: empty answer, row 4: empty question)" in status
    config = TrainingConfig.load(tab.jobs.wait(30).config_file)
    assert [(e.question, e.answer) for e in load_pairs(config.dataset).examples] == PAIRS


def test_no_documents_to_train_on_starts_no_job(tmp_path, docs):
    unavailable = FinetuneTab(tmp_path / "a", knowledge=None)
    assert "no documents to train on" in unavailable.start(use_table=False)
    assert unavailable.jobs.current() is None

    tab = FinetuneTab(tmp_path / "b", docs)
    status = tab.start(use_table=False, collection="Empty")  # a collection with no kept originals
    assert status.startswith("⚠️") and "No documents to train on" in status and "Knowledge tab" in status
    for table in (pd.DataFrame(columns=["question", "answer"]),
                  pd.DataFrame([("  ", "An answer."), ("A question?", "")], columns=["question", "answer"])):
        status = tab.start(use_table=True, pairs=table)
        assert status.startswith("⚠️") and "The table has no usable pairs" in status
    assert tab.jobs.current() is None and not (tmp_path / "b" / "data" / "adapters").exists()


BAD_FILES = {
    "empty": ("pairs.jsonl", b"", "pairs.jsonl is empty"),
    "header only": ("pairs.csv", b"question,answer\n", "pairs.csv is empty"),
    "wrong columns": ("pairs.csv", b"prompt,response\nWhat?,That.\n",
                      "row 1: no question/answer columns). Accepted column pairs: question/answer, "
                      "instruction/output, prompt/completion"),
    "not objects": ("pairs.jsonl", b'["What?", "That."]\n', "Accepted column pairs"),
    "binary": ("pairs.jsonl", bytes(range(256)) * 4, "cannot be read as UTF-8 text"),
    "broken JSON": ("pairs.jsonl", b'{"question": "What?", "answer": "That."}\n{"question": \n',
                    "Line 2 is not valid JSON"),
    "wrong type": ("pairs.txt", b"What? That.\n", "upload a .jsonl or .csv file"),
}


@pytest.mark.parametrize(("name", "content", "message"), list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_a_bad_pair_file_says_what_is_wrong_and_leaves_the_table(tmp_path, docs, name, content, message):
    tab = FinetuneTab(tmp_path, docs)
    path = tmp_path / name
    path.write_bytes(content)
    update = tab.upload(path)
    assert set(update) == {tab.events["do_upload"].outputs[1]}  # only the message: the table and tick stay
    info = value_with_id(update, "ft-pairs-info")
    assert info.startswith("⚠️") and message in info, info
    assert tab.jobs.current() is None
