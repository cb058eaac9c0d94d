"""A plain sentence-transformers model (Transformer, then mean or CLS pooling, then normalisation) run with
transformers alone.

Why: importing ``sentence_transformers`` also imports its training stack (datasets, transformers' Trainer, the
model-card writer, scipy): measured here, loading the offline MiniLM and embedding once took 7.0 s of CPU through
sentence-transformers and 4.2 s through transformers directly (``bench/embedder_start.py``: 0.60). Every app
start, every Space cold start and every command that embeds pays that once. Only a folder whose every setting is
one this module computes takes this path (:func:`plain_pooling`: the offline MiniLM is one); any other model
(Dense layers, other pooling, tokenizer or model arguments, prompts, a hub id to download) still loads through
sentence-transformers (:meth:`pipelines.knowledge.embeddings.Embedder.load` decides), and a test holds this path's
vectors to sentence-transformers' own on the same texts.

Usage::

    if plain_pooling(folder):           # "mean" or "cls" for a plain model folder, None otherwise
        encoder = PlainSentenceEncoder.load(folder)
        vectors = encoder.encode(["first text", "second text"], batch_size=32, normalize_embeddings=True)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TRANSFORMER = "sentence_transformers.models.Transformer"
POOLING = "sentence_transformers.models.Pooling"
NORMALIZE = "sentence_transformers.models.Normalize"
# The pooling modes computed here, by their legacy config key and by the newer ``pooling_mode`` value.
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
# A folder is taken only when every setting it holds is one of these (anything else, or an unexpected value: the
# library's job): what sentence-transformers would apply and this module would not can then not be missed.
TRANSFORMER_KEYS = {"max_seq_length", "do_lower_case"}
POOLING_KEYS = {"word_embedding_dimension", "embedding_dimension", "pooling_mode", "include_prompt", *POOLING_MODES,
                "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                "pooling_mode_lasttoken"}
EXTRA_KEYS = {"__version__", "prompts", "default_prompt_name", "similarity_fn_name", "model_type"}


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _pooling_mode(config: dict) -> str | None:
    """``mean`` or ``cls`` when the Pooling config asks for exactly that (newer ``pooling_mode`` first, as the
    library reads it), None otherwise."""
    if set(config) - POOLING_KEYS or config.get("include_prompt", True) is not True:
        return None
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        return mode if mode in POOLING_MODES.values() else None
    chosen = [key for key in POOLING_KEYS if key.startswith("pooling_mode_") and config.get(key)]
    return POOLING_MODES.get(chosen[0]) if len(chosen) == 1 else None


def plain_pooling(folder: str | Path) -> str | None:
    """``"mean"`` or ``"cls"`` when ``folder`` is a local sentence-transformers model made of exactly a Transformer
    at the folder's root (settings: ``max_seq_length`` only, no lower-casing), one Pooling of that mode and
    optionally a Normalize, with no prompts, on an encoder-only model; None for anything else (a hub id, Dense
    layers, another pooling, tokenizer or model arguments, prompts, an encoder-decoder, a damaged config)."""
    folder = Path(folder)
    modules = _read_json(folder / "modules.json")
    if not folder.is_dir() or not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        return None
    types = [m.get("type") for m in modules]
    if types not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]) or modules[0].get("path") != "":
        return None
    transformer = _read_json(folder / "sentence_bert_config.json")
    if not isinstance(transformer, dict) or set(transformer) - TRANSFORMER_KEYS or transformer.get("do_lower_case"):
        return None
    extra = _read_json(folder / "config_sentence_transformers.json") if (
        folder / "config_sentence_transformers.json").exists() else {}
    if not isinstance(extra, dict) or set(extra) - EXTRA_KEYS or extra.get("prompts") or extra.get(
            "default_prompt_name") or extra.get("model_type", "SentenceTransformer") != "SentenceTransformer":
        return None  # prompts are prepended to each text: sentence-transformers' job
    model_config = _read_json(folder / "config.json")
    if not isinstance(model_config, dict) or model_config.get("is_encoder_decoder"):
        return None
    pooling = _read_json(folder / str(modules[1].get("path", "")) / "config.json")
    return _pooling_mode(pooling) if isinstance(pooling, dict) else None


def pool(hidden, attention_mask, mode: str):
    """One vector per row of ``hidden`` (batch, tokens, width), in float32 whatever the model's dtype, as the
    library sums: ``mean`` over the tokens the mask keeps, or ``cls``, the first token that is not padding
    (whichever side the tokenizer pads)."""
    import torch

    hidden = hidden.float()
    if mode == "cls":
        return hidden[torch.arange(hidden.shape[0]), attention_mask.argmax(dim=1)]
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class PlainSentenceEncoder:
    """The subset of ``SentenceTransformer`` the embedder uses (``encode``, ``max_seq_length``, ``tokenizer``,
    ``get_embedding_dimension``), computed as sentence-transformers computes it for a plain model."""

    def __init__(self, model, tokenizer, pooling: str, max_seq_length: int, normalizes: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.max_seq_length = max_seq_length
        self.normalizes = normalizes  # the model ends in a Normalize module: its vectors are unit length anyway

    @classmethod
    def load(cls, folder: str | Path) -> PlainSentenceEncoder:
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        pooling = plain_pooling(folder)
        if pooling is None:
            raise ValueError(f"{folder} is not a plain sentence-transformers model (see plain_pooling)")
        model = AutoModel.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)  # its own casing rule (MiniLM's lowers the text itself)
        settings = _read_json(folder / "sentence_bert_config.json") or {}
        limits = [value for value in (getattr(model.config, "max_position_embeddings", None),
                                      tokenizer.model_max_length) if isinstance(value, int) and 0 < value < 1e6]
        limit = settings.get("max_seq_length") or (min(limits) if limits else 512)
        normalizes = NORMALIZE in {m.get("type") for m in _read_json(folder / "modules.json")}
        return cls(model, tokenizer, pooling, int(limit), normalizes)

    def get_embedding_dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str] | str, batch_size: int = 32, normalize_embeddings: bool = True) -> np.ndarray:
        """Vectors in the order given (one vector for a single string); batches are formed from texts of similar
        length, as sentence-transformers does, so a long text does not pad the others."""
        import torch

        if isinstance(texts, str):
            return self.encode([texts], batch_size, normalize_embeddings)[0]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[np.ndarray | None] = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = self.tokenizer([texts[i] for i in chosen], padding=True, truncation="longest_first",
                                       max_length=self.max_seq_length, return_tensors="pt")
                pooled = pool(self.model(**batch).last_hidden_state, batch["attention_mask"], self.pooling)
                if normalize_embeddings or self.normalizes:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                for row, index in enumerate(chosen):
                    vectors[index] = pooled[row].numpy()
        return np.stack(vectors) if texts else np.zeros((0, self.get_embedding_dimension()), dtype=np.float32)
