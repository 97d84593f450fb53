from __future__ import annotations

import re

from strongroom.kms.domain.ids import UuidShapedIds

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_ids_are_unique_and_uuid_shaped() -> None:
    first, second = UuidShapedIds(), UuidShapedIds()
    ids = [first.next() for _ in range(10_000)] + [second.next() for _ in range(10_000)]
    assert len(set(ids)) == 20_000
    assert all(UUID_SHAPE.fullmatch(i) for i in ids)
    assert ids[0][:23] != ids[10_000][:23]  # processes differ in their prefix
