from __future__ import annotations

import re

from strongroom.kms.api.request_ids import RequestIds

UUID_SHAPE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_ids_are_unique_and_uuid_shaped() -> None:
    first, second = RequestIds(), RequestIds()
    ids = [first.next() for _ in range(10_000)] + [second.next() for _ in range(10_000)]
    assert len(set(ids)) == 20_000
    assert all(UUID_SHAPE.fullmatch(i) for i in ids)
    assert ids[0][:23] != ids[10_000][:23]  # processes differ in their prefix
