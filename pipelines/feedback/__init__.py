"""Feedback layer (above ``common``, beside ``generation`` and ``knowledge``): the store of exchanges, votes,
ratings and scores (its schema and Alembic migrations), the leaderboard, the ratings summary and the exports.
Imports only ``common``; its command line is ``python -m pipelines.feedback`` (``__main__``)."""
