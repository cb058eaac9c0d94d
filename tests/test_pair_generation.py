"""LLM-written training pairs: parsing and bookkeeping through a scripted seam, then the real offline model."""

from pipelines.generation.chat_models import LocalChatModel
from pipelines.training.pair_generation import first_question, generate_pairs

PASSAGES = """# Tessel T4 datasheet

## Power
The Tessel T4 battery lasts 31 months at one reading every 10 minutes, and the unit sleeps between readings.

## Price
The list price of a Tessel T4 is 1,240 euros per unit; orders of 50 units or more receive a 12 percent discount.
"""


def test_first_question_strips_labels_and_lists_and_refuses_non_questions():
    assert first_question("A: 1. How do I measure water level accuracy? It depends.") == \
        "How do I measure water level accuracy?"
    assert first_question("Question: What is the list price of a T4?") == "What is the list price of a T4?"
    assert first_question("Sure!\n- Why does the unit sleep between readings?") == \
        "Why does the unit sleep between readings?"
    assert first_question("The battery lasts 31 months.") is None
    assert first_question("Why?") is None  # too short to be a real question


class ScriptedChat:
    """Seam for the bookkeeping: replies chosen by the prompt, no model."""

    name = "scripted"

    def __init__(self, questions: list[str]) -> None:
        self.questions = list(questions)

    def complete(self, conversations, max_new_tokens):
        replies = []
        for messages in conversations:
            prompt = messages[-1]["content"]
            replies.append(self.questions.pop(0) if "Write one question" in prompt else "From the passage.")
        return replies


def test_duplicates_and_replies_without_a_question_are_dropped_and_counted(tmp_path):
    (tmp_path / "t4.md").write_text(PASSAGES)
    chat = ScriptedChat(["What does the passage say about power?", "no question here"])
    report = generate_pairs(tmp_path, chat, words=30)
    assert report.chunks == 2
    assert [e.question for e in report.examples] == ["What does the passage say about power?"]
    assert report.examples[0].origin == "llm:t4.md"
    assert report.dropped == ["t4.md: no question in the reply"]
    again = generate_pairs(tmp_path, ScriptedChat(["Is this the same question ok?"] * 2), words=30)
    assert len(again.examples) == 1 and again.dropped == ["t4.md: duplicate question"]


def test_the_offline_model_writes_pairs_from_the_passages(backend, tmp_path):
    (tmp_path / "t4.md").write_text(PASSAGES)
    steps = []
    report = generate_pairs(tmp_path, LocalChatModel(backend), words=30, progress=lambda f, _: steps.append(f))
    assert report.chunks == 2 and steps[-1] == 1.0
    assert len(report.examples) + len(report.dropped) >= 2 and report.examples, report.summary()
    for example in report.examples:
        assert example.question.endswith("?") and len(example.question.split()) >= 4
        assert example.answer and example.origin == "llm:t4.md"


def test_an_openai_compatible_endpoint_writes_pairs(openai_server, test_settings, tmp_path):
    """The endpoint path against a real OpenAI-compatible server (transformers serve) with the same model."""
    from pipelines.generation.chat_models import OpenAICompatibleChatModel
    from pipelines.generation.models import resolve_model_path

    (tmp_path / "t4.md").write_text(PASSAGES)
    chat = OpenAICompatibleChatModel(openai_server, resolve_model_path(test_settings))
    assert "Paris" in chat.complete([[{"role": "user", "content": "What is the capital of France?"}]], 16)[0]
    report = generate_pairs(tmp_path, chat, words=30)
    assert report.chunks == 2 and report.examples, report.summary()
    assert all(e.question.endswith("?") and e.answer for e in report.examples)
