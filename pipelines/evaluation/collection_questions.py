"""A collection's question set, end to end: generated from its documents, reviewed, saved, chosen for evaluation.

This is what the Questions tab, the API endpoints and the MCP tools call (the runtime builds it): documents come
from the collection's kept originals (``<data dir>/documents/<collection>/``, read as ingestion reads them), the
out-of-corpus check retrieves from the same collection, the fairness rule reads the adapter's training questions,
and a chosen set's reference answers join the scorer's, so votes on its questions are scored against their keys.

Example::

    questions = CollectionQuestions(knowledge, sets,
                                    training_questions=lambda docs: ["How many cars does MV Annick Marrow carry?"])
    rows, summary = questions.generate_questions("Ferries", count=40, out_of_corpus=-1, seed=0)
    questions.save_question_set("Ferries", rows)
    questions.choose_question_set("Ferries")
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipelines.common.questions import QuestionSetError
from pipelines.evaluation.question_generation import DEFAULT_COUNT
from pipelines.evaluation.saved_question_sets import ChosenSet, SavedQuestionSets, content_hash

if TYPE_CHECKING:
    from pipelines.evaluation.question_generation import GeneratedSet

Progress = Callable[[float, str], None]
RULES, MODEL = "rules", "model"
#: The model generator's count when none is given (each question costs several model calls; the command's too).
MODEL_DEFAULT_COUNT = 40
#: Why the Questions tab offers only the rules generator when no judge endpoint is configured.
MODEL_NEEDS_ENDPOINT = ("The model generator (ragas' testset generation) needs a capable model behind an "
                        "OpenAI-compatible endpoint: set ARENA_JUDGE=endpoint with ARENA_LLM_BASE_URL and "
                        "ARENA_LLM_MODEL, then restart. The in-process 135M model cannot write the JSON ragas asks "
                        "for, so only the offline rules generator is offered.")


@dataclass(frozen=True)
class GeneratedQuestions:
    """What a generator hands back: the rows (JSONL row shape), what its checks dropped and why, and the highest
    word overlap of a kept question with a training question (0 when there were none)."""

    rows: list[dict]
    dropped: Mapping[str, int] = field(default_factory=dict)
    max_training_overlap: float = 0.0
    overlap_threshold: float | None = None
    generator: str = "rules"
    notes: Sequence[str] = ()


class QuestionGenerator(Protocol):
    """Make a question set from a folder of documents (the rules generator offline, or a model's)."""

    def __call__(self, docs_dir: Path, *, count: int, out_of_corpus: int | None, seed: int,
                 training_questions: Sequence[str], retrieve: Callable[[str], list[str]] | None,
                 progress: Progress | None) -> GeneratedQuestions: ...


def folder_generator(make_set: Callable[..., GeneratedSet]) -> QuestionGenerator:
    """A :class:`QuestionGenerator` from a function that makes a set from read documents (the rules' or the
    model's): documents the readers refuse are left out and named in the notes, and the generator's own error
    becomes a :class:`QuestionSetError` the tab and the API show."""
    from pipelines.evaluation.question_generation import QuestionGenerationError, read_documents

    def generate(docs_dir: Path, **options) -> GeneratedQuestions:
        try:
            generated = make_set(read_documents(docs_dir, skip_unreadable=True), **options)
        except QuestionGenerationError as exc:
            raise QuestionSetError(str(exc)) from exc
        notes = [f"{name}: no question ({report.reason})" for name, report in generated.documents.items()
                 if report.reason and not report.questions]
        return GeneratedQuestions(generated.items, dict(generated.dropped), generated.max_training_overlap,
                                  generated.overlap_threshold, generated.generator, notes)

    return generate


def rules_generator(docs_dir: Path, **options) -> GeneratedQuestions:
    """The offline rules generator (:mod:`pipelines.evaluation.question_generation`) over a folder."""
    from pipelines.evaluation.question_generation import generate_question_set

    return folder_generator(generate_question_set)(docs_dir, **options)


def model_generator(llm, embeddings, max_new_tokens: int = 1024) -> QuestionGenerator:
    """The model generator (ragas' testset generation, :func:`~pipelines.evaluation.question_generation_model.
    generate_with_model`) over a folder, on ``llm`` and ``embeddings``: documents the readers refuse are left out
    and named in the notes, as the rules generator does (``CollectionQuestions(..., model=model_generator(...))``)."""
    from pipelines.evaluation.question_generation_model import generate_with_model

    return folder_generator(functools.partial(generate_with_model, llm=llm, embeddings=embeddings,
                                              max_new_tokens=max_new_tokens))


def endpoint_model_generator(settings, embedder: Callable[[], object]) -> QuestionGenerator:
    """The model generator on the settings' judge endpoint (ragas' testset generation: :mod:`pipelines.evaluation.
    question_generation_model`), built on its first use, so an app that never asks loads neither ragas nor the
    embeddings for it; ``embedder``: the app's embedder (an :class:`~pipelines.knowledge.embeddings.Embedder`),
    or None for the configured embedding model loaded here."""
    built: list[QuestionGenerator] = []

    def generate(docs_dir: Path, **options) -> GeneratedQuestions:
        if not built:
            from pipelines.evaluation.question_generation import QuestionGenerationError
            from pipelines.evaluation.question_generation_model import endpoint_writer
            from pipelines.evaluation.scorer import _ragas_embeddings
            from pipelines.knowledge.embeddings import Embedder

            try:
                writer = endpoint_writer(settings)
            except QuestionGenerationError as exc:
                raise QuestionSetError(str(exc)) from exc
            loaded = embedder() or Embedder.load(settings.embedding_model)
            built.append(model_generator(writer, _ragas_embeddings(loaded), settings.judge_max_tokens))
        return built[0](docs_dir, **options)

    return generate


class CollectionKnowledge(Protocol):
    """What this needs of :class:`pipelines.knowledge.base.KnowledgeBase`."""

    def collections(self) -> list[str]: ...
    def originals_dir(self, collection: str | None) -> Path: ...


def summary_markdown(collection: str, generated: GeneratedQuestions) -> str:
    """The Questions tab's report on a generation: counts by type, what the checks dropped, the overlap."""
    by_type: dict[str, int] = {}
    for row in generated.rows:
        by_type[str(row.get("type", ""))] = by_type.get(str(row.get("type", "")), 0) + 1
    sources = {str(row.get("source", "")) for row in generated.rows if row.get("source")}
    lines = [f"**{len(generated.rows)} questions** from {len(sources)} documents of "
             f"**{html.escape(collection)}** ({generated.generator} generator): "
             + ", ".join(f"{count} {kind}" for kind, count in sorted(by_type.items())) + "."]
    if generated.dropped:
        lines.append("Dropped by the checks: " + ", ".join(
            f"{count} {html.escape(reason)}" for reason, count in sorted(generated.dropped.items())) + ".")
    threshold = "" if generated.overlap_threshold is None else f" (questions over {generated.overlap_threshold:.2f} " \
                                                               "were dropped)"
    lines.append(f"Highest word overlap with the adapter's training questions: "
                 f"**{generated.max_training_overlap:.2f}**{threshold}.")
    lines += [html.escape(note) for note in generated.notes]
    lines.append("Review the table, then **Save the set** and **Use for evaluation**.")
    return "  \n".join(lines)


class CollectionQuestions:
    """The service behind the Questions tab (see the module docstring). Cheap to build; nothing runs until asked."""

    def __init__(self, knowledge: CollectionKnowledge | None, sets: SavedQuestionSets, *,
                 training_questions: Callable[[Path], Sequence[str]], generate: QuestionGenerator = rules_generator,
                 retriever_for: Callable[[str], Callable[[str], list[str]] | None] | None = None,
                 on_chosen: Callable[[ChosenSet], None] | None = None, model: QuestionGenerator | None = None,
                 default_generator: str = RULES) -> None:
        """``generate``: the rules generator; ``model``: the model generator, None when no endpoint is configured
        (the tab then says why it is not offered); ``default_generator``: the one the tab starts on."""
        self.knowledge = knowledge
        self.sets = sets
        self._generators: dict[str, QuestionGenerator] = {RULES: generate, **({MODEL: model} if model else {})}
        if default_generator not in self._generators:
            raise QuestionSetError(f"The {default_generator} generator is not available: " + (
                MODEL_NEEDS_ENDPOINT if default_generator == MODEL else f"choose one of {', '.join(self._generators)}"))
        self.default_generator = default_generator
        self._training_questions = training_questions
        self._retriever_for = retriever_for
        self._on_chosen = on_chosen
        self._last: tuple[str, GeneratedQuestions] | None = None  # the last generation, for the saved metadata

    def question_collections(self) -> list[str]:
        return self.knowledge.collections() if self.knowledge else []

    def question_generators(self) -> list[str]:
        """The generators this app can run: rules always, model when a judge endpoint is configured."""
        return list(self._generators)

    def generator_note(self) -> str:
        """Why the model generator is not offered ("" when it is)."""
        return "" if MODEL in self._generators else MODEL_NEEDS_ENDPOINT

    def documents_dir(self, collection: str) -> Path:
        if self.knowledge is None:
            raise QuestionSetError("The knowledge base is unavailable: no documents to make questions from.")
        return self.knowledge.originals_dir(collection)

    def generate(self, collection: str, count: int = DEFAULT_COUNT, out_of_corpus: int = -1, seed: int = 0,
                 progress: Progress | None = None, generator: str | None = None) -> GeneratedQuestions:
        """Generate a set for the collection's documents with ``generator`` (None: :attr:`default_generator`);
        :class:`QuestionSetError` when it has none, or the generator is not available here."""
        if not 1 <= count <= 500:
            raise QuestionSetError(f"Ask for 1 to 500 questions, not {count}.")
        generate = self._generators.get(generator or self.default_generator)
        if generate is None:
            raise QuestionSetError(MODEL_NEEDS_ENDPOINT if generator == MODEL else
                                   f"Unknown generator {generator!r}: choose one of {', '.join(self._generators)}.")
        folder = self.documents_dir(collection)
        if not folder.is_dir() or not any(p.is_file() for p in folder.iterdir()):
            raise QuestionSetError(f"{collection} holds no documents: upload some in the Knowledge tab first.")
        retrieve = self._retriever_for(collection) if self._retriever_for else None
        return generate(folder, count=count, out_of_corpus=None if out_of_corpus < 0 else out_of_corpus,
                        seed=seed, training_questions=list(self._training_questions(folder)), retrieve=retrieve,
                        progress=progress)

    def generate_questions(self, collection: str, count: int, out_of_corpus: int, seed: int,
                           progress: Progress | None = None, generator: str | None = None) -> tuple[list[dict], str]:
        generated = self.generate(collection, count, out_of_corpus, seed, progress, generator)
        if not generated.rows:
            reasons = "; ".join(generated.notes) or "no document states a checkable fact"
            raise QuestionSetError(f"No question could be made from {collection}'s documents: {reasons}.")
        self._last = (collection, generated)
        return generated.rows, summary_markdown(collection, generated)

    def saved_question_rows(self, collection: str) -> list[dict]:
        return self.sets.rows(collection)

    def save_question_set(self, collection: str, rows: Sequence[Mapping[str, object]],
                          meta: Mapping[str, object] | None = None) -> str:
        meta = {"collection": collection, **(meta or self._generation_meta(collection, rows))}
        saved = self.sets.save(collection, rows, meta=meta)
        return (f"✅ Saved {saved.questions} questions for **{html.escape(collection)}** "
                f"(sha256 `{saved.content_hash[:12]}`). " + self.chosen_question_set_line())

    def _generation_meta(self, collection: str, rows: Sequence[Mapping[str, object]]) -> dict:
        """How the rows were made, when they come from this collection's last generation (edited or not): the
        generator, what it dropped, and the highest overlap with the training questions, measured again on the
        rows as saved (an edit may have moved a question toward a training question's wording)."""
        last = self._last
        if last is None or last[0] != collection:
            return {"generator": "hand-written or edited"}
        from pipelines.evaluation.question_checks import content_words, word_overlap

        training = [content_words(q) for q in self._training_questions(self.documents_dir(collection))]
        overlap = max((word_overlap(str(row.get("question", "")), words) for row in rows for words in training),
                      default=0.0)
        generated = last[1]
        return {"generator": generated.generator, "dropped": dict(generated.dropped),
                "max_training_overlap": round(overlap, 3), "overlap_threshold": generated.overlap_threshold}

    def choose_question_set(self, collection: str | None) -> str:
        chosen = self.sets.choose(collection)
        if self._on_chosen is not None:
            self._on_chosen(chosen)
        return self.chosen_question_set_line()

    def chosen(self) -> ChosenSet:
        return self.sets.chosen()

    def chosen_question_set_line(self) -> str:
        chosen = self.sets.chosen()
        origin = "the start-up file" if chosen.collection is None else "a collection's saved set"
        return f"The evaluation uses **{html.escape(chosen.label)}** ({origin})."

    def describe_set(self, collection: str | None) -> dict:
        """A collection's saved set (None: the chosen one) as the API returns it: name (with its hash), sha256,
        whether the evaluation uses it, and its rows; :class:`QuestionSetError` when the collection has none."""
        chosen = self.sets.chosen()
        if collection is None:
            rows = self.sets.rows(chosen.collection) if chosen.collection else load_rows(chosen.path)
            return {"name": chosen.label, "sha256": chosen.content_hash, "chosen": True, "questions": rows}
        rows = self.sets.rows(collection)
        if not rows:
            raise QuestionSetError(f"{collection} has no saved question set: generate one and save it first.")
        digest = content_hash(self.sets.path(collection))
        return {"name": f"{collection} (sha256 {digest[:12]})", "sha256": digest,
                "chosen": chosen.collection == collection, "questions": rows}


def load_rows(path: Path) -> list[dict]:
    """A set file's questions in the row shape (the start-up file may be CSV or text; unreadable: none)."""
    from pipelines.common.questions import load_questions

    try:
        items = load_questions(path)
    except QuestionSetError:
        return []
    return [{"id": i.id, "question": i.question, "reference": i.reference, "key": list(i.keys), "source": i.source,
             "type": i.type, "split": i.split, **({} if i.answerable else {"answerable": False})} for i in items]
