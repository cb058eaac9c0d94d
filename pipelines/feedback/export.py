"""Preference data out of the feedback store: DPO pairs and per-answer ratings (KTO / reward models).

Ties and "both bad" never become DPO pairs (nothing was preferred); they stay in the
rating export, where a tie marks both answers acceptable and "both bad" neither. Each row's ``rater`` (a
signed-in Hugging Face user name, else the session) is left out (null) unless ``include_raters`` is asked for.

Example::

    result = export_feedback(store, Path("exports/today"))
    datasets.load_dataset("json", data_files=str(result.dpo_jsonl))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipelines.feedback.store import FeedbackStore


@dataclass(frozen=True)
class ExportResult:
    dpo_jsonl: Path
    ratings_jsonl: Path
    dpo_pairs: int
    ratings: int


def dpo_rows(rated: list[dict], include_raters: bool = False) -> list[dict]:
    rows = []
    for exchange in rated:
        answers = {a["pipeline"]: a for a in exchange["answers"] if not a["error"] and a["answer"].strip()}
        chosen = answers.get(exchange["choice"])
        rejected = [a for name, a in answers.items() if name != exchange["choice"]]
        if chosen is None or not rejected:
            continue
        for loser in rejected:
            rows.append({
                "prompt": exchange["question"],
                "chosen": chosen["answer"],
                "rejected": loser["answer"],
                "chosen_pipeline": chosen["pipeline"],
                "rejected_pipeline": loser["pipeline"],
                "chosen_adapter": chosen["adapter_id"],
                "rejected_adapter": loser["adapter_id"],
                "exchange_id": exchange["exchange_id"],
                "session_id": exchange["session_id"],
                "rater": exchange["rater"] if include_raters else None,
                "voted_at": exchange["voted_at"],
            })
    return rows


def rating_rows(rated: list[dict], include_raters: bool = False) -> list[dict]:
    rows = []
    for exchange in rated:
        for answer in exchange["answers"]:
            if answer["error"]:
                continue
            choice = exchange["choice"]
            label = choice == "tie" or choice == answer["pipeline"]
            rows.append({
                "prompt": exchange["question"],
                "completion": answer["answer"],
                "label": label,
                "pipeline": answer["pipeline"],
                "adapter_id": answer["adapter_id"],
                "vote": choice,
                "exchange_id": exchange["exchange_id"],
                "session_id": exchange["session_id"],
                "rater": exchange["rater"] if include_raters else None,
                "voted_at": exchange["voted_at"],
            })
    return rows


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".jsonl.partial")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    tmp.replace(path)


def export_feedback(store: FeedbackStore, out_dir: Path, push_to_hub: str | None = None,
                    include_raters: bool = False) -> ExportResult:
    """Write ``dpo.jsonl`` and ``ratings.jsonl`` (and push both as datasets when a repo id is given); user names
    only with ``include_raters``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rated = store.rated_exchanges()
    dpo, ratings = dpo_rows(rated, include_raters), rating_rows(rated, include_raters)
    result = ExportResult(out_dir / "dpo.jsonl", out_dir / "ratings.jsonl", len(dpo), len(ratings))
    _write_jsonl(result.dpo_jsonl, dpo)
    _write_jsonl(result.ratings_jsonl, ratings)
    if push_to_hub:
        from datasets import Dataset

        Dataset.from_list(dpo).push_to_hub(push_to_hub, config_name="dpo")
        Dataset.from_list(ratings).push_to_hub(push_to_hub, config_name="ratings")
    return result
