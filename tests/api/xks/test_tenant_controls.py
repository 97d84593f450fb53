"""The tenant cuts AWS off itself, through the KMS API (Strongroom extension operations)."""

from __future__ import annotations

import time
from typing import Any

from tests.support.errors import aws_error
from tests.support.servers import InProcessServer
from tests.support.xks import Tenant, XksClient, admin


def _until(condition: Any, limit: float = 2.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "not effective in time"
        time.sleep(0.02)


def test_the_tenant_disables_and_enables_an_external_key(
    server: InProcessServer, tenant: Tenant
) -> None:
    kms = tenant.extended_kms(server.endpoint)
    listed = kms.list_xks_keys(CustomKeyStoreId=tenant.store_id)["XksKeys"]
    assert tenant.key_id in [k["XksKeyId"] for k in listed]
    status, sealed = tenant.xks.encrypt(tenant.key_id, b"data key")
    assert status == 200
    kms.disable_xks_key(CustomKeyStoreId=tenant.store_id, XksKeyId=tenant.key_id)
    try:
        _until(lambda: tenant.xks.decrypt(tenant.key_id, sealed)[0] == 400)
        assert tenant.xks.decrypt(tenant.key_id, sealed)[1]["errorName"] == "InvalidStateException"
        listed = kms.list_xks_keys(CustomKeyStoreId=tenant.store_id)["XksKeys"]
        assert {k["XksKeyId"]: k["KeyStatus"] for k in listed}[tenant.key_id] == "DISABLED"
    finally:
        kms.enable_xks_key(CustomKeyStoreId=tenant.store_id, XksKeyId=tenant.key_id)
    _until(lambda: tenant.xks.decrypt(tenant.key_id, sealed)[0] == 200)
    with aws_error("NotFoundException"):
        kms.disable_xks_key(CustomKeyStoreId=tenant.store_id, XksKeyId="no-such-key")


def test_the_tenant_revokes_proxy_credentials(server: InProcessServer, tenant: Tenant) -> None:
    kms = tenant.extended_kms(server.endpoint)
    configuration = admin(server, "xks", "create-credential", "--custom-key-store", tenant.store_id)
    second = XksClient.from_configuration(server.endpoint, configuration)
    assert second.health()[0] == 200
    listed = kms.list_xks_proxy_credentials(CustomKeyStoreId=tenant.store_id)["Credentials"]
    assert second.access_key_id in [c["AccessKeyId"] for c in listed]
    kms.delete_xks_proxy_credential(
        CustomKeyStoreId=tenant.store_id, AccessKeyId=second.access_key_id
    )
    _until(lambda: second.health()[0] == 401)
    assert tenant.xks.health()[0] == 200


def test_another_account_cannot_touch_the_store(
    server: InProcessServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    intruder = other_tenant.extended_kms(server.endpoint)
    with aws_error("CustomKeyStoreNotFoundException"):
        intruder.list_xks_keys(CustomKeyStoreId=tenant.store_id)
    with aws_error("CustomKeyStoreNotFoundException"):
        intruder.disable_xks_key(CustomKeyStoreId=tenant.store_id, XksKeyId=tenant.key_id)
    with aws_error("CustomKeyStoreNotFoundException"):
        intruder.delete_xks_proxy_credential(
            CustomKeyStoreId=tenant.store_id, AccessKeyId=tenant.xks.access_key_id
        )
    # Its own credential named on its own store is not this store's either.
    with aws_error("NotFoundException"):
        intruder.delete_xks_proxy_credential(
            CustomKeyStoreId=other_tenant.store_id, AccessKeyId=tenant.xks.access_key_id
        )
    assert tenant.xks.encrypt(tenant.key_id, b"still mine")[0] == 200
