"""Property-based fuzzing of zip uploads: whatever an archive holds, ``expand_uploads`` returns files with safe
names and sizes within the limits, or refuses (the zip or a member) with a reason; it never raises, never
writes, and nothing the app then writes from its result lands outside the target folder.

Archives are generated with path-traversal and absolute names (POSIX, Windows, UNC), symbolic links, nested
zips, duplicate names, high-ratio bombs (some with lying sizes), thousands of entries, and damaged bytes.

The ``ci`` profile (tests/conftest.py) runs a fixed, bounded set of examples; for a deeper run::

    HYPOTHESIS_PROFILE=deep pytest tests/test_fuzz_uploads.py --hypothesis-show-statistics
"""

from __future__ import annotations

import io
import posixpath
import struct
import tempfile
import zipfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipelines.knowledge.uploads import UploadedFile, UploadLimits, expand_uploads
from tests.documents import zip_bytes
from tests.test_fuzz_readers import mutate  # the same byte damage: flip, truncate, insert

LIMITS = UploadLimits(max_file_bytes=64 * 1024, max_zip_total_bytes=256 * 1024, max_zip_members=50)
MANY = settings(max_examples=3 * settings().max_examples)  # a few milliseconds each

UNSAFE_NAMES = ("../escape.txt", "a/../../escape.md", "/etc/escape.txt", "//server/share/x.txt", "C:/escape.txt",
                "C:escape.txt", "..\\escape.txt", "a\\..\\..\\escape.txt", "\\\\server\\x.txt", "..", "../")
SAFE_NAMES = ("notes.txt", "docs/guide.md", "a/b/c/page.html", "ünïcode/ファイル.txt", "./dot.md", "a//b.txt",
              "dir/", "readme", ".hidden.txt", "__MACOSX/._x.txt", "x.pdf", "y.docx", "inner.zip", "a/./b/../c.txt")
NAMES = st.one_of(st.sampled_from(UNSAFE_NAMES + SAFE_NAMES),
                  st.builds(lambda stem, suffix: stem + suffix,
                            st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=30),
                            st.sampled_from([".txt", ".md", ".html", ".pdf", ".zip", ".exe", ""])))
KINDS = st.sampled_from(["text", "bomb", "symlink", "nested_zip", "directory"])
MEMBER = st.tuples(NAMES, KINDS, st.binary(max_size=200), st.integers(0, 2 * LIMITS.max_file_bytes))


def build_zip(members: list[tuple[str, str, bytes, int]]) -> bytes:
    """A zip holding the generated members; duplicates are written twice, as a hostile tool can."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, kind, data, size in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if kind == "symlink":
                info.external_attr = 0o120777 << 16  # a symbolic link; its data is the target path
                data = b"/etc/passwd"
            elif kind == "bomb":
                data = b"\0" * size  # deflates about a thousandfold
            elif kind == "nested_zip":
                data = zip_bytes({"inner.txt": data or b"inside", "../inner-escape.txt": b"x"})
            elif kind == "directory":
                info = zipfile.ZipInfo(name.rstrip("/") + "/")
                info.external_attr = 0o40755 << 16
                data = b""
            with _quiet_duplicates():
                archive.writestr(info, data)
    return out.getvalue()


class _quiet_duplicates:
    """zipfile warns on a duplicate name; the duplicate is what the test wants."""

    def __enter__(self) -> None:
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc) -> None:
        self._catch.__exit__(*exc)


def lie_about_sizes(data: bytes, declared: int = 10) -> bytes:
    """Rewrite every local and central header to declare ``declared`` uncompressed bytes (a bomb that lies)."""
    buffer = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = buffer.find(signature)
        while start != -1:
            buffer[start + offset : start + offset + 4] = struct.pack("<I", declared)
            start = buffer.find(signature, start + 4)
    return bytes(buffer)


def expand_in_sandbox(archive: bytes, name: str = "upload.zip") -> tuple[list[UploadedFile], dict[str, str]]:
    """Expand one upload in an empty folder, write what came out as the app keeps originals, and check that
    nothing was written by the expansion and nothing of the result lands outside the target folder."""
    with tempfile.TemporaryDirectory() as root:
        upload = Path(root) / "uploads" / name
        upload.parent.mkdir()
        upload.write_bytes(archive)
        before = sorted(Path(root).rglob("*"))
        files, refused = expand_uploads([upload], LIMITS)
        assert sorted(Path(root).rglob("*")) == before, "expanding an upload wrote to disk"
        target = Path(root) / "documents"
        target.mkdir()
        for file in files:
            destination = (target / file.name).resolve()  # as KnowledgeBase.ingest_files keeps originals
            assert destination.parent == target.resolve(), f"{file.name!r} would be written outside the folder"
            destination.write_bytes(file.data)
        outside = [p for p in Path(root).rglob("*") if p not in before and target not in (p, *p.parents)]
        assert not outside, outside
    return files, refused


def escapes(name: str) -> bool:
    """Whether a member name points outside the folder it is extracted into (POSIX or Windows spelling)."""
    normalised = posixpath.normpath(name.replace("\\", "/"))
    return normalised == ".." or normalised.startswith(("../", "/")) or normalised[1:2] == ":"


def check_result(files: list[UploadedFile], refused: dict[str, str]) -> None:
    for file in files:
        assert file.name and "/" not in file.name and "\\" not in file.name and file.name not in (".", "..")
        assert len(file.data) <= LIMITS.max_file_bytes
    assert sum(len(f.data) for f in files) <= LIMITS.max_zip_total_bytes
    assert all(isinstance(reason, str) and reason.strip() for reason in refused.values())


@MANY
@given(members=st.lists(MEMBER, max_size=12))
@example(members=[("../escape.txt", "text", b"x", 0), ("ok.txt", "text", b"fine", 0)])
@example(members=[("a\\..\\..\\escape.txt", "text", b"x", 0)])
@example(members=[("link.txt", "symlink", b"", 0)])
@example(members=[("same.txt", "text", b"one", 0), ("same.txt", "text", b"two", 0), ("d/same.txt", "text", b"3", 0)])
@example(members=[("bomb.txt", "bomb", b"", 2 * LIMITS.max_file_bytes)])
@example(members=[("inner.zip", "nested_zip", b"", 0)])
# Found by this test: a member with an empty name ("\0.txt" is cut at the NUL) made zipfile's is_dir() raise
# IndexError out of expand_uploads.
@example(members=[("\x00.txt", "text", b"", 0)])
def test_generated_zips_are_expanded_safely_or_refused(members: list[tuple[str, str, bytes, int]]) -> None:
    """Any mix of hostile and ordinary members: safe names and sizes out, or a refusal with the reason."""
    archive = build_zip(members)
    files, refused = expand_in_sandbox(archive)
    check_result(files, refused)
    written = [info.filename for info in zipfile.ZipFile(io.BytesIO(archive)).infolist()]
    if any(escapes(name) for name in written if not name.endswith("/")):
        assert not files and "upload.zip" in refused, "a zip built to escape is refused whole"
    assert not any(file.data == b"/etc/passwd" for file in files), "a symbolic link is not read as a document"
    assert not any(file.name.lower().endswith(".zip") for file in files), "nested zips are not expanded"


BOMB = st.tuples(NAMES, st.just("bomb"), st.just(b""), st.integers(0, 2 * LIMITS.max_file_bytes))


@given(members=st.lists(BOMB, min_size=1, max_size=8),
       declared=st.integers(0, 100))
@example(members=[("bomb.txt", "bomb", b"", 2 * LIMITS.max_file_bytes)], declared=10)
@example(members=[(f"b{i}.txt", "bomb", b"", LIMITS.max_file_bytes) for i in range(6)], declared=0)
def test_bombs_that_lie_about_their_size_stay_within_the_limits(
        members: list[tuple[str, str, bytes, int]], declared: int) -> None:
    """Headers declaring a few bytes for megabytes of zeros: reading stops at the limit, never past it."""
    files, refused = expand_in_sandbox(lie_about_sizes(build_zip(members), declared))
    check_result(files, refused)


@given(count=st.integers(LIMITS.max_zip_members - 3, LIMITS.max_zip_members + 3))
@example(count=LIMITS.max_zip_members + 1)
def test_thousands_of_entries_are_refused_over_the_member_limit(count: int) -> None:
    """More members than the limit: the zip is refused whole, before any member is read."""
    files, refused = expand_in_sandbox(zip_bytes({f"f{i}.txt": b"x" for i in range(count)}))
    check_result(files, refused)
    assert (len(files) == count) == (count <= LIMITS.max_zip_members)
    if count > LIMITS.max_zip_members:
        assert "the limit is" in refused["upload.zip"]


def test_the_default_member_limit_holds_for_thousands_of_entries() -> None:
    """The app's own limit (2,000 members): 2,001 tiny files are refused whole."""
    limits = UploadLimits()
    with tempfile.TemporaryDirectory() as root:
        upload = Path(root) / "many.zip"
        upload.write_bytes(zip_bytes({f"f{i}.txt": b"x" for i in range(limits.max_zip_members + 1)}))
        files, refused = expand_uploads([upload], limits)
    assert not files and "2001 files" in refused["many.zip"]


SEED_ZIP = zip_bytes({"notes.txt": b"Lumenhollow was founded by Ada Quist." * 20, "guide.md": b"# Guide\nText.",
                      "page.html": b"<p>hello</p>"})
MUTATION = st.tuples(st.sampled_from(["flip", "truncate", "insert"]), st.integers(0, 2**16),
                     st.binary(min_size=1, max_size=8))


@MANY
@given(mutations=st.lists(MUTATION, min_size=1, max_size=5))
# Found by this test (each escaped expand_uploads, so ingestion failed with a raw error; now the member is refused):
@example(mutations=[("flip", 1545, b"\x00")])  # EOFError: a header's sizes point past the end
@example(mutations=[("flip", 191, b"\x00")])  # zlib.error: damaged deflate data
def test_damaged_zips_are_refused_with_a_reason(mutations: list[tuple[str, int, bytes]]) -> None:
    """A zip damaged anywhere (its directory, headers or compressed data): expanded or refused, never raised."""
    files, refused = expand_in_sandbox(mutate(SEED_ZIP, mutations))
    check_result(files, refused)


