"""The one documents-folder walk (``pipelines.common.documents``) and its users: no model, no server."""

from __future__ import annotations

import json
import os

import pytest

from pipelines.common.documents import SUPPORTED_SUFFIXES, document_files
from pipelines.evaluation.scorer import ReferenceSet
from pipelines.knowledge.ingest import folder_files
from pipelines.knowledge.readers import READERS


@pytest.fixture()
def folder(tmp_path):
    """A folder with documents, and everything the walk must leave out."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("b.md", "A.TXT", "c.html", "notes.text"):
        (docs / name).write_text(f"# {name}\nThe vault code of {name} is 7741.")
    (docs / "._b.md").write_text("macOS resource fork")  # hidden, though its suffix is readable
    (docs / ".hidden.txt").write_text("hidden")
    (docs / "data.csv").write_text("a,b")  # no reader
    (docs / "noext").write_text("no suffix")
    (docs / "sub.md").mkdir()  # a folder with a document's suffix
    (docs / "sub.md" / "inner.md").write_text("not walked: no recursion")
    os.symlink(docs / "b.md", docs / "link.md")  # a link to a file counts as the file
    os.symlink(docs / "missing.md", docs / "broken.md")  # a dangling link does not
    return docs


def test_the_walk_lists_readable_files_sorted_by_name(folder):
    assert [p.name for p in document_files(folder)] == ["A.TXT", "b.md", "c.html", "link.md", "notes.text"]


def test_a_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        document_files(tmp_path / "nowhere")


def test_the_readers_read_exactly_the_walked_suffixes():
    assert sorted(s for reader in READERS for s in reader.suffixes) == sorted(SUPPORTED_SUFFIXES)


def test_ingestion_reads_the_walked_files(folder):
    files = folder_files(folder)
    assert [f.name for f in files] == ["A.TXT", "b.md", "c.html", "link.md", "notes.text"]
    assert files[1].data == (folder / "b.md").read_bytes()


def test_reference_passages_come_only_from_walked_files(folder, tmp_path):
    questions = tmp_path / "questions.jsonl"
    rows = [{"question": f"What is in {source}?", "reference": "7741", "source": source}
            for source in ("b.md", ".hidden.txt", "data.csv", "gone.md")]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    references = ReferenceSet.load(questions, folder)
    contexts = {ref.source: ref.contexts for ref in references.references.values()}
    assert any("7741" in text for text in contexts["b.md"])
    assert contexts[".hidden.txt"] == contexts["data.csv"] == contexts["gone.md"] == ()
    assert all(ref.contexts == () for ref in ReferenceSet.load(questions, tmp_path / "nowhere").references.values())
