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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from pipelines.arena.arena import Arena, ArenaSession
from pipelines.arena.finetuned import BasePipeline, FinetunedPipeline
from pipelines.arena.rag import RagPipeline
from pipelines.arena.rag_finetuned import RagFinetunedPipeline
from pipelines.common.auth import AdminAuth
from pipelines.common.questions import QuestionSetError
from pipelines.common.settings import OFFLINE_MODEL, Settings
from pipelines.common.spaces import download_weaviate, in_space, on_zero_gpu
from pipelines.evaluation.judges import JUDGED_METRICS, LLMJudge
from pipelines.evaluation.question_tags import TypeRow
from pipelines.evaluation.scorer import RagasScorer, ReferenceSet, ScoringWorker
from pipelines.evaluation.slices import Slice
from pipelines.evaluation.verdict import VerdictPage
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

    @property
    def retrieval_defaults(self) -> RetrievalOptions:
        return retrieval_defaults(self.settings)

    @property
    def auth(self) -> AdminAuth:
        secret = self.settings.admin_password
        return AdminAuth(secret.get_secret_value() if secret else None)

    @classmethod
    def start(cls, settings: Settings) -> Runtime:
        problems: list[str] = []
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        feedback = FeedbackStore.open(settings.feedback_target)
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
            for problem in problems:
                log.warning(problem)
            return cls(settings, feedback, arena, scoring, backend, knowledge, server, client, problems, references,
                       embedder, rag_problem, TrainingJobs(settings), judge_factory)
        except BaseException:  # a start that fails half-way leaves no Weaviate running and no client open behind it
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

    def improve_adapter_from_votes(self) -> str:
        """Run the experimental DPO step on the active adapter and say what came out."""
        from pipelines.training.dpo import improve_active_adapter

        if self.backend is None:
            raise ValueError("The model is not loaded.")
        self._require_in_process("DPO from votes")
        new_id, report = improve_active_adapter(self.backend, self.feedback, self.settings)
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
            self.scoring.submit(exchange_id)
        return len(exchange_ids)

    def pair_writer(self) -> ChatModel | None:
        """The language model that writes training pairs: the configured endpoint, else the base model."""
        if self.settings.llm_base_url:
            return _endpoint_chat_model(self.settings, timeout_s=60.0)
        return LocalChatModel(self.backend) if self.backend else None

    def answer_every_column(self, question: str, session_id: str) -> str:
        """Ask every pipeline of the arena (the optional third column included) in a new session of the given
        id, to the end; the stored exchange's id (what a batch evaluation run scores)."""
        session = ArenaSession(session_id=session_id, columns=tuple(p.name for p in self.arena.pipelines))
        return self.arena.answer_whole(question, session).exchange_id

    def batch_report(self, limit: int | None = None) -> tuple[str, Path]:
        """Every pipeline over the question set, scored; the summary (Markdown, ending with the verdict's
        recommendation) and the report as a zip (``verdict.html`` included; :meth:`verdict_page` returns it)."""
        from datetime import UTC, datetime

        from pipelines.evaluation.batch import run_batch, zip_report

        folder = self.settings.data_dir / "reports" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        report = run_batch(self, self.settings.questions_file, folder, limit)
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

        if not fresh and self.last_verdict is not None:
            return self.last_verdict
        verdict = build_verdict(self.feedback, typed_questions(self.settings.questions_file, self.settings.data_dir),
                                set_name=self.settings.questions_file.name, adapter_folder=self.adapter_folder(),
                                corpus_dir=self.settings.corpus_dir, memory=measure_memory())
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
            self.feedback, typed_questions(self.settings.questions_file, self.settings.data_dir),
            updated_sources=_changed_since_adapter(self))
        return slice_by(answers, votes, dimension)

    def question_types(self) -> list[TypeRow]:
        """The Evaluation tab's "Question types" table: every question of the set with the type the verdict and the
        slices use and where it came from (the set, the rules and why, or the user's edit in the data dir). A
        question set that cannot be read raises :class:`~pipelines.common.questions.QuestionSetError` (a
        ValueError)."""
        from pipelines.evaluation.question_tags import question_type_table

        return question_type_table(self.settings.questions_file, self.settings.data_dir,
                                   updated_sources=_changed_since_adapter(self))

    def save_question_types(self, rows: Sequence[Sequence[object]]) -> int:
        """Store the table's edited types (only those that differ from the set's or the rules'; setting one back
        drops its edit) in ``question-types.json`` in the data dir; how many of the set's questions now have an
        edited type. A bad row raises :class:`~pipelines.evaluation.question_tags.QuestionTypeError` (a ValueError)
        naming it, and nothing is stored."""
        from pipelines.evaluation.question_tags import save_question_types

        return save_question_types(self.settings.questions_file, self.settings.data_dir, rows,
                                   updated_sources=_changed_since_adapter(self))

    def adapter_folder(self) -> Path | None:
        """The fine-tuned column's adapter folder here (its metadata gives the verdict training time, size and
        the documents it was trained on): the loaded one, else the configured one; None when a remote server
        serves a named adapter of its own, or no folder exists."""
        loaded = getattr(self.backend, "adapter_paths", {}).get(FINETUNED_ADAPTER)
        if loaded is not None:
            return Path(loaded)
        remote = self.backend is not None and not self.backend.loads_adapter_folders
        if remote and self.settings.generation_adapter_model:
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
            "batching": f"on: up to {batcher.max_rows} rows, largest batch so far {batcher.largest_batch}"
            if batcher is not None else "off: one question at a time",
            "weaviate": weaviate,
            "feedback_store": store,
            "feedback_db": self.feedback.engine.url.render_as_string(hide_password=True),
        }

    def close(self) -> None:
        """Graceful shutdown: scoring drains briefly, training is cancelled, the store and Weaviate stop."""
        self.scoring.stop(wait_s=10.0)
        self.feedback.close()
        if (close_backend := getattr(self.backend, "close", None)) is not None:  # the in-process engines
            close_backend()
        if self.training is not None:
            self.training.cancel()
        if self.client is not None:
            self.client.close()
        if self.server is not None:
            self.server.stop()


def _remote_backend(settings: Settings) -> OpenAICompatibleBackend:
    """The columns generate on an OpenAI-compatible server; the adapter is a model name there."""
    key = settings.generation_api_key.get_secret_value() if settings.generation_api_key else None
    backend = OpenAICompatibleBackend(settings.generation_base_url or "", settings.generation_model or
                                      settings.model_id, key)
    backend.load_adapter(settings.generation_adapter_model or str(settings.adapter_path))
    return backend


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
        return _remote_backend(settings), "", []
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
