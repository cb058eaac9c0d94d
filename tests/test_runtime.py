"""Start-up failures become clear messages, not stack traces, and disable only what depends on them."""

from pipelines.arena.arena import ArenaSession
from pipelines.common.events import ErrorEvent
from pipelines.common.settings import Settings
from pipelines.knowledge.weaviate_server import free_ports
from pipelines.runtime import Runtime


def test_missing_model_and_unreachable_weaviate_are_reported(tmp_path):
    (dead_port,) = free_ports(1)
    settings = Settings(data_dir=tmp_path, model_id=str(tmp_path / "no-such-model"),
                        weaviate_url=f"http://127.0.0.1:{dead_port}")
    runtime = Runtime.start(settings)
    try:
        assert any("model could not be loaded" in p for p in runtime.problems)
        assert any(p.startswith("RAG is unavailable") for p in runtime.problems)
        assert runtime.health()["weaviate"] == "down"
        events = list(runtime.arena.ask("Who founded Lumenhollow?", ArenaSession()))
        errors = {name: e for name, e in events if isinstance(e, ErrorEvent)}
        assert set(errors) == {"rag", "finetuned"}
        assert "no-such-model" in errors["rag"].message
    finally:
        runtime.close()
