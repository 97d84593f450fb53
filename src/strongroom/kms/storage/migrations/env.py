"""Alembic's environment: migrations run on the connection migrate.py hands over.

The caller holds the transaction (and, on PostgreSQL, the migration lock), so every revision
of one upgrade commits together or not at all, and nodes starting at once migrate once.
"""

from __future__ import annotations

from alembic import context

from strongroom.kms.storage import schema

_connection = context.config.attributes["connection"]


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Only the KMS schema's tables (a package with its own tables versions them itself)."""
    return type_ != "table" or name in schema.metadata.tables or name == "alembic_version"


context.configure(
    connection=_connection,
    target_metadata=schema.metadata,
    include_object=_ours,
    render_as_batch=_connection.dialect.name == "sqlite",
    compare_type=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
