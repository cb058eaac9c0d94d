"""One score row per answer, metric and scorer: a unique key on ``scores``.

Replicas sharing one database stored a metric twice when they scored the same exchange at once (the store
deleted, then inserted, and two transactions both found nothing to delete). Rows stored twice before this
revision are reduced to the newest one of each key, then the key is added.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "DELETE FROM scores WHERE id NOT IN"
        " (SELECT newest FROM (SELECT MAX(id) AS newest FROM scores"
        " GROUP BY exchange_id, pipeline, metric, scorer) AS kept)"
    )
    op.create_index("scores_once", "scores", ["exchange_id", "pipeline", "metric", "scorer"], unique=True)


def downgrade() -> None:
    op.drop_index("scores_once", "scores")
