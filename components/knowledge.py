"""The Knowledge tab: collections, uploads with per-file progress, the document list, and the update demo."""

from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
import pandas as pd

from components.admin import require_admin
from components.rendering import size_label
from pipelines.arena.arena import Arena
from pipelines.arena.knowledge_update import EXPLANATION, run_update_demo
from pipelines.common.auth import AdminAuth
from pipelines.knowledge.base import KnowledgeBase, KnowledgeError
from pipelines.knowledge.ingest import IngestReport
from pipelines.knowledge.readers import SUPPORTED_SUFFIXES
from pipelines.knowledge.retrieval import RetrievalOptions

DOC_COLUMNS = ["document", "type", "size", "chunks", "added at (UTC)"]


def documents_frame(knowledge: KnowledgeBase, collection: str | None) -> pd.DataFrame:
    rows = [
        {"document": d.name, "type": d.doc_type, "size": size_label(d.size_bytes), "chunks": d.chunks,
         "added at (UTC)": d.added_at.strftime("%Y-%m-%d %H:%M") if d.added_at else ""}
        for d in knowledge.documents(collection)
    ]
    return pd.DataFrame(rows, columns=DOC_COLUMNS)


def report_markdown(report: IngestReport) -> str:
    """One line per file: chunks stored, or why it was refused (names escaped: they come from uploads)."""
    lines = [f"**{len(report.files)} file(s) ingested, {report.chunks} chunks; {len(report.failed)} refused.**", ""]
    lines += [f"- ✅ `{html.escape(name)}`: {count} chunks" for name, count in report.files.items()]
    lines += [f"- ❌ `{html.escape(name)}`: {html.escape(reason)}" for name, reason in report.failed.items()]
    return "\n".join(lines)


def _demo_markdown(result) -> str:
    def cell(text: str) -> str:
        return html.escape(text).replace("|", "\\|").replace("\n", " ")

    verdict = {True: "✅ states the new fact", False: "— does not state the new fact"}
    scenario = result.scenario
    return "\n".join([
        f"**Question:** {cell(scenario.question)}  \n**Added document:** `{scenario.document_name}` — "
        f"{cell(scenario.document_text.splitlines()[-1])}",
        "",
        "| column | before the update | after the update | |",
        "|---|---|---|---|",
        f"| RAG | {cell(result.before.get('rag', ''))} | {cell(result.after.get('rag', ''))} | "
        f"{verdict[result.states_new_fact('rag')]} |",
        f"| Fine-tuned | {cell(result.before.get('finetuned', ''))} | {cell(result.after.get('finetuned', ''))} | "
        f"{verdict[result.states_new_fact('finetuned')]} |",
        "",
        f"**Why:** {EXPLANATION}",
        "",
        "To teach the fine-tuned column the new fact, retrain its adapter on the updated documents "
        "(the **Fine-tune** tab, or `python -m pipelines.training --docs <folder>`). "
        f"Delete `{scenario.document_name}` in the list above to undo the demo.",
    ])


def build_knowledge_tab(knowledge: KnowledgeBase | None, auth: AdminAuth, arena: Arena,
                        unavailable_reason: str = "", retrieval_defaults: RetrievalOptions | None = None) -> None:
    if knowledge is None:
        gr.Markdown(f"⚠️ The knowledge base is unavailable: {html.escape(unavailable_reason or 'no vector store')}",
                    elem_id="knowledge-unavailable")
        return
    collections = knowledge.collections() or [knowledge.default_collection]
    gr.Markdown(
        "Documents the **RAG** column retrieves from (Weaviate hybrid search). Upload txt, md, html, pdf or docx "
        "files, several at once, or a folder as a .zip; each file is read, cut into overlapping chunks of the "
        "embedding model's tokens, embedded and stored as a whole or not at all. Re-uploading a file replaces it."
    )
    password = gr.Textbox(label="Admin password (needed to change the knowledge base)", type="password",
                          visible=auth.enabled, elem_id="knowledge-password")
    with gr.Row():
        collection = gr.Dropdown(collections, value=collections[0], label="Collection", elem_id="kb-collection",
                                 scale=3)
        new_name = gr.Textbox(label="New collection", placeholder="e.g. HarbourDocs", elem_id="kb-new-name", scale=2)
        create = gr.Button("➕ Create", elem_id="kb-create", scale=1)
        clear = gr.Button("🗑 Clear collection", variant="stop", elem_id="kb-clear", scale=1)
    with gr.Row():
        with gr.Column(scale=2):
            uploads = gr.File(label=f"Files ({', '.join(SUPPORTED_SUFFIXES)}, .zip)", file_count="multiple",
                              file_types=[*SUPPORTED_SUFFIXES, ".zip"], elem_id="kb-upload")
            with gr.Row():
                chunk_size = gr.Slider(16, knowledge.embedder.max_tokens - 8, value=knowledge.settings.chunk_tokens,
                                       step=8, label="Chunk size (tokens)", elem_id="kb-chunk-size")
                overlap = gr.Slider(0, 128, value=knowledge.settings.chunk_overlap_tokens, step=4,
                                    label="Overlap (tokens)", elem_id="kb-overlap")
            ingest = gr.Button("📥 Ingest", variant="primary", elem_id="kb-ingest")
        report = gr.Markdown(elem_id="kb-report")
    documents = gr.Dataframe(documents_frame(knowledge, collections[0]), label="Documents", interactive=False,
                             elem_id="kb-documents")
    with gr.Row():
        selected = gr.Dropdown([], label="Document", elem_id="kb-document", scale=3)
        delete = gr.Button("Delete document", elem_id="kb-delete", scale=1)
        reingest = gr.Button("Re-ingest with the sizes above", elem_id="kb-reingest", scale=1)
        refresh = gr.Button("↻ Refresh", elem_id="kb-refresh", scale=1)
    with gr.Accordion("Demo: RAG stays current, fine-tuning must be retrained", open=False, elem_id="kb-demo"):
        gr.Markdown("One click asks a question, adds a document that changes its answer to the selected "
                    "collection, and asks again. RAG should pick up the new fact at once; the fine-tuned "
                    "column cannot until its adapter is retrained.")
        run_demo = gr.Button("▶ Run the knowledge-update demo", elem_id="kb-demo-run")
        demo_result = gr.Markdown(elem_id="kb-demo-result")

    def listing(name: str | None) -> dict:
        try:
            frame = documents_frame(knowledge, name)
        except Exception as exc:  # Weaviate down or a mismatched collection: say so, keep the page
            return {report: f"⚠️ {html.escape(str(exc))}"}
        names = frame["document"].tolist()
        return {documents: frame, selected: gr.Dropdown(choices=names, value=names[0] if names else None)}

    def do_ingest(given: str, name: str, files: list[str] | None, size: float, lap: float,
                  progress=gr.Progress()) -> dict:  # noqa: B008 (Gradio's progress-injection idiom)
        require_admin(auth, given)
        if not files:
            return {report: "⚠️ Choose one or more files first."}
        try:
            result = knowledge.ingest_paths(name, [Path(f) for f in files], chunk_size=int(size), overlap=int(lap),
                                            on_progress=lambda fraction, message: progress(fraction, desc=message))
        except KnowledgeError as exc:
            return {report: f"⚠️ {html.escape(str(exc))}"}
        except Exception as exc:  # Weaviate down mid-upload: nothing of a failed file is kept
            return {report: f"⚠️ Ingestion stopped ({html.escape(type(exc).__name__)}: {html.escape(str(exc))}). "
                            "Each file is stored whole or not at all: the document list shows which made it."}
        return {report: report_markdown(result), **listing(name), uploads: None}

    def do_create(given: str, name: str) -> dict:
        require_admin(auth, given)
        try:
            created = knowledge.create_collection(name)
        except KnowledgeError as exc:
            return {report: f"⚠️ {html.escape(str(exc))}"}
        return {collection: gr.Dropdown(choices=knowledge.collections(), value=created), new_name: "",
                report: f"✅ Collection **{created}** created; pick it in the arena's retrieval settings."}

    def do_clear(given: str, name: str) -> dict:
        require_admin(auth, given)
        knowledge.clear(name)
        return {report: f"🗑 Collection **{html.escape(name)}** cleared.", **listing(name)}

    def do_delete(given: str, name: str, source: str | None) -> dict:
        require_admin(auth, given)
        try:
            deleted = knowledge.delete_document(name, source or "")
        except KnowledgeError as exc:
            return {report: f"⚠️ {html.escape(str(exc))}"}
        return {report: f"🗑 `{html.escape(source or '')}` deleted ({deleted} chunks).", **listing(name)}

    def do_reingest(given: str, name: str, source: str | None, size: float, lap: float) -> dict:
        require_admin(auth, given)
        try:
            result = knowledge.reingest(name, source or "", chunk_size=int(size), overlap=int(lap))
        except KnowledgeError as exc:
            return {report: f"⚠️ {html.escape(str(exc))}"}
        return {report: report_markdown(result), **listing(name)}

    def do_demo(given: str, name: str, progress=gr.Progress()) -> dict:  # noqa: B008
        require_admin(auth, given)
        try:
            result = run_update_demo(arena, knowledge, name, defaults=retrieval_defaults,
                                     on_step=lambda fraction, message: progress(fraction, desc=message))
        except (KnowledgeError, ValueError) as exc:
            return {demo_result: f"⚠️ {html.escape(str(exc))}"}
        return {demo_result: _demo_markdown(result), **listing(name)}

    listing_outputs = [documents, selected, report]
    ingest.click(do_ingest, inputs=[password, collection, uploads, chunk_size, overlap],
                 outputs=[*listing_outputs, uploads], api_name=False, concurrency_limit=1,
                 concurrency_id="ingestion")
    create.click(do_create, inputs=[password, new_name], outputs=[collection, new_name, report], api_name=False)
    clear.click(do_clear, inputs=[password, collection], outputs=listing_outputs, api_name=False)
    delete.click(do_delete, inputs=[password, collection, selected], outputs=listing_outputs,
                 api_name=False)
    reingest.click(do_reingest, inputs=[password, collection, selected, chunk_size, overlap], outputs=listing_outputs,
                   api_name=False, concurrency_limit=1, concurrency_id="ingestion")
    refresh.click(listing, inputs=[collection], outputs=listing_outputs, api_name=False)
    collection.change(listing, inputs=[collection], outputs=listing_outputs, api_name=False)
    run_demo.click(do_demo, inputs=[password, collection], outputs=[demo_result, *listing_outputs],
                   api_name=False, concurrency_limit=1, concurrency_id="knowledge-demo")
