"""A scripted LLM judge: answers every prompt the judged ragas metrics send, by a rule the test controls.

A real judge's verdicts cannot be predicted, so tests with one can only check "a value or a reasoned failure".
This judge recognises each ragas 0.4 prompt by its instruction, reads the prompt's input JSON and answers with
the JSON ragas asked for, so each metric's value is known in advance. The default rule: a statement is
supported by a text when every word of the statement occurs in that text (case-insensitive). A prompt it does
not know (a ragas upgrade changed an instruction, or a metric sends a new prompt) raises
:class:`UnscriptedPrompt`, and so does a reply of its own that no longer fits the prompt's JSON schema: the
metric then fails loudly instead of being scored as an ordinary judge failure.

Example::

    chat = ScriptedJudge(questions={"About 14 hours.": "How long does the lamp's battery last?"})
    judge = LLMJudge(chat, _ragas_embeddings(BagOfWordsEmbedder()))
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Callable, Mapping

Messages = list[dict[str, str]]
Rule = Callable[[str, str], bool]

#: Where ragas' ``PydanticPrompt.to_string`` puts the call's own input (the examples' inputs say "Input:").
INPUT_MARKER = "\nNow perform the same with the following input\ninput: "
SCHEMA_MARKER = "as specified in JSON Schema:\n"

#: Each prompt the judged metrics send → the start of its instruction, copied from ragas 0.4.3, so that a
#: reworded prompt is a loud failure here rather than a prompt the script answers without reading it.
PROMPTS: dict[str, str] = {
    "statements": "Given a question and an answer, analyze the complexity of each sentence in the answer. "
                  "Break down each sentence into one or more fully understandable statements.",
    "faithfulness_verdicts": "Your task is to judge the faithfulness of a series of statements based on a "
                             "given context.",
    "question_generation": "Generate a question for the given answer and Identify if answer is noncommittal.",
    "context_precision": "Given question, answer and context verify if the context was useful in arriving at "
                         "the given answer.",
    "context_recall": "Given a context, and an answer, analyze each sentence in the answer and classify if the "
                      "sentence can be attributed to the given context or not.",
    "correctness": "Given a ground truth and an answer statements, analyze each statement and classify them in "
                   "one of the following categories: TP (true positive)",
    # ragas' own retry when a reply does not parse: the script only ever sees it when told to write bad JSON.
    "fix_output_format": "The output string did not satisfy the constraints given in the prompt.",
}

NONCOMMITTAL = ("i don't know", "i do not know", "not sure", "cannot say")


class UnscriptedPrompt(AssertionError):
    """The judge got a prompt it has no script for, or its scripted reply no longer fits the prompt."""


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def sentences(text: str) -> list[str]:
    """The script's statements: one per sentence (split after ``.``, ``!`` or ``?``)."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def every_word_in(statement: str, evidence: str) -> bool:
    """The default rule: supported iff the statement has words and each of them occurs in the evidence."""
    return bool(words(statement)) and words(statement) <= words(evidence)


class ScriptedJudge:
    """A :class:`~pipelines.generation.chat_models.ChatModel` whose verdicts follow ``rule(statement, evidence)``.

    ``questions`` maps an answer to the question the judge "reads off" it (answer relevancy); an answer not
    in it gives the answer itself. An answer holding "I don't know" or "not sure" is noncommittal.
    ``malformed`` makes every reply prose without JSON, as a small model often writes.
    """

    def __init__(self, rule: Rule = every_word_in, *, questions: Mapping[str, str] | None = None,
                 malformed: bool = False) -> None:
        self.name = "scripted-judge"
        self.rule = rule
        self.questions = dict(questions or {})
        self.malformed = malformed
        self.answered: list[str] = []  # the prompt kinds answered, in order
        self.unscripted: list[str] = []  # the start of each prompt it could not answer

    def complete(self, conversations: list[Messages], max_new_tokens: int,
                 timeout_s: float | None = None) -> list[str]:
        return [self.reply(messages[-1]["content"]) for messages in conversations]

    def reply(self, prompt: str) -> str:
        kind = next((kind for kind, start in PROMPTS.items() if prompt.startswith(start)), None)
        if kind is None or INPUT_MARKER not in prompt:
            self.unscripted.append(prompt[:200])
            raise UnscriptedPrompt(f"no script for the prompt {prompt[:120]!r}")
        self.answered.append(kind)
        if self.malformed:
            return "The statement is supported by the context, so my verdict is yes."
        if kind == "fix_output_format":
            self.unscripted.append(prompt[:200])
            raise UnscriptedPrompt("ragas could not parse a scripted reply and asked to fix its format")
        data = json.loads(prompt.rsplit(INPUT_MARKER, 1)[1].removesuffix("Output: ").strip())
        answer = getattr(self, f"_{kind}")(**data)
        schema = json.loads(prompt.split(SCHEMA_MARKER, 1)[1].split("Do not use single quotes", 1)[0])
        if not _fits(answer, schema, schema.get("$defs", {})):
            self.unscripted.append(prompt[:200])
            raise UnscriptedPrompt(f"the scripted {kind} reply {answer} does not fit the prompt's schema {schema}")
        return json.dumps(answer)

    # One method per prompt kind; the keyword arguments are the prompt's input model's fields.

    def _statements(self, question: str, answer: str) -> dict:
        return {"statements": sentences(answer)}

    def _faithfulness_verdicts(self, context: str, statements: list[str]) -> dict:
        return {"statements": [{"statement": s, "reason": "scripted", "verdict": int(self.rule(s, context))}
                               for s in statements]}

    def _question_generation(self, response: str) -> dict:
        evasive = any(phrase in response.lower().replace("’", "'") for phrase in NONCOMMITTAL)
        return {"question": self.questions.get(response, response), "noncommittal": int(evasive)}

    def _context_precision(self, question: str, context: str, answer: str) -> dict:
        useful = any(self.rule(sentence, context) for sentence in sentences(answer))
        return {"reason": "scripted", "verdict": int(useful)}

    def _context_recall(self, question: str, context: str, answer: str) -> dict:
        return {"classifications": [{"statement": s, "reason": "scripted", "attributed": int(self.rule(s, context))}
                                    for s in sentences(answer)]}

    def _correctness(self, question: str, answer: list[str], ground_truth: list[str]) -> dict:
        truth, said = " ".join(ground_truth), " ".join(answer)
        return {"TP": [{"statement": s, "reason": "scripted"} for s in answer if self.rule(s, truth)],
                "FP": [{"statement": s, "reason": "scripted"} for s in answer if not self.rule(s, truth)],
                "FN": [{"statement": s, "reason": "scripted"} for s in ground_truth if not self.rule(s, said)]}


def _fits(value: object, schema: dict, defs: dict) -> bool:
    """Whether ``value`` has exactly the fields and types the prompt's JSON schema (pydantic's) asks for."""
    if "$ref" in schema:
        return _fits(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return (isinstance(value, dict) and set(schema.get("required", [])) <= set(value) <= set(properties)
                and all(_fits(value[key], properties[key], defs) for key in value))
    if kind == "array":
        return isinstance(value, list) and all(_fits(item, schema.get("items", {}), defs) for item in value)
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    return kind not in types or isinstance(value, types[kind])


class BagOfWordsEmbedder:
    """A tiny deterministic embedder (word counts hashed into ``dims`` buckets), so similarities are known.

    Same interface as :class:`~pipelines.knowledge.embeddings.Embedder` for ``_ragas_embeddings``.
    """

    def __init__(self, dims: int = 512) -> None:
        self.dims = dims

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors = []
        for text in texts:
            vector = [0.0] * self.dims
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                vector[zlib.crc32(word.encode()) % self.dims] += 1.0
            vectors.append(vector)
        return vectors

    def cosine(self, a: str, b: str) -> float:
        u, v = self.embed([a, b])
        return sum(x * y for x, y in zip(u, v, strict=True)) / (math.hypot(*u) * math.hypot(*v))
