"""A real (short) DPO run on the shipped adapter, from pairs exported out of a real SQLite store."""

import json

from pipelines.common.events import PipelineResult, Timings
from pipelines.feedback.export import dpo_rows
from pipelines.feedback.store import FeedbackStore
from pipelines.generation.models import ModelBackend, adapter_id, resolve_model_path
from pipelines.training.config import METADATA_FILE
from pipelines.training.dpo import DpoConfig, train_dpo


def test_votes_become_a_new_adapter_version_that_loads(test_settings, tmp_path):
    store = FeedbackStore.open(tmp_path / "f.sqlite3")
    for question, good, bad in [
        ("What colour is the Tessel T4 casing?", "The casing colour is Heron Grey.", "It is bright red."),
        ("What is the Tessel T4 turbidity range?", "0 to 4000 NTU.", "About seven apples."),
    ]:
        exchange_id = store.record_exchange("s", question, [
            PipelineResult("rag", good, [], None, Timings(0.1, 1), "m"),
            PipelineResult("finetuned", bad, [], None, Timings(0.1, 1), "m", "a@1"),
        ])
        store.add_vote(exchange_id, "rag", session_id="s")
    pairs = dpo_rows(store.rated_exchanges())
    assert len(pairs) == 2

    output = tmp_path / "dpo-adapter"
    report = train_dpo(resolve_model_path(test_settings), test_settings.adapter_path, pairs, output,
                       DpoConfig(steps=3, batch_size=2, learning_rate=2e-3))
    assert report.steps == 3
    assert report.losses[-1] < report.losses[0]  # DPO starts at ln 2 and falls as chosen outscores rejected
    meta = json.loads((output / METADATA_FILE).read_text())
    assert meta["method"] == "dpo" and meta["examples"] == 2
    assert meta["steps_per_s"] > 0  # DPO runs report their speed like SFT runs (registry column)
    assert meta["parent_adapter"] == str(test_settings.adapter_path)
    assert (output / "adapter_model.safetensors").exists() and not output.with_name("dpo-adapter.partial").exists()

    backend = ModelBackend.load(test_settings)
    assert backend.load_adapter(output) == adapter_id(output)
