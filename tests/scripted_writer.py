"""A scripted question writer: answers every prompt ragas' testset generator sends, by rules a test can predict.

Like :mod:`tests.scripted_judge`, it recognises each ragas 0.4.3 prompt by its instruction, reads the prompt's
input JSON and answers with the JSON its output schema asks for: summaries (the first sentence), themes and named
entities (runs of capitalised words), personas, persona-theme matches, concept pairs, and the single-hop and
multi-hop (question, answer) pairs. The answer to a single-hop prompt is the first sentence of the passage that
names the term and holds a digit, so a test knows which fact each question is keyed on. A prompt it does not know,
or a reply that no longer fits the prompt's schema, raises :class:`~tests.scripted_judge.UnscriptedPrompt`.

Example::

    writer = ScriptedWriter(questions={"Harlow Yard": "Was MV Annick Marrow built in 1998 at Harlow Yard?"})
    generate_with_model(documents, llm=writer, embeddings=embeddings, count=10)
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping

from tests.scripted_judge import INPUT_MARKER, SCHEMA_MARKER, UnscriptedPrompt

Messages = list[dict[str, str]]

#: Each prompt of ragas' testset generation (prechunked transforms, personas, synthesizers) -> the start of its
#: instruction, copied from ragas 0.4.3.
PROMPTS: dict[str, str] = {
    "summary": "Summarize the given text in less than 10 sentences.",
    "themes": "Extract the main themes and concepts from the given text.",
    "entities": "Extract the named entities from the given text",
    "persona": "Using the provided summary, generate a single persona",
    "persona_themes": "Given a list of themes and personas with their roles",
    "combinations": "Form combinations by pairing concepts from at least two different lists.",
    "single_hop": "Generate a single-hop query and answer",
    "multi_hop": "Generate a multi-hop query and answer",
}
_NAME = re.compile(r"\b(?:MV )?[A-Z][a-z]+(?: [A-Z][a-z]+)+")
_HOP = re.compile(r"^<\d+-hop>\s*")


def sentences(text: str) -> list[str]:
    """A passage's sentences, headings left out."""
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if s.strip() and not s.startswith("#")]


def names(text: str, limit: int = 10) -> list[str]:
    """Runs of two or more capitalised words ("Kestrel Pier", "MV Annick Marrow"), first mention first."""
    found: list[str] = []
    for name in _NAME.findall(text):
        if name not in found:
            found.append(name)
    return found[:limit]


class ScriptedWriter:
    """A :class:`~pipelines.generation.chat_models.ChatModel` that writes ragas' testset JSON by rules.

    ``questions`` / ``answers`` map a name to the question / answer to write for a single-hop term holding it,
    instead of the rule's ("What does the text say about <term>?" / the passage's first sentence naming it with
    a digit).
    """

    def __init__(self, *, questions: Mapping[str, str] | None = None,
                 answers: Mapping[str, str] | None = None) -> None:
        self.name = "scripted-writer"
        self.questions = dict(questions or {})
        self.answers = dict(answers or {})
        self.answered: list[str] = []  # the prompt kinds answered, in order

    def complete(self, conversations: list[Messages], max_new_tokens: int,
                 timeout_s: float | None = None) -> list[str]:
        return [self.reply(messages[-1]["content"]) for messages in conversations]

    def reply(self, prompt: str) -> str:
        kind = next((kind for kind, start in PROMPTS.items() if prompt.startswith(start)), None)
        if kind is None or INPUT_MARKER not in prompt:
            raise UnscriptedPrompt(f"no script for the prompt {prompt[:120]!r}")
        self.answered.append(kind)
        data = json.loads(prompt.rsplit(INPUT_MARKER, 1)[1].removesuffix("Output: ").strip())
        answer = getattr(self, f"_{kind}")(**data)
        schema = json.loads(prompt.split(SCHEMA_MARKER, 1)[1].split("Do not use single quotes", 1)[0])
        if not fits(answer, schema, schema.get("$defs", {})):
            raise UnscriptedPrompt(f"the scripted {kind} reply {answer} does not fit the prompt's schema {schema}")
        return json.dumps(answer)

    # One method per prompt kind; the keyword arguments are the prompt's input model's fields.

    def _summary(self, text: str) -> dict:
        return {"text": sentences(text)[0]}

    def _themes(self, text: str, max_num: int = 10) -> dict:
        return {"output": names(text, max_num)}

    def _entities(self, text: str, max_num: int = 10) -> dict:
        return {"entities": names(text, max_num)}

    def _persona(self, text: str) -> dict:
        subject = (names(text) or ["the harbour"])[0]
        return {"name": f"Visitor to {subject}", "role_description": f"Travels by way of {subject}."}

    def _persona_themes(self, themes: list[str], personas: list[dict]) -> dict:
        return {"mapping": {persona["name"]: list(themes) for persona in personas}}

    def _combinations(self, lists_of_concepts: list[list[str]], max_combinations: int = 5) -> dict:
        pairs: list[list[str]] = []
        for first, second in itertools.pairwise(lists_of_concepts):
            if first and second and [first[0], second[0]] not in pairs:
                pairs.append([first[0], second[0]])
        return {"combinations": pairs[:max_combinations]}

    @staticmethod
    def fact_sentence(text: str, term: str) -> str:
        """The first sentence naming ``term`` that holds a digit (else the first naming it, else the first)."""
        naming = [s for s in sentences(text) if term.lower() in s.lower()]
        return next((s for s in naming if re.search(r"\d", s)), naming[0] if naming else sentences(text)[0])

    def _single_hop(self, persona: dict, term: str, query_style: str, query_length: str, context: str,
                    llm_context: str | None = None) -> dict:
        question = next((q for name, q in self.questions.items() if name.lower() in term.lower()), None)
        answer = next((a for name, a in self.answers.items() if name.lower() in term.lower()), None)
        return {"query": question or f"What does the text say about {term}?",
                "answer": answer or self.fact_sentence(context, term)}

    def _multi_hop(self, persona: dict, themes: list[str], query_style: str, query_length: str,
                   context: list[str], llm_context: str | None = None) -> dict:
        parts: list[str] = []
        for passage in context:
            body = _HOP.sub("", passage)
            theme = next((t for t in themes if t.lower() in body.lower()), themes[0])
            sentence = self.fact_sentence(body, theme)
            if sentence not in parts:
                parts.append(sentence)
        return {"query": f"What do the documents say about {' and '.join(themes)}?", "answer": " ".join(parts)}


def fits(value: object, schema: dict, defs: dict) -> bool:
    """Whether ``value`` has exactly the fields and types the prompt's JSON schema (pydantic's) asks for,
    a mapping's values included (``additionalProperties``)."""
    if "$ref" in schema:
        return fits(value, defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    kind = schema.get("type")
    if kind == "object":
        if "additionalProperties" in schema and not schema.get("properties"):
            return isinstance(value, dict) and all(fits(item, schema["additionalProperties"], defs)
                                                   for item in value.values())
        properties = schema.get("properties", {})
        return (isinstance(value, dict) and set(schema.get("required", [])) <= set(value) <= set(properties)
                and all(fits(value[key], properties[key], defs) for key in value))
    if kind == "array":
        return isinstance(value, list) and all(fits(item, schema.get("items", {}), defs) for item in value)
    types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
    return kind not in types or isinstance(value, types[kind])
