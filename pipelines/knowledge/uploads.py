"""Uploaded files (and zip folders) to named byte blobs, enforcing size limits before anything is read.

Zips are read in memory, never extracted to disk: a member name with ``..`` or an absolute
path is refused, and the total uncompressed size is capped while reading (a zip bomb's
declared sizes can lie), so a hostile archive costs at most the limit.

Example::

    files, refused = expand_uploads([Path("notes.zip"), Path("a.pdf")], UploadLimits())
"""

from __future__ import annotations

import posixpath
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipelines.knowledge.readers import SUPPORTED_SUFFIXES

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 50 * MB
    max_zip_total_bytes: int = 200 * MB
    max_zip_members: int = 2000


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes


class UploadError(ValueError):
    """A whole upload was refused; the message names the file and the reason."""


def _too_big(size: int, limit: int) -> str:
    return f"the file is {size / MB:.1f} MB; the limit is {limit / MB:.0f} MB (ARENA_MAX_UPLOAD_MB)"


def _reason(exc: Exception) -> str:
    """``zlib.error: invalid distance code``: the library's name too, as "error" alone says nothing."""
    kind = type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
    return f"{kind}: {exc}" if str(exc) else kind


def _safe_member_name(name: str) -> str:
    normalised = posixpath.normpath(name.replace("\\", "/"))
    if normalised.startswith(("/", "../")) or normalised == ".." or ":" in normalised.split("/")[0]:
        raise UploadError(f"the zip holds an unsafe path {name!r} (absolute or outside the folder)")
    return normalised


def _read_zip(path: Path, limits: UploadLimits) -> tuple[list[UploadedFile], dict[str, str]]:
    files: list[UploadedFile] = []
    refused: dict[str, str] = {}
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, and EOFError, ValueError... from a damaged central directory
        raise UploadError(f"the zip is damaged ({_reason(exc)})") from exc
    with archive:
        # not info.is_dir(): Python 3.11's raises IndexError for a member with an empty name
        members = [info for info in archive.infolist() if not info.filename.endswith("/")]
        if len(members) > limits.max_zip_members:
            raise UploadError(f"the zip holds {len(members)} files; the limit is {limits.max_zip_members}")
        for info in members:
            _safe_member_name(info.filename)  # refuse the whole archive: it was built to escape
        total = 0
        for info in members:
            name = _safe_member_name(info.filename)
            label = f"{path.name}/{name}"
            if posixpath.basename(name).startswith(".") or "__MACOSX" in name:
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                refused[label] = "a symbolic link inside the zip (links are not followed)"
                continue
            if not name.lower().endswith(SUPPORTED_SUFFIXES):
                refused[label] = "unsupported file type inside the zip"
                continue
            if info.file_size > limits.max_file_bytes:
                refused[label] = _too_big(info.file_size, limits.max_file_bytes)
                continue
            budget = min(limits.max_file_bytes, limits.max_zip_total_bytes - total) + 1
            try:
                with archive.open(info) as member:
                    data = member.read(budget)  # bounded: declared sizes can lie
            except Exception as exc:  # BadZipFile, zlib.error, EOFError (damaged data), RuntimeError (encrypted)...
                refused[label] = f"cannot be read from the zip ({_reason(exc)})"
                continue
            total += len(data)
            if total > limits.max_zip_total_bytes:
                raise UploadError(
                    f"the zip expands to more than {limits.max_zip_total_bytes / MB:.0f} MB (a zip bomb?); "
                    "nothing from it was ingested"
                )
            if len(data) > limits.max_file_bytes:
                refused[label] = _too_big(len(data), limits.max_file_bytes)
                continue
            files.append(UploadedFile(posixpath.basename(name), data))
    return files, refused


def expand_uploads(paths: Iterable[Path], limits: UploadLimits) -> tuple[list[UploadedFile], dict[str, str]]:
    """Files to ingest and ``{name: reason}`` for those refused; one bad file never stops the others."""
    files: list[UploadedFile] = []
    refused: dict[str, str] = {}
    for path in paths:
        path = Path(path)
        try:
            size = path.stat().st_size
            if path.suffix.lower() == ".zip":
                if size > limits.max_zip_total_bytes:
                    raise UploadError(_too_big(size, limits.max_zip_total_bytes))
                inner, inner_refused = _read_zip(path, limits)
                files += inner
                refused.update(inner_refused)
                continue
            if size > limits.max_file_bytes:
                raise UploadError(_too_big(size, limits.max_file_bytes))
            files.append(UploadedFile(path.name, path.read_bytes()))
        except (UploadError, OSError) as exc:
            refused[path.name] = str(exc)
    return files, refused
