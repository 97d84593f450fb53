"""GetExposureReport: a tenant fetches the exposure report of its own keys through the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.cli import run
from tests.support.hsm_clusters import register_cluster
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server
from tests.support.tenants import new_tenant


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("exposure")) as running:
        yield running


def report(server: InProcessServer, key: IssuedAccessKey | None = None) -> dict[str, Any]:
    conn = RawKms(server.endpoint, key or server.admin_key)
    try:
        reply = conn.call("GetExposureReport", {})
    finally:
        conn.close()
    assert reply.status == 200, reply
    return dict(reply.body["ExposureReport"])


def test_a_tenant_gets_the_verdict_for_each_kind_of_key(server: InProcessServer) -> None:
    client = server.client()
    default = client.create_key()["KeyMetadata"]["Arn"]
    imported = client.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    cluster = register_cluster(server.data_dir, hsms=3)
    store_id = client.create_custom_key_store(
        CustomKeyStoreName="report-hsm",
        CloudHsmClusterId=cluster.cluster_id,
        TrustAnchorCertificate=cluster.trust_anchor,
        KeyStorePassword=cluster.password,
    )["CustomKeyStoreId"]
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    in_hsm = client.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")["KeyMetadata"]

    seen = report(server)
    rows = {row["KeyArn"]: row for row in seen["Keys"]}
    assert rows[default]["Exposure"] == "provider-under-quorum"
    assert rows[imported]["Exposure"] == "provider-under-quorum"
    # No material imported yet: neither ExpirationModel nor ValidTo (DescribeKey's members).
    assert (rows[imported]["ExpirationModel"], rows[imported]["ValidTo"]) == (None, None)
    # The KMS's JSON style: PascalCase members, timestamps in epoch seconds.
    assert isinstance(seen["GeneratedAt"], float)
    assert all(name[:1].isupper() for row in rows.values() for name in row)
    assert rows[in_hsm["Arn"]]["Exposure"] == "customer-hsm-only"
    assert rows[in_hsm["Arn"]]["ProviderAccesses"] == 0
    # Costs from the configured rates: 1 USD per key, 1,000 USD per HSM of the cluster.
    assert seen["HsmClusters"] == [cluster.cluster_id]
    assert seen["Hsms"] == 3
    assert seen["HsmMonthlyUsd"] == 3000.0
    assert seen["TotalMonthlyUsd"] == 3000.0 + len(rows)


def test_a_tenant_sees_only_its_own_keys(server: InProcessServer) -> None:
    mine = server.client().create_key()["KeyMetadata"]["Arn"]
    theirs = report(server, new_tenant(server))
    assert theirs["Keys"] == []
    assert mine not in str(theirs)
    assert theirs["TotalMonthlyUsd"] == 0.0


def test_a_tenant_gets_its_report_from_the_strongroom_command(
    server: InProcessServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``strongroom report exposure --endpoint-url``: the same answer, signed by the tenant."""
    tenant = new_tenant(server)
    mine = server.client(tenant).create_key()["KeyMetadata"]["Arn"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", tenant.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", tenant.secret_access_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    endpoint = ("report", "exposure", "--endpoint-url", server.endpoint)
    status, out, err = run(*endpoint, "--format", "json")
    assert (status, err) == (0, "")
    shown = json.loads(out)
    assert [row["KeyArn"] for row in shown["Keys"]] == [mine]
    assert shown["TotalMonthlyUsd"] == 1.0
    status, out, _ = run(*endpoint)
    assert status == 0 and out.startswith(f"{mine}  provider-under-quorum  Enabled")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    status, _, err = run(*endpoint)
    assert status == 2 and "InvalidSignatureException" in err
