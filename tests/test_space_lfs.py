"""A push to a Space is accepted: every binary file the repository ships goes through Git LFS.

The Hub refuses a push holding binary files as plain git objects. The first test checks ``.gitattributes``
against every file git would ship (``git check-attr``); the second does the push the deploy guide describes,
from a fresh repository of the working tree's files to a local bare repository with git-lfs, and checks what
the Hub checks: no binary blob in the pushed tree, each binary a pointer whose object reached the remote.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1\n"


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def shipped_files() -> list[str]:
    """What a commit of the working tree would hold: tracked files and new ones git does not ignore."""
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return sorted({name for name in listed if name and (ROOT / name).is_file()})


def is_binary(path: Path) -> bool:
    """Git's own test: a NUL byte in the first 8000 bytes."""
    with path.open("rb") as handle:
        return b"\0" in handle.read(8000)


def test_every_binary_file_the_repository_ships_goes_through_lfs():
    binaries = [name for name in shipped_files() if is_binary(ROOT / name)]
    assert "assets/adapters/lumenhollow-qlora/adapter_model.safetensors" in binaries
    assert "docs/screenshot.png" in binaries
    attributes = git("check-attr", "filter", "--", *binaries).splitlines()
    not_lfs = [line for line in attributes if not line.endswith(": filter: lfs")]
    assert not not_lfs, f"binary files outside LFS (add a pattern to .gitattributes): {not_lfs}"


def test_a_push_to_a_fresh_remote_ships_every_binary_as_an_lfs_object(tmp_path):
    if shutil.which("git-lfs") is None:
        pytest.fail("git-lfs is not installed (scripts/setup.sh --dev installs Debian's git-lfs)")
    work, remote = tmp_path / "space", tmp_path / "remote.git"
    git("init", "-q", "-b", "main", str(work), cwd=tmp_path)
    git("lfs", "install", "--local", cwd=work)  # this repository only: the machine's git config is left alone
    for name in shipped_files():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, work / name)
    git("add", "-A", cwd=work)
    git("-c", "user.name=Test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", "Space", cwd=work)
    git("init", "-q", "--bare", "-b", "main", str(remote), cwd=tmp_path)
    git("remote", "add", "space", remote.as_uri(), cwd=work)  # as `git remote add space https://huggingface.co/...`
    git("push", "-q", "space", "main", cwd=work)

    binaries = {name for name in shipped_files() if is_binary(ROOT / name)}
    for line in git("ls-tree", "-r", "main", cwd=remote).splitlines():
        meta, name = line.split("\t", 1)
        blob = subprocess.run(["git", "cat-file", "blob", meta.split()[2]], cwd=remote, check=True,
                              capture_output=True).stdout
        assert b"\0" not in blob, f"{name} was pushed as a binary git object"  # what the Hub refuses
        if name in binaries:
            assert blob.startswith(LFS_POINTER), f"{name} is not an LFS pointer"
            oid = blob.split(b"oid sha256:")[1].split()[0].decode()
            stored = remote / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
            assert stored.read_bytes() == (ROOT / name).read_bytes(), f"{name}'s LFS object did not reach the remote"
    assert binaries <= set(git("ls-tree", "-r", "--name-only", "main", cwd=remote).splitlines())
