"""Question sets written by a capable model: ragas' testset generator, then our keys and checks.

``generate_with_model`` chunks the documents (word windows, as :func:`pipelines.knowledge.chunking.chunk_document`
makes them), hands the chunks to ragas 0.4.3's :class:`ragas.testset.TestsetGenerator` (its knowledge graph of
summaries, themes and named entities; personas; the single-hop and both multi-hop synthesizers) on the given
:class:`~pipelines.generation.chat_models.ChatModel` (adapted as the judge is: :func:`pipelines.evaluation.judges.
ragas_llm`), then keys each (question, reference answer) ragas wrote: the key is a checkable span of the
reference (:func:`~pipelines.evaluation.question_facts.fact_spans`, with its
:func:`~pipelines.evaluation.question_facts.key_forms`) that the question does not hold and that occurs in the
document the reference came from. Then the rules generator's checks (:mod:`pipelines.evaluation.question_checks`:
no quoting, training overlap, near-duplicates, one question per fact) and its out-of-corpus questions
(:mod:`pipelines.evaluation.out_of_corpus`). Every dropped question is counted by reason; rows have the rules
generator's JSONL shape, with ``form`` the ragas synthesizer (``single-hop``, ``multi-hop-abstract``,
``multi-hop-specific``).

Offline and reproducible as far as ragas allows: the chunks go in pre-chunked (ragas' default transforms for raw
documents count tokens with tiktoken, which downloads its encoding at run time), the extractors count bytes
instead of tiktoken tokens, node and relationship ids are numbered rather than random, the theme lists ragas builds
from Python sets are sorted, ragas' global random draws are seeded (and the caller's random state restored), and
the scenario and sample stages run one call at a time. With a deterministic model the same documents and seed
give the same set; a sampling model does not.

The model must be capable (ragas asks for JSON in every call): the offline 135M model writes prose, not the
JSON, so the command line asks for an OpenAI-compatible endpoint (``ARENA_JUDGE=endpoint``).

Example::

    chat = OpenAICompatibleChatModel("http://gpu:8000/v1", "Qwen/Qwen2.5-7B-Instruct")
    generated = generate_with_model(read_documents(Path("docs")), llm=chat,
                                    embeddings=_ragas_embeddings(Embedder.load(OFFLINE_EMBEDDER)), count=40)
    generated.dropped.most_common(3), generated.content_hash
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pipelines.common.question_types import LOOKUP, MULTI_FACT, NUMBER
from pipelines.common.text import split_sentences
from pipelines.evaluation.judges import ragas_llm
from pipelines.evaluation.out_of_corpus import Retrieve
from pipelines.evaluation.question_checks import (
    MAX_TRAINING_OVERLAP,
    NEAR_DUPLICATE,
    content_words,
    highest_overlap,
    key_in_text,
    question_holds_key,
    word_overlap,
)
from pipelines.evaluation.question_facts import CODE, DATE, NAME, TIME, YEAR, Span, fact_spans, key_forms, text_units
from pipelines.evaluation.question_generation import (
    OUT_OF_CORPUS_SHARE,
    DocumentReport,
    GeneratedSet,
    Progress,
    QuestionGenerationError,
    SourceDocument,
    append_out_of_corpus,
    normal_key,
)
from pipelines.evaluation.question_generation import _split as split_of
from pipelines.evaluation.question_wording import QUOTE_LIMIT, quoted_run
from pipelines.generation.chat_models import ChatModel
from pipelines.knowledge.chunking import chunk_document

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # ragas' usage telemetry calls out unless told not to

#: Words per chunk handed to ragas: about the app's retrieval chunk, so a question's context is a passage.
CHUNK_WORDS = 200
#: ragas is asked for this many more questions than the set needs: its questions are checked and some dropped.
OVERSAMPLE = 1.5
#: ragas' synthesizer names -> the rows' ``form``.
SYNTHESIZER_FORMS = {"single_hop_specific_query_synthesizer": "single-hop",
                     "multi_hop_abstract_query_synthesizer": "multi-hop-abstract",
                     "multi_hop_specific_query_synthesizer": "multi-hop-specific"}
_HOP_TAG = re.compile(r"^<\d+-hop>\s*")
# A measure, date, time or code is the fact a question asks for; a name is often what it asks about.
_KIND_ORDER = {"number": 0, DATE: 0, TIME: 1, YEAR: 1, CODE: 2, NAME: 3}


#: Why ``--generator model`` refuses to run without an endpoint.
NEEDS_ENDPOINT = ("the model generator needs a capable model behind an OpenAI-compatible endpoint: set "
                  "ARENA_JUDGE=endpoint with ARENA_LLM_BASE_URL and ARENA_LLM_MODEL (the in-process 135M model "
                  "cannot write the JSON ragas asks for in every call), or use --generator rules")


@dataclass(frozen=True)
class ModelQuestion:
    """A question ragas wrote, keyed: its reference answer, the key's forms, the document the key is in."""

    question: str
    reference: str
    keys: tuple[str, ...]
    source: str
    form: str
    type: str


def generate_with_model(documents: Sequence[SourceDocument], *, llm: ChatModel, embeddings, count: int = 40,
                        out_of_corpus: int | None = None, seed: int = 0, training_questions: Sequence[str] = (),
                        max_overlap: float = MAX_TRAINING_OVERLAP, retrieve: Retrieve | None = None,
                        progress: Progress | None = None, workers: int = 4,
                        max_new_tokens: int = 1024) -> GeneratedSet:
    """A checked question set of about ``count`` questions written by ``llm`` through ragas (module docstring).

    ``embeddings``: a ragas embeddings object (summaries are compared by it); ``workers``: model calls at once
    while ragas builds its knowledge graph (its scenario and sample stages run one at a time, for
    reproducibility). :class:`QuestionGenerationError` when ragas cannot make a set (the documents too few or
    too alike for any synthesizer, or the model's replies not the JSON ragas asks for)."""
    if count < 1:
        raise QuestionGenerationError("count must be at least 1")
    documents = sorted((d for d in documents if d.text.strip()), key=lambda d: d.name)
    if not documents:
        raise QuestionGenerationError("no documents to generate questions from")
    report = progress or (lambda fraction, message: None)
    n_ooc = out_of_corpus if out_of_corpus is not None else max(1, math.ceil(count * OUT_OF_CORPUS_SHARE))
    wanted = max(count - n_ooc, 0)
    dropped: Counter[str] = Counter()
    kept: list[ModelQuestion] = []
    if wanted:
        samples = ragas_samples(documents, llm=llm, embeddings=embeddings, size=math.ceil(wanted * OVERSAMPLE),
                                seed=seed, workers=workers, max_new_tokens=max_new_tokens, progress=report)
        report(0.9, "Checking the questions")
        kept = checked_questions(samples, documents, wanted, training_questions, max_overlap, dropped)
    items = [_row(number, question, seed) for number, question in enumerate(
        sorted(kept, key=lambda q: (q.source, q.question)), start=1)]
    append_out_of_corpus(items, documents, n_ooc, seed=seed, retrieve=retrieve, dropped=dropped)
    training = [content_words(q) for q in training_questions if q.strip()]
    highest = max((highest_overlap(item["question"], training) for item in items), default=0.0) if training else 0.0
    reports = {d.name: DocumentReport(_fact_count(d), sum(q.source == d.name for q in kept)) for d in documents}
    for document_report in reports.values():
        if not document_report.questions:
            document_report.reason = "the model's questions about it were all dropped, or it wrote none"
    report(1.0, f"{len(items)} questions")
    return GeneratedSet(items, dropped, reports, round(highest, 3), max_overlap, seed, generator="model")


@dataclass(frozen=True)
class RagasSample:
    """What ragas wrote: the question, its reference answer, the passages it read, and its synthesizer."""

    question: str
    reference: str
    contexts: tuple[str, ...]
    synthesizer: str


def ragas_samples(documents: Sequence[SourceDocument], *, llm: ChatModel, embeddings, size: int, seed: int = 0,
                  workers: int = 4, max_new_tokens: int = 1024,
                  progress: Progress | None = None) -> list[RagasSample]:
    """ragas' TestsetGenerator over the documents' chunks (its prechunked path), reproducibly (module docstring)."""
    from ragas.run_config import RunConfig
    from ragas.testset import TestsetGenerator
    from ragas.testset.graph import KnowledgeGraph, Node, NodeType
    from ragas.testset.transforms import apply_transforms, default_transforms_for_prechunked

    report = progress or (lambda fraction, message: None)
    chunks = interleaved_chunks(documents)
    ragas_model = ragas_llm(llm, max_new_tokens)
    # Numbered ids, ascending in node order: ragas orders clusters by id and hashes nodes by it.
    kg = KnowledgeGraph(nodes=[
        Node(id=uuid.UUID(int=number + 1), type=NodeType.CHUNK,
             properties={"page_content": text, "document_metadata": {"source": name}})
        for number, (name, text) in enumerate(chunks)])
    transforms = default_transforms_for_prechunked(llm=ragas_model, embedding_model=embeddings)
    for transform in _leaves(transforms):
        if hasattr(transform, "tokenizer"):
            transform.tokenizer = ByteTokenizer()
    try:
        with _seeded(seed):
            report(0.05, f"Building ragas' knowledge graph of {len(chunks)} passages (summaries, themes, names)")
            apply_transforms(kg, transforms, RunConfig(max_workers=workers, max_retries=2, seed=seed))
            _number_relationships(kg)
            generator = TestsetGenerator(llm=ragas_model, embedding_model=embeddings, knowledge_graph=kg)
            distribution = query_distribution(ragas_model, kg)
            report(0.4, "Writing questions with ragas' synthesizers: "
                   + ", ".join(SYNTHESIZER_FORMS.get(s.name, s.name) for s, _ in distribution))
            testset = generator.generate(testset_size=size, query_distribution=distribution,
                                         run_config=RunConfig(max_workers=1, max_retries=2, seed=seed))
    except QuestionGenerationError:
        raise
    except Exception as exc:  # ragas' own failures (no cluster, unparsable replies) say what went wrong
        raise QuestionGenerationError(f"ragas' testset generator failed: {_reason(exc)}") from exc
    return [RagasSample(sample.eval_sample.user_input or "", sample.eval_sample.reference or "",
                        tuple(sample.eval_sample.reference_contexts or ()), sample.synthesizer_name)
            for sample in testset.samples]


def interleaved_chunks(documents: Sequence[SourceDocument]) -> list[tuple[str, str]]:
    """(document name, passage) pairs, the documents taken in turn: ragas' single-hop synthesizer fills its
    quota from the first passages, so a document listed last would otherwise get none."""
    per_document = [[(d.name, chunk.text) for chunk in chunk_document(d.name, d.text, words=CHUNK_WORDS,
                                                                      overlap=0)] for d in documents]
    turns = max((len(chunks) for chunks in per_document), default=0)
    return [chunks[turn] for turn in range(turns) for chunks in per_document if turn < len(chunks)]


def query_distribution(ragas_model, kg) -> list:
    """ragas' default synthesizers (single-hop specific, multi-hop abstract, multi-hop specific), in equal
    shares, those the knowledge graph has clusters for (as :func:`ragas.testset.synthesizers.
    default_query_distribution` picks them), with their theme lists sorted."""
    from ragas.testset.synthesizers.multi_hop import MultiHopAbstractQuerySynthesizer

    synthesizers = [_sorted_single_hop()(llm=ragas_model), MultiHopAbstractQuerySynthesizer(llm=ragas_model),
                    _sorted_multi_hop()(llm=ragas_model)]
    usable = []
    for synthesizer in synthesizers:
        try:
            if synthesizer.get_node_clusters(kg):
                usable.append(synthesizer)
        except ValueError:  # no relationship of the kind it needs
            continue
    if not usable:
        raise QuestionGenerationError("ragas found nothing to write questions from: no passage has named "
                                      "entities (the model's entity lists were empty)")
    return [(synthesizer, 1 / len(usable)) for synthesizer in usable]


def _sorted_single_hop():
    from ragas.testset.synthesizers.single_hop.specific import SingleHopSpecificQuerySynthesizer

    class SortedSingleHop(SingleHopSpecificQuerySynthesizer):
        """ragas' own, with its themes in a fixed order (it lists a set of strings: an order per process)."""

        def _extract_themes_from_items(self, items):
            return sorted(super()._extract_themes_from_items(items))

    return SortedSingleHop


def _sorted_multi_hop():
    from ragas.testset.synthesizers.multi_hop import MultiHopSpecificQuerySynthesizer

    class SortedMultiHop(MultiHopSpecificQuerySynthesizer):
        """ragas' own, with its shared entities in a fixed order (it lists a set of strings)."""

        def _extract_themes_from_overlaps(self, overlapped_items):
            return sorted(super()._extract_themes_from_overlaps(overlapped_items))

    return SortedMultiHop


class ByteTokenizer:
    """Counts a text's UTF-8 bytes as its tokens: ragas' extractors only split a text longer than their limit
    (32,000), which a chunk of :data:`CHUNK_WORDS` words never is, and their default (tiktoken) downloads its
    encoding at run time. Lossless: decode(encode(text)) == text."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, tokens: list[int]) -> str:
        return bytes(tokens).decode("utf-8", errors="ignore")

    def count_tokens(self, text: str) -> int:
        return len(text.encode("utf-8"))


def _leaves(transforms) -> Iterator:
    from ragas.testset.transforms.engine import Parallel

    for transform in transforms:
        if isinstance(transform, Parallel):
            yield from _leaves(transform.transformations)
        else:
            yield transform


def _number_relationships(kg) -> None:
    """Number the relationships ragas made (their ids are random, and ragas iterates sets hashed by them)."""
    order = {node.id: number for number, node in enumerate(kg.nodes)}
    kg.relationships.sort(key=lambda rel: (rel.type, order[rel.source.id], order[rel.target.id]))
    for number, relationship in enumerate(kg.relationships):
        relationship.id = uuid.UUID(int=(1 << 64) + number)


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """ragas draws from the global ``random`` and ``numpy.random``: seed both, and give the caller's state back."""
    import numpy as np

    state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(state)
        np.random.set_state(np_state)


def _reason(exc: BaseException) -> str:
    if type(exc).__name__ == "RagasOutputParserException":
        return "the model's reply was not the JSON ragas asked for, even after ragas' format-fixing retry"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _fact_count(document: SourceDocument) -> int:
    return sum(len(fact_spans(unit.text)) for unit in text_units(document.text))


def _context_documents(sample: RagasSample, passages: dict[str, str],
                       documents: Sequence[SourceDocument]) -> list[SourceDocument]:
    """The documents the sample's passages came from, in the order ragas gave them."""
    by_name = {d.name: d for d in documents}
    names: list[str] = []
    for context in sample.contexts:
        name = passages.get(_HOP_TAG.sub("", context).strip())
        if name and name not in names:
            names.append(name)
    return [by_name[name] for name in names]


def reference_key(question: str, reference: str, sources: Sequence[SourceDocument]
                  ) -> tuple[Span, SourceDocument] | str:
    """The key of a generated question: a checkable span of its reference answer that the question does not
    hold and that occurs in one of the documents the answer was written from; else why there is none.
    Measures, dates and codes are preferred to names (a name is often what the question asks about). A
    reference with a measure, date or code that none of those documents holds is not faithful to them (a
    model's slip or sum): no key is taken from it, even a true one."""
    spans = [span for sentence in split_sentences(reference) for span in fact_spans(sentence)]
    if not spans:
        return "reference answer states no checkable fact (number, date, code or name)"
    if any(span.kind != NAME and not any(key_in_text(key_forms(span), d.text) for d in sources) for span in spans):
        return "reference answer states a number, date or code its source documents do not"
    open_spans = [span for span in spans if not question_holds_key(question, key_forms(span))]
    if not open_spans:
        return "question contains its key"
    for span in sorted(open_spans, key=lambda s: _KIND_ORDER.get(s.kind, 3)):
        for document in sources:
            if key_in_text(key_forms(span), document.text):
                return span, document
    return "key not found in its source document"


def checked_questions(samples: Sequence[RagasSample], documents: Sequence[SourceDocument], wanted: int,
                      training_questions: Sequence[str], max_overlap: float,
                      dropped: Counter[str]) -> list[ModelQuestion]:
    """Keyed questions that pass every check, at most ``wanted``, the documents taking turns; ``dropped``
    counts the rest by reason."""
    passages = {text.strip(): name for name, text in interleaved_chunks(documents)}
    training = [content_words(q) for q in training_questions if q.strip()]
    keyed: dict[str, list[ModelQuestion]] = {}
    for sample in samples:
        question, reference = sample.question.strip(), sample.reference.strip()
        if not question or not reference:
            dropped["ragas wrote no question or no reference answer"] += 1
            continue
        found = reference_key(question, reference, _context_documents(sample, passages, documents))
        if isinstance(found, str):
            dropped[found] += 1
            continue
        span, document = found
        form = SYNTHESIZER_FORMS.get(sample.synthesizer, sample.synthesizer)
        if form == "single-hop" and quoted_run(question, reference) >= QUOTE_LIMIT:
            dropped[f"question quotes {QUOTE_LIMIT}+ words of its reference"] += 1
            continue
        if training and highest_overlap(question, training) > max_overlap:
            dropped[f"word overlap with a training question over {max_overlap:.2f}"] += 1
            continue
        kind = MULTI_FACT if form.startswith("multi-hop") else (LOOKUP if span.kind in (NAME, CODE) else NUMBER)
        keyed.setdefault(document.name, []).append(
            ModelQuestion(question, reference, key_forms(span), document.name, form, kind))
    kept: list[ModelQuestion] = []
    words: list[frozenset[str]] = []
    facts: set[tuple[str, str]] = set()
    queues = [keyed[name] for name in sorted(keyed)]
    while queues:
        for queue in list(queues):
            candidate = queue.pop(0)
            if not queue:
                queues.remove(queue)
            if len(kept) >= wanted:
                dropped["more questions than the set asks for"] += 1
                continue
            fact = (candidate.source, normal_key(candidate.keys[0]))
            these = content_words(candidate.question)
            if fact in facts:
                dropped["same fact already asked"] += 1
            elif any(word_overlap(these, other) >= NEAR_DUPLICATE for other in words):
                dropped["near-duplicate of another question"] += 1
            else:
                kept.append(candidate)
                words.append(these)
                facts.add(fact)
    return kept


def _row(number: int, question: ModelQuestion, seed: int) -> dict:
    item_id = f"gen-{number:03d}"
    keys = list(question.keys)
    return {"id": item_id, "question": question.question, "reference": question.reference,
            "key": keys[0] if len(keys) == 1 else keys, "source": question.source, "type": question.type,
            "form": question.form, "split": split_of(item_id, seed)}


def endpoint_writer(settings) -> ChatModel:
    """The configured judge endpoint as the question writer (``ARENA_JUDGE=endpoint``); else
    :class:`QuestionGenerationError` saying what to set (:data:`NEEDS_ENDPOINT`)."""
    from pipelines.generation.chat_models import OpenAICompatibleChatModel

    if settings.judge != "endpoint" or not settings.llm_base_url:
        raise QuestionGenerationError(NEEDS_ENDPOINT)
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAICompatibleChatModel(settings.llm_base_url, settings.llm_model, key,
                                     timeout_s=settings.judge_timeout_s)


def generate_with_endpoint(documents: Sequence[SourceDocument], settings, **options) -> GeneratedSet:
    """:func:`generate_with_model` on the settings' judge endpoint and embedding model (the command line's
    ``--generator model``); ``options`` are its keyword arguments (count, seed, training_questions, ...)."""
    from pipelines.evaluation.scorer import _ragas_embeddings
    from pipelines.knowledge.embeddings import Embedder

    writer = endpoint_writer(settings)  # before loading anything: no endpoint, no work
    embeddings = _ragas_embeddings(Embedder.load(settings.embedding_model))
    return generate_with_model(documents, llm=writer, embeddings=embeddings,
                               max_new_tokens=settings.judge_max_tokens, **options)
