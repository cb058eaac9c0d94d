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


def test_a_managed_weaviate_that_exits_at_start_is_tried_twice_then_disables_only_rag(tmp_path):
    """The managed server boots while the model loads; if it exits, it is started once more, then RAG says why
    and the fine-tuned column still answers (a script stands in for the binary: it notes each start, prints a
    line and exits 3)."""
    starts = tmp_path / "starts"
    binary = tmp_path / "weaviate-server"
    binary.write_text(f"#!/bin/sh\necho started >> {starts}\necho 'boom: no room for the data dir'\nexit 3\n")
    binary.chmod(0o755)
    http_port, grpc_port = free_ports(2)
    settings = Settings(data_dir=tmp_path / "data", weaviate_binary=binary, weaviate_http_port=http_port,
                        weaviate_grpc_port=grpc_port, max_new_tokens=4)
    runtime = Runtime.start(settings)
    try:
        (rag_problem,) = [p for p in runtime.problems if p.startswith("RAG is unavailable")]
        assert "exited with code 3" in rag_problem and "boom: no room for the data dir" in rag_problem
        assert starts.read_text().splitlines() == ["started", "started"]
        assert not any("model could not be loaded" in p for p in runtime.problems)
        assert runtime.health()["weaviate"] == "down" and runtime.health()["model"] == "ok"
        events = list(runtime.arena.ask("Who founded Lumenhollow?", ArenaSession()))
        errors = {name for name, e in events if isinstance(e, ErrorEvent)}
        assert errors == {"rag"}
    finally:
        runtime.close()
