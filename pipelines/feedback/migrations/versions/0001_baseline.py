"""Baseline: the tables as the first (stdlib sqlite3) store created them.

A database made by that store is stamped at this revision, not re-created.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_table(
        "answers",
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), primary_key=True),
        sa.Column("pipeline", sa.String(64), primary_key=True),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("contexts", sa.Text, nullable=False, server_default="[]"),
        sa.Column("error", sa.Text),
        sa.Column("model_id", sa.String(256), nullable=False, server_default=""),
        sa.Column("adapter_id", sa.String(256)),
        sa.Column("first_token_s", sa.Float),
        sa.Column("total_s", sa.Float),
        sa.Column("retrieval_s", sa.Float),
    )
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), nullable=False),
        sa.Column("choice", sa.String(16), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("votes_by_exchange", "votes", ["exchange_id"])
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(128), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("scorer", sa.String(256), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("scores_by_exchange", "scores", ["exchange_id"])
    op.create_table(
        "exchange_views",
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("shown_order", sa.Text, nullable=False),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), nullable=False),
        sa.Column("pipeline", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("comment", sa.Text, nullable=False, server_default=""),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.execute(
        "CREATE VIEW latest_votes AS"
        " SELECT * FROM votes WHERE id IN (SELECT MAX(id) FROM votes GROUP BY exchange_id)"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS latest_votes")
    for table in ("ratings", "exchange_views", "scores", "votes", "answers", "exchanges"):
        op.drop_table(table)
