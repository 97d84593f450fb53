"""Backups of a data directory: an encrypted logical dump, and its restore (docs/adr/0016)."""
