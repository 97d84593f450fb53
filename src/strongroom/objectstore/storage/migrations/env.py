"""Alembic's environment for the object store's tables (version table ``s3_alembic_version``).

The caller (``objectstore/storage/migrate.py``) holds the transaction and, on PostgreSQL, the
migration lock; the KMS's own tables are versioned apart (``kms/storage/migrations``).
"""

from __future__ import annotations

from alembic import context

from strongroom.objectstore.storage.migrate import VERSION_TABLE, target_metadata

_connection = context.config.attributes["connection"]


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Only the object store's tables (the KMS versions its own)."""
    return type_ != "table" or (name or "").startswith("s3_")


context.configure(
    connection=_connection,
    target_metadata=target_metadata(),
    include_object=_ours,
    version_table=VERSION_TABLE,
    render_as_batch=_connection.dialect.name == "sqlite",
    compare_type=True,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
