"""Small real documents of every supported format, made by the libraries users' files come from."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

XSS_HTML = (
    "<html><head><title>t</title><script>alert('head')</script></head><body>"
    "<h1>Ferry timetable</h1><p>The Quillmoor ferry leaves at 07:40.</p>"
    "<img src=x onerror=\"alert('img')\"><script>alert('body')</script>"
    "<h2>Fares</h2><ul><li>Adult: 4 marks</li><li>Child: 2 marks</li></ul>"
    "<p>&lt;script&gt;alert('escaped')&lt;/script&gt; stays text.</p></body></html>"
)


def pdf_bytes(pages: list[str], password: str | None = None) -> bytes:
    """A text PDF with one page per string (fpdf2), optionally encrypted with a user password (pypdf)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    data = bytes(pdf.output())
    if password is None:
        return data
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=password, algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bytes(title: str, sections: dict[str, str]) -> bytes:
    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for heading, body in sections.items():
        document.add_heading(heading, level=2)
        document.add_paragraph(body)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text, table.rows[0].cells[1].text = "Pier", "North"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path
