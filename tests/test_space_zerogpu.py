"""ZeroGPU with the real ``spaces`` package (pinned in requirements-dev.txt): what the app hands to
``spaces.GPU`` pickles through spaces' own queue, and a question decodes through spaces' real generator wrapper.

``spaces.GPU`` runs the decorated function in a forked worker and sends ``(args, kwargs)`` there through a
fork-context queue (pickled), and each yielded item back the same way. Only what needs the ZeroGPU service or
CUDA is stood in for, in the second test's own process: ``client.schedule``/``client.release`` (HTTP calls to
the ZeroGPU device API) and ``worker_init`` (attaching the GPU in the worker); torch's ZeroGPU patching is undone
so the model runs on this CPU. The fork, the pickling both ways and the wrapper's result protocol are spaces'.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from pipelines.generation import models
from pipelines.generation.requests import GenerationRequest

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = [{"role": "user", "content": "Who founded Lumenhollow Instruments?"}]


def tiny_backend() -> models.ModelBackend:
    """A real ModelBackend on a tiny random Llama (what it holds, not what it says, matters here)."""
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1)
    return models.ModelBackend(LlamaForCausalLM(config), SimpleNamespace(pad_token=None, eos_token="</s>"),
                               "tiny", quantized=False)


def test_what_the_backend_hands_to_zerogpu_pickles_through_spaces_own_queue(monkeypatch):
    from spaces.utils import SimpleQueue
    from spaces.zero.gradio import GradioPartialContext

    backend = tiny_backend()
    handed: list[tuple] = []

    def recording(*args, **kwargs):
        handed.append((args, kwargs))
        yield from ()

    monkeypatch.setattr(models, "decode_alone", recording)
    requests = [GenerationRequest(MESSAGES), GenerationRequest(MESSAGES, adapter=None, copy_from="passage")]
    list(backend.stream(requests, 16))
    (args, kwargs), = handed
    queue = SimpleQueue()  # spaces.zero.wrappers sends ((args, kwargs), context) through exactly this
    queue.put(((args, kwargs), GradioPartialContext.get()))
    (sent_args, sent_kwargs), _ = queue.get()
    assert sent_args == (backend.key, requests, 16, 0.0) and sent_kwargs == {}
    # Why the call is shaped so: the backend itself (a bound method's self) holds a lock and the model
    with pytest.raises(pickle.PicklingError):
        queue.put(((backend, requests, 16, 0.0), {}))


ZERO_GPU_RUN = r"""
import json, os, sys
from pathlib import Path

import spaces                                   # the real package, on (simulated) ZeroGPU: it patches torch
from spaces.zero import client, wrappers
from spaces.zero import torch as zero_torch
from spaces.zero.api import ScheduleResponse

zero_torch.unpatch()                            # stand-in for CUDA: the model loads and runs on this CPU
releases = []
client.schedule = lambda **kwargs: ScheduleResponse(idle=True, nvidiaIndex=0, nvidiaUUID="GPU-0", allowToken="t")
client.release = lambda token, **kwargs: releases.append(kwargs.get("fail", False))
marker = Path(sys.argv[1])


def worker_init(**kwargs):                      # what attaches the GPU in the worker: here, say which process ran
    marker.write_text(str(os.getpid()))


wrappers.worker_init = worker_init

from pipelines.common.settings import Settings
from pipelines.generation import models
from pipelines.generation.requests import GenerationRequest

assert hasattr(models.decode_alone, "zerogpu"), "decode_alone is not wrapped by spaces.GPU"
settings = Settings()
backend = models.ModelBackend.load(settings)
backend.load_adapter(Path(settings.adapter_path))
messages = [{"role": "user", "content": "Who founded Lumenhollow Instruments?"}]
requests = [GenerationRequest(messages), GenerationRequest(messages, adapter="finetuned")]


def texts(stream):
    out = ["", ""]
    for row, delta in stream:
        if isinstance(delta, str):
            out[row] += delta
    return out


alone = texts(models.decode_alone.__wrapped__(backend.key, requests, 12, 0.0))   # in this process
on_zero_gpu = texts(backend.stream(requests, 12))                                 # through spaces' worker
print(json.dumps({"alone": alone, "zero_gpu": on_zero_gpu, "releases": releases, "pid": os.getpid(),
                  "worker_pid": int(marker.read_text())}))
"""


def test_a_question_decodes_through_spaces_real_zerogpu_wrapper(tmp_path):
    env = {**os.environ, "SPACES_ZERO_GPU": "true", "SPACES_ZERO_DEVICE_API_URL": "http://127.0.0.1:9/",
           "ARENA_QUANTIZATION": "none", "ARENA_ENGINE": "transformers", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", ZERO_GPU_RUN, str(tmp_path / "worker.pid")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["worker_pid"] != result["pid"]  # decoded in spaces' forked worker, not in the app's process
    assert result["zero_gpu"] == result["alone"] and all(result["alone"])  # the same greedy answers, both columns
    assert result["releases"] == [False]  # the wrapper got its end-of-stream result and released the GPU cleanly
