"""Rating queues: stored exchanges handed to N raters each, their items and the raters' claims.

A claim's ``slot`` (0..N-1) is unique per item, so replicas sharing one database never seat more than N raters on
an item (pipelines/feedback/queues.py). Only new tables: an existing database keeps every row.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rating_queues",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("raters_per_item", sa.Integer, nullable=False),
        sa.Column("blind", sa.Boolean, nullable=False),
        sa.Column("guidelines", sa.Text, nullable=False, server_default=""),
        sa.Column("guidelines_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "queue_items",
        sa.Column("queue_id", sa.String(32), sa.ForeignKey("rating_queues.id"), primary_key=True),
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("pipeline_a", sa.String(64), nullable=False),
        sa.Column("pipeline_b", sa.String(64), nullable=False),
        sa.Column("gold", sa.String(16)),
    )
    op.create_index("queue_items_in_order", "queue_items", ["queue_id", "position"])
    op.create_table(
        "queue_claims",
        sa.Column("queue_id", sa.String(32), sa.ForeignKey("rating_queues.id"), primary_key=True),
        sa.Column("exchange_id", sa.String(32), sa.ForeignKey("exchanges.id"), primary_key=True),
        sa.Column("rater", sa.String(128), primary_key=True),
        sa.Column("slot", sa.Integer),
        sa.Column("claimed_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("released_at", sa.String(32)),
        sa.Column("vote_id", sa.Integer, sa.ForeignKey("votes.id")),
        sa.Column("voted_at", sa.String(32)),
        sa.Column("guidelines_version", sa.Integer),
    )
    op.create_index("queue_claims_one_per_slot", "queue_claims", ["queue_id", "exchange_id", "slot"], unique=True)
    op.create_index("queue_claims_by_rater", "queue_claims", ["queue_id", "rater"])


def downgrade() -> None:
    for table in ("queue_claims", "queue_items", "rating_queues"):
        op.drop_table(table)
