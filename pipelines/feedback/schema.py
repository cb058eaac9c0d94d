"""The feedback database's tables, as SQLAlchemy Core metadata (the head of the Alembic migrations).

The same tables run on SQLite (the default, one file) and PostgreSQL (several replicas).
Timestamps are ISO-8601 UTC strings, which sort the same way on both.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

exchanges = Table(
    "exchanges", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", String(32), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("question", Text, nullable=False),
    Column("history", Text, nullable=False, server_default="[]"),
    Column("user_name", String(128)),  # signed-in Hugging Face user, when there is one
)

answers = Table(
    "answers", metadata,
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), primary_key=True),
    Column("pipeline", String(64), primary_key=True),
    Column("answer", Text, nullable=False),
    Column("contexts", Text, nullable=False, server_default="[]"),
    Column("error", Text),
    Column("model_id", String(256), nullable=False, server_default=""),
    Column("adapter_id", String(256)),
    Column("first_token_s", Float),
    Column("total_s", Float),
    Column("retrieval_s", Float),
    Column("position", Integer, nullable=False, server_default="0"),  # column order as the arena ran them
)

votes = Table(
    "votes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), nullable=False),
    Column("choice", String(16), nullable=False),
    Column("session_id", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("user_name", String(128)),
    Column("rater", String(128), nullable=False, server_default=""),  # user_name, else session_id: whom limits count
    Index("votes_by_exchange", "exchange_id"),
    Index("votes_by_rater", "rater", "created_at"),
)

scores = Table(
    "scores", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), nullable=False),
    Column("pipeline", String(64), nullable=False),
    Column("metric", String(128), nullable=False),
    Column("value", Float),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Column("scorer", String(256), nullable=False),
    Column("created_at", String(32), nullable=False),
    Index("scores_by_exchange", "exchange_id"),
    # One row per answer, metric and scorer: replicas storing the same scores at once update one row (0003).
    Index("scores_once", "exchange_id", "pipeline", "metric", "scorer", unique=True),
)

exchange_views = Table(
    "exchange_views", metadata,
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("shown_order", Text, nullable=False),
)

ratings = Table(
    "ratings", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), nullable=False),
    Column("pipeline", String(64), nullable=False),
    Column("score", Integer),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("comment", Text, nullable=False, server_default=""),
    Column("session_id", String(64), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("user_name", String(128)),
)

# Rating queues (0004): stored exchanges handed to N raters each (pipelines/feedback/queues.py).
rating_queues = Table(
    "rating_queues", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("raters_per_item", Integer, nullable=False),
    Column("blind", Boolean, nullable=False),
    Column("guidelines", Text, nullable=False, server_default=""),
    Column("guidelines_version", Integer, nullable=False, server_default="1"),
    Column("created_at", String(32), nullable=False),
)

queue_items = Table(
    "queue_items", metadata,
    Column("queue_id", String(32), ForeignKey("rating_queues.id"), primary_key=True),
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), primary_key=True),
    Column("position", Integer, nullable=False),  # 0-based, the order the queue was built in
    Column("pipeline_a", String(64), nullable=False),  # the two answers compared, in the exchange's column order
    Column("pipeline_b", String(64), nullable=False),
    Column("gold", String(16)),  # the right choice, when an admin marked one
    Index("queue_items_in_order", "queue_id", "position"),
)

# One row per rater who ever held an item (the primary key: never the same rater twice). ``slot`` (0..N-1) is the
# seat the claim holds; the unique key on it is what caps an item at N votes across replicas. A released or expired
# claim gives its seat up (slot NULL; NULLs never collide) and stays, so its rater is not handed the item again.
queue_claims = Table(
    "queue_claims", metadata,
    Column("queue_id", String(32), ForeignKey("rating_queues.id"), primary_key=True),
    Column("exchange_id", String(32), ForeignKey("exchanges.id"), primary_key=True),
    Column("rater", String(128), primary_key=True),
    Column("slot", Integer),
    Column("claimed_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("released_at", String(32)),
    Column("vote_id", Integer, ForeignKey("votes.id")),
    Column("voted_at", String(32)),
    Column("guidelines_version", Integer),  # the queue's guidelines when the vote was given
    Index("queue_claims_one_per_slot", "queue_id", "exchange_id", "slot", unique=True),
    Index("queue_claims_by_rater", "queue_id", "rater"),
)
