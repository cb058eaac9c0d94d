"""The column registry: every pipeline is a registered column, and every reader shows its labels."""

from __future__ import annotations

import pytest

from components.arena_view import arena_columns, titles, verdict
from components.leaderboard import row_label
from pipelines.arena.finetuned import BasePipeline, FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.arena.rag_finetuned import RagFinetunedPipeline
from pipelines.common.columns import ARENA_COLUMNS, BY_NAME, COLUMNS, PAIR, VOTE_CHOICES, label, short_label, title
from pipelines.feedback import store


def test_registry_order_and_kinds():
    assert [c.name for c in COLUMNS] == ["rag", "finetuned", "rag_finetuned", "base"]
    assert PAIR == ("rag", "finetuned")
    assert ARENA_COLUMNS == ("rag", "finetuned", "rag_finetuned")  # the base-model floor is never shown


@pytest.mark.parametrize("pipeline", [RagPipeline, FinetunedPipeline, RagFinetunedPipeline, BasePipeline])
def test_every_pipeline_is_a_registered_column(pipeline):
    assert pipeline.name in BY_NAME
    assert not hasattr(pipeline, "label")  # labels live in the registry only


def test_vote_choices_are_the_arena_columns_and_no_winner():
    assert VOTE_CHOICES == ("rag", "finetuned", "rag_finetuned", "tie", "both_bad")
    assert store.VOTE_CHOICES == VOTE_CHOICES  # what the store accepts
    assert not hasattr(store, "VoteChoice")


@pytest.mark.parametrize("column", COLUMNS, ids=lambda c: c.name)
def test_leaderboard_shows_every_columns_label(column):
    assert row_label(column.name) == column.label
    assert row_label(f"{column.name}@mine@1a2b3c4d") == f"{column.label} · mine@1a2b3c4d"


def test_rag_finetuned_is_labelled_not_shown_as_its_id():
    assert row_label("rag_finetuned") == "RAG + fine-tuned"
    assert short_label("rag_finetuned") == "RAG+FT"


def test_an_unknown_name_falls_back_to_itself():
    assert label("reranked") == short_label("reranked") == title("reranked") == "reranked"
    assert row_label("reranked@v2") == "reranked · v2"


def test_arena_texts_come_from_the_registry():
    assert arena_columns(["rag", "finetuned", "rag_finetuned", "base"]) == list(ARENA_COLUMNS)
    assert titles(["rag", "finetuned"], blind=False, voted=False) == [
        "### RAG · Weaviate hybrid retrieval + base model", "### Fine-tuned · QLoRA adapter, no retrieval"]
    assert [verdict(c) for c in VOTE_CHOICES] == ["RAG is better", "Fine-tuned is better", "RAG+FT is best",
                                                  "a tie", "none is good"]
