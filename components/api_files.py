"""Files across the public API: uploads arrive as ``FileData`` dicts, results leave as ``FileData`` dicts.

``gr.api`` functions get the raw payload (no component preprocessing), so they read the path of an upload
(Gradio has already checked that it lies in its upload folder) and return files the same way, which
``gradio_client`` then downloads.
"""

from __future__ import annotations

from pathlib import Path

from gradio.data_classes import FileData
from gradio.utils import get_upload_folder, is_in_or_equal
from gradio_client.utils import is_file_obj_with_meta


def upload_path(file: FileData | dict) -> Path:
    """The server-side path of one uploaded file; ValueError for anything that is not an upload.

    Gradio checks (and moves to its upload folder) only payloads marked as FileData (``meta``); a bare path, as a
    string or a dict without ``meta``, reaches the function unchecked, and reading it would ingest any file the
    server can read. So the path must be a FileData payload's, inside Gradio's upload folder.
    """
    path = file.path if isinstance(file, FileData) else file.get("path") if is_file_obj_with_meta(file) else None
    if not isinstance(path, str) or not is_in_or_equal(path, get_upload_folder()):
        raise ValueError("files must be uploaded files (gradio_client's handle_file), not paths on the server")
    return Path(path)


def file_result(path: Path | str) -> dict:
    """A file the client downloads (its name kept), as ``gr.api`` returns files."""
    path = Path(path)
    return FileData(path=str(path), orig_name=path.name).model_dump()
