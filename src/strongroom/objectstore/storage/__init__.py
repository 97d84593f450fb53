"""The object store's metadata in the KMS's database: the only SQLAlchemy in the object store."""
