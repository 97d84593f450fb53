"""The statements of the request path, built once.

Building a SQLAlchemy statement per call (``select(...).where(...)``) costs more CPU than the
query itself on SQLite (about 80 µs against 20 µs for a prebuilt statement with bound
parameters, measured by ``bench/s3_profile.py``'s author). These run on every GET and PUT.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, delete, insert, select

from strongroom.objectstore.storage.tables import buckets, objects

_OBJECT_KEY = and_(objects.c.bucket == bindparam("b"), objects.c.key == bindparam("k"))

BUCKET = select(buckets).where(buckets.c.name == bindparam("name"))
OBJECT = select(objects).where(_OBJECT_KEY)
# Removes an object and says which blobs it had (one statement: DELETE ... RETURNING).
REMOVE_OBJECT = delete(objects).where(_OBJECT_KEY).returning(objects.c.blobs)
INSERT_OBJECT = insert(objects)
