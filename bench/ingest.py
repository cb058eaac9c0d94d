"""Ingestion and retrieval cost, as ratios measured in one run on the same data.

  ingestion ratio = chunks/s of our whole ingestion (read, chunk, embed, batch-insert into Weaviate)
                    / chunks/s of a bare encode of the same chunk texts by the embedder's own model (goal >= 0.8)
  search ratio    = hybrid-search p50 over a 10k-chunk collection (query embedding included)
                    / generation time of one RAG answer by the arena's model                     (goal <= 0.05)

The documents are synthetic (seeded shuffles of the sample corpus' sentences), written as real
.md/.txt files and ingested through the same code as the Knowledge tab. A Weaviate server is
started on free ports in a temporary folder.

    python bench/ingest.py [--docs 100] [--search-chunks 10000] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def synthetic_documents(count: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """Markdown and text files of 300-900 words made of the sample corpus' sentences, in a seeded order."""
    from pipelines.common.settings import Settings

    corpus = " ".join(p.read_text() for p in sorted(Settings().corpus_dir.iterdir()))
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", re.sub(r"#+ ", "", corpus)) if len(s.split()) > 4]
    rng = random.Random(seed)
    documents = []
    for number in range(count):
        body = []
        for section in range(rng.randint(2, 5)):
            body.append(f"## Section {section + 1}\n" + " ".join(rng.choices(sentences, k=rng.randint(6, 18))))
        suffix = ".md" if number % 2 else ".txt"
        text = (f"# Synthetic document {number}\n" if suffix == ".md" else "") + "\n\n".join(body)
        documents.append((f"doc_{number:04d}{suffix}", text.encode()))
    return documents


def bench_ingestion(knowledge, embedder, docs: int) -> tuple[float, int]:
    from pipelines.knowledge.ingest import parse_and_chunk
    from pipelines.knowledge.uploads import UploadedFile

    files = [UploadedFile(name, data) for name, data in synthetic_documents(docs)]
    documents, _ = parse_and_chunk(files, knowledge.chunker())
    texts = list({c.content_hash: c.text for _, chunks in documents for c in chunks}.values())
    embedder.embed(["warm-up"] * 64)

    def bare_encode() -> float:
        started = time.perf_counter()
        embedder.model.encode(texts, batch_size=32, normalize_embeddings=True)
        return time.perf_counter() - started

    before = bare_encode()  # the baseline runs before and after ours: these shared CPUs drift
    started = time.perf_counter()
    report = knowledge.ingest_files("BenchIngest", files)
    ours = time.perf_counter() - started
    assert not report.failed, report.failed
    bare = (before + bare_encode()) / 2
    return bare / ours, len(texts)


def bench_search(knowledge, settings, chunks: int, queries: int) -> tuple[float, float, float]:
    from pipelines.generation.models import ModelBackend
    from pipelines.generation.prompts import rag_messages
    from pipelines.generation.requests import GenerationRequest
    from pipelines.knowledge.chunking import Chunk
    from pipelines.knowledge.store import DocumentMeta

    store = knowledge.store("BenchSearch")
    rng = random.Random(11)
    sentences = [s for _, data in synthetic_documents(60, seed=3) for s in data.decode().split(". ") if len(s) > 30]
    per_doc = 500
    documents = []
    for doc in range(chunks // per_doc):
        items = [Chunk(f"big_{doc}.txt", i, "", f"{rng.choice(sentences)}. [{doc}-{i}]") for i in range(per_doc)]
        documents.append((DocumentMeta(f"big_{doc}.txt", "txt", 0), items))
    store.replace_documents(documents)
    assert store.count() >= chunks, store.count()
    questions = [json.loads(line)["question"] for line in settings.questions_file.read_text().splitlines()]
    for question in questions[:5]:  # warm-up
        store.hybrid_search(question, top_k=settings.top_k, alpha=settings.hybrid_alpha)
    latencies = []
    for number in range(queries):
        started = time.perf_counter()
        store.hybrid_search(questions[number % len(questions)], top_k=settings.top_k, alpha=settings.hybrid_alpha)
        latencies.append(time.perf_counter() - started)
    p50 = statistics.median(latencies)

    backend = ModelBackend.load(settings)
    hits = store.hybrid_search(questions[0], top_k=settings.top_k, alpha=settings.hybrid_alpha)
    request = GenerationRequest(rag_messages(questions[0], hits, []), adapter=None)
    list(backend.stream([request], 8, 0.0))  # warm-up
    times = []
    for _ in range(3):
        started = time.perf_counter()
        list(backend.stream([request], settings.max_new_tokens, 0.0))
        times.append(time.perf_counter() - started)
    generation = statistics.median(times)
    return p50 / generation, p50, generation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--search-chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    from pipelines.common.settings import Settings
    from pipelines.knowledge.base import KnowledgeBase
    from pipelines.knowledge.embeddings import Embedder
    from pipelines.knowledge.store import connect
    from pipelines.knowledge.weaviate_server import WeaviateServer, free_ports

    http_port, grpc_port = free_ports(2)
    with tempfile.TemporaryDirectory() as tmp, WeaviateServer(
        Settings().resolved_weaviate_binary, Path(tmp) / "weaviate", http_port=http_port, grpc_port=grpc_port
    ):
        settings = Settings(data_dir=Path(tmp), weaviate_http_port=http_port, weaviate_grpc_port=grpc_port)
        client = connect(settings)
        try:
            embedder = Embedder.load(settings.embedding_model)
            knowledge = KnowledgeBase(client, embedder, settings)
            ingest_ratio, chunk_count = bench_ingestion(knowledge, embedder, args.docs)
            search_ratio, p50, generation = bench_search(knowledge, settings, args.search_chunks, args.queries)
        finally:
            client.close()
    print(f"ingest ({args.docs} documents, {chunk_count} chunks of <= {settings.chunk_tokens} tokens; "
          f"{args.search_chunks} chunks searched)")
    print(f"  ingestion chunks/s, ours / bare encode      : {ingest_ratio:.2f}  (goal >= 0.8)")
    print(f"  hybrid search p50 / one answer's generation : {search_ratio:.3f}  (goal <= 0.05; "
          f"p50 {p50 * 1000:.1f} ms, answer of up to {settings.max_new_tokens} tokens {generation:.1f} s)")


if __name__ == "__main__":
    main()
