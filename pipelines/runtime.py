"""Start (and stop) everything the app needs, turning each start-up failure into a clear message.

A failing part disables only what depends on it: no Weaviate means the RAG column
explains why while the fine-tuned column answers; no model means both columns
explain why, and the page still loads.

Example::

    runtime = Runtime.start(Settings())
    ...
    runtime.close()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import torch

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.arena.finetuned import BasePipeline, FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.arena.rag_finetuned import RagFinetunedPipeline
from pipelines.common.auth import AdminAuth
from pipelines.common.persistence import (
    FolderCheck,
    PersistenceReport,
    StorageError,
    check_folder,
    persistence_report,
    unsafe_folder_message,
)
from pipelines.common.questions import QuestionSetError
from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.common.spaces import download_weaviate, in_space, is_loopback, on_zero_gpu, space_owner
from pipelines.evaluation.collection_questions import CollectionQuestions, endpoint_model_generator
from pipelines.evaluation.judges import JUDGED_METRICS, LLMJudge
from pipelines.evaluation.question_tags import TypeRow
from pipelines.evaluation.saved_question_sets import ChosenSet, SavedQuestionSets
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
from pipelines.evaluation.slices import Slice
from pipelines.evaluation.verdict import VerdictPage
from pipelines.feedback.snapshot import FeedbackSnapshot, SnapshotError, restore_snapshot
from pipelines.feedback.store import FeedbackStore
from pipelines.generation.answer_rules import AnswerRules
from pipelines.generation.backend import FINETUNED_ADAPTER, GenerationBackend
from pipelines.generation.chat_models import ChatModel, LocalChatModel, OpenAICompatibleChatModel
from pipelines.generation.gguf_lora import converter_script
from pipelines.generation.llama_cpp_backend import LlamaCppBackend, llama_cpp_installed
from pipelines.generation.models import ModelBackend, ModelLoadError
from pipelines.generation.openai_backend import OpenAICompatibleBackend
from pipelines.generation.prompts import ReaderOptions
from pipelines.knowledge.base import KnowledgeBase, make_chunker
from pipelines.knowledge.embeddings import Embedder
from pipelines.knowledge.ingest import folder_files
from pipelines.knowledge.retrieval import RetrievalOptions
from pipelines.knowledge.store import connect
from pipelines.knowledge.weaviate_server import WEAVIATE_VERSION, WeaviateServer, WeaviateStartError
from pipelines.training.jobs import TrainingJobs

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    feedback: FeedbackStore
    arena: Arena
    scoring: ScoringWorker
    backend: GenerationBackend | None = None
    knowledge: KnowledgeBase | None = None
    server: WeaviateServer | None = None
    client: object | None = None
    problems: list[str] = field(default_factory=list)
    references: ReferenceSet | None = None
    embedder: Embedder | None = None
    rag_problem: str = ""
    training: TrainingJobs | None = None
    judge_factory: Callable[[object], LLMJudge] | None = None
    last_verdict: VerdictPage | None = None  # the newest verdict page this process wrote (the Evaluation tab's)
    storage: FolderCheck | None = None  # the data folder: persistent? safe for SQLite and Weaviate?
    snapshot: FeedbackSnapshot | None = None  # votes snapshotted to a Hub dataset (ARENA_SNAPSHOT_REPO)

    @property
    def retrieval_defaults(self) -> RetrievalOptions:
        return retrieval_defaults(self.settings)

    @property
    def auth(self) -> AdminAuth:
        """Secure by default: in a Space or on a non-loopback address, admin actions need the password or the
        Space's owner signed in with Hugging Face."""
        secret = self.settings.admin_password
        public = in_space() or not is_loopback(self.settings.listen_host)
        owner = space_owner() if self.settings.sign_in_enabled else None
        return AdminAuth(secret.get_secret_value() if secret else None, public=public, owner=owner)

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        problems: list[str] = []
        storage = check_storage(settings)  # creates the data dir; refuses one where SQLite would corrupt
        restore_problem = _restore_snapshot(settings)  # the Hub snapshot's votes, before the store opens
        feedback = FeedbackStore.open(settings.feedback_target)
        snapshot, snapshot_problem = (None, restore_problem) if restore_problem else _start_snapshot(settings, feedback)
        problems.extend(p for p in (snapshot_problem,) if p)
        # The managed Weaviate boots (seconds of mostly idle Raft start-up) while the embedder and the model load:
        # an app start here took 2 s less on a new data dir and 7 s less on an existing one.
        launched, launch_problem = _launch_weaviate(settings)
        client = None
        try:
            embedder = Embedder.load(settings.embedding_model)
            backend, model_problem, model_problems = _load_generation(settings)
            server, client, knowledge, rag_problem = _open_knowledge_base(settings, embedder, launched, launch_problem)
            if rag_problem:
                problems.append(f"RAG is unavailable: {rag_problem}")
            problems.extend(model_problems)

            try:
                references = ReferenceSet.load(settings.questions_file, settings.corpus_dir,
                                               make_chunker(embedder, settings))
            except QuestionSetError as exc:  # the app still starts; scores then say "no reference answer"
                references = ReferenceSet({})
                problems.append(f"The question set {settings.questions_file} (ARENA_QUESTIONS_FILE) is not used: {exc}")
            judge_factory = _judge_factory(settings, backend)
            scoring = ScoringWorker(feedback, lambda: RagasScorer(embedder, references, judge_factory)).start()
            rules = answer_rules(settings)
            rag = RagPipeline(knowledge.retriever if knowledge else None, retrieval_defaults(settings),
                              unavailable_reason=rag_problem, reader=reader_options(settings), rules=rules)
            arena = Arena(
                [rag, FinetunedPipeline(backend, rules=rules), RagFinetunedPipeline(rag, backend),
                 BasePipeline(backend, rules=rules)],
                backend,
                feedback,
                max_new_tokens=settings.max_new_tokens,
                max_prompt_chars=settings.max_prompt_chars,
                history_turns=settings.history_turns,
                temperature=settings.temperature,
                model_error=model_problem,
                votes_per_minute=settings.votes_per_minute,
                on_vote=scoring.submit,
            )
            report = _persistence(settings, storage, snapshot)
            if in_space() and report.warning():
                problems.append(report.warning())
            for problem in problems:
                log.warning(problem)
            runtime = cls(settings, feedback, arena, scoring, backend, knowledge, server, client, problems,
                          references, embedder, rag_problem, TrainingJobs(settings), judge_factory,
                          storage=storage, snapshot=snapshot)
            if runtime.chosen_question_set().collection is not None:  # a collection's set chosen before a restart
                runtime._use_references_of(runtime.chosen_question_set())
            return runtime
        except BaseException:  # a start that fails half-way leaves no Weaviate running and no client open behind it
            if snapshot is not None:
                snapshot.stop()
            if client is not None:
                client.close()
            if launched is not None:
                launched.stop()
            raise

    @property
    def adapter_folders(self) -> list[Path]:
        """Where the registry looks: trained versions in the data dir, and the shipped/configured adapter's folder."""
        return [self.settings.data_dir / "adapters", Path(self.settings.adapter_path).parent]

    def activate_adapter(self, path: Path) -> str:
        """Make a registered adapter the fine-tuned column's; a damaged folder is refused, the old one kept."""
        from pipelines.training.registry import activate

        if self.backend is None:
            raise ValueError("The model is not loaded.")
        self._require_in_process("Activating an adapter folder")
        return activate(self.backend, path)

    def _require_in_process(self, action: str) -> None:
        if self.backend is not None and not self.backend.loads_adapter_folders:
            raise ValueError(f"{action} needs the in-process model; generation runs at {self.backend.location}: "
                             "serve the adapter there (vLLM --lora-modules NAME=FOLDER) and set "
                             "ARENA_GENERATION_ADAPTER_MODEL=NAME.")

    def active_adapter(self) -> str:
        return self.backend.adapter_ids.get("finetuned", "none") if self.backend else "none"

    def improve_adapter_from_votes(self, agreed_only: bool = False) -> str:
        """Run the experimental DPO step on the active adapter (``agreed_only``: on the items queue raters agreed
        on) and say what came out."""
        from pipelines.training.dpo import improve_active_adapter

        if self.backend is None:
            raise ValueError("The model is not loaded.")
        self._require_in_process("DPO from votes")
        if self.settings.generation_base_url and FINETUNED_ADAPTER not in getattr(self.backend, "adapter_paths", {}):
            raise ValueError("DPO starts from the active adapter's folder, but the server's adapter is only a name "
                             "(ARENA_GENERATION_ADAPTER_MODEL): activate an adapter folder in the Fine-tune tab first "
                             "(it is loaded into the server), then improve it.")
        new_id, report = improve_active_adapter(self.backend, self.feedback, self.settings, agreed_only=agreed_only)
        return (f"✅ New adapter **{new_id}** is active: {report.steps} DPO steps, loss "
                f"{report.losses[0]:.3f} → {report.final_loss:.3f}. New answers in the arena use it.")

    def describe_model(self) -> str:
        if self.backend is None:
            return "no model loaded"
        name = self.settings.model_id
        if name == OFFLINE_MODEL:  # llama.cpp reads the GGUF (precision says in which format); transformers
            # de-quantises it
            name = "SmolLM2-135M-Instruct (offline GGUF Q4_1)" if isinstance(self.backend, LlamaCppBackend) \
                else "SmolLM2-135M-Instruct (offline, de-quantised from GGUF Q4_1)"
        adapter = self.backend.adapter_ids.get("finetuned", "none")
        batching = " · all sessions decode together" if self.backend.concurrent_requests > 1 else ""
        return f"{name} · {self.backend.precision} · adapter {adapter}{batching}"

    def rescore(self) -> int:
        """Queue every voted exchange for scoring again; returns how many."""
        exchange_ids = self.feedback.voted_exchange_ids()
        for exchange_id in exchange_ids:
            self.scoring.submit(exchange_id, again=True)
        return len(exchange_ids)

    def pair_writer(self) -> ChatModel | None:
        """The language model that writes training pairs: the configured endpoint, else the base model."""
        if self.settings.llm_base_url:
            return _endpoint_chat_model(self.settings, timeout_s=60.0)
        return LocalChatModel(self.backend) if self.backend else None

    def answer_every_column(self, question: str, session_id: str, collection: str | None = None) -> str:
        """Ask every pipeline of the arena (the optional third column included) in a new session of the given
        id, retrieving from ``collection`` (None: the default), to the end; the stored exchange's id (what a
        batch evaluation run scores)."""
        retrieval = None if collection is None else replace(self.retrieval_defaults, collection=collection)
        session = ArenaSession(session_id=session_id, columns=tuple(p.name for p in self.arena.pipelines),
                               retrieval=retrieval)
        return self.arena.answer_whole(question, session).exchange_id

    def batch_report(self, limit: int | None = None) -> tuple[str, Path]:
        """Every pipeline over the question set, scored; the summary (Markdown, ending with the verdict's
        recommendation) and the report as a zip (``verdict.html`` included; :meth:`verdict_page` returns it)."""
        from datetime import UTC, datetime

        from pipelines.evaluation.batch import run_batch, zip_report

        folder = self.settings.data_dir / "reports" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        chosen = self.chosen_question_set()
        report = run_batch(self, chosen.path, folder, limit, set_name=chosen.label, collection=chosen.collection,
                           corpus_dir=self.question_set_documents(chosen))
        if report.verdict is not None and report.verdict_page is not None:
            self.last_verdict = VerdictPage(report.verdict, report.verdict_page)
        return (report.folder / "summary.md").read_text(), zip_report(report.folder)

    def verdict_page(self, fresh: bool = False) -> VerdictPage:
        """The verdict for the Evaluation tab: the newest one this process wrote (a batch run's), unless
        ``fresh`` or there is none; then one built now from every stored answer to the question set (scored or
        voted; no generation), written to ``reports/verdict-TIME/verdict.html`` in the data dir. A question set
        that cannot be read raises :class:`~pipelines.common.questions.QuestionSetError` (a ValueError)."""
        from datetime import UTC, datetime

        from pipelines.evaluation.question_tags import typed_questions
        from pipelines.evaluation.verdict import build_verdict, measure_memory, write_verdict

        chosen = self.chosen_question_set()
        if not fresh and self.last_verdict is not None and self.last_verdict.verdict.set_name == chosen.label:
            return self.last_verdict
        verdict = build_verdict(self.feedback, typed_questions(chosen.path, self.settings.data_dir),
                                set_name=chosen.label, adapter_folder=self.adapter_folder(),
                                corpus_dir=self.question_set_documents(chosen), memory=measure_memory())
        folder = self.settings.data_dir / "reports" / f"verdict-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        self.last_verdict = VerdictPage(verdict, write_verdict(verdict, folder))
        return self.last_verdict

    def stored_slices(self, dimension: str) -> list[Slice]:
        """Every stored answer and vote to the question set, sliced by ``dimension`` (the Leaderboard tab's
        "where each approach wins"): the rows the verdict from the stored answers counts, with the same question
        set and the same documents changed after the adapter's data (their questions are ``updated``). A question
        set that cannot be read raises :class:`~pipelines.common.questions.QuestionSetError` (a ValueError)."""
        from pipelines.evaluation.question_tags import typed_questions
        from pipelines.evaluation.slices import rows_from_store, slice_by

        answers, votes = rows_from_store(
            self.feedback, typed_questions(self.chosen_question_set().path, self.settings.data_dir),
            updated_sources=_changed_since_adapter(self))
        return slice_by(answers, votes, dimension)

    def question_types(self) -> list[TypeRow]:
        """The Evaluation tab's "Question types" table: every question of the set with the type the verdict and the
        slices use and where it came from (the set, the rules and why, or the user's edit in the data dir). A
        question set that cannot be read raises :class:`~pipelines.common.questions.QuestionSetError` (a
        ValueError)."""
        from pipelines.evaluation.question_tags import question_type_table

        return question_type_table(self.chosen_question_set().path, self.settings.data_dir,
                                   updated_sources=_changed_since_adapter(self))

    def save_question_types(self, rows: Sequence[Sequence[object]]) -> int:
        """Store the table's edited types (only those that differ from the set's or the rules'; setting one back
        drops its edit) in ``question-types.json`` in the data dir; how many of the set's questions now have an
        edited type. A bad row raises :class:`~pipelines.evaluation.question_tags.QuestionTypeError` (a ValueError)
        naming it, and nothing is stored."""
        from pipelines.evaluation.question_tags import save_question_types

        return save_question_types(self.chosen_question_set().path, self.settings.data_dir, rows,
                                   updated_sources=_changed_since_adapter(self))

    @property
    def question_sets(self) -> SavedQuestionSets:
        """The question sets saved per collection in the data dir, and which one the evaluation uses."""
        return SavedQuestionSets(self.settings.data_dir, startup_file=self.settings.questions_file)

    def chosen_question_set(self) -> ChosenSet:
        """The set the batch run, the verdict, the slices, the type table and "next question" use."""
        return self.question_sets.chosen()

    def question_set_documents(self, chosen: ChosenSet) -> Path:
        """The documents a set asks about: its collection's kept originals, else the sample corpus."""
        if chosen.collection is not None and self.knowledge is not None:
            return self.knowledge.originals_dir(chosen.collection)
        return self.settings.corpus_dir

    def chosen_questions(self) -> list[str]:
        """The chosen set's questions (the Arena's "next question" button); none when it cannot be read."""
        from pipelines.common.questions import load_question_set

        try:
            return load_question_set(self.chosen_question_set().path)
        except (QuestionSetError, OSError):
            return []

    @cached_property
    def question_service(self) -> CollectionQuestions:
        """The Questions tab's, the API's and the MCP tools' way to a collection's question set."""
        def retriever_for(collection: str):
            if self.knowledge is None or self.rag_problem:
                return None
            retriever = self.knowledge.retriever(replace(self.retrieval_defaults, collection=collection))
            return lambda query: [hit.text for hit in retriever.run(query, 3)]

        # The model generator (ragas on the judge endpoint) is offered only where an endpoint is configured.
        endpoint = self.settings.judge == "endpoint" and bool(self.settings.llm_base_url)
        return CollectionQuestions(self.knowledge, self.question_sets,
                                   training_questions=lambda docs: training_questions(docs, self.settings),
                                   retriever_for=retriever_for, on_chosen=self._use_references_of,
                                   model=endpoint_model_generator(self.settings, lambda: self.embedder)
                                   if endpoint else None, default_generator=self.settings.question_generator)

    def _use_references_of(self, chosen: ChosenSet) -> None:
        """A chosen set's reference answers join the scorer's, so votes on its questions are scored by key."""
        if self.references is None:
            return
        try:
            added = ReferenceSet.load(chosen.path, self.question_set_documents(chosen),
                                      make_chunker(self.embedder, self.settings) if self.embedder else None)
        except QuestionSetError as exc:
            log.warning("the chosen question set's references are not used: %s", exc)
            return
        self.references.references.update(added.references)

    def adapter_folder(self) -> Path | None:
        """The fine-tuned column's adapter folder here (its metadata gives the verdict training time, size and
        the documents it was trained on): the loaded one, else the configured one; None when a remote server
        serves a named adapter of its own, or no folder exists."""
        loaded = getattr(self.backend, "adapter_paths", {}).get(FINETUNED_ADAPTER)
        if loaded is not None:
            return Path(loaded)
        if self.settings.generation_base_url and self.settings.generation_adapter_model:  # a name on the server
            return None
        folder = Path(self.settings.adapter_path)
        return folder if folder.is_dir() else None

    def judge_status(self) -> str:
        """One sentence for the Evaluation tab and reports: which judge scores, or which metrics are skipped."""
        return judge_status(self.settings, self.backend)

    def health(self) -> dict[str, str]:
        weaviate = "down"
        if self.server is not None and self.server.process is not None:
            # Managed: its readiness includes the schema; not ready means the supervisor is restarting it.
            weaviate = "ok" if self.server.is_ready() else "starting"
        elif self.client is not None:
            try:
                weaviate = "ok" if self.client.is_ready() else "down"
            except Exception:
                weaviate = "down"
        if weaviate == "ok" and self.client is not None and not _grpc_answers(self.client):
            # Every query, insert and aggregate goes over gRPC: HTTP readiness alone said ok while all of them failed.
            weaviate = (f"down: gRPC on port {self.settings.weaviate_grpc_port} does not answer "
                        "(ARENA_WEAVIATE_GRPC_PORT)")
        try:
            self.feedback.ping()
            store = "ok"
        except Exception as exc:  # the health check reports, it never raises
            store = f"down: {type(exc).__name__}"
        model = "ok" if self.backend else "not loaded"
        if self.backend is not None and not self.backend.is_live():
            model = f"down: {self.backend.location} does not answer"
        batcher = getattr(self.backend, "batcher", None)
        return {
            "model": model,
            "engine": engine_name(self.backend),
            "batching": f"on: up to {batcher.max_rows} rows, largest batch so far {batcher.largest_batch}, "
            f"{batcher.shared_steps} steps shared by several questions"
            if batcher is not None else "off: one question at a time",
            "weaviate": weaviate,
            "feedback_store": store,
            "feedback_db": self.feedback.engine.url.render_as_string(hide_password=True),
            "persistence": self.persistence().summary(),
        }

    def persistence(self) -> PersistenceReport:
        """Whether votes, documents and adapters survive a restart, and where they live."""
        return _persistence(self.settings, self.storage or check_storage(self.settings), self.snapshot)

    def close(self) -> None:
        """Graceful shutdown: scoring drains briefly, training is cancelled, the store and Weaviate stop."""
        self.scoring.stop(wait_s=10.0)
        if self.snapshot is not None:  # the votes since the last snapshot, while the store is still open
            self.snapshot.close()
        self.feedback.close()
        if (close_backend := getattr(self.backend, "close", None)) is not None:  # the in-process engines
            close_backend()
        if self.training is not None:
            self.training.cancel()
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()


def _remote_backend(settings: Settings) -> tuple[OpenAICompatibleBackend, list[str]]:
    """The columns generate on an OpenAI-compatible server; the adapter is the model name it is served under
    (ARENA_GENERATION_ADAPTER_MODEL), else the ARENA_ADAPTER_PATH folder, loaded into the server now. What failed
    is said; the base model's columns answer anyway."""
    key = settings.generation_api_key.get_secret_value() if settings.generation_api_key else None
    backend = OpenAICompatibleBackend(settings.generation_base_url or "", settings.generation_model or
                                      settings.model_id, key, concurrency=settings.generation_concurrency,
                                      max_lora_rank=settings.generation_max_lora_rank)
    try:
        backend.load_adapter(settings.generation_adapter_model or Path(settings.adapter_path))
    except ValueError as exc:
        unset = "" if settings.generation_adapter_model else "ARENA_GENERATION_ADAPTER_MODEL is not set, and "
        return backend, [f"Fine-tuned column unavailable: {unset}{exc}"]
    return backend, []


def _grpc_answers(client) -> bool:
    """Whether Weaviate answers over gRPC: weaviate-client's ``is_live`` pings HTTP and then the gRPC health service
    (a real round trip, 2 s at most); never raises."""
    try:
        return bool(client.is_live())
    except Exception:
        return False


def check_storage(settings: Settings) -> FolderCheck:
    """The data folder, checked (and created): a folder where SQLite in WAL mode or Weaviate's files would
    corrupt (no file locking, append-only writes: an hf-mount bucket) raises :class:`StorageError` saying what to
    do, unless the feedback store and Weaviate are both external and only plain files land there."""
    storage = check_folder(settings.data_dir, container=in_space())
    if not storage.safe and not (settings.database_url and settings.weaviate_url):
        raise StorageError(unsafe_folder_message(storage))
    return storage


def _restore_snapshot(settings: Settings) -> str:
    """Put the Hub snapshot's feedback database in place before the store opens (SQLite with ARENA_SNAPSHOT_REPO);
    the problem, if the restore failed (snapshots then stay off, so an empty database never replaces it)."""
    if not settings.snapshot_repo or settings.database_url:
        return ""
    try:
        restore_snapshot(settings.snapshot_repo, settings.feedback_db)
        return ""
    except SnapshotError as exc:
        return f"Votes are not snapshotted this run: {exc}"


def _start_snapshot(settings: Settings, feedback: FeedbackStore) -> tuple[FeedbackSnapshot | None, str]:
    """Snapshots of the votes to the Hub dataset (SQLite with ARENA_SNAPSHOT_REPO), or why they are off."""
    if not settings.snapshot_repo or settings.database_url:
        return None, ""
    try:
        return FeedbackSnapshot(feedback, settings.feedback_db, settings.snapshot_repo,
                                every_min=settings.snapshot_every_min), ""
    except Exception as exc:  # no token, no network, no such namespace: the app runs, and says so
        log.exception("feedback snapshots could not start")
        return None, f"Votes are not snapshotted to {settings.snapshot_repo}: {exc}"


def _persistence(settings: Settings, storage: FolderCheck, snapshot: FeedbackSnapshot | None) -> PersistenceReport:
    every = f"{settings.snapshot_every_min:g} min"
    return persistence_report(storage, database_url=settings.database_url, weaviate_url=settings.weaviate_url,
                              snapshot=f"Hub dataset {snapshot.repo_id} every {every}" if snapshot else None)


def _endpoint_chat_model(settings: Settings, timeout_s: float) -> OpenAICompatibleChatModel:
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return OpenAICompatibleChatModel(settings.llm_base_url or "", settings.llm_model, key, timeout_s=timeout_s)


def _judge_factory(settings: Settings, backend: GenerationBackend | None):
    """What builds the LLM judge for the scorer, or None: offline metrics only."""
    if settings.judge == "endpoint":
        chat: ChatModel = _endpoint_chat_model(settings, timeout_s=settings.judge_timeout_s)
    elif settings.judge == "local" and backend is not None:
        chat = LocalChatModel(backend)
    else:
        return None
    return lambda embeddings: LLMJudge(chat, embeddings, settings.judge_max_tokens, settings.judge_timeout_s)


def judge_status(settings: Settings, backend: GenerationBackend | None) -> str:
    skipped = ", ".join(JUDGED_METRICS)
    if settings.judge == "endpoint":
        return f"Judge: **{settings.llm_model or 'default model'}** at `{settings.llm_base_url}` scores {skipped}."
    if settings.judge == "local" and backend is not None:
        return (f"Judge: the arena's own base model (**{backend.model_id}**, in-process; small models often write "
                f"unparsable verdicts, recorded as failures) scores {skipped}.")
    why = "the model is not loaded" if settings.judge == "local" else "no judge is configured"
    return (f"LLM-judged metrics skipped ({skipped}): {why}. Set `ARENA_JUDGE=endpoint` with "
            "`ARENA_LLM_BASE_URL`/`ARENA_LLM_MODEL` (any OpenAI-compatible server), or `ARENA_JUDGE=local`.")


def training_questions(docs_dir: Path, settings: Settings) -> list[str]:
    """The questions an adapter trained on these documents saw (the fairness rule keeps generated questions away
    from their wording): the training command's closed-book template questions for the documents (the reading
    recipe asks the same questions) and the start-up set's train split, as ``python -m pipelines.training``
    builds them. An adapter trained on an uploaded pair file saw other questions: not known here."""
    from pipelines.training.examples import build_examples

    return [example.question for example in build_examples(docs_dir, settings.questions_file, recipe="closed-book")]


def _changed_since_adapter(runtime: Runtime) -> frozenset[str]:
    """The documents added or changed since the active adapter's training data: their questions are ``updated``
    in the slices and the question-type table, as the verdict tags them."""
    from pipelines.evaluation.verdict import changed_documents

    return changed_documents(runtime.settings.corpus_dir, runtime.adapter_folder())


def reader_options(settings: Settings) -> ReaderOptions:
    return ReaderOptions(form=settings.reader_prompt, passages=settings.reader_passages, trim=settings.reader_trim,
                         pick=settings.reader_pick, copy=settings.reader_copy,
                         abstain=settings.reader_abstain)


def choose_engine(settings: Settings) -> Literal["transformers", "llama.cpp"]:
    """What runs the in-process model. ``auto`` picks llama.cpp where it is the faster correct path: the offline
    GGUF model (llama.cpp reads its file), on a CPU (a GPU runs transformers in 4-bit faster), with
    llama-cpp-python and its adapter converter installed (``scripts/setup.sh`` does both)."""
    if settings.engine != "auto":
        return settings.engine
    if (settings.model_id == OFFLINE_MODEL and llama_cpp_installed() and converter_script(settings.cache_dir)
            and not torch.cuda.is_available() and not in_space()):
        return "llama.cpp"
    return "transformers"


def engine_name(backend: GenerationBackend | None) -> str:
    """What generates the answers, as ``/healthz`` reports it: ``llama.cpp`` or ``transformers`` in-process, or
    ``openai-compatible`` for a remote server (``none``: no model loaded)."""
    if backend is None:
        return "none"
    if isinstance(backend, LlamaCppBackend):
        return "llama.cpp"
    return "transformers" if isinstance(backend, ModelBackend) else "openai-compatible"


def batches_across_sessions(settings: Settings) -> bool:
    """Whether the in-process model decodes all sessions' questions together: as set, except on ZeroGPU, where a
    GPU exists only inside the decorated call and never in the batcher's background thread."""
    return settings.batch_sessions and not on_zero_gpu()


def answer_rules(settings: Settings) -> AnswerRules:
    return AnswerRules(max_sentences=settings.answer_sentences, no_repeat_ngram=settings.no_repeat_ngram)


def retrieval_defaults(settings: Settings) -> RetrievalOptions:
    """What a new arena session retrieves with until the user changes the retrieval settings."""
    return RetrievalOptions(top_k=settings.top_k, alpha=settings.hybrid_alpha)


def _load_generation(settings: Settings) -> tuple[GenerationBackend | None, str, list[str]]:
    """The generation backend with the fine-tuned adapter loaded; what failed is said (the model's own failure
    apart, for the columns), and the app starts anyway."""
    if settings.generation_base_url:
        backend, problems = _remote_backend(settings)
        return backend, "", problems
    problems: list[str] = []
    engine = choose_engine(settings)
    try:
        backend = LlamaCppBackend.load(settings) if engine == "llama.cpp" else ModelBackend.load(settings)
    except (ModelLoadError, OSError, ValueError) as exc:
        return None, str(exc), [f"The model could not be loaded: {exc}"]
    if batches_across_sessions(settings):
        backend.batch_across_sessions(settings.batch_rows)
    try:
        backend.load_adapter(Path(settings.adapter_path))
    except ModelLoadError as exc:
        problems.append(f"Fine-tuned column unavailable: {exc}")
    return backend, "", problems


def _launch_weaviate(settings: Settings) -> tuple[WeaviateServer | None, str]:
    """The managed Weaviate's process, started and not yet ready (none for a remote server), or why it could not
    start: a failure here leaves the fine-tuned column working."""
    if settings.weaviate_url:
        return None, ""
    try:
        binary = settings.resolved_weaviate_binary
        if not binary.exists() and settings.fetch_weaviate:
            download_weaviate(binary, WEAVIATE_VERSION, settings.weaviate_release_url)
        return WeaviateServer(binary, settings.weaviate_data_dir, http_port=settings.weaviate_http_port,
                              grpc_port=settings.weaviate_grpc_port).launch(), ""
    except Exception as exc:
        log.exception("knowledge store start-up failed")
        return None, str(exc)


def _ready_or_relaunched(server: WeaviateServer) -> WeaviateServer:
    """The launched server once ready; if it exited while booting (it boots beside the model loading, and a
    loaded machine has made a server exit while starting), it is started once more before RAG gives up."""
    try:
        return server.wait_until_ready()
    except WeaviateStartError as first:
        if server.process is None:  # not an exit: it did not become ready in time, and was stopped
            raise
        log.warning("weaviate-server exited while starting (%s); starting it once more", first)
        return server.start()


def _open_knowledge_base(settings: Settings, embedder: Embedder, launched: WeaviateServer | None,
                         launch_problem: str):
    """Managed (once ready, then supervised) or remote Weaviate, with the sample corpus ingested into an empty
    default collection: (server, client, knowledge base, problem)."""
    if launch_problem:
        return None, None, None, launch_problem
    server = client = None
    try:
        if launched is not None:
            server = _ready_or_relaunched(launched).supervise()
        client = connect(settings)
        knowledge = KnowledgeBase(client, embedder, settings)
        if knowledge.store().count() == 0 and settings.corpus_dir.is_dir():
            report = knowledge.ingest_files(None, folder_files(settings.corpus_dir))
            log.info("Ingested %d chunks from %d files", report.chunks, len(report.files))
        return server, client, knowledge, ""
    except Exception as exc:  # any failure here leaves the fine-tuned column working
        log.exception("knowledge store start-up failed")
        if client is not None:
            client.close()
        return server, None, None, str(exc)
