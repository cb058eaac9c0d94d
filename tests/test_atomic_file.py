"""Replacing a file made by another writer (llama.cpp's converter and quantiser): all or nothing."""

import pytest

from pipelines.common.atomic_file import replaced_atomically


def test_the_file_replaces_the_target_only_when_the_writer_succeeds(tmp_path):
    target = tmp_path / "cache" / "model.gguf"
    with replaced_atomically(target) as temporary:
        assert temporary.parent == target.parent and temporary != target and not temporary.exists()
        temporary.write_text("new")
        assert not target.exists()  # nothing at the target while the writer runs
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]

    with pytest.raises(RuntimeError, match="writer failed"), replaced_atomically(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "new" and sorted(p.name for p in target.parent.iterdir()) == ["model.gguf"]


def test_each_writer_gets_its_own_temporary_file(tmp_path):
    with replaced_atomically(tmp_path / "a.gguf") as first, replaced_atomically(tmp_path / "a.gguf") as second:
        assert first != second
        first.write_text("1")
        second.write_text("2")
    assert (tmp_path / "a.gguf").read_text() == "1"  # the outer block ends last and wins, whole
