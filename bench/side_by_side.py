"""Side-by-side cost: two and three columns as the app runs them vs one column alone, on the same prompts.

Prints ratios measured in one run (never absolute times as goals):
  wall-time ratio  = both columns (one mixed-adapter batch) / one column alone   (goal <= 1.15)
  peak-memory ratio = peak RSS serving both / peak RSS serving one              (goal <= 1.10)
                      (peak since loading finished, where Linux can reset it: the load's own
                      transient peak, the same in every mode, varied +-15% between runs)
  the same two ratios for three columns (RAG, fine-tuned, RAG + fine-tuned)     (goals <= 1.2, <= 1.1)
and, for reference, the ratio of running the two columns one after the other.

Each mode runs in its own process (so peak RSS is that mode's), against one shared Weaviate server.
Where no Weaviate binary is at hand (a GPU box with no network), ``bench/decode_columns.py`` measures the
generation part of the same ratios.

    python bench/side_by_side.py [--prompts 8] [--tokens 48]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
MODES = ("both", "three", "rag", "finetuned", "sequential")
THREE = ("rag", "finetuned", "rag_finetuned")


def reset_peak_rss() -> None:
    """Start the peak-RSS count afresh (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):  # elsewhere the peak includes loading
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_mode(mode: str, http_port: int, grpc_port: int, prompts: int, tokens: int) -> dict:
    """Runs inside a child process: load everything, warm up, then time the prompts."""
    from pipelines.arena.arena import Arena, ArenaSession
    from pipelines.arena.finetuned import FinetunedPipeline
    from pipelines.arena.rag import RagPipeline
    from pipelines.arena.rag_finetuned import RagFinetunedPipeline
    from pipelines.common.settings import Settings
    from pipelines.feedback.store import FeedbackStore
    from pipelines.generation.models import ModelBackend
    from pipelines.knowledge.base import KnowledgeBase
    from pipelines.knowledge.embeddings import Embedder
    from pipelines.knowledge.ingest import folder_files
    from pipelines.knowledge.retrieval import HybridRetriever
    from pipelines.knowledge.store import connect

    data = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=data, weaviate_http_port=http_port, weaviate_grpc_port=grpc_port,
                        collection="BenchDocs")
    client = connect(settings)
    knowledge = KnowledgeBase(client, Embedder.load(settings.embedding_model), settings)
    knowledge.ingest_files(None, folder_files(settings.corpus_dir))
    store = knowledge.store()
    backend = ModelBackend.load(settings)
    backend.load_adapter(settings.adapter_path)
    rag, finetuned = RagPipeline.from_retriever(HybridRetriever(store), settings.top_k), FinetunedPipeline(backend)
    feedback = FeedbackStore.open(data / "f.sqlite3")

    def arena(pipelines):
        return Arena(pipelines, backend, feedback, max_new_tokens=tokens, max_prompt_chars=4000)

    arenas = {"both": [arena([rag, finetuned])], "rag": [arena([rag])], "finetuned": [arena([finetuned])],
              "three": [arena([rag, finetuned, RagFinetunedPipeline(rag, backend)])],
              "sequential": [arena([rag]), arena([finetuned])]}[mode]

    def session() -> ArenaSession:
        return ArenaSession(columns=THREE)  # arenas with fewer pipelines show all of theirs
    questions = [json.loads(line)["question"] for line in settings.questions_file.read_text().splitlines()]
    reset_peak_rss()
    for a in arenas:  # warm-up
        list(a.ask(questions[-1], session()))
    started = time.perf_counter()
    for question in questions[:prompts]:
        for a in arenas:
            list(a.ask(question, session()))
    seconds = time.perf_counter() - started
    client.close()
    return {"mode": mode, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--child", choices=MODES)
    parser.add_argument("--ports", type=int, nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_mode(args.child, *args.ports, args.prompts, args.tokens)))
        return

    from pipelines.common.settings import Settings
    from pipelines.knowledge.weaviate_server import WeaviateServer, free_ports

    http_port, grpc_port = free_ports(2)
    with tempfile.TemporaryDirectory() as tmp, WeaviateServer(
        Settings().resolved_weaviate_binary, Path(tmp) / "weaviate", http_port=http_port, grpc_port=grpc_port
    ):
        results = {}
        for mode in MODES:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--ports", str(http_port), str(grpc_port),
                 "--prompts", str(args.prompts), "--tokens", str(args.tokens)],
                check=True, capture_output=True, text=True, cwd=ROOT,
            ).stdout.strip().splitlines()[-1]
            results[mode] = json.loads(out)
    one = max(results["rag"]["seconds"], results["finetuned"]["seconds"])
    one_mem = max(results["rag"]["peak_rss_mb"], results["finetuned"]["peak_rss_mb"])
    print(f"side_by_side ({args.prompts} prompts, up to {args.tokens} new tokens, same process layout)")
    print(f"  wall time   both / slower single column : {results['both']['seconds'] / one:.2f}  (goal <= 1.15)")
    print(f"  wall time   both / RAG alone            : {results['both']['seconds'] / results['rag']['seconds']:.2f}")
    print(f"  wall time   both / sequential columns   : "
          f"{results['both']['seconds'] / results['sequential']['seconds']:.2f}  (batching gain)")
    print(f"  peak memory both / single column        : {results['both']['peak_rss_mb'] / one_mem:.2f}  (goal <= 1.10)")
    print(f"  wall time   three / slower single column: {results['three']['seconds'] / one:.2f}  (goal <= 1.2)")
    print(f"  peak memory three / single column       : {results['three']['peak_rss_mb'] / one_mem:.2f}  (goal <= 1.1)")


if __name__ == "__main__":
    main()
