"""KMIP batch items are counted in the node's /metrics like the other APIs' requests."""

from __future__ import annotations

import uuid

import pytest
from kmip.core import enums
from kmip.pie.exceptions import KmipOperationFailure

from tests.kmip.conftest import Tenant
from tests.support import metrics
from tests.support.kmip import KmipWorld
from tests.support.metrics import scrape


def test_kmip_operations_are_counted_by_outcome(world: KmipWorld, tenant: Tenant) -> None:
    before = scrape(world.server.endpoint)
    client = world.proxy(tenant.pair, None)
    try:
        uid = client.create(enums.CryptographicAlgorithm.AES, 256, name="counted")
        with pytest.raises(KmipOperationFailure) as missing:
            client.get(str(uuid.uuid4()))
    finally:
        client.close()
    assert uid and missing.value.reason == enums.ResultReason.ITEM_NOT_FOUND
    after = scrape(world.server.endpoint)

    def gained(**labels: str) -> float:
        return metrics.gained(before, after, "strongroom_requests_total", **labels)

    assert gained(service="kmip", operation="Create", code="OK") == 1
    assert gained(service="kmip", operation="Get", code="ItemNotFound") == 1
    assert gained(service="kms") == 0  # KMIP calls run through the pipeline, not the KMS API
