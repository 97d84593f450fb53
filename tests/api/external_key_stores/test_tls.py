"""Proxies over HTTPS: the KMS verifies the proxy's certificate against ``xks_proxy_ca_file``
(a CA it was told to trust) and refuses one it cannot verify, as AWS requires a trusted
certificate (XksProxyInvalidConfigurationException)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.api.tls import self_signed
from tests.support.bad_xks_proxy import BadProxy, bad_proxy
from tests.support.servers import InProcessServer, in_process_server

TRUSTED = "https://tls-trusted.test"
UNTRUSTED = "https://tls-untrusted.test"


@dataclass
class TlsWorld:
    kms: InProcessServer
    trusted: BadProxy
    untrusted: BadProxy


@pytest.fixture(scope="module")
def tls_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsWorld]:
    ours = self_signed(tmp_path_factory.mktemp("tls-ours"), "127.0.0.1")
    theirs = self_signed(tmp_path_factory.mktemp("tls-theirs"), "127.0.0.1")
    assert ours.ca_bundle is not None
    with (
        bad_proxy((ours.certificate, ours.private_key)) as trusted,
        bad_proxy((theirs.certificate, theirs.private_key)) as untrusted,
        in_process_server(
            tmp_path_factory.mktemp("tls-kms"),
            xks_proxy_connect_to=f"{TRUSTED}={trusted.endpoint},{UNTRUSTED}={untrusted.endpoint}",
            xks_proxy_ca_file=str(ours.ca_bundle),
            xks_proxy_timeout_seconds=1.5,
        ) as kms,
    ):
        yield TlsWorld(kms, trusted, untrusted)


def create(kms: Any, endpoint: str) -> str:
    return str(
        kms.create_custom_key_store(
            CustomKeyStoreName=f"tls-{uuid.uuid4().hex[:8]}",
            CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyConnectivity="PUBLIC_ENDPOINT",
            XksProxyUriEndpoint=endpoint,
            XksProxyUriPath=f"/p{uuid.uuid4().hex[:8]}/kms/xks/v1",
            XksProxyAuthenticationCredential={
                "AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                "RawSecretAccessKey": "a" * 43,
            },
        )["CustomKeyStoreId"]
    )


def test_a_proxy_with_a_trusted_certificate_is_used_over_tls(tls_world: TlsWorld) -> None:
    kms = tls_world.kms.client()
    store_id = create(kms, TRUSTED)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    key_id = kms.create_key(
        CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId="good-key"
    )["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"over tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"
    assert tls_world.trusted.requests[-1][0].endswith("/decrypt")


def test_a_proxy_whose_certificate_is_not_trusted_is_refused(tls_world: TlsWorld) -> None:
    kms = tls_world.kms.client()
    with pytest.raises(ClientError) as refused:
        create(kms, UNTRUSTED)
    assert refused.value.response["Error"]["Code"] == "XksProxyInvalidConfigurationException"
    assert tls_world.untrusted.requests == []  # nothing was sent to it
    # Nor can a store be moved to it: the update is refused and nothing changes.
    store_id = create(kms, TRUSTED)
    with pytest.raises(ClientError) as moved:
        kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyUriEndpoint=UNTRUSTED)
    assert moved.value.response["Error"]["Code"] == "XksProxyInvalidConfigurationException"
    entry = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"][0]
    assert entry["XksProxyConfiguration"]["UriEndpoint"] == TRUSTED
