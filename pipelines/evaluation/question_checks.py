"""The checks every generated question passes, and the training questions it is checked against.

* the key occurs in its source document's text as the readers read it (whole normalised words, as the
  key-fact score finds it in an answer: :func:`pipelines.common.correctness.key_present`);
* the question does not contain its key, nor quotes its reference (a run of
  :data:`~pipelines.evaluation.question_wording.QUOTE_LIMIT` or more of its words);
* no near-duplicate: two questions whose content words overlap by :data:`NEAR_DUPLICATE` or more;
* fair to fine-tuning: its word overlap with every training question stays at or under the threshold
  (:data:`MAX_TRAINING_OVERLAP`). Word overlap is the Jaccard index of the two questions' content words
  (lower case, stop words and punctuation dropped): 1.0 for the same question reworded only in its function
  words, 0.0 for questions with no content word in common.

Example::

    word_overlap("How many cars can MV Annick Marrow carry?", "How many cars does MV Annick Marrow carry?")  # 1.0
    questions = load_training_questions(Path("data/datasets/pairs-20260101.jsonl"))
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from pipelines.common.correctness import key_present, normalise_answer
from pipelines.common.jsonl import JsonLineError, json_lines
from pipelines.common.questions import QuestionSetError, load_questions

#: A generated question whose content words overlap a training question's by more than this is dropped. A question
#: the adapter trained on, reworded in its function words only, overlaps by 1.0; the hand-written dev questions
#: overlap the training pairs the sample recipe builds from the same documents by at most 0.64, bar one short
#: question whose content words are the document's own title (0.8; docs/question_sets.md).
MAX_TRAINING_OVERLAP = 0.6
#: Two generated questions overlapping by this much (or more) ask the same thing: the later one is dropped.
NEAR_DUPLICATE = 0.8
QUESTION_FIELDS = ("question", "instruction", "prompt")
_STOP = frozenset(
    ["a", "an", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "and", "or", "is", "are", "was",
     "were", "be", "been", "being", "do", "does", "did", "has", "have", "had", "what", "which", "who", "whom", "whose",
     "when", "where", "why", "how", "many", "much", "can", "could", "must", "may", "might", "will", "would", "should",
     "shall", "it", "its", "this", "that", "these", "those", "there", "their", "they", "them", "he", "she", "his",
     "her", "as", "into", "than", "then", "so", "if", "not", "no", "any", "each", "every", "all", "about", "according",
     "say", "says", "said", "given", "listed"])


class TrainingQuestionsError(ValueError):
    """The training questions file cannot be read; the message says why."""


def content_words(text: str) -> frozenset[str]:
    """The words that carry a question's meaning: lower case, stop words dropped, numbers kept."""
    return frozenset(word for word in re.findall(r"[\w’'-]+", text.casefold().replace("’", "'"))
                     if word not in _STOP and word.strip("'-"))


def word_overlap(a: str | frozenset[str], b: str | frozenset[str]) -> float:
    """The Jaccard index of two questions' content words (see the module docstring)."""
    words_a = a if isinstance(a, frozenset) else content_words(a)
    words_b = b if isinstance(b, frozenset) else content_words(b)
    if not words_a or not words_b:
        return 0.0
    return len(words_a & words_b) / len(words_a | words_b)


def highest_overlap(question: str, others: Sequence[frozenset[str]]) -> float:
    """The question's highest word overlap with any of ``others`` (content-word sets); 0.0 when there are none."""
    words = content_words(question)
    return max((word_overlap(words, other) for other in others), default=0.0)


def key_in_text(keys: Sequence[str], text: str) -> bool:
    """Whether the canonical key occurs in ``text`` as whole normalised words."""
    return bool(keys) and key_present(text, [keys[0]])


def question_holds_key(question: str, keys: Iterable[str]) -> bool:
    """Whether any acceptable form of the key occurs in the question (it would give the answer away)."""
    return any(normalise_answer(key) and key_present(question, [key]) for key in keys)


def load_training_questions(path: Path) -> list[str]:
    """The questions a fine-tune trained on, from a training-pairs file (JSONL or CSV with ``question``,
    ``instruction`` or ``prompt``: what the Fine-tune tab and ``--dataset`` take) or from a question set, whose
    train split alone is trained on (``split`` rows: :attr:`~pipelines.common.questions.QuestionItem.trainable`)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainingQuestionsError(f"{path.name} cannot be read as UTF-8 text ({exc})") from exc
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        try:
            rows = [row for _, row in json_lines(text) if isinstance(row, dict)]
        except JsonLineError as exc:
            raise TrainingQuestionsError(f"{path.name}: {exc}") from exc
    if any("split" in row for row in rows):
        try:
            return [item.question for item in load_questions(path) if item.trainable]
        except QuestionSetError as exc:
            raise TrainingQuestionsError(f"{path.name}: {exc}") from exc
    field = next((name for name in QUESTION_FIELDS if any(name in row for row in rows)), None)
    if field is None:
        raise TrainingQuestionsError(
            f"{path.name} has no question column (one of {', '.join(QUESTION_FIELDS)}) on any row")
    return [str(row[field]).strip() for row in rows if str(row.get(field) or "").strip()]
