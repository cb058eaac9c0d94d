"""Signed-in user names, each vote's rater (indexed for the vote rate limit), and the arena's column order.

The ``latest_votes`` view goes: the store builds that query itself, so a view never
freezes an old column list (PostgreSQL expands ``SELECT *`` when the view is made).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS latest_votes")
    for table in ("exchanges", "votes", "ratings"):
        op.add_column(table, sa.Column("user_name", sa.String(128)))
    op.add_column("votes", sa.Column("rater", sa.String(128), nullable=False, server_default=""))
    op.execute("UPDATE votes SET rater = session_id")
    op.add_column("answers", sa.Column("position", sa.Integer, nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "sqlite":  # rows written before: their insertion order is the column order
        op.execute(
            "UPDATE answers SET position = (SELECT COUNT(*) FROM answers AS earlier"
            " WHERE earlier.exchange_id = answers.exchange_id AND earlier.rowid < answers.rowid)"
        )
    op.create_index("votes_by_rater", "votes", ["rater", "created_at"])


def downgrade() -> None:
    op.drop_index("votes_by_rater", "votes")
    with op.batch_alter_table("answers") as batch:
        batch.drop_column("position")
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("rater")
    for table in ("ratings", "votes", "exchanges"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("user_name")
    op.execute(
        "CREATE VIEW latest_votes AS"
        " SELECT * FROM votes WHERE id IN (SELECT MAX(id) FROM votes GROUP BY exchange_id)"
    )
