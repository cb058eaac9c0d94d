"""Integration: the knowledge-update demo with the real model, adapter, Weaviate and SQLite."""

from pipelines.arena.arena import Arena
from pipelines.arena.finetuned import FinetunedPipeline
from pipelines.arena.knowledge_update import DEFAULT_SCENARIO, run_update_demo
from pipelines.arena.rag import RagPipeline
from pipelines.feedback.store import FeedbackStore
from pipelines.knowledge.ingest import folder_files
from pipelines.knowledge.retrieval import RetrievalOptions


def test_rag_picks_up_a_new_document_at_once_and_the_adapter_does_not(backend, knowledge_base, test_settings,
                                                                      tmp_path):
    collection = "UpdateDemoDocs"
    knowledge_base.clear(collection)
    knowledge_base.ingest_files(collection, folder_files(test_settings.corpus_dir))
    feedback = FeedbackStore.open(tmp_path / "f.sqlite3")
    arena = Arena([RagPipeline(knowledge_base.retriever, RetrievalOptions(top_k=3)), FinetunedPipeline(backend)],
                  backend, feedback, max_new_tokens=40, max_prompt_chars=500)
    steps = []
    try:
        result = run_update_demo(arena, knowledge_base, collection, on_step=lambda f, m: steps.append(m))
        print(f"before: {result.before}\nafter: {result.after}")
        assert not result.states_new_fact("rag", "before")  # the corpus says 68 euros
        assert result.rag_learned, result.after["rag"]
        assert not result.finetuned_learned, result.after["finetuned"]
        assert DEFAULT_SCENARIO.document_name in [d.name for d in knowledge_base.documents(collection)]
        assert all(feedback.exchange(e) for e in result.exchange_ids) and steps[-1] == "done"

        again = run_update_demo(arena, knowledge_base, collection)  # a rerun starts from the old corpus again
        assert again.before == result.before and again.rag_learned
    finally:
        knowledge_base.client.collections.delete(collection)
