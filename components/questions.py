"""The Questions tab: a question set made from a collection's documents, reviewed, saved and put to use.

Pick a collection and a generator (the offline rules, or the model: ragas' testset generation on the judge
endpoint, offered only when one is configured, the tab saying why otherwise), generate (progress shown), then
review the table: untick *keep* to
remove a question, edit any cell, add rows by hand. *Save* validates every row as the app will read it (nothing is
saved half-way: a bad row is named and the saved set stays as it was), and *Use for evaluation* makes the saved set
the one the batch evaluation, the verdict, the question-type table and the Arena's "next question" use. The tab
holds no model or store code: it calls a :class:`QuestionSetService` (the runtime).

Example::

    with gr.Blocks():
        build_questions_tab(runtime.question_service, runtime.auth)
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import gradio as gr
import pandas as pd

from components.admin import require_admin
from pipelines.common.auth import AdminAuth
from pipelines.common.question_types import OUT_OF_CORPUS
from pipelines.common.questions import QuestionSetError
from pipelines.evaluation.collection_questions import MODEL, MODEL_DEFAULT_COUNT, RULES
from pipelines.evaluation.question_generation import DEFAULT_COUNT

TABLE_COLUMNS = ["keep", "id", "question", "key", "type", "form", "source", "reference", "split"]
KEY_SEPARATOR = " | "
GENERATOR_CHOICES = [("rules (offline, one question per checkable fact)", RULES),
                     ("model (ragas' testset generation on the judge endpoint)", MODEL)]


class QuestionSetService(Protocol):
    """What the tab needs of the runtime (:class:`pipelines.runtime.Runtime` gives it)."""

    default_generator: str

    def question_collections(self) -> list[str]: ...
    def question_generators(self) -> list[str]: ...
    def generator_note(self) -> str: ...
    def generate_questions(self, collection: str, count: int, out_of_corpus: int, seed: int,
                           progress: Callable[[float, str], None] | None = None,
                           generator: str | None = None) -> tuple[list[dict], str]: ...
    def saved_question_rows(self, collection: str) -> list[dict]: ...
    def save_question_set(self, collection: str, rows: Sequence[Mapping[str, object]]) -> str: ...
    def choose_question_set(self, collection: str | None) -> str: ...
    def chosen_question_set_line(self) -> str: ...
    def describe_set(self, collection: str | None) -> dict: ...


def rows_to_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """The review table: one row per question, its keys joined by `` | ``, every row kept."""
    table = []
    for row in rows:
        key = row.get("key", "")
        table.append({
            "keep": True, "id": str(row.get("id", "")), "question": str(row.get("question", "")),
            "key": KEY_SEPARATOR.join(map(str, key)) if isinstance(key, list) else str(key or ""),
            "type": str(row.get("type", "")), "form": str(row.get("form", "")), "source": str(row.get("source", "")),
            "reference": str(row.get("reference", "")), "split": str(row.get("split", "")),
        })
    return pd.DataFrame(table, columns=TABLE_COLUMNS)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value).strip()


def _kept(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "")
    return bool(value) if value is not None and not (isinstance(value, float) and pd.isna(value)) else True


def frame_to_rows(frame: pd.DataFrame | None) -> list[dict]:
    """The kept rows in the JSONL row shape: blank rows (a row added and left empty) dropped, keys split at
    ``|``, ``"answerable": false`` for out-of-corpus rows, and an id for a row added by hand."""
    if frame is None:
        return []
    rows: list[dict] = []
    taken = {_cell(v) for v in frame.get("id", [])}
    for number, record in enumerate(frame.to_dict("records"), start=1):
        cells = {name: _cell(record.get(name)) for name in TABLE_COLUMNS if name != "keep"}
        if not any(cells.values()) or not _kept(record.get("keep", True)):
            continue
        keys = [part.strip() for part in cells["key"].split("|") if part.strip()]
        row: dict[str, object] = {"id": cells["id"] or _new_id(number, taken), "question": cells["question"],
                                  "reference": cells["reference"], "key": keys[0] if len(keys) == 1 else keys,
                                  "source": cells["source"], "type": cells["type"], "form": cells["form"],
                                  "split": cells["split"]}
        if cells["type"] == OUT_OF_CORPUS:
            row["answerable"] = False
        rows.append(row)
    return rows


def _new_id(number: int, taken: set[str]) -> str:
    candidate, suffix = f"manual-{number:03d}", 1
    while candidate in taken:
        suffix += 1
        candidate = f"manual-{number:03d}-{suffix}"
    taken.add(candidate)
    return candidate


def build_questions_tab(service: QuestionSetService | None, auth: AdminAuth | None = None) -> None:
    """``service`` None (no knowledge base): the tab says why and offers nothing."""
    auth = auth or AdminAuth(None)
    gr.Markdown(
        "Make a question set from **your** documents: every answerable question carries its key fact (the short "
        "answer a right answer must hold) and the sentence it came from; some ask what the documents never say "
        "(out-of-corpus), to see which approach admits it does not know. Questions are worded away from the "
        "adapter's training questions, so the fine-tuned column is not tested on what it memorised. Review, save, "
        "then *Use for evaluation*: the Evaluation tab's batch run and verdict name the set and its hash.")
    if service is None:
        gr.Markdown("⚠️ The knowledge base is unavailable, so there are no documents to make questions from.",
                    elem_id="qs-unavailable")
        return
    collections = service.question_collections()
    with gr.Row():
        collection = gr.Dropdown(collections, value=collections[0] if collections else None, label="Collection",
                                 elem_id="qs-collection", scale=2)
        # At most this many: the rules give one question per checkable fact up to it (the CLI's default too).
        count = gr.Number(DEFAULT_COUNT, label="Questions (at most)", precision=0, minimum=1, maximum=500,
                          elem_id="qs-count")
        out_of_corpus = gr.Number(-1, label="Out-of-corpus (-1: a tenth or more)", precision=0, minimum=-1,
                                  maximum=200, elem_id="qs-ooc")
        seed = gr.Number(0, label="Seed", precision=0, elem_id="qs-seed")
        refresh = gr.Button("↻", elem_id="qs-refresh", scale=0, min_width=40)
    # The model generator needs a judge endpoint: without one the radio is locked on rules and the note says why.
    note = service.generator_note()
    generator = gr.Radio(GENERATOR_CHOICES, value=service.default_generator, label="Generator",
                         interactive=MODEL in service.question_generators(), elem_id="qs-generator")
    gr.Markdown(f"ℹ️ {html.escape(note)}" if note else "", visible=bool(note), elem_id="qs-generator-note")
    with gr.Row():
        generate = gr.Button("✨ Generate questions", variant="primary", elem_id="qs-generate")
        load_saved = gr.Button("↻ Load the saved set", elem_id="qs-load")
    report = gr.Markdown(elem_id="qs-report")
    table = gr.Dataframe(headers=TABLE_COLUMNS, datatype=["bool", *["str"] * (len(TABLE_COLUMNS) - 1)],
                         interactive=True, wrap=True, elem_id="qs-table",
                         label="Review: untick keep to remove, edit any cell, add rows for your own questions "
                               "(keys: acceptable forms separated by |; type out-of-corpus: no key)")
    with gr.Row():
        password = gr.Textbox(label="Admin password", type="password", visible=auth.enabled, elem_id="qs-password")
        save = gr.Button("💾 Save the set", elem_id="qs-save")
        use = gr.Button("✅ Use for evaluation", elem_id="qs-use")
        use_startup = gr.Button("Use the start-up set", elem_id="qs-use-startup")
    status = gr.Markdown(service.chosen_question_set_line(), elem_id="qs-status")

    def on_generate(name: str | None, how_many: float | None, ooc: float | None, chosen_seed: float | None,
                    how: str | None = None,
                    progress=gr.Progress()) -> tuple[pd.DataFrame, str]:  # noqa: B008 (Gradio's progress idiom)
        if not name:
            raise gr.Error("Pick a collection first (upload documents in the Knowledge tab).")
        try:
            rows, summary = service.generate_questions(
                name, int(how_many or 40), int(-1 if ooc is None else ooc), int(chosen_seed or 0),
                progress=lambda share, text: progress(share, desc=text), generator=how or service.default_generator)
        except (QuestionSetError, ValueError, OSError) as exc:
            raise gr.Error(str(exc)) from exc
        return rows_to_frame(rows), summary

    def on_generator(how: str) -> float:
        """Each generator's own count: the rules ask one question per fact up to the cap; the model's questions
        cost several calls each."""
        return MODEL_DEFAULT_COUNT if how == MODEL else DEFAULT_COUNT

    def on_load(name: str | None) -> tuple[pd.DataFrame, str]:
        rows = service.saved_question_rows(name) if name else []
        if not rows:
            return rows_to_frame([]), f"{html.escape(name or 'This collection')} has no saved set yet."
        return rows_to_frame(rows), f"Loaded the saved set of **{html.escape(name)}**: {len(rows)} questions."

    def on_save(name: str | None, frame: pd.DataFrame, given: str | None) -> str:
        require_admin(auth, given)
        if not name:
            raise gr.Error("Pick a collection first.")
        try:
            return service.save_question_set(name, frame_to_rows(frame))
        except (QuestionSetError, ValueError, OSError) as exc:
            raise gr.Error(f"Not saved: {exc}") from exc

    def on_use(name: str | None, given: str | None) -> str:
        require_admin(auth, given)
        try:
            return service.choose_question_set(name)
        except (QuestionSetError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc

    def on_refresh(current: str | None) -> dict:
        names = service.question_collections()
        return {collection: gr.Dropdown(choices=names, value=current if current in names else
                                        (names[0] if names else None)),
                status: service.chosen_question_set_line()}

    refresh.click(on_refresh, inputs=[collection], outputs=[collection, status], api_name=False)
    generator.change(on_generator, inputs=[generator], outputs=[count], api_name=False)
    generate.click(on_generate, inputs=[collection, count, out_of_corpus, seed, generator], outputs=[table, report],
                   api_name=False, concurrency_limit=1, concurrency_id="question-generation")
    load_saved.click(on_load, inputs=[collection], outputs=[table, report], api_name=False)
    save.click(on_save, inputs=[collection, table, password], outputs=[status], api_name=False)
    use.click(on_use, inputs=[collection, password], outputs=[status], api_name=False)
    use_startup.click(lambda given: on_use(None, given), inputs=[password], outputs=[status], api_name=False)
