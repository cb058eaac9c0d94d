"""The knowledge-update demo: RAG picks up a new document at once; the fine-tuned adapter must be retrained.

It asks a question, adds a document whose fact contradicts the corpus, asks again, and
checks each answer for the old and the new fact. The two exchanges are stored like any
other (session id ``knowledge-update-demo``), so they can be voted on and scored.

Example::

    result = run_update_demo(arena, knowledge_base, collection="LumenhollowDocs")
    result.rag_after, result.rag_learned, result.finetuned_learned
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.common.columns import FINETUNED, RAG
from pipelines.knowledge.base import KnowledgeBase
from pipelines.knowledge.retrieval import RetrievalOptions
from pipelines.knowledge.uploads import UploadedFile

EXPLANATION = (
    "RAG reads the documents at question time, so a new document changes its answer at once; the fine-tuned "
    "model's knowledge is baked into its adapter weights and stays as it was until you retrain it."
)


@dataclass(frozen=True)
class UpdateScenario:
    """A question, a document that changes its answer, and how to recognise the old and the new answer."""

    question: str
    document_name: str
    document_text: str
    new_fact: str  # a regex that matches an answer stating the new fact
    old_fact: str  # a regex that matches an answer stating the old fact


# Measured with the offline SmolLM2-135M: the update document ranks first for the question, and the RAG
# answer states the new amount; a longer, Markdown-headed version of the same fact confused the small reader.
DEFAULT_SCENARIO = UpdateScenario(
    question="What is the daily meal allowance when travelling for Lumenhollow?",
    document_name="travel_update_2026.txt",
    document_text="Travel policy update: the daily meal allowance when travelling for Lumenhollow is now 75 euros.",
    new_fact=r"\b75\b",
    old_fact=r"\b68\b",
)


@dataclass
class UpdateDemoResult:
    scenario: UpdateScenario
    before: dict[str, str]  # pipeline -> answer (or the error shown)
    after: dict[str, str]
    exchange_ids: tuple[str, str]

    def states_new_fact(self, pipeline: str, when: str = "after") -> bool:
        answer = (self.after if when == "after" else self.before).get(pipeline, "")
        return bool(re.search(self.scenario.new_fact, answer, re.IGNORECASE))

    @property
    def rag_learned(self) -> bool:
        return self.states_new_fact(RAG.name) and not self.states_new_fact(RAG.name, "before")

    @property
    def finetuned_learned(self) -> bool:
        return self.states_new_fact(FINETUNED.name) and not self.states_new_fact(FINETUNED.name, "before")


def _answers(arena: Arena, question: str, session: ArenaSession) -> tuple[dict[str, str], str]:
    """Each column's answer, or its error as the arena tab shows it; and the stored exchange's id."""
    whole = arena.answer_whole(question, session)
    answers = {name: f"⚠️ {r.error}" if r.error else r.answer for name, r in whole.results.items()}
    return answers, whole.exchange_id


def run_update_demo(arena: Arena, knowledge: KnowledgeBase, collection: str | None = None,
                    scenario: UpdateScenario = DEFAULT_SCENARIO, defaults: RetrievalOptions | None = None,
                    on_step: Callable[[float, str], None] | None = None) -> UpdateDemoResult:
    """Ask, add the scenario's document to ``collection``, ask again; the document stays (delete it to undo).

    ``defaults`` are the arena's retrieval defaults, so the demo retrieves as a fresh arena session does.
    """
    step = on_step or (lambda _fraction, _message: None)
    options = replace(defaults or RetrievalOptions(), collection=collection)
    step(0.05, "asking both columns before the update")
    knowledge.delete_document_if_present(collection, scenario.document_name)  # a rerun starts from the old corpus
    before, first_id = _answers(arena, scenario.question,
                                ArenaSession(session_id="knowledge-update-demo", retrieval=options))
    step(0.45, f"adding {scenario.document_name}")
    report = knowledge.ingest_files(collection, [UploadedFile(scenario.document_name, scenario.document_text.encode())])
    if report.failed:
        raise ValueError(f"The demo document could not be added: {report.failed}")
    step(0.55, "asking both columns again")
    after, second_id = _answers(arena, scenario.question,
                                ArenaSession(session_id="knowledge-update-demo", retrieval=options))
    step(1.0, "done")
    return UpdateDemoResult(scenario, before, after, (first_id, second_id))
