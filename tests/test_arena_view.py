"""The arena tab's view logic without a browser: events in, what each column, the panel and the notice show out."""

from __future__ import annotations

from components.arena_view import (
    HIDDEN_PANEL,
    RECORDED,
    ExchangeView,
    titles,
    vote_labels,
    vote_notice,
)
from pipelines.common.events import (
    ContextEvent,
    DoneEvent,
    ErrorEvent,
    RecordedEvent,
    RetrievedChunk,
    Timings,
    TokenEvent,
)

QUESTION = "What is the battery life of the Tessel T4?"
COLUMNS = ["rag", "finetuned", "rag_finetuned"]
CHUNKS = [RetrievedChunk("The T4 runs 14 hours.", "tessel_t4_datasheet.md", 0, 0.9, 1, heading="Battery"),
          RetrievedChunk("The T4 weighs 1.2 kg.", "tessel_t4_datasheet.md", 1, 0.5, 2),
          RetrievedChunk("Support hours.", "support_policy.txt", 0, 0.2, 3)]
TIMINGS = Timings(first_token_s=0.5, total_s=1.25, retrieval_s=0.012, tokens=7)


def named(order=("rag", "finetuned")) -> tuple[ExchangeView, tuple[str, ...]]:
    return ExchangeView(QUESTION, COLUMNS, blind=False), order


def test_tokens_stream_into_their_own_column():
    view, order = named()
    view.apply("rag", TokenEvent("The T4 "), order)
    frame = view.apply("finetuned", TokenEvent("About"), order)
    frame = view.apply("rag", TokenEvent("runs 14 hours."), order)
    assert frame.answers == ("The T4 runs 14 hours.", "About")
    assert frame.statuses == ("⏳ generating…", "⏳ generating…")
    assert frame.context is None and frame.held is None and frame.notice == "" and not frame.votes_open
    assert frame.chats([[], []])[0] == [{"role": "user", "content": QUESTION},
                                        {"role": "assistant", "content": "The T4 runs 14 hours."}]


def test_a_column_with_no_text_yet_shows_only_the_question_after_its_history():
    view, order = named()
    earlier = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    frame = view.apply("rag", TokenEvent("x"), order)
    assert frame.chats([[], earlier])[1] == [*earlier, {"role": "user", "content": QUESTION}]


def test_context_fills_the_panel_and_citations_use_the_panels_passage_numbers():
    view, order = named()
    frame = view.apply("rag", ContextEvent(CHUNKS, in_prompt=(1, 2)), order)
    assert "tessel_t4_datasheet.md" in frame.context and frame.held is None
    frame = view.apply("rag", DoneEvent("It runs 14 hours [2].", TIMINGS), order)
    status = frame.statuses[0]
    assert status.startswith("retrieval 12 ms · first token 0.50 s · total 1.25 s · 7 tokens")
    assert status.endswith("📎 Cites [2] tessel_t4_datasheet.md")  # rank 2 as numbered in the panel


def test_an_uncited_answer_names_only_the_passages_the_prompt_held():
    view, order = named()
    view.apply("rag", ContextEvent(CHUNKS, in_prompt=(1,)), order)
    frame = view.apply("rag", DoneEvent("14 hours.", TIMINGS), order)
    assert frame.statuses[0].endswith("📎 No [n] citation in the answer; it was given [1] tessel_t4_datasheet.md, "
                                      "§ Battery")


def test_an_empty_answer_is_said_so():
    view, order = named()
    frame = view.apply("finetuned", DoneEvent("", TIMINGS), order)
    assert frame.answers[1] == "(empty answer)"


def test_an_error_shows_in_its_column_without_blanking_the_other():
    view, order = named()
    view.apply("rag", ContextEvent(CHUNKS), order)
    view.apply("rag", TokenEvent("The T4 runs"), order)
    frame = view.apply("finetuned", ErrorEvent("No fine-tuned adapter is loaded."), order)
    assert frame.answers == ("The T4 runs", "⚠️ No fine-tuned adapter is loaded.")
    assert frame.statuses == ("⏳ generating…", "⚠️ No fine-tuned adapter is loaded.")
    assert frame.context is None  # the panel keeps RAG's passages


def test_a_rag_error_replaces_the_panel_with_the_reason():
    view, order = named()
    frame = view.apply("rag", ErrorEvent("Retrieval is unavailable: no vector store"), order)
    assert frame.answers[0] == "⚠️ Retrieval is unavailable: no vector store"
    assert "Retrieval is unavailable" in frame.context and "ctx-empty" in frame.context


def test_recorded_opens_the_votes():
    view, order = named()
    view.apply("rag", DoneEvent("a", TIMINGS), order)
    frame = view.apply("arena", RecordedEvent("e1"), order)
    assert frame.notice == RECORDED and frame.votes_open


def test_blind_mode_hides_names_context_history_and_citations():
    view = ExchangeView(QUESTION, COLUMNS, blind=True)
    order = ("finetuned", "rag")  # shuffled: RAG on the right
    frame = view.apply("rag", ContextEvent(CHUNKS), order)
    assert frame.titles == ("### Model A", "### Model B")
    assert frame.context == HIDDEN_PANEL and "tessel_t4_datasheet.md" in frame.held  # held for after the vote
    frame = view.apply("rag", DoneEvent("14 hours [1].", TIMINGS), order)
    assert frame.answers == ("", "14 hours [1].")
    assert "retrieval" not in frame.statuses[1] and "📎" not in frame.statuses[1]
    assert frame.chats([[{"role": "user", "content": "earlier"}]] * 2)[0] == [{"role": "user", "content": QUESTION}]
    error = view.apply("rag", ErrorEvent("down"), order)
    assert error.context == HIDDEN_PANEL and "down" in error.held
    assert vote_labels(True, order)["left"] == "👈 A is better"


def test_blind_mode_reveals_after_the_vote():
    order = ["finetuned", "rag"]
    assert titles(order, blind=True, voted=True) == ["### Model A — revealed: Fine-tuned",
                                                     "### Model B — revealed: RAG"]
    assert vote_notice(3, "finetuned", True, order) == (
        "✅ Vote #3 stored: Fine-tuned is better. RAGAS scores appear in the Evaluation tab. "
        "Revealed: A was Fine-tuned, B was RAG.")
    assert vote_notice(3, "tie", False, order) == "✅ Vote #3 stored: a tie. RAGAS scores appear in the Evaluation tab."


def test_vote_buttons_for_two_and_three_columns():
    assert vote_labels(False, ["rag", "finetuned"]) == {
        "left": "👈 RAG is better", "right": "👉 Fine-tuned is better", "third": "", "tie": "🤝 Tie",
        "both_bad": "👎 Both are bad"}
    three = vote_labels(False, ["rag", "finetuned", "rag_finetuned"])
    assert three["third"] == "🥇 RAG+FT is best" and three["both_bad"] == "👎 All are bad"
    assert vote_labels(True, ["rag_finetuned", "rag", "finetuned"])["third"] == "🥇 C is best"
