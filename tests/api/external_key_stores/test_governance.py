"""Governance knows keys of external key stores: provider access is refused (the tenant sees
the refusal in its trail) and the exposure report says only the external key's holder can be
compelled. A KMS with the real audit chain, operators enrolled with the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.external_key_stores.conftest import PROXIES, World
from tests.support.cli import run
from tests.support.console import ConsoleClient
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server

ENDPOINT = PROXIES[7]


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory, world: World) -> Iterator[InProcessServer]:
    with in_process_server(
        tmp_path_factory.mktemp("xks-gov"),
        chained_audit=True,
        xks_proxy_connect_to=f"{ENDPOINT}={world.proxy.endpoint}",
        xks_proxy_timeout_seconds=world.kms.settings.xks_proxy_timeout_seconds,
    ) as running:
        yield running


def external_key(server: InProcessServer, world: World) -> dict[str, Any]:
    kms = server.client()
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="outside",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint=ENDPOINT,
        XksProxyUriPath=world.tenant.xks.uri_path,
        XksProxyAuthenticationCredential={
            "AccessKeyId": world.tenant.xks.access_key_id,
            "RawSecretAccessKey": world.tenant.xks.secret,
        },
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    meta: dict[str, Any] = kms.create_key(
        CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=world.tenant.key_id
    )["KeyMetadata"]
    return meta


def test_provider_access_is_refused_and_the_report_names_the_external_key_holder(
    chained: InProcessServer, world: World, tmp_path: Path
) -> None:
    meta = external_key(chained, world)
    blob = tmp_path / "c.bin"
    blob.write_bytes(
        chained.client().encrypt(KeyId=meta["Arn"], Plaintext=b"ours")["CiphertextBlob"]
    )
    keys = tmp_path / "operators"
    for name in ("ann", "bob"):
        assert run("operator", "keygen", name, "--out", str(keys))[0] == 0
    members = [f"--operator={n}={keys / f'{n}.pub.pem'}" for n in ("ann", "bob")]
    data_dir = str(chained.data_dir)
    assert run("operator", "init", "--data-dir", data_dir, "--threshold", "2", *members)[0] == 0
    status, out, err = run(
        "operator",
        "propose",
        "provider-decrypt",
        "--data-dir",
        data_dir,
        "--key",
        str(keys / "ann.key"),
        "--key-id",
        meta["Arn"],
        "--ciphertext-file",
        str(blob),
        "--reason-code",
        "LEGAL_ORDER",
        "--reference",
        "order 12",
        "--justification",
        "warrant",
    )
    assert (status, out) == (2, "")
    assert f"needs the customer's external key {world.tenant.key_id}" in err
    status, out, _ = run("operator", "list", "--data-dir", data_dir)
    assert meta["Arn"] not in out  # no proposal was stored
    status, out, err = run(
        "audit", "export", "--data-dir", data_dir, "--account", meta["AWSAccountId"]
    )
    assert status == 0, err
    (refusal,) = [
        r
        for r in map(json.loads, out.splitlines())
        if r["eventName"] == "ProviderAccess" and r["resources"][0]["ARN"] == meta["Arn"]
    ]
    assert refusal["errorCode"] == "KeyInCustomerHsm"

    conn = RawKms(chained.endpoint, chained.admin_key)
    try:
        reply = conn.call("GetExposureReport", {})
    finally:
        conn.close()
    assert reply.status == 200, reply
    (row,) = [r for r in reply.body["ExposureReport"]["Keys"] if r["KeyArn"] == meta["Arn"]]
    assert row["Exposure"] == "external-key-holder-only"
    assert row["How"].startswith("only the holder of the external key")
    assert world.tenant.key_id in row["How"]
    assert row["Origin"] == "EXTERNAL_KEY_STORE"
    assert row["ProviderAccesses"] == 0
    status, out, _ = run(
        "report", "exposure", "--data-dir", data_dir, "--account", meta["AWSAccountId"]
    )
    line = next(x for x in out.splitlines() if x.startswith(meta["Arn"]))
    assert status == 0 and "external-key-holder-only" in line

    # The console's exposure page counts the key in its own class and says so in its row.
    console = ConsoleClient(chained.endpoint)
    assert console.sign_in(chained.admin_key).status == 303
    answer = console.get("/console/exposure")
    assert answer.status == 200
    page = answer.body
    options = page[page.index("<table") : page.index('id="exposure-keys"')]
    assert "Only the holder of the external key" in options
    key_row = page[page.index(meta["KeyId"], page.index('id="exposure-keys"')) :]
    key_row = key_row[: key_row.index("</tr>")]
    assert 'tag-xks">Only the holder of the external key' in key_row
