"""The plain sentence encoder (transformers alone) gives sentence-transformers' own vectors for a plain model, and
anything else still loads through sentence-transformers.

Compared on the offline MiniLM with real texts: the sample corpus's paragraphs (short and long, one past the
model's 256-token limit, so truncation is compared too), an empty string and non-Latin text, in batches that mix
lengths. The CLS variant is the same weights with a pooling config that asks for the CLS token, which
sentence-transformers loads too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sentence_transformers import SentenceTransformer

from pipelines.knowledge.embeddings import Embedder, offline_minilm_folder
from pipelines.knowledge.sentence_encoder import PlainSentenceEncoder, plain_pooling, pool

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # float32 sums in another order (batches of other lengths) differ in the last bits only


def corpus_texts() -> list[str]:
    paragraphs = [p.strip() for f in sorted((ROOT / "assets" / "corpus").iterdir())
                  for p in f.read_text().split("\n\n") if p.strip()]
    longest = " ".join(paragraphs)  # well past 256 tokens
    return [*paragraphs[:40], longest, "", "Lumenhollow — 東京 オフィス, Zürich café"]


def rewritten(folder: Path, name: str, content) -> Path:
    """``folder`` with its file ``name`` replaced by ``content`` as JSON (the linked original left untouched)."""
    (folder / name).unlink(missing_ok=True)
    (folder / name).write_text(json.dumps(content))
    return folder


def variant(tmp_path: Path, **pooling: bool) -> Path:
    """A copy of the offline MiniLM folder with its pooling config changed (weights linked, not copied)."""
    folder = tmp_path / "variant"
    shutil.copytree(offline_minilm_folder(), folder, copy_function=lambda s, d: Path(d).symlink_to(s))
    config = json.loads((folder / "1_Pooling" / "config.json").read_text())
    return rewritten(folder, "1_Pooling/config.json",
                     {**config, **{k: False for k in config if k.startswith("pooling_mode")}, **pooling})


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return corpus_texts()


def assert_same_vectors(folder: Path, texts: list[str]) -> None:
    plain = PlainSentenceEncoder.load(folder)
    reference = SentenceTransformer(str(folder), device="cpu")
    ours = plain.encode(texts, batch_size=8, normalize_embeddings=True)
    theirs = reference.encode(texts, batch_size=8, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (len(texts), reference.get_embedding_dimension())
    assert np.abs(ours - theirs).max() < TOLERANCE, np.abs(ours - theirs).max()
    assert plain.max_seq_length == reference.max_seq_length == 256
    assert plain.encode([]).shape == (0, reference.get_embedding_dimension())
    assert plain.get_embedding_dimension() == reference.get_embedding_dimension()
    assert plain.tokenizer(texts[0])["input_ids"] == reference.tokenizer(texts[0])["input_ids"]


def test_the_offline_minilm_gives_sentence_transformers_vectors(texts):
    assert plain_pooling(offline_minilm_folder()) == "mean"
    assert_same_vectors(offline_minilm_folder(), texts)


def test_cls_pooling_gives_sentence_transformers_vectors(texts, tmp_path):
    folder = variant(tmp_path, pooling_mode_cls_token=True)
    assert plain_pooling(folder) == "cls"
    assert_same_vectors(folder, texts)


def test_the_default_embedder_takes_the_plain_path_and_others_fall_back(embedder, tmp_path):
    default = embedder  # conftest's: Embedder.load(OFFLINE_EMBEDDER), loaded once per worker
    assert isinstance(default.model, PlainSentenceEncoder)
    one, two = default.embed(["Where is the Kelvarra office?", "Where is the Kelvarra office?"])
    assert one == two and abs(np.linalg.norm(one) - 1) < 1e-5

    max_pooling = variant(tmp_path, pooling_mode_max_tokens=True)
    assert plain_pooling(max_pooling) is None
    fallback = Embedder.load(str(max_pooling))
    assert isinstance(fallback.model, SentenceTransformer)  # the library computes what this module does not
    assert len(fallback.embed(["a text"])[0]) == default.dimensions
    assert plain_pooling(tmp_path / "missing") is None
    assert plain_pooling("sentence-transformers/all-MiniLM-L6-v2") is None  # a hub id: sentence-transformers


def test_pooling_reads_only_real_tokens_whichever_side_pads():
    import torch

    hidden = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]],     # right-padded: two real tokens, then padding
                           [[9.0, 9.0], [5.0, 4.0], [7.0, 8.0]]], dtype=torch.float16)  # left-padded
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]])
    assert pool(hidden, mask, "cls").tolist() == [[1.0, 0.0], [5.0, 4.0]]
    assert pool(hidden, mask, "mean").tolist() == [[2.0, 1.0], [6.0, 6.0]]
    assert pool(hidden, mask, "mean").dtype == torch.float32  # summed in float32, as the library sums


def test_one_string_gives_one_vector(embedder, texts):
    encoder = embedder.model
    assert np.array_equal(encoder.encode(texts[0]), encoder.encode([texts[0]])[0])


def test_a_setting_this_path_does_not_compute_falls_back(tmp_path):
    folder = variant(tmp_path, pooling_mode_mean_tokens=True)
    modules = json.loads((folder / "modules.json").read_text())
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    transformer = json.loads((folder / "sentence_bert_config.json").read_text())
    model_config = json.loads((folder / "config.json").read_text())
    assert plain_pooling(folder) == "mean"
    dense = {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    refused = [
        ("modules.json", [*modules[:2], dense, modules[2]]),                     # a Dense layer
        ("modules.json", [*modules[:2], "2_Normalize"]),                        # a damaged module list
        ("config_sentence_transformers.json", {"prompts": {"query": "query: "}}),  # prompts
        ("config_sentence_transformers.json", ["not", "a", "dict"]),
        ("sentence_bert_config.json", {**transformer, "tokenizer_args": {"model_max_length": 64}}),
        ("sentence_bert_config.json", {**transformer, "do_lower_case": True}),
        ("config.json", {**model_config, "is_encoder_decoder": True}),
        ("1_Pooling/config.json", {**pooling, "pooling_mode": "max"}),          # the newer key wins, as in the library
        ("1_Pooling/config.json", {**pooling, "include_prompt": False}),
        ("1_Pooling/config.json", {**pooling, "pooling_mode_max_tokens": True}),  # two modes at once
    ]
    originals = {name: (folder / name).read_text() for name, _ in refused}
    for name, content in refused:
        assert plain_pooling(rewritten(folder, name, content)) is None, (name, content)
        rewritten(folder, name, json.loads(originals[name]))
        assert plain_pooling(folder) == "mean"
    assert plain_pooling(rewritten(folder, "1_Pooling/config.json", {**pooling, "include_prompt": True})) == "mean"
    assert plain_pooling(rewritten(folder, "1_Pooling/config.json", {"embedding_dimension": 384,
                                                                     "pooling_mode": "cls"})) == "cls"
