"""scripts/process_cpu.py groups a run's processes by what they are and sums their CPU."""

from __future__ import annotations

import json
import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from process_cpu import kind, report


def test_processes_are_grouped_by_what_they_are_and_their_cpu_summed(tmp_path):
    python = "/venv/bin/python"
    samples = {"1": [10.0, 0, f"{python} -u -c import sys;exec(eval(sys.stdin.readline())) "],
               "2": [20.5, 0, f"{python} app.py"], "3": [4.5, 0, f"{python} app.py"],
               "4": [3.0, 0, "/usr/lib/chromium/chromium --type=renderer"],
               "5": [2.0, 0, f"{python} bench/decode_columns.py --shape tiny-qwen2"],
               "6": [1.0, 0, "/cache/bin/weaviate-server --host 127.0.0.1"]}
    assert [kind(command) for _, _, command in samples.values()] == [
        "pytest worker", "app", "app", "chromium", "bench decode_columns.py", "weaviate"]
    file = tmp_path / "cpu.json"
    file.write_text(json.dumps(samples))
    table = report(file).splitlines()
    assert table[0] == "41 s of CPU in all"
    assert table[3] == "| 2 | app | 25.0 |" and table[4] == "| 1 | pytest worker | 10.0 |"
