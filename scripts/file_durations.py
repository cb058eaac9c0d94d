"""Record each test file's seconds from a whole run's JUnit XML into ``tests/file_durations.json``, which the test
workers read to take the longest files first (``tests/conftest.py``).

    bash scripts/test.sh --junitxml=/tmp/suite.xml && python scripts/file_durations.py /tmp/suite.xml
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "file_durations.json"


def file_seconds(junit_xml: Path) -> dict[str, float]:
    """Seconds per test file (setup, call and teardown of each of its tests), rounded to a tenth."""
    seconds: dict[str, float] = defaultdict(float)
    for case in ElementTree.parse(junit_xml).iter("testcase"):
        module = case.get("classname", "").split(".")
        file = next((f"{part}.py" for part in module if part.startswith("test_")), None)
        if file is not None:
            seconds[file] += float(case.get("time") or 0.0)
    return {name: round(value, 1) for name, value in sorted(seconds.items())}


if __name__ == "__main__":
    recorded = file_seconds(Path(sys.argv[1]))
    OUT.write_text(json.dumps(recorded, indent=1) + "\n")
    print(f"{len(recorded)} files, {sum(recorded.values()):.0f} s in all -> {OUT}")
