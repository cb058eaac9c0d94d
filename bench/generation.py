"""Generation speed of each decode path against llama.cpp alone, on the same GGUF model, in one run.

Every path decodes the same chat prompts greedily for the same number of new tokens, one request of one row at
a time, on the same CPU threads:

* ``transformers NF4``: the transformers engine as the arena runs it (:class:`DecodeBatch`, the GGUF's weights
  de-quantised, then 4-bit NF4 through bitsandbytes);
* ``transformers fp32``: the same with full-precision weights (the 4-bit vs full-precision choice);
* ``transformers generate, static cache + torch.compile``: transformers' own ``generate`` with a static KV cache
  and the forward compiled (a first, untimed pass compiles it for every prompt; fewer Python calls per token);
* ``llama.cpp engine``: :class:`LlamaCppBackend`, the arena's llama.cpp path (our rules on llama.cpp's logits);
* ``llama.cpp alone on the shipped Q4_1 file``: the format choice (the engine serves the same weights as Q8_0);
* ``llama.cpp alone``: llama-cpp-python's own completion loop on the file the engine serves: the yardstick.

Prints, for each path, decode tokens/s over llama.cpp alone's (a ratio measured in one run)::

    python bench/generation.py [--prompts 4] [--tokens 64] [--paths nf4,fp32,compiled,engine,shipped]

``--steps`` measures instead what batching and the weight format cost per step, through each engine's own decode
batch (``join`` prefills a row, ``step`` decodes one token of every live row): the prefill of one ~100-token
prompt on llama.cpp for each weight format over the shipped Q4_1's, and on each engine a decode step of
1/2/4/8/16 rows (and the transformers engine's prefill of 1/2/4/8 questions' two prompts), each with its
tokens/s (or seconds) over one row's (or one question's); milliseconds are printed beside, never asserted::

    python bench/generation.py --steps [--engines llama.cpp,transformers]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPTS = ["Who founded Lumenhollow Instruments?", "What does quiet mode do on the Tessel T4?",
           "How long does the lamp's battery last?", "What is the daily meal allowance when travelling?"]

#: A path's run: (prompts, new tokens) -> (seconds, tokens produced).
Run = Callable[[list[str], int], tuple[float, int]]


def messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def through_backend(backend) -> Run:
    """A backend's ``stream``, one single-row request at a time (after one untimed warm-up)."""
    from pipelines.generation.requests import GenerationRequest

    def run(prompts: list[str], tokens: int) -> tuple[float, int]:
        list(backend.stream([GenerationRequest(messages("Hi"))], 4))
        texts, started = [], time.perf_counter()
        for prompt in prompts:
            texts.append("".join(d for _row, d in backend.stream([GenerationRequest(messages(prompt))], tokens)
                                 if isinstance(d, str)))
        elapsed = time.perf_counter() - started
        return elapsed, sum(len(backend.tokenizer(t, add_special_tokens=False).input_ids) for t in texts)
    return run


def transformers_engine(quantization: str) -> Run:
    from pipelines.common.settings import Settings
    from pipelines.generation.models import ModelBackend

    return through_backend(ModelBackend.load(Settings(engine="transformers", quantization=quantization)))


def compiled_generate() -> Run:
    """transformers' ``generate`` with a static KV cache and ``torch.compile`` (full precision)."""
    import torch
    from transformers import AutoTokenizer

    from pipelines.common.settings import Settings
    from pipelines.generation.decode_row import render_chat
    from pipelines.generation.models import load_causal_lm, materialize_offline_model

    folder = materialize_offline_model(Settings().cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = load_causal_lm(str(folder), four_bit=False).eval()
    model.forward = torch.compile(model.forward)

    def generate(prompt: str, tokens: int) -> int:
        ids = tokenizer(render_chat(tokenizer, messages(prompt)), return_tensors="pt", add_special_tokens=False)
        out = model.generate(**ids, max_new_tokens=tokens, do_sample=False, cache_implementation="static",
                             pad_token_id=tokenizer.eos_token_id)
        return out.shape[1] - ids.input_ids.shape[1]

    def run(prompts: list[str], tokens: int) -> tuple[float, int]:
        for prompt in prompts:  # compiles, for every prompt length
            generate(prompt, tokens)
        started = time.perf_counter()
        produced = sum(generate(prompt, tokens) for prompt in prompts)
        return time.perf_counter() - started, produced
    return run


def llama_cpp_engine() -> Run:
    from pipelines.common.settings import Settings
    from pipelines.generation.llama_cpp_backend import LlamaCppBackend

    return through_backend(LlamaCppBackend.load(Settings(engine="llama.cpp")))


def served_gguf() -> Path:
    """The GGUF file the llama.cpp engine serves (the shipped weights as Q8_0 by default)."""
    from pipelines.common.settings import Settings
    from pipelines.generation.llama_cpp_backend import serving_gguf
    from pipelines.generation.models import offline_gguf_file

    settings = Settings()
    return serving_gguf(offline_gguf_file(), settings.cache_dir, settings.llama_cpp_weights)


def llama_cpp_alone(threads: int, gguf: Path) -> Run:
    from llama_cpp import Llama
    from transformers import AutoTokenizer

    from pipelines.common.settings import Settings
    from pipelines.generation.models import materialize_offline_model

    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, verbose=False)
    tokenizer = AutoTokenizer.from_pretrained(materialize_offline_model(Settings().cache_dir))

    def run(prompts: list[str], tokens: int) -> tuple[float, int]:
        llm.create_chat_completion(messages("Hi"), max_tokens=4, temperature=0.0)
        texts, started = [], time.perf_counter()
        for prompt in prompts:
            out = llm.create_chat_completion(messages(prompt), max_tokens=tokens, temperature=0.0)
            texts.append(out["choices"][0]["message"]["content"] or "")
        elapsed = time.perf_counter() - started  # tokens counted as for the other paths: the answer re-tokenised
        return elapsed, sum(len(tokenizer(t, add_special_tokens=False).input_ids) for t in texts)
    return run


def shipped_file_alone() -> Run:
    """llama.cpp alone on the Q4_1 file as it ships: what choosing the served format (Q8_0) gains."""
    import torch

    from pipelines.generation.models import offline_gguf_file

    return llama_cpp_alone(torch.get_num_threads(), offline_gguf_file())


PATHS: dict[str, tuple[str, Callable[[], Run]]] = {
    "nf4": ("transformers NF4 (the transformers engine)", lambda: transformers_engine("4bit")),
    "fp32": ("transformers fp32 (DecodeBatch)", lambda: transformers_engine("none")),
    "compiled": ("transformers generate, static cache + torch.compile, fp32", compiled_generate),
    "engine": ("llama.cpp engine (LlamaCppBackend)", llama_cpp_engine),
    "shipped": ("llama.cpp alone on the shipped Q4_1 file", shipped_file_alone),
}


LONG_PROMPT = ("Lumenhollow Instruments makes field lamps, tide gauges and the Tessel T4 weather station. "
               "Write a long, detailed story about a lighthouse keeper who repairs one of its lamps "
               "during a storm, describing every step of the repair and every tool used.")
STEP_ROWS = (1, 2, 4, 8, 16)


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def prefill_and_steps(batch, request, rows: int, steps: int = 6) -> tuple[float, float]:
    """(seconds to join ``rows`` rows of ``request``: their prefill, median seconds of a step with all live)."""
    with batch.holding():
        started = time.perf_counter()
        for row in range(rows):
            batch.join(row, request, max_new_tokens=steps + 64)
        prefill = time.perf_counter() - started
        spent = []
        for _ in range(steps):
            if len(batch.row_ids) < rows:  # a row ended early: only full steps count
                break
            started = time.perf_counter()
            batch.step()
            spent.append(time.perf_counter() - started)
        batch.leave(set(batch.row_ids))
    return prefill, _median(spent)


def step_table(name: str, batch, request) -> None:
    prefill_and_steps(batch, request, 2)  # warm-up
    step = {rows: prefill_and_steps(batch, request, rows)[1] for rows in STEP_ROWS}
    print(f"  {name}: one decode step of {'/'.join(map(str, STEP_ROWS))} rows took "
          f"{' / '.join(f'{step[rows] * 1000:.0f}' for rows in STEP_ROWS)} ms")
    for rows in STEP_ROWS[1:]:
        label = f"{name} tokens/s, {rows} rows / 1 row"
        print(f"  {label:58s}: {(rows / step[rows]) / (1 / step[1]):.2f}  (step {step[rows] * 1000:.0f} ms "
              f"vs {step[1] * 1000:.0f} ms)")


def steps_main(engines: list[str]) -> None:
    """The --steps measurements (see the module docstring)."""
    from pipelines.common.settings import Settings
    from pipelines.generation.decode_batch import DecodeBatch
    from pipelines.generation.requests import GenerationRequest

    request = GenerationRequest(messages(LONG_PROMPT))
    print("generation --steps: prefill and decode-step costs through each engine's decode batch")
    if "llama.cpp" in engines:
        from pipelines.generation.llama_cpp_backend import LlamaCppBackend

        prefill: dict[str, float] = {}
        for weights in ("q4_1", "q8_0", "f16"):
            backend = LlamaCppBackend.load(Settings(engine="llama.cpp", llama_cpp_weights=weights))
            tokens = len(backend.tokenizer(backend.render_prompt(request.messages), add_special_tokens=False).input_ids)
            prefill_and_steps(backend.batch, request, 1)  # warm-up
            prefill[weights] = _median([prefill_and_steps(backend.batch, request, 1)[0] for _ in range(3)])
            if weights == "q8_0":
                step_table("llama.cpp engine (Q8_0)", backend.batch, request)
            backend.close()
        for weights in ("q8_0", "f16"):
            label = f"llama.cpp prefill of {tokens} tokens, {weights.upper()} / Q4_1"
            print(f"  {label:58s}: {prefill[weights] / prefill['q4_1']:.2f}  ({prefill[weights] * 1000:.0f} ms "
                  f"vs {prefill['q4_1'] * 1000:.0f} ms)")
    if "transformers" in engines:
        from pipelines.generation.models import ModelBackend

        backend = ModelBackend.load(Settings(engine="transformers", quantization="4bit"))
        batch = DecodeBatch(backend)
        step_table("transformers engine (NF4)", batch, request)
        rag = GenerationRequest(messages(LONG_PROMPT * 3))  # a question's two prompts: a long and a short one
        alone = GenerationRequest(messages(PROMPTS[0]))
        seconds = {}
        for questions in (1, 2, 4, 8):
            with batch.holding():
                started = time.perf_counter()
                for number in range(questions):
                    batch.join(2 * number, rag, max_new_tokens=4)
                    batch.join(2 * number + 1, alone, max_new_tokens=4)
                seconds[questions] = time.perf_counter() - started
                batch.leave(set(batch.row_ids))
        for questions in (2, 4, 8):
            label = f"transformers prefill of {questions} questions / 1"
            print(f"  {label:58s}: {seconds[questions] / seconds[1]:.2f}  ({seconds[questions]:.2f} s "
                  f"vs {seconds[1]:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--paths", default=",".join(PATHS), help=f"which of {', '.join(PATHS)} to measure")
    parser.add_argument("--steps", action="store_true", help="prefill and decode-step costs instead")
    parser.add_argument("--engines", default="llama.cpp,transformers", help="with --steps: which engines")
    args = parser.parse_args()
    import torch

    from pipelines.generation.llama_cpp_backend import llama_cpp_installed

    engines = args.engines.split(",")
    if not llama_cpp_installed():
        if args.steps and engines == ["transformers"]:
            steps_main(engines)
            return
        print("generation: llama-cpp-python is not installed (bash scripts/setup.sh builds it); skipped")
        return
    if args.steps:
        steps_main(engines)
        return
    prompts = (PROMPTS * args.prompts)[: args.prompts]
    threads = torch.get_num_threads()
    gguf = served_gguf()
    yardstick_run = llama_cpp_alone(threads, gguf)

    def yardstick() -> float:
        seconds, produced = yardstick_run(prompts, args.tokens)
        return produced / seconds

    print(f"generation ({len(prompts)} prompts, up to {args.tokens} new tokens, {threads} threads): decode tokens/s "
          f"over llama.cpp alone on the served weights ({gguf.name}), measured just before and after each path")
    for key in args.paths.split(","):
        label, make = PATHS[key]
        try:
            run = make()
            before = yardstick()
            seconds, produced = run(prompts, args.tokens)
            reference = (before + yardstick()) / 2
        except Exception as exc:  # a path this machine cannot run is reported, not fatal
            print(f"  {label:58s}: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
            continue
        print(f"  {label:58s}: {(produced / seconds) / reference:.2f}  ({produced / seconds:.1f} vs "
              f"{reference:.1f} tokens/s)")


if __name__ == "__main__":
    main()
