import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from pipelines.common.settings import OFFLINE_MODEL, Settings
from tests.conftest import ROOT


def test_defaults_are_offline(monkeypatch):
    monkeypatch.delenv("ARENA_MODEL_ID", raising=False)
    settings = Settings()
    assert settings.model_id == OFFLINE_MODEL
    assert settings.weaviate_url is None
    assert settings.feedback_db.name == "feedback.sqlite3"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("ARENA_TOP_K", "7")
    monkeypatch.setenv("ARENA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARENA_MODEL_ID", "Qwen/Qwen2.5-0.5B-Instruct")
    settings = Settings()
    assert settings.top_k == 7
    assert settings.feedback_db.parent == tmp_path
    assert settings.model_id == "Qwen/Qwen2.5-0.5B-Instruct"


def test_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("ARENA_TOP_K", "0")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("ARENA_TOP_K")
    with pytest.raises(ValidationError, match="chunk_overlap_tokens"):
        Settings(chunk_tokens=50, chunk_overlap_tokens=50)


def test_project_root_is_the_repository():
    """The shipped adapter, corpus and questions resolve from the repository, wherever settings.py lives."""
    from pipelines.common.settings import PROJECT_ROOT, Settings

    assert (PROJECT_ROOT / "app.py").is_file()
    settings = Settings()
    assert (settings.adapter_path / "adapter_config.json").is_file() and settings.corpus_dir.is_dir()


@pytest.mark.parametrize("command", [
    ["pipelines.feedback", "migrate"],
    ["pipelines.training", "--max-steps", "1"],
    ["pipelines.training.dpo", "--pairs", "README.md", "--output", "unused"],
    ["pipelines.evaluation", "--limit", "1"],
], ids=lambda command: command[0])
def test_every_command_refuses_a_bad_variable_with_one_line(command, tmp_path):
    """The commands start like the app: a bad ARENA_* value is one line naming it, exit status 1, no traceback."""
    env = {**os.environ, "ARENA_TOP_K": "abc", "ARENA_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", *command], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].startswith("Cannot start: ARENA_TOP_K (is 'abc')"), done.stderr[-2000:]
    assert "Traceback" not in done.stderr
