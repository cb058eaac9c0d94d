"""Integration: the knowledge base on the real Weaviate server: every format, dedup, delete, filters, rerank."""

from __future__ import annotations

import pytest

from pipelines.common.settings import Settings
from pipelines.knowledge.base import KnowledgeBase, KnowledgeError
from pipelines.knowledge.retrieval import CrossEncoderReranker, HybridRetriever, RetrievalOptions
from pipelines.knowledge.store import connect
from tests.documents import XSS_HTML, docx_bytes, pdf_bytes, write, zip_bytes

HARBOUR_MD = "# Quillmoor harbour\nThe harbour master is Odile Varrent.\n## Tides\nHigh tide peaks at 3.4 metres."


@pytest.fixture()
def kb(test_settings, embedder, tmp_path, request):
    settings = test_settings.model_copy(update={"data_dir": tmp_path})
    client = connect(settings)
    base = KnowledgeBase(client, embedder, settings)
    name = f"Kb{request.node.name.replace('_', '')[:40]}"
    base.clear(name)
    yield base, name
    client.collections.delete(base.store(name).name)
    client.close()


@pytest.fixture()
def every_format(tmp_path):
    folder = tmp_path / "upload"
    folder.mkdir()
    return [
        write(folder, "harbour.md", HARBOUR_MD),
        write(folder, "notes.txt", "The lighthouse of Quillmoor was rebuilt in 1911 after the storm."),
        write(folder, "ferry.html", XSS_HTML),
        write(folder, "fares.pdf", pdf_bytes(["Season tickets cost 90 marks.", "Dogs travel free of charge."])),
        write(folder, "pier.docx", docx_bytes("Pier guide", {"Fishing": "Fishing is allowed on the north pier."})),
        write(folder, "bundle.zip", zip_bytes({"more/boats.md": b"# Boats\nThe Gullwing seats 40 passengers."})),
    ]


def test_every_format_is_ingested_with_metadata_and_reingest_adds_nothing(kb, every_format):
    base, name = kb
    report = base.ingest_paths(name, every_format)
    assert report.failed == {}
    assert set(report.files) == {"harbour.md", "notes.txt", "ferry.html", "fares.pdf", "pier.docx", "boats.md"}
    docs = {d.name: d for d in base.documents(name)}
    assert {n: d.doc_type for n, d in docs.items()} == {
        "harbour.md": "md", "notes.txt": "txt", "ferry.html": "html", "fares.pdf": "pdf", "pier.docx": "docx",
        "boats.md": "md"}
    assert docs["fares.pdf"].chunks == 2 and docs["harbour.md"].chunks == 2
    store = base.store(name)
    assert store.count() == sum(report.files.values())

    retriever = HybridRetriever(store)
    pdf_hit = retriever.run("dogs travel free", top_k=1)[0]
    assert (pdf_hit.source, pdf_hit.page) == ("fares.pdf", 2)
    tide = retriever.run("high tide metres", top_k=1)[0]
    assert (tide.source, tide.heading) == ("harbour.md", "Tides")
    html_hit = retriever.run("ferry leaves", top_k=1, sources=["ferry.html"])[0]
    assert "alert(" not in html_hit.text.replace("<script>alert('escaped')</script>", "")

    again = base.ingest_paths(name, every_format)
    assert again.failed == {} and store.count() == sum(report.files.values())


def test_a_changed_document_replaces_its_old_chunks(kb, tmp_path):
    base, name = kb
    path = write(tmp_path, "harbour.md", HARBOUR_MD)
    base.ingest_paths(name, [path])
    write(tmp_path, "harbour.md", HARBOUR_MD.replace("Odile Varrent", "Bastien Quell"))
    base.ingest_paths(name, [path])
    texts = " ".join(hit.text for hit in HybridRetriever(base.store(name)).run("harbour master", top_k=10))
    assert "Bastien Quell" in texts and "Odile Varrent" not in texts
    assert base.store(name).count() == 2


def test_delete_reingest_and_clear(kb, tmp_path):
    base, name = kb
    md = write(tmp_path, "harbour.md", HARBOUR_MD)
    txt = write(tmp_path, "notes.txt", "The lighthouse was rebuilt in 1911.")
    base.ingest_paths(name, [md, txt])
    assert base.delete_document(name, "notes.txt") == 1
    assert [d.name for d in base.documents(name)] == ["harbour.md"]
    with pytest.raises(KnowledgeError, match="No document"):
        base.delete_document(name, "notes.txt")

    report = base.reingest(name, "harbour.md", chunk_size=8, overlap=2)  # smaller chunks from the kept original
    assert report.files["harbour.md"] > 2 and base.store(name).count() == report.files["harbour.md"]
    with pytest.raises(KnowledgeError, match="not kept"):
        base.reingest(name, "notes.txt")

    assert name in base.collections()
    base.clear(name)
    assert base.store(name).count() == 0 and base.documents(name) == []


def test_one_bad_file_in_a_batch_leaves_the_others_ingested(kb, tmp_path):
    base, name = kb
    good = write(tmp_path, "harbour.md", HARBOUR_MD)
    bad = [
        write(tmp_path, "empty.txt", b""),
        write(tmp_path, "binary.txt", bytes(range(256)) * 8),
        write(tmp_path, "broken.pdf", b"%PDF-1.4\n1 0 obj <</Type/Catalog>>\n%%EOF"),
        write(tmp_path, "locked.pdf", pdf_bytes(["secret"], password="pw")),
        write(tmp_path, "evil.zip", zip_bytes({"../../escape.md": b"# x\ny"})),
        write(tmp_path, "huge.txt", b"word " * (300 * 1024)),
    ]
    settings = base.settings
    base.settings = settings.model_copy(update={"max_upload_mb": 1})
    try:
        report = base.ingest_paths(name, [bad[0], good, *bad[1:]])
    finally:
        base.settings = settings
    assert list(report.files) == ["harbour.md"]
    assert set(report.failed) == {"empty.txt", "binary.txt", "broken.pdf", "locked.pdf", "evil.zip", "huge.txt"}
    assert "password" in report.failed["locked.pdf"] and "limit" in report.failed["huge.txt"]
    assert [d.name for d in base.documents(name)] == ["harbour.md"]


def test_retrieval_options_filter_by_document_and_attach_neighbours(kb, tmp_path):
    base, name = kb
    colours = ("red", "blue", "green")
    long_text = "\n".join(f"Pier {i} is painted {colours[i % 3]} and faces the sea." for i in range(60))
    base.ingest_paths(name, [write(tmp_path, "piers.txt", long_text), write(tmp_path, "harbour.md", HARBOUR_MD)])
    retriever = base.retriever(RetrievalOptions(collection=name, top_k=2, alpha=0.5))
    only_harbour = retriever.run("pier painted", top_k=2, sources=["harbour.md"])
    assert only_harbour and {hit.source for hit in only_harbour} == {"harbour.md"}
    pier_hits = retriever.run("Pier 30 is painted", top_k=1, sources=["piers.txt"])
    hit = pier_hits[0]
    assert hit.before or hit.after  # a middle chunk of a long document has neighbours
    with pytest.raises(KnowledgeError, match="ARENA_RERANKER_MODEL"):
        base.retriever(RetrievalOptions(collection=name, rerank=True))


def test_cross_encoder_reranker_reorders_by_its_scores(knowledge, embedder):
    class LengthScorer:  # unit seam: prefers shorter passages, whatever hybrid search said
        def predict(self, pairs, **_):
            return [-len(passage) for _, passage in pairs]

    hybrid = HybridRetriever(knowledge).run("Lumenhollow", top_k=8)
    reranked = CrossEncoderReranker(HybridRetriever(knowledge), LengthScorer(), candidates=8).run("Lumenhollow", 3)
    assert [len(h.text) for h in reranked] == sorted(len(h.text) for h in hybrid)[:3]
    assert [h.rank for h in reranked] == [1, 2, 3] and all(h.rerank_score is not None for h in reranked)

    from sentence_transformers import CrossEncoder  # the real class, on the offline MiniLM weights

    real = CrossEncoder(embedder.path, device="cpu", num_labels=1)
    hits = CrossEncoderReranker(HybridRetriever(knowledge), real, candidates=6).run("battery life of the T4", 3)
    scores = [h.rerank_score for h in hits]
    assert len(hits) == 3 and scores == sorted(scores, reverse=True)


def test_remote_url_connects_with_the_same_code(knowledge, test_settings, weaviate_server, embedder, tmp_path):
    settings = Settings(data_dir=tmp_path, weaviate_url=f"http://127.0.0.1:{weaviate_server.http_port}",
                        weaviate_grpc_port=weaviate_server.grpc_port, collection=test_settings.collection)
    client = connect(settings)
    try:
        base = KnowledgeBase(client, embedder, settings)
        assert test_settings.collection in base.collections()
        assert HybridRetriever(base.store()).run("Lumenhollow founded", top_k=1)
    finally:
        client.close()
