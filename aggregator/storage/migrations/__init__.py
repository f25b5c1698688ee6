"""Alembic migrations of the aggregator schema (run through :mod:`aggregator.storage.schema`)."""
