"""The suite's own scheduling: files go to the workers longest first, each file's tests in their written order."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import tests.conftest as conftest


def test_files_go_out_longest_first_with_the_shared_app_files_as_one(tmp_path, monkeypatch):
    recorded = tmp_path / "file_durations.json"
    recorded.write_text(json.dumps({"test_a.py": 5.0, "test_slow.py": 90.0, "test_api.py": 30.0,
                                    "test_reliability.py": 40.0, "test_mid.py": 20.0, "test_judge.py": 12.0,
                                    "test_openai_backend.py": 14.0}))
    monkeypatch.setattr(conftest, "FILE_DURATIONS", recorded)
    names = ["test_a.py::one", "test_a.py::two", "test_api.py::x", "test_judge.py::j", "test_new.py::n",
             "test_openai_backend.py::o", "test_reliability.py::r", "test_slow.py::s1", "test_slow.py::s2",
             "test_mid.py::m"]
    items = [SimpleNamespace(path=Path("tests") / name.split("::")[0], nodeid=name) for name in names]
    conftest.longest_files_first(items)
    # slow 90; the shared app 30 + 40 = 70 (its two files together, in collection order); a file not recorded
    # counts as the median of those recorded (20); the OpenAI-compatible server's files 12 + 14 = 26, together;
    # mid 20 (after "test_new.py": same seconds, by name); a 5.
    assert [item.nodeid for item in items] == [
        "test_slow.py::s1", "test_slow.py::s2", "test_api.py::x", "test_reliability.py::r", "test_judge.py::j",
        "test_openai_backend.py::o", "test_mid.py::m", "test_new.py::n", "test_a.py::one", "test_a.py::two"]


def test_the_files_on_a_shared_server_are_one_scheduling_unit():
    assert {conftest.unit_of(name) for name in conftest.SHARED_APP_FILES} == {"shared-app"}
    assert {conftest.unit_of(name) for name in conftest.OPENAI_SERVER_FILES} == {"openai-server"}
    assert conftest.unit_of("test_browser.py") == "test_browser.py"
