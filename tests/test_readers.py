"""Readers, chunking and upload limits on real files of every format (no server needed)."""

import pytest

from pipelines.knowledge.chunking import Chunker, HuggingFaceTokenizer
from pipelines.knowledge.readers import ReadError, read_document
from pipelines.knowledge.uploads import UploadLimits, expand_uploads
from tests.documents import XSS_HTML, docx_bytes, pdf_bytes, write, zip_bytes


def test_pdf_keeps_page_numbers():
    doc = read_document("ferry.pdf", pdf_bytes(["The ferry leaves at 07:40.", "Fares are 4 marks."]))
    assert doc.doc_type == "pdf" and [u.page for u in doc.units] == [1, 2]
    chunks = Chunker(50, 10).chunk(doc)
    assert [(c.page, "07:40" in c.text) for c in chunks] == [(1, True), (2, False)]
    assert "4 marks" in chunks[1].text


def test_docx_headings_become_sections_and_tables_are_read():
    doc = read_document("pier.docx", docx_bytes("Harbour guide", {"Opening hours": "Open from 6 to 22.",
                                                                    "Rules": "No swimming near the pier."}))
    chunks = Chunker(50, 10).chunk(doc)
    assert [c.heading for c in chunks] == ["Opening hours", "Rules"]
    assert chunks[1].text.startswith("Rules\n") and "Pier | North" in chunks[1].text


def test_html_drops_scripts_and_handlers_and_keeps_headings():
    doc = read_document("ferry.html", XSS_HTML.encode())
    assert "alert('head')" not in doc.text and "alert('body')" not in doc.text and "onerror" not in doc.text
    assert "<script>alert('escaped')</script> stays text." in doc.text  # an escaped tag is just text
    chunks = Chunker(60, 10).chunk(doc)
    assert [c.heading for c in chunks] == ["Ferry timetable", "Fares"]
    assert "- Adult: 4 marks" in chunks[1].text


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.txt", b"", "empty"),
    ("blank.md", b"  \n\n ", "empty"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary"),
    ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage\n%%EOF", "damaged"),
    ("fake.pdf", b"just text pretending", "not a PDF"),
    ("fake.docx", b"PK\x03\x04 not really a zip", "not a readable .docx"),
    ("data.exe", b"MZ", "unsupported file type"),
])
def test_bad_files_are_refused_with_a_reason(name, data, reason):
    with pytest.raises(ReadError, match=reason):
        read_document(name, data)


def test_password_protected_pdf_is_refused():
    with pytest.raises(ReadError, match="password-protected"):
        read_document("secret.pdf", pdf_bytes(["hidden"], password="pw"))


def test_non_utf8_text_is_decoded_by_detection():
    text = "Der Fährmann verlangt fünf Mark für die Überfahrt nach Quillmoor, täglich außer Sonntag."
    doc = read_document("fahre.txt", (text * 3).encode("cp1252"))
    assert "Fährmann" in doc.text and "Überfahrt" in doc.text


def test_token_chunks_fit_the_embedder_and_keep_original_text(embedder):
    text = "\n".join(f"- item {i}: the ferry Quillmoor-{i} departs at {i % 24:02d}:15" for i in range(120))
    chunker = Chunker(64, 16, HuggingFaceTokenizer(embedder.tokenizer()))
    chunks = chunker.chunk_text("list.txt", text)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(embedder.tokenizer()(chunk.text, add_special_tokens=False)["input_ids"]) <= 64
        assert chunk.text in text  # cut from the original: line breaks and list markers survive
        assert text[chunk.char_start:].startswith(chunk.text)
    assert "\n- item" in chunks[1].text


def test_uploads_expand_zips_and_enforce_limits(tmp_path):
    good = write(tmp_path, "folder.zip", zip_bytes({"docs/a.md": b"# A\nalpha", "docs/b.txt": b"beta",
                                                     "docs/c.exe": b"MZ", "__MACOSX/._a.md": b"x"}))
    big = write(tmp_path, "big.txt", b"x" * 2048)
    files, refused = expand_uploads([good, big], UploadLimits(max_file_bytes=1024))
    assert sorted(f.name for f in files) == ["a.md", "b.txt"]
    assert "unsupported" in refused["folder.zip/docs/c.exe"]
    assert "limit is" in refused["big.txt"]


def test_zip_with_path_traversal_is_refused_whole(tmp_path):
    evil = write(tmp_path, "evil.zip", zip_bytes({"ok.txt": b"fine", "../../etc/cron.d/x.txt": b"owned"}))
    files, refused = expand_uploads([evil], UploadLimits())
    assert files == [] and "unsafe path" in refused["evil.zip"]


def test_zip_bomb_is_refused_within_the_limit(tmp_path):
    bomb = write(tmp_path, "bomb.zip", zip_bytes({f"part{i}.txt": b"0" * (3 * 1024 * 1024) for i in range(4)}))
    assert bomb.stat().st_size < 200_000  # a few KB that expand to 12 MB
    files, refused = expand_uploads([bomb], UploadLimits(max_file_bytes=8 * 1024 * 1024,
                                                         max_zip_total_bytes=10 * 1024 * 1024))
    assert files == [] and "zip bomb" in refused["bomb.zip"]


def test_html_tables_become_self_describing_rows():
    """Cells one per line lost the rows: a chunk holding '612' could not say what it was the altitude of."""
    page = ("<h1>Stations</h1><table><tr><th>Station</th><th>Altitude (m)</th></tr>"
            "<tr><td>Orlan Bridge</td><td>612</td></tr><tr><td>Hollin Gap</td><td>1,655</td></tr></table>"
            "<p>After.</p><table><tr><td>a</td><td>b</td></tr></table>")
    text = read_document("stations.html", page.encode()).text
    assert "Station: Orlan Bridge; Altitude (m): 612." in text
    assert "Station: Hollin Gap; Altitude (m): 1,655." in text
    assert "a | b" in text and text.index("1,655") < text.index("After.")   # no header: cells joined; order kept


def test_html_table_text_outside_the_cells_is_kept():
    """A caption and words typed straight into <table>/<tr> show in a browser; they were dropped."""
    page = ("<table><caption>Opening hours</caption><tr><td>Mon</td><td>9-17</td></tr>"
            "Closed on public holidays.<tr>Summer:<td>Sat</td><td>10-14</td></tr></table>"
            "<table><tr><td><table>inner note<tr><td>x</td></tr></table></td><td>y</td></tr></table>")
    text = read_document("hours.html", page.encode()).text
    for kept in ("Opening hours", "Closed on public holidays.", "Summer:", "Mon | 9-17", "Sat | 10-14"):
        assert kept in text, (kept, text)
    assert text.count("inner note") == 1 and text.index("Opening hours") < text.index("Mon | 9-17")


def test_html_inline_markup_joins_as_a_browser_shows_it():
    """Every piece of a list item or cell was joined with a space: "<strong>EVC</strong>, Mr X" read "EVC , Mr X",
    so a quoted sentence was not found in the text and a question generator's reference did not match the page."""
    page = ("<ul><li><strong>The Educational Visits Coordinator (EVC)</strong>, Mr Callum Ferreira-Doyle, checks.</li>"
            "<li><p>First part</p><p>second part</p></li></ul><h2>Fees <small>(2025)</small></h2>"
            "<table><tr><th>Name</th><th>Role</th></tr><tr><td><b>Dorian</b> Pethick</td><td>Head of "
            "<em>Repairs</em>.</td></tr></table>")
    text = read_document("policy.html", page.encode()).text
    assert "- The Educational Visits Coordinator (EVC), Mr Callum Ferreira-Doyle, checks." in text
    assert "- First part second part" in text  # block children still apart
    assert "## Fees (2025)" in text
    assert "Name: Dorian Pethick; Role: Head of Repairs.\n" in text or text.endswith("Role: Head of Repairs.")
