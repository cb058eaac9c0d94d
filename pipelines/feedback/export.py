"""Preference data out of the feedback store: DPO pairs, per-answer ratings (KTO / reward models), and the rating
queues' per-rater votes with their agreement.

Ties and "both bad" never become DPO pairs (nothing was preferred); they stay in the
rating export, where a tie marks both answers acceptable and "both bad" neither. Each row's ``rater`` (a
signed-in Hugging Face user name, else the session) is left out (null) unless ``include_raters`` is asked for.

Rating queues (:mod:`pipelines.feedback.queues`) give one item to several raters. Their votes go to a separate
file, ``queue_votes.jsonl``, one row per rater vote: ``queue_id``, ``queue``, ``exchange_id``, ``rater``,
``choice``, ``gold`` (the admin's right choice, or null), ``guidelines_version`` (the queue guidelines the rater
had), ``voted_at`` and ``pipelines`` (the two compared). A row per vote, rather than a field on each DPO row,
keeps the DPO file in the shape DPO trainers read and keeps votes that make no pair (ties, "both bad"). Raters
there are pseudonyms (``rater-1``, ``rater-2``... by first vote, the same in both files) unless
``include_raters``: agreement needs them told apart, not named. ``agreement.json`` holds the figures of
:mod:`pipelines.feedback.rater_agreement` per queue (and over all queues), and how many items raters agreed on.

``agreed_only`` keeps, in ``dpo.jsonl`` and ``ratings.jsonl``, only the exchanges whose queue raters all made the
same choice (at least two votes; an exchange in two queues pools its votes, a rater's latest counting), with that
choice; arena votes outside a queue have one rater and drop out.

Example::

    result = export_feedback(store, Path("exports/today"), agreed_only=True)
    datasets.load_dataset("json", data_files=str(result.dpo_jsonl))
    json.loads(result.agreement_json.read_text())["queues"][0]["alpha"]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.feedback.queues import RatingQueues
from pipelines.feedback.rater_agreement import AgreementReport, agreed_items, rater_agreement
from pipelines.feedback.store import FeedbackStore


@dataclass(frozen=True)
class ExportResult:
    dpo_jsonl: Path
    ratings_jsonl: Path
    dpo_pairs: int
    ratings: int
    queue_votes_jsonl: Path | None = None
    agreement_json: Path | None = None
    queue_votes: int = 0
    agreed_items: int = 0


def _kept(rated: list[dict], agreed: Mapping[str, str] | None) -> list[dict]:
    """The exchanges to export: all, or only the agreed ones, each with the choice its raters agreed on."""
    if agreed is None:
        return rated
    return [{**exchange, "choice": agreed[exchange["exchange_id"]]} for exchange in rated
            if exchange["exchange_id"] in agreed]


def dpo_rows(rated: list[dict], include_raters: bool = False, agreed: Mapping[str, str] | None = None) -> list[dict]:
    """DPO pairs (chosen beats each other answer) of voted exchanges; ``agreed`` (:func:`store_agreed_items`):
    only those exchanges, with their agreed choice."""
    rows = []
    for exchange in _kept(rated, agreed):
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


def rating_rows(rated: list[dict], include_raters: bool = False, agreed: Mapping[str, str] | None = None) -> list[dict]:
    """One labelled row per answer (KTO / reward models); ``agreed`` filters as in :func:`dpo_rows`."""
    rows = []
    for exchange in _kept(rated, agreed):
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


def _latest_per_rater(votes: list[dict]) -> list[dict]:
    """One vote per (exchange, rater): the latest, where a rater met the same exchange in two queues."""
    latest: dict[tuple[str, str], dict] = {}
    for vote in votes:  # oldest first
        latest[(vote["exchange_id"], vote["rater"])] = vote
    return list(latest.values())


def store_agreed_items(store: FeedbackStore) -> dict[str, str]:
    """exchange_id -> the choice all its queue raters made (two votes or more), over every queue: the filter for
    ``dpo_rows(..., agreed=...)`` (the DPO button's "agreed only")."""
    return agreed_items(_latest_per_rater(RatingQueues(store).queue_votes()))


def queue_vote_rows(votes: list[dict], names: Mapping[str, str], include_raters: bool = False) -> list[dict]:
    """``queue_votes.jsonl`` rows (module docstring); ``names``: queue id -> queue name."""
    pseudonyms: dict[str, str] = {}
    rows = []
    for vote in votes:
        pseudonym = pseudonyms.setdefault(vote["rater"], f"rater-{len(pseudonyms) + 1}")
        rows.append({
            "queue_id": vote["queue_id"], "queue": names.get(vote["queue_id"], ""), "exchange_id": vote["exchange_id"],
            "rater": vote["rater"] if include_raters else pseudonym, "choice": vote["choice"], "gold": vote["gold"],
            "guidelines_version": vote["guidelines_version"], "voted_at": vote["created_at"],
            "pipelines": list(vote["pipelines"]),
        })
    return rows


def _report(report: AgreementReport) -> dict:
    return {**asdict(report), "raters": [asdict(r) for r in report.raters]}


def agreement_figures(rows: list[dict], queues: list[dict], agreed: int) -> dict:
    """``agreement.json``: per queue and over all queues, from the exported vote rows (their raters as exported)."""
    per_queue = []
    for queue in queues:
        votes = [r for r in rows if r["queue_id"] == queue["queue_id"]]
        if votes:
            per_queue.append({**queue, "votes": len(votes), **_report(rater_agreement(votes))})
    pooled = _latest_per_rater(rows)
    return {"queues": per_queue, "all": {"votes": len(pooled), **_report(rater_agreement(pooled))},
            "agreed_items": agreed}


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_suffix(".jsonl.partial")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    tmp.replace(path)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    tmp.replace(path)


def export_feedback(store: FeedbackStore, out_dir: Path, push_to_hub: str | None = None,
                    include_raters: bool = False, agreed_only: bool = False) -> ExportResult:
    """Write ``dpo.jsonl``, ``ratings.jsonl``, ``queue_votes.jsonl`` and ``agreement.json`` (and push the first
    three as datasets when a repo id is given); user names only with ``include_raters``; ``agreed_only``: only
    the exchanges queue raters agreed on (module docstring)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    queues = RatingQueues(store)
    votes = queues.queue_votes()
    agreed = agreed_items(_latest_per_rater(votes))
    infos = [{"queue_id": q.id, "name": q.name, "raters_per_item": q.raters_per_item,
              "guidelines_version": q.guidelines_version, "items": q.items} for q in queues.queues()]
    vote_rows = queue_vote_rows(votes, {q["queue_id"]: q["name"] for q in infos}, include_raters)
    rated = store.rated_exchanges()
    keep = agreed if agreed_only else None
    dpo, ratings = dpo_rows(rated, include_raters, keep), rating_rows(rated, include_raters, keep)
    result = ExportResult(out_dir / "dpo.jsonl", out_dir / "ratings.jsonl", len(dpo), len(ratings),
                          out_dir / "queue_votes.jsonl", out_dir / "agreement.json", len(vote_rows), len(agreed))
    _write_jsonl(result.dpo_jsonl, dpo)
    _write_jsonl(result.ratings_jsonl, ratings)
    _write_jsonl(result.queue_votes_jsonl, vote_rows)
    _write_json(result.agreement_json, {**agreement_figures(vote_rows, infos, len(agreed)), "agreed_only": agreed_only})
    if push_to_hub:
        from datasets import Dataset

        Dataset.from_list(dpo).push_to_hub(push_to_hub, config_name="dpo")
        Dataset.from_list(ratings).push_to_hub(push_to_hub, config_name="ratings")
        if vote_rows:
            Dataset.from_list(vote_rows).push_to_hub(push_to_hub, config_name="queue_votes")
    return result
