"""Integration: the real Weaviate server started by the fixture, the real MiniLM embedder."""

import json

from pipelines.chunking import chunk_document
from pipelines.ingest import ingest_folder
from pipelines.store import HybridRetriever


def test_ingest_stores_every_chunk_with_metadata(knowledge, test_settings):
    expected = sum(
        len(chunk_document(p.name, p.read_text(), words=test_settings.chunk_words,
                           overlap=test_settings.chunk_overlap_words))
        for p in test_settings.corpus_dir.iterdir()
    )
    assert knowledge.count() == expected
    hit = HybridRetriever(knowledge).run("Tessel T4 weight grams", top_k=1)[0]
    assert hit.source == "tessel_t4_datasheet.md" and hit.rank == 1 and hit.score > 0


def test_reingest_adds_no_duplicates(knowledge, test_settings):
    before = knowledge.count()
    ingest_folder(knowledge, test_settings.corpus_dir, words=test_settings.chunk_words,
                  overlap=test_settings.chunk_overlap_words)
    assert knowledge.count() == before


def test_hybrid_search_finds_the_source_of_sample_questions(knowledge, test_settings):
    rows = [json.loads(line) for line in test_settings.questions_file.read_text().splitlines() if line.strip()]
    retriever = HybridRetriever(knowledge, alpha=test_settings.hybrid_alpha)
    hits_at_3 = sum(
        any(hit.source == row["source"] for hit in retriever.run(row["question"], top_k=3)) for row in rows
    )
    recall = hits_at_3 / len(rows)
    print(f"recall@3 on {len(rows)} sample questions: {recall:.2f}")
    assert recall >= 0.9
