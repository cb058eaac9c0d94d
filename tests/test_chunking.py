import pytest

from pipelines.knowledge.chunking import chunk_document


def test_markdown_sections_keep_their_heading():
    text = "# Title\nintro words here\n## Power\nbattery lasts 31 months\n## Radio\nLoRa range 4 km"
    chunks = chunk_document("doc.md", text, words=50, overlap=10)
    assert [c.heading for c in chunks] == ["Title", "Power", "Radio"]
    assert chunks[1].text.startswith("Power\n") and "31 months" in chunks[1].text
    assert [c.chunk_index for c in chunks] == [0, 1, 2]


def test_long_text_is_windowed_with_overlap():
    words = [f"w{i}" for i in range(250)]
    chunks = chunk_document("doc.txt", " ".join(words), words=100, overlap=20)
    assert len(chunks) == 3
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert first[-20:] == second[:20]
    assert chunks[-1].text.split()[-1] == "w249"


def test_same_text_same_hash_and_overlap_must_be_smaller():
    a = chunk_document("a.txt", "same words", words=10, overlap=2)[0]
    b = chunk_document("a.txt", "same words", words=10, overlap=2)[0]
    assert a.content_hash == b.content_hash
    with pytest.raises(ValueError, match="overlap"):
        chunk_document("a.txt", "x", words=10, overlap=10)
