"""RAG vs Fine-Tune Arena: Gradio entry point. ``python app.py`` starts it; Spaces import ``demo``."""

from __future__ import annotations

import logging
import signal
import sys
import warnings

import gradio as gr

from components.api import hide_ui_events, register_api
from components.arena import build_arena_tab
from components.evaluation import build_evaluation_tab
from components.finetune import build_finetune_tab
from components.knowledge import build_knowledge_tab
from components.leaderboard import build_leaderboard_tab
from components.questions import build_questions_tab
from components.rating_queue import build_rating_queue_tab
from components.rendering import CSS
from pipelines.common.persistence import StorageError
from pipelines.common.process_exit import exit_now
from pipelines.common.settings import Settings, SettingsError, load_settings
from pipelines.feedback.queues import RatingQueues
from pipelines.runtime import Runtime

log = logging.getLogger("arena")


def build_demo(runtime: Runtime) -> gr.Blocks:
    """The whole app: the public API endpoints first (they own their names), then the tabs."""
    questions = runtime.chosen_questions()
    queues = RatingQueues(runtime.feedback)  # one for the Rating queue tab and the queue endpoints
    with gr.Blocks(title="RAG vs Fine-Tune Arena", analytics_enabled=runtime.settings.analytics) as demo:
        register_api(runtime, questions, queues)
        gr.Markdown(
            "# RAG vs Fine-Tune Arena\n"
            "Ask about the documents: the same base model answers **with retrieval** (left) and **with a "
            "QLoRA adapter trained on the documents** (right). Vote for the better answer."
        )
        if runtime.problems:
            gr.Markdown("\n".join(f"> ⚠️ {p}" for p in runtime.problems), elem_id="startup-problems")
        with gr.Tabs():
            with gr.Tab("Arena", id="arena") as arena_tab:
                build_arena_tab(runtime.arena, runtime.describe_model(), questions, runtime.knowledge,
                                runtime.retrieval_defaults, sign_in=runtime.settings.sign_in_enabled,
                                chosen_questions=runtime.chosen_questions)
            with gr.Tab("Rating queue", id="rating-queue") as queue_tab:
                build_rating_queue_tab(queues, runtime.auth, sign_in=runtime.settings.sign_in_enabled)
            with gr.Tab("Knowledge", id="knowledge") as knowledge_tab:
                build_knowledge_tab(runtime.knowledge, runtime.auth, runtime.arena, runtime.rag_problem,
                                    runtime.retrieval_defaults)
            with gr.Tab("Fine-tune", id="finetune") as finetune_tab:
                build_finetune_tab(runtime.training, runtime.knowledge, runtime.auth, runtime.adapter_folders,
                                   runtime.activate_adapter if runtime.backend else None, runtime.active_adapter,
                                   runtime.settings.questions_file, runtime.pair_writer)
            with gr.Tab("Leaderboard", id="leaderboard") as leaderboard_tab:
                build_leaderboard_tab(runtime.feedback, runtime.auth, questions,
                                      runtime.improve_adapter_from_votes if runtime.backend else None,
                                      stored_slices=runtime.stored_slices)
            with gr.Tab("Questions", id="questions") as questions_tab:
                build_questions_tab(runtime.question_service if runtime.knowledge else None, runtime.auth)
            with gr.Tab("Evaluation", id="evaluation") as evaluation_tab:
                build_evaluation_tab(runtime.feedback, runtime.rescore, runtime.judge_status(),
                                     runtime.batch_report, runtime.auth, verdict_page=runtime.verdict_page,
                                     question_types=runtime.question_types,
                                     save_question_types=runtime.save_question_types)
        # Each tab shows fresh numbers when opened.
        leaderboard_tab.select(None, js="() => document.querySelector('#refresh-leaderboard')?.click()")
        evaluation_tab.select(None, js="() => document.querySelector('#refresh-scores')?.click()")
        arena_tab.select(None, js="() => document.querySelector('#refresh-retrieval')?.click()")
        queue_tab.select(None, js="() => document.querySelector('#rq-refresh')?.click()")
        knowledge_tab.select(None, js="() => document.querySelector('#kb-refresh')?.click()")
        finetune_tab.select(None, js="() => document.querySelector('#ft-refresh')?.click()")
        questions_tab.select(None, js="() => document.querySelector('#qs-refresh')?.click()")
        hide_ui_events(demo)  # the UI's handlers stay off the API page and the MCP tool list
    return demo


def add_health_route(demo: gr.Blocks, runtime: Runtime) -> None:
    """``GET /healthz``: 200 with each part's status when model, Weaviate and store are up, else 503.

    Inserted ahead of Gradio's own routes, for load balancers and Spaces' health checks.
    """
    from fastapi.responses import JSONResponse
    from fastapi.routing import APIRoute

    def healthz() -> JSONResponse:
        status = runtime.health()
        healthy = all(status[part] == "ok" for part in ("model", "weaviate", "feedback_store"))
        return JSONResponse(status, status_code=200 if healthy else 503)

    demo.app.router.routes.insert(0, APIRoute("/healthz", healthz, methods=["GET"]))


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:  # a bad ARENA_* variable: one line naming it, not pydantic's traceback
        sys.exit(f"Cannot start: {exc}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=ResourceWarning)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the shutdown below on `kill` too
    try:
        runtime = Runtime.start(settings)
    except StorageError as exc:  # a data folder where SQLite or Weaviate would corrupt: say what to do instead
        sys.exit(f"Cannot start: {exc}")
    try:
        demo = build_demo(runtime).queue(default_concurrency_limit=settings.queue_concurrency,
                                         max_size=settings.queue_max_size)
        calm_idle_queue(demo)
        host = launch(demo, settings)
        add_health_route(demo, runtime)
        log.info("serving on http://%s:%d (MCP server %s)", host, settings.port,
                 "on at /gradio_api/mcp/" if settings.mcp_server else "off")
        demo.block_thread()
    except SystemExit as stop:  # SIGTERM: a clean stop; any other exit status goes on up
        if stop.code not in (0, None):
            raise
    finally:
        log.info("shutting down: stopping the scoring worker, the store and the managed Weaviate")
        runtime.close()
        log.info("shutdown complete")
    exit_now(0)  # everything is closed: skip the 4 s of module teardown (pipelines/common/process_exit.py)


def launch(demo: gr.Blocks, settings: Settings) -> str:
    """Start serving (not blocking) where the app should listen: ARENA_HOST, else where the platform says
    (``GRADIO_SERVER_NAME``: ``0.0.0.0`` in a Space, so its proxy reaches the app), else loopback. An explicit
    ``server_name`` overrides Gradio's own reading of ``GRADIO_SERVER_NAME``, so the app resolves it itself.
    Returns the address."""
    host = settings.listen_host
    demo.launch(server_name=host, server_port=settings.port, css=CSS, show_error=True,
                mcp_server=settings.mcp_server, prevent_thread_lock=True)
    return host


def calm_idle_queue(demo: gr.Blocks, poll_s: float = 0.02, progress_poll_s: float = 0.05) -> None:
    """Poll Gradio's queue every 20 ms (progress every 50 ms) instead of every 1 ms (10 ms) when it is idle.

    Gradio's queue loops on ``asyncio.sleep`` while free; at its defaults an idle app here used 8% of a core
    (1.6 s of CPU in 20 s with no one asking). A new question now waits at most 20 ms more to start, against
    seconds of answer. Gradio keeps these on its private queue object: left as they are if that changes."""
    queue = getattr(demo, "_queue", None)
    if hasattr(queue, "sleep_when_free") and hasattr(queue, "progress_update_sleep_when_free"):
        queue.sleep_when_free = max(queue.sleep_when_free, poll_s)
        queue.progress_update_sleep_when_free = max(queue.progress_update_sleep_when_free, progress_poll_s)
    else:
        log.warning("Gradio's queue has no idle-poll settings here: it polls at its own pace")


def __getattr__(name: str) -> gr.Blocks:
    """``app.demo`` builds the app on first access (Spaces, ``gradio app.py``), not at import."""
    if name == "demo":
        demo = build_demo(Runtime.start(load_settings()))
        globals()["demo"] = demo
        return demo
    raise AttributeError(name)


if __name__ == "__main__":
    main()
