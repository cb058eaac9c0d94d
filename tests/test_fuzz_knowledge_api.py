"""Property-based fuzzing of the knowledge endpoints (``/ingest``, ``/documents``, ``/delete_document``) on the real
:class:`KnowledgeBase` (readers, uploads, chunker with the embedder's tokenizer, originals kept on disk) with the
Weaviate store replaced by an in-memory one, so no server or model starts.

Generated: files with odd names (dots, spaces, RTL overrides, quotes, 200 characters, no extension, names of
other formats) and contents, zips with odd member names, payloads that are not uploads (server paths as
strings, dicts without FileData's ``meta``), odd collection names and numbers. Each call returns a result or
``gr.Error``; every original the app keeps lands in the collection's documents folder and nowhere else.

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_knowledge_api.py --hypothesis-show-statistics
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest
from gradio.utils import get_upload_folder
from hypothesis import example, given
from hypothesis import strategies as st

from components.api_knowledge import knowledge_endpoints
from pipelines.common.auth import AdminAuth
from pipelines.common.settings import Settings
from pipelines.knowledge.base import KnowledgeBase
from pipelines.knowledge.store import collection_name
from tests.documents import zip_bytes


class MemoryStore:
    """The part of KnowledgeStore the knowledge base calls, in memory: documents by name with their chunk count."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.chunks: dict[str, int] = {}

    def ensure_collection(self) -> None:
        pass

    def replace_documents(self, documents, on_progress=None) -> dict[str, int]:
        for meta, chunks in documents:
            self.chunks[meta.name] = len(chunks)
        return {meta.name: len(chunks) for meta, chunks in documents}

    def documents(self) -> list:
        return [SimpleNamespace(name=n, doc_type="txt", size_bytes=0, chunks=c, added_at=None)
                for n, c in self.chunks.items()]

    def delete_document(self, source: str) -> int:
        return self.chunks.pop(source, 0)


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory) -> SimpleNamespace:
    """The endpoints over a real KnowledgeBase whose Weaviate stores are in memory."""
    from transformers import AutoTokenizer

    from pipelines.knowledge.embeddings import offline_minilm_folder

    data_dir = tmp_path_factory.mktemp("fuzz-knowledge")
    tokenizer = AutoTokenizer.from_pretrained(str(offline_minilm_folder()))
    embedder = SimpleNamespace(max_tokens=256, tokenizer=lambda: tokenizer)
    kb = KnowledgeBase(None, embedder, Settings(data_dir=data_dir, collection="LumenhollowDocs"))
    stores: dict[str, MemoryStore] = {}

    def store(collection: str | None = None) -> MemoryStore:
        name = collection_name(collection or kb.default_collection)
        return stores.setdefault(name, MemoryStore(name))

    kb.store = store
    _, documents, ingest, delete_document = knowledge_endpoints(kb, AdminAuth(None))
    return SimpleNamespace(kb=kb, data_dir=data_dir, documents=documents, ingest=ingest,
                           delete_document=delete_document)


def call(fn: Callable, *args) -> dict | list | None:
    try:
        return fn(*args)
    except gr.Error as exc:
        assert str(exc.message).strip(), "a refusal says why"
        return None


def files_under(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


class Uploads:
    """Files placed in Gradio's upload folder, as FileData payloads (what handle_file sends), removed after."""

    def __init__(self) -> None:
        self.folder = Path(get_upload_folder()) / f"fuzz-{uuid.uuid4().hex}"

    def __enter__(self) -> Uploads:
        self.folder.mkdir(parents=True)
        return self

    def add(self, name: str, data: bytes) -> dict:
        slot = self.folder / uuid.uuid4().hex  # one folder per file: two uploads may share a name
        slot.mkdir()
        path = slot / name
        path.write_bytes(data)
        return {"path": str(path), "orig_name": name, "meta": {"_type": "gradio.FileData"}}

    def __exit__(self, *exc) -> None:
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)


def _fits_a_file_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\x00" not in name and len(name.encode()) <= 200


FILE_NAMES = st.one_of(
    st.sampled_from(["notes.txt", "..txt", "...md", " spaced name .md", "\u202etxt.exe.md", "quote'\"name.html",
                     "UPPER.TXT", "no_extension", "archive.tar.gz", "x" * 190 + ".md", "-dash.txt", ".hidden.md",
                     "a\\b.txt", "ünï.md", "page.htm", "semi;colon.md"]),
    st.builds(lambda stem, suffix: stem + suffix, st.text(max_size=30),
              st.sampled_from([".txt", ".md", ".html", ".pdf", ".docx", ".zip", ".exe", ""])),
).filter(_fits_a_file_name)
CONTENTS = st.one_of(st.just(b"Lumenhollow was founded by Ada Quist in 1987."), st.binary(max_size=200),
                     st.text(max_size=200).map(str.encode))
MEMBER_NAMES = st.one_of(FILE_NAMES, st.sampled_from(["../up.txt", "/abs.md", "dir/inner.md", "C:/x.txt"]))


@given(uploads=st.lists(st.tuples(FILE_NAMES, CONTENTS, st.booleans(), st.lists(st.tuples(MEMBER_NAMES, CONTENTS),
                                                                               max_size=3)),
                        min_size=1, max_size=4),
       collection=st.one_of(st.sampled_from(["", "LumenhollowDocs", "Other_2", "../x", "a b", "Ω"]),
                            st.text(max_size=10)),
       chunk_tokens=st.one_of(st.sampled_from([160, 8, 7, 0, -1, 249, 10**9, 2.5, None, "160", float("nan")]),
                              st.integers(-10, 400)),
       overlap_tokens=st.one_of(st.sampled_from([32, 0, -1, 159, 160, None]), st.integers(-10, 400)))
@example(uploads=[("notes.txt", b"Lumenhollow was founded by Ada Quist.", False, [])], collection="",
         chunk_tokens=160, overlap_tokens=32)
@example(uploads=[("bundle", b"", True, [("../up.txt", b"x"), ("ok.md", b"# A\ntext")])], collection="",
         chunk_tokens=160, overlap_tokens=32)
@example(uploads=[("x.exe", b"MZ", False, [])], collection="../x", chunk_tokens=160, overlap_tokens=32)  # accepted
def test_ingest_keeps_originals_only_in_the_collection_folder(knowledge: SimpleNamespace,
                                                              uploads: list[tuple[str, bytes, bool, list]],
                                                              collection: str, chunk_tokens: object,
                                                              overlap_tokens: object) -> None:
    """Odd names, contents, zips and settings: ingested (originals kept under documents/<Collection>/), refused
    per file with a reason, or refused whole with gr.Error; nothing is written anywhere else."""
    before = files_under(knowledge.data_dir)
    with Uploads() as staged:
        payload = [staged.add(f"{name}.zip", zip_bytes(dict(members))) if as_zip else staged.add(name, data)
                   for name, data, as_zip, members in uploads]
        result = call(knowledge.ingest, "", collection, payload, chunk_tokens, overlap_tokens)
    after = files_under(knowledge.data_dir)
    new = {path: data for path, data in after.items() if before.get(path) != data}
    if result is None:
        assert not new, "a refused ingestion writes nothing"
        return
    assert set(result) == {"files", "refused", "chunks"} and result["chunks"] == sum(result["files"].values())
    assert all(isinstance(reason, str) and reason for reason in result["refused"].values())
    folder = (knowledge.data_dir / "documents" / collection_name(collection or "LumenhollowDocs")).resolve()
    for path in new:
        assert path.resolve().parent == folder, f"{path} was written outside {folder}"
    for name in result["files"]:
        assert (folder / name).is_file(), f"the original of {name!r} is kept"


@pytest.mark.parametrize("payload", [
    ["/etc/passwd"],  # a server path as a string: never checked by Gradio
    [{"path": "/etc/passwd"}],  # a dict without FileData's meta: not checked either
    [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}],  # outside Gradio's upload folder
    [{"path": str(Path(get_upload_folder()) / ".." / ".." / "etc" / "passwd"),
      "meta": {"_type": "gradio.FileData"}}],
    "/etc/passwd", 5, {"path": "/etc/passwd"}, [None], [5],
])
def test_ingest_refuses_payloads_that_are_not_uploads(knowledge: SimpleNamespace, payload: object) -> None:
    """Regression: upload_path read any path it was given, so /ingest could store any file the server can read."""
    before = files_under(knowledge.data_dir)
    with pytest.raises(gr.Error):
        knowledge.ingest("", "", payload, 160, 32)
    assert files_under(knowledge.data_dir) == before


@given(collection=st.one_of(st.sampled_from(["", "LumenhollowDocs", "../../etc", "Docs\x00", "x" * 300]),
                            st.text(max_size=20), st.none(), st.integers(), st.lists(st.text(max_size=3), max_size=2)),
       document=st.one_of(st.sampled_from(["", ".", "..", "../..", "/", "\x00", "notes.txt", "a/../../b.txt"]),
                          st.text(max_size=40), st.none(), st.integers()))
@example(collection="", document="")  # IsADirectoryError: unlink() of the documents folder itself
@example(collection="", document="..")
@example(collection=5, document="notes.txt")  # TypeError out of the collection-name check
@example(collection="", document="elsewhere/notes.txt")  # removed notes.txt's original, then refused: not found
def test_documents_and_delete_answer_or_refuse(knowledge: SimpleNamespace, collection: object,
                                               document: object) -> None:
    """Listing and deleting with any names: a result or gr.Error, and no file but that document's original goes."""
    with Uploads() as staged:  # notes.txt is there to be deleted, or kept by a refusal
        knowledge.ingest("", "", [staged.add("notes.txt", b"Lumenhollow was founded by Ada Quist.")], 160, 32)
    before = files_under(knowledge.data_dir)
    listed = call(knowledge.documents, collection)
    assert listed is None or isinstance(listed, list)
    result = call(knowledge.delete_document, "", collection, document)
    gone = set(before) - set(files_under(knowledge.data_dir))
    if result is None:
        assert not gone
        return
    assert result["document"] == document and result["chunks_deleted"] >= 1
    assert all(path.name == Path(document).name for path in gone)


@pytest.fixture(autouse=True, scope="module")
def _clean_upload_folder() -> Iterator[None]:
    yield
    import shutil

    for leftover in Path(get_upload_folder()).glob("fuzz-*"):
        shutil.rmtree(leftover, ignore_errors=True)
