"""``python -m pipelines.feedback``: work with the feedback store from the command line.

    python -m pipelines.feedback export --out exports/ [--db URL] [--agreed-only] [--push-to-hub user/repo]
    python -m pipelines.feedback migrate [--db URL]

The store is :mod:`pipelines.feedback.store`; the export formats are :mod:`pipelines.feedback.export`.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.feedback.store import FeedbackStore


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.feedback export --out DIR`` / ``migrate``: work with the feedback store."""
    import argparse

    from pipelines.common.settings import settings_or_exit
    from pipelines.feedback.export import export_feedback

    database = argparse.ArgumentParser(add_help=False)
    database.add_argument("--db", default=None,
                          help="database URL or SQLite file (default: ARENA_DATABASE_URL, else the data dir's file)")
    parser = argparse.ArgumentParser(description="Work with the arena's feedback store.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", parents=[database], help="write DPO pairs and per-answer ratings")
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--push-to-hub", default=None, metavar="REPO", help="also push the datasets (needs HF_TOKEN)")
    export.add_argument("--agreed-only", action="store_true",
                        help="only items two or more queue raters judged, all alike (with the choice they agreed on)")
    commands.add_parser("migrate", parents=[database],
                        help="bring the schema to the newest revision (also done on every start)")
    args = parser.parse_args(argv)
    target = (Path(args.db) if "://" not in args.db else args.db) if args.db else settings_or_exit().feedback_target
    store = FeedbackStore.open(target)
    if args.command == "migrate":
        print(f"{store.engine.url.render_as_string(hide_password=True)}: schema at the newest revision")
        return 0
    result = export_feedback(store, args.out, push_to_hub=args.push_to_hub, agreed_only=args.agreed_only)
    print(f"{result.dpo_pairs} DPO pairs -> {result.dpo_jsonl}; {result.ratings} ratings -> {result.ratings_jsonl}; "
          f"{result.queue_votes} queue votes -> {result.queue_votes_jsonl} ({result.agreed_items} items agreed); "
          f"agreement -> {result.agreement_json}")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
