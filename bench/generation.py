"""Generation speed: our in-process backend vs llama.cpp (llama-cpp-python) on the same GGUF model.

Both decode the same chat prompts greedily for the same number of new tokens, one request at a time,
on the same CPU threads. Our backend runs the GGUF's weights de-quantised by transformers (then NF4 via
bitsandbytes by default); llama.cpp runs the Q4_1 file itself. Prints a ratio measured in one run:

  decode tokens/s, ours / llama.cpp   (llama.cpp is the fastest CPU runtime for this file: the yardstick)

    python bench/generation.py [--prompts 4] [--tokens 64]

llama-cpp-python is not in the requirements (it compiles for minutes): `pip install llama-cpp-python`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPTS = ["Who founded Lumenhollow Instruments?", "What does quiet mode do on the Tessel T4?",
           "How long does the lamp's battery last?", "What is the daily meal allowance when travelling?"]


def ours(prompts: list[str], tokens: int) -> tuple[float, int]:
    from pipelines.common.settings import Settings
    from pipelines.generation.models import ModelBackend
    from pipelines.generation.requests import GenerationRequest

    backend = ModelBackend.load(Settings())
    list(backend.stream([GenerationRequest([{"role": "user", "content": "Hi"}])], 4))  # warm-up
    texts, started = [], time.perf_counter()
    for prompt in prompts:
        text = "".join(delta or "" for _row, delta in
                       backend.stream([GenerationRequest([{"role": "user", "content": prompt}])], tokens))
        texts.append(text)
    elapsed = time.perf_counter() - started
    return elapsed, sum(len(backend.tokenizer(t, add_special_tokens=False).input_ids) for t in texts)


def llama_cpp(prompts: list[str], tokens: int, threads: int) -> tuple[float, int]:
    from llama_cpp import Llama

    from pipelines.generation.models import offline_gguf_file

    llm = Llama(model_path=str(offline_gguf_file()), n_ctx=2048, n_threads=threads, verbose=False)
    llm.create_chat_completion([{"role": "user", "content": "Hi"}], max_tokens=4, temperature=0.0)
    produced, started = 0, time.perf_counter()
    for prompt in prompts:
        out = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=tokens, temperature=0.0)
        produced += out["usage"]["completion_tokens"]
    return time.perf_counter() - started, produced


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    import torch

    prompts = (PROMPTS * args.prompts)[: args.prompts]
    if importlib.util.find_spec("llama_cpp") is None:
        print("generation: llama-cpp-python is not installed (pip install llama-cpp-python); skipped")
        return
    ours_s, ours_tokens = ours(prompts, args.tokens)
    cpp_s, cpp_tokens = llama_cpp(prompts, args.tokens, torch.get_num_threads())
    print(f"generation ({len(prompts)} prompts, up to {args.tokens} new tokens, {torch.get_num_threads()} threads)")
    print(f"  decode tokens/s, ours / llama.cpp (same GGUF) : {(ours_tokens / ours_s) / (cpp_tokens / cpp_s):.2f}  "
          f"({ours_tokens / ours_s:.1f} vs {cpp_tokens / cpp_s:.1f} tokens/s)")


if __name__ == "__main__":
    main()
