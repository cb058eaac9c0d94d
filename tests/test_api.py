"""The app as programs and agents use it: gradio_client on the named endpoints, the MCP server, the
health route and the per-exchange log line, all against ``python app.py`` (its 503 when Weaviate dies and its
graceful shutdown are in tests/test_reliability.py, on an app those tests may stop)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client

from tests.conftest import SHARED_APP_PASSWORD as ADMIN
from tests.conftest import running


@pytest.fixture(scope="module")
def api_app(shared_app):
    return running(shared_app)


def test_ask_and_vote_through_gradio_client(api_app):
    client = Client(api_app.url, verbose=False)
    result = client.predict(question="Who founded Lumenhollow Instruments?", top_k=2, api_name="/ask_both")
    assert set(result["answers"]) == {"rag", "finetuned"}
    for name, answer in result["answers"].items():
        assert answer["error"] is None and answer["answer"].strip(), name
    assert result["answers"]["finetuned"]["adapter"].startswith("lumenhollow-qlora")
    assert len(result["contexts"]) == 2 and all(c["source"] and c["text"] for c in result["contexts"])

    vote = client.predict(exchange_id=result["exchange_id"], choice="finetuned", api_name="/vote")
    with sqlite3.connect(api_app.data_dir / "feedback.sqlite3") as db:
        stored = db.execute("SELECT id, exchange_id, choice FROM votes WHERE exchange_id = ?",
                            (result["exchange_id"],)).fetchall()
    assert stored == [(vote["vote_id"], result["exchange_id"], "finetuned")]
    with pytest.raises(Exception, match="did not answer this question"):
        client.predict(exchange_id=result["exchange_id"], choice="rag_finetuned", api_name="/vote")
    with pytest.raises(Exception, match="No exchange"):
        client.predict(exchange_id="nope", choice="rag", api_name="/vote")
    with pytest.raises(Exception, match="Type a question first"):
        client.predict(question="   ", api_name="/ask_both")

    # One JSON log line per exchange, with ids and timings and no question text.
    lines = [json.loads(line.split("pipelines.arena.arena: ", 1)[1]) for line in api_app.log.read_text().splitlines()
             if '"event":"exchange"' in line]
    logged = next(line for line in lines if line["exchange_id"] == result["exchange_id"])
    assert logged["columns"]["rag"]["passages"] == 2 and logged["columns"]["rag"]["total_s"] > 0
    assert "Lumenhollow" not in json.dumps(logged)


def test_health_route_and_endpoint(api_app):
    with urllib.request.urlopen(f"{api_app.url}/healthz", timeout=10) as response:
        assert response.status == 200
        status = json.load(response)
    assert status["model"] == status["weaviate"] == status["feedback_store"] == "ok"
    assert Client(api_app.url, verbose=False).predict(api_name="/health")["weaviate"] == "ok"


def test_the_app_under_test_runs_the_engine_a_new_user_gets(api_app):
    """The README's first command gets ARENA_ENGINE=auto: llama.cpp where setup installed it, as it must in CI
    (`scripts/setup.sh --dev` fails without it), so the app, API, browser and reliability tests run that engine."""
    from pipelines.common.settings import Settings
    from pipelines.runtime import choose_engine

    with urllib.request.urlopen(f"{api_app.url}/healthz", timeout=10) as response:
        engine = json.load(response)["engine"]
    assert engine == choose_engine(Settings(engine="auto"))
    if os.environ.get("CI") == "true" and os.environ.get("ARENA_TEST_APP_ENGINE", "auto") == "auto":
        assert engine == "llama.cpp"


def test_mcp_server_lists_and_calls_the_tools(api_app):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def session_calls() -> tuple[list[str], str]:
        async with streamablehttp_client(f"{api_app.url}/gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            health = next(name for name in tools if name.endswith("health"))
            result = await session.call_tool(health, {})
            return tools, " ".join(getattr(part, "text", "") for part in result.content)

    tools, health_text = asyncio.run(session_calls())
    assert any(name.endswith("ask_both") for name in tools) and any(name.endswith("vote") for name in tools)
    # Issue 29: an MCP client can generate a question set from a collection and fetch the saved one.
    assert any(name.endswith("generate_questions") for name in tools), tools
    assert any(name.endswith("question_set") for name in tools), tools
    assert set(tools).isdisjoint({"ask", "regenerate", "vote_left", "rate_left", "leaderboard"})  # UI
    assert not any(name.endswith("export_1") for name in tools)  # the UI's export is not a second /export
    assert "feedback_store" in health_text and "ok" in health_text


def test_documents_training_adapters_and_evaluation_through_gradio_client(api_app):
    """The admin endpoints in a user's order (no admin password is set): list and delete a document, then ingest
    it again (later tests see the sample corpus whole), refuse and cancel training, activate an adapter, and run
    a one-question batch evaluation."""
    import csv
    import zipfile

    from gradio_client import handle_file

    from pipelines.common.settings import Settings

    client = Client(api_app.url, verbose=False)
    corpus = Settings().corpus_dir
    name, question = "travel_policy.txt", "What is the daily meal allowance (per diem) on business trips?"
    kept = api_app.data_dir / "documents" / Settings().collection / name  # the original training reads

    def listed() -> dict[str, dict]:
        return {d["document"]: d for d in client.predict(collection="", api_name="/documents")}

    def sources() -> list[str]:
        result = client.predict(question=question, top_k=3, api_name="/ask_both")
        return [c["source"] for c in result["contexts"]]

    assert client.predict(api_name="/collections")[0] == Settings().collection
    documents = listed()
    assert set(documents) == {p.name for p in corpus.iterdir()}
    for document in documents.values():
        source = corpus / document["document"]
        assert document["size_bytes"] == source.stat().st_size and document["type"] == source.suffix[1:]
        assert document["chunks"] > 0 and document["added_at"]
    assert name in sources() and kept.is_file()

    deleted = client.predict(admin_password=ADMIN, collection="", document=name, api_name="/delete_document")
    assert deleted == {"document": name, "chunks_deleted": documents[name]["chunks"]}
    assert set(listed()) == set(documents) - {name} and not kept.exists()
    with pytest.raises(Exception, match=f"No document named '{name}'"):
        client.predict(admin_password=ADMIN, collection="", document=name, api_name="/delete_document")
    after_delete = sources()
    assert after_delete and name not in after_delete

    ingested = client.predict(admin_password=ADMIN, collection="", files=[handle_file(str(corpus / name))],
                              api_name="/ingest")
    assert ingested == {"files": {name: documents[name]["chunks"]}, "refused": {}, "chunks": documents[name]["chunks"]}
    assert listed()[name]["chunks"] == documents[name]["chunks"] and kept.read_bytes() == (corpus / name).read_bytes()

    adapters_before = client.predict(api_name="/adapters")
    with pytest.raises(Exception, match="Unknown recipe 'nope'"):
        client.predict(admin_password=ADMIN, recipe="nope", api_name="/train")
    with pytest.raises(Exception, match="No documents to train on"):
        client.predict(admin_password=ADMIN, collection="NoSuchDocs", api_name="/train")
    assert client.predict(api_name="/training_status") == {"job_id": None, "status": "none"}
    started = client.predict(admin_password=ADMIN, max_steps=1, api_name="/train")
    assert started["status"] == "running" and started["job_id"].startswith("adapter-")
    assert client.predict(api_name="/training_status")["job_id"] == started["job_id"]
    with pytest.raises(Exception, match=f"Training job {started['job_id']} is still running"):
        client.predict(admin_password=ADMIN, max_steps=1, api_name="/train")
    assert client.predict(admin_password=ADMIN, api_name="/cancel_training") == {"cancelled": True}
    status = client.predict(api_name="/training_status")
    assert (status["job_id"], status["status"]) == (started["job_id"], "cancelled")
    assert client.predict(admin_password=ADMIN, api_name="/cancel_training") == {"cancelled": False}
    assert client.predict(api_name="/adapters") == adapters_before  # a cancelled run registers nothing

    shipped = Settings().adapter_path.name
    with pytest.raises(Exception, match="No adapter 'nope'"):
        client.predict(admin_password=ADMIN, adapter="nope", api_name="/activate_adapter")
    active = client.predict(admin_password=ADMIN, adapter=shipped, api_name="/activate_adapter")["active"]
    assert active.split("@")[0] == shipped
    assert [a["adapter"] for a in client.predict(api_name="/adapters") if a["active"]] == [shipped]
    result = client.predict(question=question, top_k=3, api_name="/ask_both")
    assert result["answers"]["finetuned"]["adapter"] == active
    assert name in [c["source"] for c in result["contexts"]]  # the re-ingested document is retrieved again

    summary, archive = client.predict(admin_password=ADMIN, question_limit=1, api_name="/evaluate")
    assert summary.startswith("# Batch evaluation (1 questions")
    with zipfile.ZipFile(archive) as report:
        assert {Path(n).name for n in report.namelist()} >= {"scores.csv", "summary.md", "summary.html",
                                                              "dataset.jsonl", "ragas_dataset.jsonl"}
        member = next(n for n in report.namelist() if Path(n).name == "scores.csv")
        rows = list(csv.DictReader(report.read(member).decode().splitlines()))
        summary_file = report.read(next(n for n in report.namelist() if Path(n).name == "summary.md")).decode()
    assert summary_file == summary
    assert len({r["question"] for r in rows}) == 1 and len({r["exchange_id"] for r in rows}) == 1
    assert {r["pipeline"] for r in rows} == {"base", "rag", "finetuned", "rag_finetuned"}
    with sqlite3.connect(api_app.data_dir / "feedback.sqlite3") as db:
        stored = db.execute("SELECT count(*) FROM scores WHERE exchange_id = ?", (rows[0]["exchange_id"],)).fetchone()
    assert stored == (len(rows),)
