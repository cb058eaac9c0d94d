"""Alembic migrations of the feedback database (``python -m pipelines.feedback migrate``)."""
