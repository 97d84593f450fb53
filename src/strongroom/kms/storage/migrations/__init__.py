"""Alembic's environment and the versioned schema migrations (``versions/``); see migrate.py."""
