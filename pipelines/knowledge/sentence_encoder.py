"""A plain sentence-transformers model (Transformer, then mean or CLS pooling, then normalisation) run with
transformers alone.

Why: importing ``sentence_transformers`` also imports its training stack (datasets, transformers' Trainer, the
model-card writer, scipy): measured here, loading the offline MiniLM and embedding one text took 7.7-8.1 s of CPU
through sentence-transformers and 4.4-4.8 s through transformers directly (``bench/embedder_start.py`` prints the
ratio). Every app start, every Space cold start and every command that embeds pays that once. Any other model
(Dense layers, other pooling, a hub id to download) still loads through sentence-transformers
(:meth:`pipelines.knowledge.embeddings.Embedder.load` decides), and a test holds this path's vectors to
sentence-transformers' own on the same texts.

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
# Pooling config keys that name a mode this module computes, and the ones it does not (any of them set: fall back).
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls"}
OTHER_POOLING = ("pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                 "pooling_mode_lasttoken", "include_prompt")


def _read_json(path: Path) -> dict | list | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def plain_pooling(folder: str | Path) -> str | None:
    """``"mean"`` or ``"cls"`` when ``folder`` is a local sentence-transformers model made of exactly a Transformer
    at the folder's root, one Pooling of that mode and optionally a Normalize; None for anything else (a hub id,
    Dense layers, another pooling, prompts, a folder without ``modules.json``)."""
    folder = Path(folder)
    modules = _read_json(folder / "modules.json")
    if not isinstance(modules, list) or not folder.is_dir():
        return None
    types = [m.get("type") for m in modules if isinstance(m, dict)]
    if types not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]) or modules[0].get("path") != "":
        return None
    if (folder / "config_sentence_transformers.json").is_file():
        extra = _read_json(folder / "config_sentence_transformers.json") or {}
        if extra.get("prompts") or extra.get("default_prompt_name"):
            return None  # prompts prepended to each text: sentence-transformers' job
    pooling = _read_json(folder / modules[1].get("path", "") / "config.json")
    if not isinstance(pooling, dict) or any(pooling.get(key) for key in OTHER_POOLING):
        return None
    chosen = [mode for key, mode in POOLING_MODES.items() if pooling.get(key)]
    return chosen[0] if len(chosen) == 1 else None


class PlainSentenceEncoder:
    """The subset of ``SentenceTransformer`` the embedder uses (``encode``, ``max_seq_length``, ``tokenizer``,
    ``get_embedding_dimension``), computed as sentence-transformers computes it for a plain model."""

    def __init__(self, model, tokenizer, pooling: str, max_seq_length: int, normalizes: bool = False,
                 lower_case: bool = False) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.max_seq_length = max_seq_length
        self.normalizes = normalizes  # the model ends in a Normalize module: its vectors are unit length anyway
        self.lower_case = lower_case  # sentence_bert_config's do_lower_case: the text is lowered before the tokenizer

    @classmethod
    def load(cls, folder: str | Path) -> PlainSentenceEncoder:
        from transformers import AutoModel, AutoTokenizer

        folder = Path(folder)
        pooling = plain_pooling(folder)
        if pooling is None:
            raise ValueError(f"{folder} is not a plain sentence-transformers model (see plain_pooling)")
        model = AutoModel.from_pretrained(folder).eval()
        settings = _read_json(folder / "sentence_bert_config.json") or {}
        tokenizer = AutoTokenizer.from_pretrained(folder)  # its own casing rule (MiniLM's lowers the text itself)
        limit = settings.get("max_seq_length") or min(model.config.max_position_embeddings,
                                                      tokenizer.model_max_length)
        normalizes = NORMALIZE in {m.get("type") for m in _read_json(folder / "modules.json")}
        return cls(model, tokenizer, pooling, int(limit), normalizes, bool(settings.get("do_lower_case")))

    def get_embedding_dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = True) -> np.ndarray:
        """Vectors in the order given; batches are formed from texts of similar length, as sentence-transformers
        does, so a long text does not pad the others."""
        import torch

        if self.lower_case:
            texts = [text.lower() for text in texts]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[np.ndarray | None] = [None] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chosen = order[start : start + batch_size]
                batch = self.tokenizer([texts[i] for i in chosen], padding=True, truncation="longest_first",
                                       max_length=self.max_seq_length, return_tensors="pt")
                hidden = self.model(**batch).last_hidden_state
                if self.pooling == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                if normalize_embeddings or self.normalizes:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                for row, index in enumerate(chosen):
                    vectors[index] = pooled[row].float().numpy()
        return np.stack(vectors) if texts else np.zeros((0, self.get_embedding_dimension()), dtype=np.float32)
