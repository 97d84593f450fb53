"""Managing the XKS proxy (``strongroom admin xks``), its audit events, the exposure report's
verdict on external keys, and what external keys do to their custom key store's life."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from tests.support import cli
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer
from tests.support.xks import Tenant, admin


def _exposure(server: InProcessServer, key: Any = None) -> dict[str, Any]:
    conn = RawKms(server.endpoint, key or server.admin_key)
    try:
        reply = conn.call("GetExposureReport", {})
    finally:
        conn.close()
    assert reply.status == 200, reply
    return dict(reply.body["ExposureReport"])


def test_the_exposure_report_says_only_the_customers_hsm(
    server: InProcessServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    report = _exposure(server)
    external = [k for k in report["Keys"] if k["Origin"] == "EXTERNAL_KEY_STORE"]
    assert [k["KeyArn"].rsplit(":", 1)[1] for k in external] == [
        f"xks-key/{tenant.store_id}/{tenant.key_id}"
    ]  # the other tenant's key is not in this tenant's report
    row = external[0]
    assert row["Exposure"] == "customer-hsm-only"
    assert "only the customer" in row["How"] and tenant.cluster.cluster_id in row["How"]
    assert row["AccountId"] == server.admin_key.account_id
    assert tenant.cluster.cluster_id in report["HsmClusters"]
    assert report["Counts"]["customer-hsm-only"] >= 1


def test_admin_commands_are_in_the_tenants_trail(server: InProcessServer, tenant: Tenant) -> None:
    admin(
        server,
        "xks",
        "create-key",
        "--custom-key-store",
        tenant.store_id,
        "--xks-key-id",
        "audited-1",
    )
    status, out, err = cli.run(
        "audit",
        "export",
        "--data-dir",
        str(server.data_dir),
        "--account",
        server.admin_key.account_id,
    )
    assert status == 0, err
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    created = [e for e in events if e["eventName"] == "AdminCreateKeyXks"]
    assert created, [e["eventName"] for e in events]
    assert created[-1]["requestParameters"]["custom_key_store"] == tenant.store_id
    assert created[-1]["userIdentity"]["type"] == "StrongroomAdministrator"
    assert any(e["eventName"] == "AdminCreateCredentialXks" for e in events)
    assert "RawSecretAccessKey" not in out and tenant.xks.secret not in out


def test_keys_are_listed_and_ids_are_unique(server: InProcessServer, tenant: Tenant) -> None:
    admin(
        server,
        "xks",
        "create-key",
        "--custom-key-store",
        tenant.store_id,
        "--xks-key-id",
        "named.key_1",
    )
    listed = admin(server, "xks", "list-keys", "--custom-key-store", tenant.store_id)
    named = [k for k in listed if k["XksKeyId"] == "named.key_1"]
    assert named and named[0]["KeyStatus"] == "ENABLED"
    assert sorted(named[0]["Tokens"]) == sorted(t.label for t in tenant.cluster.tokens)
    status, _, err = cli.run(
        "admin",
        "--data-dir",
        str(server.data_dir),
        "xks",
        "create-key",
        "--custom-key-store",
        tenant.store_id,
        "--xks-key-id",
        "named.key_1",
    )
    assert status == 2 and "exists already" in err
    status, _, err = cli.run(
        "admin",
        "--data-dir",
        str(server.data_dir),
        "xks",
        "create-key",
        "--custom-key-store",
        tenant.store_id,
        "--xks-key-id",
        "bad id",
    )
    assert status == 2 and "1-128" in err


def test_a_store_with_external_keys_cannot_be_deleted_until_they_are(
    server: InProcessServer, tenant: Tenant
) -> None:
    admin(
        server, "xks", "create-key", "--custom-key-store", tenant.store_id, "--xks-key-id", "doomed"
    )
    status, _ = tenant.xks.encrypt("doomed", b"data")
    assert status == 200
    status, _, err = cli.run(
        "admin",
        "--data-dir",
        str(server.data_dir),
        "xks",
        "delete-key",
        "--custom-key-store",
        tenant.store_id,
        "doomed",
    )
    assert status == 2 and "disable" in err
    admin(server, "xks", "disable-key", "--custom-key-store", tenant.store_id, "doomed")
    assert admin(server, "xks", "delete-key", "--custom-key-store", tenant.store_id, "doomed") == {
        "FailedTokens": []
    }
    listed = admin(server, "xks", "list-keys", "--custom-key-store", tenant.store_id)
    assert "doomed" not in [k["XksKeyId"] for k in listed]
    tenant.kms.disconnect_custom_key_store(CustomKeyStoreId=tenant.store_id)
    try:
        try:
            tenant.kms.delete_custom_key_store(CustomKeyStoreId=tenant.store_id)
            raise AssertionError("a store with external keys was deleted")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "CustomKeyStoreHasCMKsException"
    finally:
        tenant.kms.connect_custom_key_store(CustomKeyStoreId=tenant.store_id)


def test_a_third_credential_is_refused(server: InProcessServer, other_tenant: Tenant) -> None:
    second = admin(server, "xks", "create-credential", "--custom-key-store", other_tenant.store_id)
    try:
        status, _, err = cli.run(
            "admin",
            "--data-dir",
            str(server.data_dir),
            "xks",
            "create-credential",
            "--custom-key-store",
            other_tenant.store_id,
        )
        assert status == 2 and "credentials already" in err
    finally:
        akid = second["XksProxyAuthenticationCredential"]["AccessKeyId"]
        admin(server, "xks", "delete-credential", akid)
