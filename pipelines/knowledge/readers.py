"""Readers: turn one uploaded file into text units, with a clear refusal for anything unreadable.

One reader per format, each a small class with ``name``, ``suffixes``, ``libraries`` and
``read(name, data) -> ParsedDocument`` (Verba's Reader interface, typed). Structured formats
(Markdown, HTML, DOCX) come out as Markdown-style text so the chunker keeps headings with
their text; PDF comes out one unit per page so every chunk knows its page.

Example::

    doc = read_document("guide.pdf", Path("guide.pdf").read_bytes())
    doc.units[0].page, doc.units[0].text
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from pipelines.common.documents import SUPPORTED_SUFFIXES

# Lists, tables and headings inside each other: each level re-reads the text of the levels inside it, so
# deeper nesting (a crafted page, or tens of thousands of unclosed <li>) is refused rather than read for minutes.
MAX_HTML_NESTING = 1000
_HTML_STRUCTURE = frozenset({"li", "table", "h1", "h2", "h3", "h4", "h5", "h6"})


class ReadError(ValueError):
    """The file cannot be read; the message says why and is safe to show to the user."""


@dataclass(frozen=True)
class TextUnit:
    """A stretch of a document's text: a PDF page, or the whole text of other formats."""

    text: str
    page: int | None = None


@dataclass(frozen=True)
class ParsedDocument:
    name: str
    doc_type: str
    size_bytes: int
    units: list[TextUnit] = field(default_factory=list)
    markdown: bool = False  # headings written as '# Heading' lines, for structure-aware chunking

    @property
    def text(self) -> str:
        return "\n\n".join(unit.text for unit in self.units)


class Reader(Protocol):
    name: str
    suffixes: tuple[str, ...]
    libraries: tuple[str, ...]

    def read(self, name: str, data: bytes) -> ParsedDocument: ...


def _require_text(doc: ParsedDocument) -> ParsedDocument:
    if not doc.text.strip():
        raise ReadError("no text could be extracted from the file (empty, or a scan without a text layer)")
    return doc


def decode_text(data: bytes) -> str:
    """Decode text bytes: UTF-8 first, otherwise the encoding charset-normalizer detects; binary is refused."""
    if not data.strip():
        raise ReadError("the file is empty")
    head = data[:8192]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadError("the file looks binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.percent_chaos > 20:
        raise ReadError("the file is not text in any encoding that could be detected")
    return str(best)


class TextReader:
    name = "text"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".text")
    libraries: ClassVar[tuple[str, ...]] = ("charset-normalizer",)

    def read(self, name: str, data: bytes) -> ParsedDocument:
        return _require_text(ParsedDocument(name, "txt", len(data), [TextUnit(decode_text(data))]))


class MarkdownReader:
    name = "markdown"
    suffixes: ClassVar[tuple[str, ...]] = (".md", ".markdown")
    libraries: ClassVar[tuple[str, ...]] = ("charset-normalizer",)

    def read(self, name: str, data: bytes) -> ParsedDocument:
        return _require_text(ParsedDocument(name, "md", len(data), [TextUnit(decode_text(data))], markdown=True))


class HtmlReader:
    """HTML to Markdown-style text with BeautifulSoup; scripts, styles, event handlers and navigation are dropped.

    Line breaks come from block elements only, as a browser lays the page out: inline elements (``<a>``,
    ``<code>``, ``<em>``) stay inside their sentence. Each string on a line of its own (as ``get_text("\\n")``
    gave) broke sentences apart and made an inline ``<code>#</code>`` at a line start a Markdown heading for the
    chunker (Valgrind's DHAT manual got a section "are copied from ancestor nodes."). ``<pre>`` becomes a fenced
    code block, so a shell comment in it ("# make install") is not read as a heading either.
    """

    name = "html"
    suffixes: ClassVar[tuple[str, ...]] = (".html", ".htm")
    libraries: ClassVar[tuple[str, ...]] = ("beautifulsoup4",)
    _DROP = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head", "nav")
    _BLOCKS = ("p", "div", "hr", "blockquote", "dl", "dt", "dd", "ul", "ol", "section", "article", "header",
               "footer", "aside", "main", "figure", "figcaption", "address", "form", "fieldset", "details",
               "summary", "center", "caption")

    def read(self, name: str, data: bytes) -> ParsedDocument:
        from bs4 import BeautifulSoup, NavigableString

        soup = BeautifulSoup(decode_text(data), "html.parser")
        for tag in [*soup(self._DROP), *soup(attrs={"role": "navigation"})]:  # a site's menus, on every page
            tag.decompose()
        if (nesting := html_nesting(soup)) > MAX_HTML_NESTING:
            raise ReadError(f"the HTML nests lists, tables or headings {nesting:,} levels deep; the limit is "
                            f"{MAX_HTML_NESTING:,} (close its <li> and <td> tags, or upload it as text)")
        for string in soup.find_all(string=True):  # source line breaks are spaces, except in <pre>
            if type(string) is NavigableString and string.find_parent(("pre", "textarea")) is None:
                _swap(string, re.sub(r"\s+", " ", string))
        for line_break in soup.find_all("br"):
            _swap(line_break, "\n")
        for level in range(1, 7):
            for heading in reversed(soup.find_all(f"h{level}")):  # innermost first: nested ones are text by then
                _swap(heading, f"\n\n{'#' * level} {inline_text(heading)}\n\n")
        for item in reversed(soup.find_all("li")):  # innermost first: nested lists read as flat items
            _swap(item, f"\n- {inline_text(item)}\n")
        for table in reversed(soup.find_all("table")):  # innermost first
            _swap(table, "\n\n" + "\n".join(table_lines(table)) + "\n\n")
        for pre in soup.find_all("pre"):  # after lists and tables: one inside them is flattened with its cell
            _swap(pre, f"\n\n```\n{pre.get_text().strip(chr(10))}\n```\n\n")
        for block in soup.find_all(self._BLOCKS):
            block.insert_before("\n")
            block.insert_after("\n")
        text = soup.get_text()
        text = re.sub(r"[ \t]+", " ", text)
        text = re.sub(r" ?\n ?", "\n", text)
        text = re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", text).strip()
        return _require_text(ParsedDocument(name, "html", len(data), [TextUnit(text)], markdown=True))


def inline_text(tag) -> str:
    """A heading's, list item's or cell's text on one line, as a browser shows it: inline pieces joined as written
    ("<strong>EVC</strong>, Mr Ferreira" reads "EVC, Mr Ferreira", where joining every piece with a space gave
    "EVC , Mr Ferreira"), block children and line breaks as a space."""
    for block in tag.find_all([*HtmlReader._BLOCKS, "li", "tr", "td", "th", "br"]):
        block.insert_before(" ")
        block.insert_after(" ")
    return re.sub(r"\s+", " ", tag.get_text()).strip()


def html_nesting(soup) -> int:
    """How deep lists, tables and headings sit inside each other, in one pass (parents come before children)."""
    depth = {id(soup): 0}
    deepest = 0
    for tag in soup.find_all(True):
        depth[id(tag)] = level = depth[id(tag.parent)] + (tag.name in _HTML_STRUCTURE)
        deepest = max(deepest, level)
    return deepest


def _swap(tag, text: str) -> None:
    """``tag.replace_with(text)`` without its walk up the ancestors (quadratic on deep pages): insert, then cut."""
    tag.insert_before(text)
    tag.extract()


def table_lines(table) -> list[str]:
    """An HTML table as one line per row. With a header row each cell is named by its column
    ("Station: Orlan Bridge; Altitude (m): 612"), so a row still says what it means when a chunk holds it
    without the header (cells one per line, as plain text extraction gives them, lost the rows entirely)."""
    rows = [[inline_text(cell) for cell in row.find_all(["th", "td"])] for row in table.find_all("tr")]
    rows = [row for row in rows if any(row)]
    lines = outside_cells(table)  # a caption, or words typed between rows: a browser shows them
    if not rows:
        return lines
    first = table.find("tr")
    header = rows[0] if first is not None and first.find("th") is not None and first.find("td") is None else None
    if header is None:
        return lines + [" | ".join(row) for row in rows]
    for row in rows[1:]:
        cells = [f"{name}: {value}" if name else value for name, value in zip(header, row, strict=False) if value]
        line = "; ".join(cells)
        lines.append(line if line.endswith(".") else f"{line}.")
    return lines


def outside_cells(table) -> list[str]:
    """The text of ``table`` that sits in no cell of its own, one line per piece, in page order. (A table nested
    in a cell was read into that cell's text already: tables are read innermost first.)"""
    from bs4 import Comment

    pieces = []
    for string in table.find_all(string=True):
        if isinstance(string, Comment) or not string.strip():
            continue
        parent = string.parent
        while parent is not None and parent is not table and parent.name not in ("td", "th"):
            parent = parent.parent
        if parent is table:
            pieces.append(" ".join(string.split()))
    return pieces


class PdfReader:
    """PDF text per page with pypdf; encrypted and corrupt files are refused."""

    name = "pdf"
    suffixes: ClassVar[tuple[str, ...]] = (".pdf",)
    libraries: ClassVar[tuple[str, ...]] = ("pypdf",)

    def read(self, name: str, data: bytes) -> ParsedDocument:
        from pypdf import PdfReader as _Pdf

        if not data.strip():
            raise ReadError("the file is empty")
        if not data.lstrip()[:5] == b"%PDF-":
            raise ReadError("the file is not a PDF (no %PDF header)")
        try:
            pdf = _Pdf(io.BytesIO(data), strict=False)
            if pdf.is_encrypted:
                raise ReadError("the PDF is password-protected; remove the password and upload it again")
            units = [TextUnit(page.extract_text() or "", page=number) for number, page in enumerate(pdf.pages, 1)]
        except ReadError:
            raise
        except Exception as exc:  # pypdf fails on damaged files in many ways (LimitReachedError, NotImplementedError)
            raise ReadError(f"the PDF is damaged and cannot be read ({type(exc).__name__}: {exc})") from exc
        units = [unit for unit in units if unit.text.strip()]
        return _require_text(ParsedDocument(name, "pdf", len(data), units))


class DocxReader:
    """Word documents with python-docx: heading styles become '#' headings, tables become rows of text."""

    name = "docx"
    suffixes: ClassVar[tuple[str, ...]] = (".docx",)
    libraries: ClassVar[tuple[str, ...]] = ("python-docx",)

    def read(self, name: str, data: bytes) -> ParsedDocument:
        import docx

        try:
            lines = self._lines(docx.Document(io.BytesIO(data)))
        except Exception as exc:  # zipfile, zlib, lxml and python-docx errors alike: a damaged package
            raise ReadError(f"the file is not a readable .docx document ({type(exc).__name__}: {exc})") from exc
        return _require_text(ParsedDocument(name, "docx", len(data), [TextUnit("\n".join(lines))], markdown=True))

    @staticmethod
    def _lines(document) -> list[str]:
        lines: list[str] = []
        for paragraph in document.paragraphs:
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name or "") if paragraph.style is not None else ""
            match = re.match(r"Heading (\d)", style)
            if match:
                lines.append(f"\n{'#' * int(match.group(1))} {text}\n")
            elif style == "Title":
                lines.append(f"\n# {text}\n")
            else:
                lines.append(text)
        for table in document.tables:
            for row in table.rows:
                lines.append(" | ".join(cell.text.strip() for cell in row.cells))
        return lines


READERS: tuple[Reader, ...] = (TextReader(), MarkdownReader(), HtmlReader(), PdfReader(), DocxReader())
# SUPPORTED_SUFFIXES (pipelines.common.documents) is the one list of what the READERS read; tests check they agree


def reader_for(name: str) -> Reader:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    for reader in READERS:
        if suffix in reader.suffixes:
            return reader
    raise ReadError(f"unsupported file type {suffix or '(no extension)'}; supported: {', '.join(SUPPORTED_SUFFIXES)}")


def read_document(name: str, data: bytes) -> ParsedDocument:
    """Parse one file by its extension; raises :class:`ReadError` with a user-facing reason."""
    return reader_for(name).read(name, data)
