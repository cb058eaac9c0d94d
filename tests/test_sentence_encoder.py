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

from pipelines.knowledge.embeddings import OFFLINE_EMBEDDER, Embedder, offline_minilm_folder
from pipelines.knowledge.sentence_encoder import PlainSentenceEncoder, plain_pooling

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # float32 sums in another order (batches of other lengths) differ in the last bits only


def corpus_texts() -> list[str]:
    paragraphs = [p.strip() for f in sorted((ROOT / "assets" / "corpus").iterdir())
                  for p in f.read_text().split("\n\n") if p.strip()]
    longest = " ".join(paragraphs)  # well past 256 tokens
    return [*paragraphs[:40], longest, "", "Lumenhollow — 東京 オフィス, Zürich café"]


def variant(tmp_path: Path, **pooling: bool) -> Path:
    """A copy of the offline MiniLM folder with its pooling config changed (weights linked, not copied)."""
    source = offline_minilm_folder()
    folder = tmp_path / "variant"
    shutil.copytree(source, folder, copy_function=lambda s, d: Path(d).symlink_to(s))
    config_path = folder / "1_Pooling" / "config.json"
    config = json.loads(Path(config_path).read_text())
    config_path.unlink()
    config_path.write_text(json.dumps({**config, **{k: False for k in config if k.startswith("pooling_mode")},
                                       **pooling}))
    return folder


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
    assert plain.get_embedding_dimension() == reference.get_embedding_dimension()
    assert plain.tokenizer(texts[0])["input_ids"] == reference.tokenizer(texts[0])["input_ids"]


def test_the_offline_minilm_gives_sentence_transformers_vectors(texts):
    assert plain_pooling(offline_minilm_folder()) == "mean"
    assert_same_vectors(offline_minilm_folder(), texts)


def test_cls_pooling_gives_sentence_transformers_vectors(texts, tmp_path):
    folder = variant(tmp_path, pooling_mode_cls_token=True)
    assert plain_pooling(folder) == "cls"
    assert_same_vectors(folder, texts)


def test_the_default_embedder_takes_the_plain_path_and_others_fall_back(tmp_path):
    default = Embedder.load(OFFLINE_EMBEDDER)
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


def test_a_dense_layer_or_prompts_fall_back(tmp_path):
    folder = variant(tmp_path, pooling_mode_mean_tokens=True)
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").unlink()
    (folder / "modules.json").write_text(json.dumps(
        [*modules[:2], {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
         modules[2]]))
    assert plain_pooling(folder) is None

    (folder / "modules.json").unlink()
    (folder / "modules.json").write_text(json.dumps(modules))
    assert plain_pooling(folder) == "mean"
    (folder / "config_sentence_transformers.json").unlink()
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    assert plain_pooling(folder) is None
