"""bench/sessions.py's pieces that decide its numbers: when a streamed update holds answer text (the first-token
time), and the percentiles of the load table."""

from bench.sessions import _has_answer_text, percentile


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
