"""One typed settings object, read from ``ARENA_*`` environment variables.

Example::

    ARENA_MODEL_ID=Qwen/Qwen2.5-0.5B-Instruct ARENA_TOP_K=5 python app.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.common.spaces import WEAVIATE_RELEASE_URL, in_space, listen_host, persistent_data_dir

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # pipelines/common/settings.py -> the repository
OFFLINE_MODEL = "offline:smollm2-135m-instruct"
REMOTE_GRPC_PORT = 50051  # Weaviate's own default gRPC port
MANAGED_GRPC_PORT = 50061  # the managed local server's


def _default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rag-ft-arena"


class Settings(BaseSettings):
    """Everything configurable, with defaults that run offline on a laptop."""

    model_config = SettingsConfigDict(env_prefix="ARENA_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Model
    model_id: str = Field(
        OFFLINE_MODEL,
        description="Hugging Face model id or local folder; the default is the offline SmolLM2-135M GGUF.",
    )
    quantization: Literal["4bit", "none"] = Field(
        "4bit", description="4bit: NF4 through bitsandbytes, falling back to full precision (logged)."
    )
    engine: Literal["auto", "transformers", "llama.cpp"] = Field(
        "auto", description="What runs the in-process model: llama.cpp (the offline GGUF's weights, see "
        "ARENA_LLAMA_CPP_WEIGHTS; adapters converted to GGUF LoRA), transformers (any Hugging Face model, 4-bit "
        "NF4), or auto: llama.cpp for the offline model on a CPU where llama-cpp-python and its converter are "
        "installed, else transformers.")
    llama_cpp_weights: Literal["q8_0", "f16", "q4_1"] = Field(
        "q8_0", description="How the llama.cpp engine holds the offline model: q8_0 (the shipped Q4_1 weights "
        "re-quantised to 8 bits once, a rounding far below 4-bit's step: fastest here), f16 (exactly the shipped "
        "weights, twice the memory), or q4_1 (the file as it ships: slow prefill on these CPUs).")
    adapter_path: Path = PROJECT_ROOT / "assets" / "adapters" / "lumenhollow-qlora"
    generation_base_url: str | None = Field(
        None, description="Generate on an OpenAI-compatible server (vLLM with --enable-lora) instead of in-process."
    )
    generation_model: str = Field("", description="The base model's name at that server (default: ARENA_MODEL_ID).")
    generation_adapter_model: str = Field(
        "", description="The fine-tuned column's model name at that server (a vLLM --lora-modules name); "
        "default: ARENA_ADAPTER_PATH."
    )
    generation_api_key: SecretStr | None = None
    generation_concurrency: int | None = Field(
        None, ge=1, le=4096, description="Questions each replica lets in at once on that server (the server batches "
        "them: vLLM continuous batching); unset: half the server's own limit where it says one (TGI /info "
        "max_concurrent_requests, llama.cpp /props total_slots; two columns a question), else 32.")
    generation_max_lora_rank: int = Field(
        16, ge=1, le=4096, description="The server's largest LoRA rank (vLLM --max-lora-rank, 16 by default): an "
        "adapter of a higher rank is refused with a message before it is sent.")
    max_new_tokens: int = Field(96, ge=1, le=4096)
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 means greedy decoding.")
    max_prompt_chars: int = Field(4000, ge=1)
    batch_sessions: bool = Field(True, description="Decode the questions of all sessions together (continuous "
                                 "batching in the in-process model); off: one question's columns at a time.")
    batch_rows: int = Field(16, ge=1, le=512, description="Most rows (columns of all sessions' questions) one "
                            "decode step runs; later questions wait for rows to end.")
    history_turns: int = Field(2, ge=0, description="Earlier turns each column sees.")
    # The reader and the answer rules: chosen by key-fact accuracy on the dev set (bench/answer_quality.py).
    reader_prompt: Literal["context-qa", "instruct"] = Field(
        "context-qa", description="RAG prompt form: Context/Question/Answer, or numbered passages + instruction.")
    reader_passages: int = Field(1, ge=1, le=50, description="Retrieved passages put in the RAG prompt.")
    reader_pick: Literal["rank", "overlap"] = Field(
        "rank", description="Which retrieved passages the RAG prompt holds: the top ones by rank, or those sharing "
        "the most words with the question.")
    reader_trim: int = Field(0, ge=0, description="Keep only sentences sharing a word with the question, "
                             "plus this many neighbours (0: whole passages).")
    reader_copy: Literal["off", "words", "spans"] = Field(
        "spans", description="The RAG answer may use only words of its passages and question (words), and copies "
        "numbers and names whole (spans); local backend only.")
    reader_abstain: Literal["off", "user", "system"] = Field(
        "off", description='Tell the RAG reader (and RAG + fine-tuned, which reads the same prompt) it may answer '
        '"The documents do not say." when its context does not hold the answer: after the question (user) or in '
        "the system prompt (system).")
    answer_sentences: int = Field(1, ge=0, le=50, description="An answer ends after this many sentences "
                                  "(0: at max tokens or the end-of-text token).")
    no_repeat_ngram: int = Field(4, ge=0, le=20, description="Block a token that repeats an n-gram of the "
                                 "answer so far (0: off).")

    # Storage
    data_dir: Path = Field(
        default_factory=lambda: persistent_data_dir(PROJECT_ROOT / "data"),
        description="Feedback DB, adapters, Weaviate data; default data/, or /data/arena in a Space with a volume "
        "at /data that has file locking (never a Storage Bucket: the app refuses a folder without locking).",
    )
    cache_dir: Path = Field(default_factory=_default_cache_dir)

    # Weaviate
    weaviate_url: str | None = Field(None, description="Remote Weaviate; unset means a managed local server.")
    weaviate_api_key: str | None = None
    weaviate_binary: Path | None = Field(None, description="weaviate-server binary; default: the setup cache.")
    weaviate_download: bool | None = Field(
        None, description="Download the release weaviate-server when the binary is missing; unset: only in a "
        "Space (elsewhere scripts/setup.sh provides it)."
    )
    weaviate_release_url: str = Field(WEAVIATE_RELEASE_URL, description="{version} and {arch} are filled in.")
    weaviate_http_port: int = Field(8079, ge=1, le=65535)
    weaviate_grpc_port: int = Field(REMOTE_GRPC_PORT, ge=1, le=65535, description="gRPC port: Weaviate's "
                                    "default (50051) for a remote server, 50061 for the managed local one.")
    weaviate_grpc_host: str | None = Field(None, description="Remote gRPC host when it differs from the URL's host.")
    collection: str = "LumenhollowDocs"
    corpus_dir: Path = PROJECT_ROOT / "assets" / "corpus"
    embedding_model: str = Field("offline:all-minilm-l6-v2", description="sentence-transformers name or folder.")
    chunk_tokens: int = Field(160, ge=8, description="Chunk size in the embedding model's tokens.")
    chunk_overlap_tokens: int = Field(32, ge=0)
    top_k: int = Field(3, ge=1, le=50)
    hybrid_alpha: float = Field(0.5, ge=0.0, le=1.0, description="0 = pure BM25, 1 = pure vector.")
    reranker_model: str | None = Field(
        None, description="A sentence-transformers cross-encoder (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2); "
        "unset: no rerank step (no cross-encoder ships offline)."
    )
    rerank_candidates: int = Field(20, ge=1, le=200, description="Hybrid hits the reranker re-orders.")
    max_upload_mb: float = Field(50, gt=0, allow_inf_nan=False, description="Largest single file accepted for "
                                 "ingestion.")
    max_zip_total_mb: float = Field(200, gt=0, allow_inf_nan=False, description="Largest total uncompressed size "
                                    "of an uploaded zip.")

    # Feedback
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the feedback store, e.g. postgresql://user:pass@host/db for "
        "several replicas; unset: SQLite in the data dir."
    )
    votes_per_minute: int = Field(
        30, ge=1, description="Votes a rater (signed-in user, else session) may cast per minute, counted in the store."
    )
    hf_login: bool | None = Field(
        None, description="Show 'Sign in with Hugging Face' and store the user name; unset: on in a Space with "
        "hf_oauth (off a Space, Gradio signs you in as the owner of the local HF token)."
    )
    admin_password: SecretStr | None = Field(None, description="If set, admin actions (uploads, training, export, "
                                             "batch runs) need it; on a public address they are refused until it "
                                             "is set or the Space owner signs in.")
    snapshot_repo: str | None = Field(None, description="A Hub dataset repository (private, created if missing) "
                                      "the feedback database and the exported preference data are snapshotted to "
                                      "and restored from at start: votes survive a Space restart with no external "
                                      "database. Needs HF_TOKEN with write access.")
    snapshot_every_min: float = Field(5.0, gt=0, allow_inf_nan=False, description="Minutes between snapshots.")
    dpo_steps: int = Field(8, ge=1, le=10_000, description="Steps of the DPO run the Leaderboard tab's button "
                           "starts on the votes (each a batch of two pairs; about 5 s a step on 2 CPU cores).")

    # A helper language model (writes training pairs, judges answers): an OpenAI-compatible server
    llm_base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint (vLLM, TGI, Ollama, llama.cpp server, a hosted API); "
        "unset: the arena's own base model."
    )
    llm_model: str = Field("", description="Model name at that endpoint.")
    llm_api_key: SecretStr | None = None

    # Evaluation
    judge: Literal["none", "local", "endpoint"] = Field(
        "none", description="Judge of the LLM-judged ragas metrics: none = offline metrics only; local = the "
        "arena's base model in-process (slow, shares the model with the arena); endpoint = the OpenAI-compatible "
        "server of ARENA_LLM_BASE_URL / ARENA_LLM_MODEL / ARENA_LLM_API_KEY."
    )
    judge_max_tokens: int = Field(512, ge=16, le=8192, description="Longest reply of one judge call.")
    judge_timeout_s: float = Field(180.0, gt=0, description="Longest wait for one metric of one answer.")
    questions_file: Path = PROJECT_ROOT / "assets" / "questions.jsonl"
    question_generator: Literal["rules", "model"] = Field(
        "rules", description="The Questions tab's generator at start: rules = offline, no model (one question per "
        "checkable fact); model = ragas' testset generator on the judge endpoint (needs ARENA_JUDGE=endpoint). The "
        "tab offers the model generator whenever a judge endpoint is configured."
    )

    # Server
    host: str | None = Field(None, description="Address to listen on; unset: GRADIO_SERVER_NAME when the platform "
                             "sets it (0.0.0.0 in a Space), else 127.0.0.1. On a non-loopback address admin actions "
                             "need ARENA_ADMIN_PASSWORD (or the Space owner signed in).")
    port: int = Field(7860, ge=1, le=65535)
    queue_concurrency: int = Field(8, ge=1, description="Requests handled at once by default (votes, "
                                   "ratings, pages); questions: ARENA_BATCH_ROWS when batching, else one at a time.")
    queue_max_size: int | None = Field(None, ge=1, description="Requests allowed to wait; beyond it users are "
                                       "told the arena is busy. Unset: no limit.")
    mcp_server: bool = Field(True, description="Serve the API endpoints as MCP tools at /gradio_api/mcp/.")
    analytics: bool = Field(False, description="Let Gradio send its usage telemetry (off: the app calls out to "
                            "nothing the user did not configure).")

    @field_validator("chunk_overlap_tokens")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:
        size = info.data.get("chunk_tokens", 160)
        if value >= size:
            raise ValueError(f"chunk_overlap_tokens ({value}) must be smaller than chunk_tokens ({size})")
        return value

    @model_validator(mode="after")
    def _managed_weaviate_grpc_port(self) -> Settings:
        """A remote Weaviate listens for gRPC on Weaviate's default port; the managed one on 50061 (away from a
        Weaviate the user may run on the default). A port given explicitly always wins."""
        if not self.weaviate_url and "weaviate_grpc_port" not in self.model_fields_set:
            self.weaviate_grpc_port = MANAGED_GRPC_PORT
        return self

    @model_validator(mode="after")
    def _endpoint_judge_needs_endpoint(self) -> Settings:
        if self.judge == "endpoint" and not self.llm_base_url:
            raise ValueError("ARENA_JUDGE=endpoint needs ARENA_LLM_BASE_URL (and ARENA_LLM_MODEL)")
        if self.question_generator == "model" and self.judge != "endpoint":
            raise ValueError("ARENA_QUESTION_GENERATOR=model needs a capable model behind an OpenAI-compatible "
                             "endpoint: ARENA_JUDGE=endpoint with ARENA_LLM_BASE_URL and ARENA_LLM_MODEL")
        return self

    @property
    def listen_host(self) -> str:
        """Where the app listens (see :func:`pipelines.common.spaces.listen_host`)."""
        return listen_host(self.host)

    @property
    def feedback_db(self) -> Path:
        return self.data_dir / "feedback.sqlite3"

    @property
    def sign_in_enabled(self) -> bool:
        """Hugging Face sign-in: as configured, else on inside a Space (where the Hub provides OAuth)."""
        if self.hf_login is not None:
            return self.hf_login
        return os.environ.get("SYSTEM") == "spaces" and bool(os.environ.get("OAUTH_CLIENT_ID"))

    @property
    def feedback_target(self) -> str | Path:
        """What the feedback store opens: the database URL, else the SQLite file."""
        return self.database_url or self.feedback_db

    @property
    def fetch_weaviate(self) -> bool:
        return in_space() if self.weaviate_download is None else self.weaviate_download

    @property
    def weaviate_data_dir(self) -> Path:
        return self.data_dir / "weaviate"

    @property
    def resolved_weaviate_binary(self) -> Path:
        return self.weaviate_binary or self.cache_dir / "bin" / "weaviate-server"


class SettingsError(ValueError):
    """A setting from the environment (or .env) is invalid; the message names each ARENA_* variable and why."""


def load_settings(**overrides) -> Settings:
    """The settings, or one :class:`SettingsError` naming every bad ``ARENA_*`` variable (for a start-up message
    instead of pydantic's traceback, which names the field, not the variable). Secrets are never echoed."""
    try:
        return Settings(**overrides)
    except UnicodeDecodeError as exc:
        raise SettingsError(f"the .env file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            variable = f"ARENA_{field.upper()}" if field else "ARENA_* settings"
            given = os.environ.get(variable)
            secret = any(word in field for word in ("password", "key", "secret", "token"))
            shown = f" (is {given!r:.80})" if given is not None and not secret else ""
            problems.append(f"{variable}{shown}: {error['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(problems)) from exc


def settings_or_exit(**overrides) -> Settings:
    """:func:`load_settings` for a command's start: a bad ``ARENA_*`` variable ends it with one line naming the
    variable (exit status 1), as the app's own start does, instead of pydantic's traceback."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise SystemExit(f"Cannot start: {exc}") from None
