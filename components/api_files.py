"""Files across the public API: uploads arrive as ``FileData`` dicts, results leave as ``FileData`` dicts.

``gr.api`` functions get the raw payload (no component preprocessing), so they read the path of an upload
(Gradio has already checked that it lies in its upload folder) and return files the same way, which
``gradio_client`` then downloads.
"""

from __future__ import annotations

from pathlib import Path

from gradio.data_classes import FileData


def upload_path(file: FileData | dict | str) -> Path:
    """The server-side path of one uploaded file, whichever form the payload took."""
    if isinstance(file, FileData):
        return Path(file.path)
    if isinstance(file, dict):
        return Path(file["path"])
    return Path(file)


def file_result(path: Path | str) -> dict:
    """A file the client downloads (its name kept), as ``gr.api`` returns files."""
    path = Path(path)
    return FileData(path=str(path), orig_name=path.name).model_dump()
