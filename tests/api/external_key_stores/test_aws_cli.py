"""The AWS CLI (an independent client) creates, connects and uses an external key store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.api.external_key_stores.conftest import PROXIES, World
from tests.api.test_aws_cli import AwsCli


def test_the_aws_cli_drives_an_external_key_store(world: World, tmp_path: Path) -> None:
    aws = AwsCli(world.kms, tmp_path)  # the admin's account: no other test uses it
    # AWS CLI v1 fetches parameter values that look like URLs (the proxy's endpoint) unless told
    # not to: docs/external-key-stores.md says so.
    Path(aws.env["AWS_CONFIG_FILE"]).write_text("[default]\ncli_follow_urlparam = false\n")
    credential = json.dumps(
        {
            "AccessKeyId": world.tenant.xks.access_key_id,
            "RawSecretAccessKey": world.tenant.xks.secret,
        }
    )
    store_id = aws.text(
        "create-custom-key-store",
        "--custom-key-store-name",
        "cli-xks",
        "--custom-key-store-type",
        "EXTERNAL_KEY_STORE",
        "--xks-proxy-connectivity",
        "PUBLIC_ENDPOINT",
        "--xks-proxy-uri-endpoint",
        PROXIES[6],
        "--xks-proxy-uri-path",
        world.tenant.xks.uri_path,
        "--xks-proxy-authentication-credential",
        credential,
        "--query",
        "CustomKeyStoreId",
    )
    connected = aws("connect-custom-key-store", "--custom-key-store-id", store_id)
    assert connected.returncode == 0, connected.stderr
    described = aws("describe-custom-key-stores", "--custom-key-store-id", store_id).json()
    (entry,) = described["CustomKeyStores"]
    assert entry["ConnectionState"] == "CONNECTED"
    assert entry["XksProxyConfiguration"]["UriEndpoint"] == PROXIES[6]
    assert world.tenant.xks.secret not in json.dumps(described)
    meta = aws(
        "create-key",
        "--origin",
        "EXTERNAL_KEY_STORE",
        "--custom-key-store-id",
        store_id,
        "--xks-key-id",
        world.tenant.key_id,
    ).json()["KeyMetadata"]
    assert meta["XksKeyConfiguration"] == {"Id": world.tenant.key_id}
    (tmp_path / "plain").write_bytes(b"from the cli")
    blob = aws.text(
        "encrypt",
        "--key-id",
        meta["KeyId"],
        "--plaintext",
        f"fileb://{tmp_path / 'plain'}",
        "--query",
        "CiphertextBlob",
    )
    (tmp_path / "blob").write_bytes(base64.b64decode(blob))
    decrypted = aws.text(
        "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'blob'}", "--query", "Plaintext"
    )
    assert base64.b64decode(decrypted) == b"from the cli"
    refused = aws(
        "create-key",
        "--origin",
        "EXTERNAL_KEY_STORE",
        "--custom-key-store-id",
        store_id,
        "--xks-key-id",
        "no-such-external-key",
    )
    assert refused.returncode != 0 and "(XksKeyNotFoundException)" in refused.stderr
