"""bench/sessions.py's pieces that decide its numbers: when a streamed update holds answer text (the first-token
time), which columns count as answered, how errors are reported, and the percentiles of the load table; and that
the bench runs on what the README's first command installs (no pytest)."""

import ast
import subprocess
import sys

from bench.sessions import RaterRun, Session, _has_answer_text, column_outcomes, error_lines, percentile, queue_lines
from tests.conftest import ROOT


def test_first_token_is_the_first_update_with_assistant_text():
    """Gradio streams the context card and empty columns first: those must not count as the first token."""
    before = ("", "", [], [{"role": "user", "content": "Who founded it?"}],
              [{"role": "assistant", "content": "  "}], "<div>context</div>")
    after = (*before[:4], [{"role": "assistant", "content": "Mara"}], before[5])
    assert not _has_answer_text(before)
    assert _has_answer_text(after)
    assert _has_answer_text({"value": [[{"role": "assistant", "content": "x"}]]})   # nested as gradio_client gives
    assert not _has_answer_text({"role": "user", "content": "not an answer"})


def test_percentiles_pick_from_the_sorted_values():
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0.5) == 3.0 and percentile(values, 0.95) == 5.0 and percentile(values, 0.0) == 1.0
    assert percentile([7.0], 0.95) == 7.0


def test_an_error_shown_in_a_column_is_neither_an_answer_nor_a_first_token():
    failed = ("", "", [], [{"role": "user", "content": "Q?"}],
              [{"role": "assistant", "content": "⚠️ Adapter 'finetuned' is not loaded"}], "")
    assert not _has_answer_text(failed)
    assert _has_answer_text((*failed[:4], [{"role": "assistant", "content": "⚠️ x"},
                                           {"role": "assistant", "content": "Mara"}]))
    result = {"answers": {"rag": {"answer": "Mara Quell.", "error": None},
                          "finetuned": {"answer": "", "error": "Adapter 'finetuned' is not loaded"},
                          "rag_finetuned": {"answer": "", "error": None}}}
    assert column_outcomes(result) == (1, ["finetuned: Adapter 'finetuned' is not loaded"])


def test_errors_are_reported_with_their_counts_and_nothing_when_all_answered():
    sessions = [Session(1.0, 2), Session(0.1, 1, ["finetuned: boom"]), Session(0.1, 1, ["finetuned: boom"])]
    lines = error_lines(sessions, "20 concurrent sessions")
    assert lines[0].strip().startswith("ERRORS in 20 concurrent sessions: 2 of 3 sessions")
    assert lines[1].strip() == "2 x finetuned: boom"
    assert error_lines(sessions[:1], "alone") == []


def test_the_queue_table_counts_votes_per_second_per_rater_and_the_shown_percentiles():
    runs = [RaterRun(shown_s=[0.01, 0.02, 0.03], votes=3, seconds=1.0),
            RaterRun(shown_s=[0.04, 0.50], votes=2, errors=["queue_vote: That item is not assigned to you"])]
    rate, lines = queue_lines("2 raters at once", runs, elapsed=2.5)
    assert rate == 2.0  # 5 votes in 2.5 s, whoever cast them
    assert lines[0] == "| 2 raters at once | 5 | 2.0 | 1.00 | 30 ms | 500 ms |"
    assert lines[1] == "  ERRORS (2 raters at once): 1 x queue_vote: That item is not assigned to you"
    assert queue_lines("none", [RaterRun()], 1.0) == (0.0, ["| none | 0 | - | - | - | - |"])


DEV_ONLY = {"pytest", "tests", "hypothesis", "playwright", "xdist", "fpdf"}  # requirements-dev.txt, the tests


def test_the_benches_import_nothing_the_first_command_does_not_install():
    """The README's bench command runs after only ``bash scripts/start.sh``: no bench imports pytest, the test
    helpers or another dev-only package, even inside a function (where the sessions bench imported them)."""
    found = {}
    for path in sorted((ROOT / "bench").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            found.update({f"{path.name}: {name}": 1 for name in names if name.split(".")[0] in DEV_ONLY})
    assert not found, sorted(found)
    probe = "import sys; sys.modules['pytest'] = None; import bench.sessions, bench.app_process"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
