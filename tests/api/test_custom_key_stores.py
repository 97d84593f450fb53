"""Custom key stores (AWS_CLOUDHSM) through boto3, backed by a cluster of SoftHSM2 tokens."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import Settings
from strongroom.kms.keystores.pkcs11 import TokenConnection
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY
from tests.support import softhsm
from tests.support.errors import error_code
from tests.support.hsm_clusters import Cluster, register_cluster, trust_anchor_pem
from tests.support.metrics import sample, scrape
from tests.support.servers import InProcessServer, in_process_server


@pytest.fixture(scope="module")
def hsm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("cks")) as running:
        yield running


@pytest.fixture(scope="module")
def client(hsm_server: InProcessServer) -> Any:
    return hsm_server.client()


@pytest.fixture
def cluster(hsm_server: InProcessServer) -> Cluster:
    return register_cluster(hsm_server.data_dir, hsms=2)


def _create_store(client: Any, cluster: Cluster, name: str | None = None) -> str:
    return str(
        client.create_custom_key_store(
            CustomKeyStoreName=name or f"store-{uuid.uuid4().hex[:8]}",
            CloudHsmClusterId=cluster.cluster_id,
            TrustAnchorCertificate=cluster.trust_anchor,
            KeyStorePassword=cluster.password,
        )["CustomKeyStoreId"]
    )


def _describe(client: Any, store_id: str) -> dict[str, Any]:
    stores = client.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    assert len(stores) == 1
    return dict(stores[0])


@pytest.fixture
def connected_store(client: Any, cluster: Cluster) -> str:
    store_id = _create_store(client, cluster)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert _describe(client, store_id)["ConnectionState"] == "CONNECTED"
    return store_id


def _create_key(client: Any, store_id: str) -> dict[str, Any]:
    return dict(client.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")["KeyMetadata"])


def _state(client: Any, key_id: str) -> str:
    return str(client.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])


def test_a_new_store_is_disconnected_and_described_as_aws_does(
    client: Any, cluster: Cluster
) -> None:
    store_id = _create_store(client, cluster, name="finance-hsm")
    assert store_id.startswith("cks-") and len(store_id) == 21
    entry = _describe(client, store_id)
    assert entry["CustomKeyStoreName"] == "finance-hsm"
    assert entry["CloudHsmClusterId"] == cluster.cluster_id
    assert entry["TrustAnchorCertificate"] == cluster.trust_anchor
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert "ConnectionErrorCode" not in entry
    by_name = client.describe_custom_key_stores(CustomKeyStoreName="finance-hsm")
    assert by_name["CustomKeyStores"][0]["CustomKeyStoreId"] == store_id
    listed = client.describe_custom_key_stores()["CustomKeyStores"]
    assert store_id in {s["CustomKeyStoreId"] for s in listed}


def test_the_whole_lifecycle(client: Any, hsm_server: InProcessServer, cluster: Cluster) -> None:
    store_id = _create_store(client, cluster)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert _describe(client, store_id)["ConnectionState"] == "CONNECTED"

    meta = _create_key(client, store_id)
    key_id = meta["KeyId"]
    assert meta["Origin"] == "AWS_CLOUDHSM"
    assert meta["CustomKeyStoreId"] == store_id
    assert meta["CloudHsmClusterId"] == cluster.cluster_id
    assert meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"

    blob = client.encrypt(KeyId=key_id, Plaintext=b"in the customer's HSM")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the customer's HSM"
    data_key = client.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert (
        client.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"]
        == (data_key["Plaintext"])
    )
    no_plain = client.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)
    assert len(client.decrypt(CiphertextBlob=no_plain["CiphertextBlob"])["Plaintext"]) == 16
    other = client.create_key()["KeyMetadata"]["KeyId"]
    moved = client.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=moved)["Plaintext"] == b"in the customer's HSM"
    back = client.re_encrypt(CiphertextBlob=moved, DestinationKeyId=key_id)["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=back, KeyId=key_id)["Plaintext"] == (
        b"in the customer's HSM"
    )
    random = client.generate_random(NumberOfBytes=64, CustomKeyStoreId=store_id)["Plaintext"]
    assert len(random) == 64 and random != bytes(64)

    # Disconnected: the key is Unavailable, every crypto operation and key creation fails.
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert _describe(client, store_id)["ConnectionState"] == "DISCONNECTED"
    assert _state(client, key_id) == "Unavailable"
    refused_calls: list[Callable[[], object]] = [
        lambda: client.encrypt(KeyId=key_id, Plaintext=b"x"),
        lambda: client.decrypt(CiphertextBlob=blob),
        lambda: client.generate_data_key(KeyId=key_id, KeySpec="AES_256"),
    ]
    for call in refused_calls:
        with pytest.raises(ClientError) as refused:
            call()
        assert error_code(refused.value) == "KMSInvalidStateException"
    with pytest.raises(ClientError) as refused:
        _create_key(client, store_id)
    assert error_code(refused.value) == "CustomKeyStoreInvalidStateException"
    with pytest.raises(ClientError) as refused:
        client.generate_random(NumberOfBytes=8, CustomKeyStoreId=store_id)
    assert error_code(refused.value) == "CustomKeyStoreInvalidStateException"
    # Still managed while disconnected: disabling takes effect once reconnected.
    client.disable_key(KeyId=key_id)
    assert _state(client, key_id) == "Unavailable"

    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert _state(client, key_id) == "Disabled"
    client.enable_key(KeyId=key_id)
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the customer's HSM"

    # Deletion: PendingDeletion survives a disconnect; the store cannot go while keys remain.
    client.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert _state(client, key_id) == "PendingDeletion"
    with pytest.raises(ClientError) as refused:
        client.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(refused.value) == "CustomKeyStoreHasCMKsException"
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as refused:
        client.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(refused.value) == "CustomKeyStoreInvalidStateException"

    # At the end of the window the key goes, and so do its objects in every token.
    assert _token_keys(cluster, meta["Arn"]) == [1, 1]
    hsm_server.clock.advance(timedelta(days=8))
    _wait_until(lambda: _gone(client, key_id))
    _wait_until(lambda: _token_keys(cluster, meta["Arn"]) == [0, 0])

    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    client.delete_custom_key_store(CustomKeyStoreId=store_id)
    with pytest.raises(ClientError) as refused:
        client.describe_custom_key_stores(CustomKeyStoreId=store_id)
    assert error_code(refused.value) == "CustomKeyStoreNotFoundException"


def _gone(client: Any, key_id: str) -> bool:
    try:
        client.describe_key(KeyId=key_id)
    except ClientError as error:
        return error_code(error) == "NotFoundException"
    return False


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def _token_keys(cluster: Cluster, label: str) -> list[int]:
    """How many key objects with this label each token of the cluster holds."""
    counts = []
    for token in cluster.tokens:
        connection = TokenConnection.open(token.module, token.label, token.pin)
        try:
            counts.append(0 if connection.find_aes_key(label) is None else 1)
        finally:
            connection.close()
    return counts


def test_keys_are_generated_in_the_token_and_never_extractable(
    client: Any, cluster: Cluster, connected_store: str
) -> None:
    arn = _create_key(client, connected_store)["Arn"]
    seen = []
    for token in cluster.tokens:
        connection = TokenConnection.open(token.module, token.label, token.pin)
        try:
            ref = connection.find_aes_key(arn)
            assert ref is not None, f"key missing from {token.label}"
            seen.append(connection.attributes(ref))
        finally:
            connection.close()
    origin, replica = seen
    assert origin.label == arn and replica.label == arn
    assert origin.local and origin.always_sensitive
    assert all(a.sensitive and not a.extractable and a.token for a in seen)
    assert not replica.local  # unwrapped from the origin under the cluster wrapping key


def test_a_wrong_password_fails_the_connection_with_invalid_credentials(
    client: Any, cluster: Cluster
) -> None:
    store_id = str(
        client.create_custom_key_store(
            CustomKeyStoreName=f"bad-{uuid.uuid4().hex[:6]}",
            CloudHsmClusterId=cluster.cluster_id,
            TrustAnchorCertificate=cluster.trust_anchor,
            KeyStorePassword="not-the-pin",
        )["CustomKeyStoreId"]
    )
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = _describe(client, store_id)
    assert entry["ConnectionState"] == "FAILED"
    assert entry["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    with pytest.raises(ClientError) as refused:
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert error_code(refused.value) == "CustomKeyStoreInvalidStateException"
    # Disconnect, give the right password, connect again.
    client.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    client.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=cluster.password)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = _describe(client, store_id)
    assert entry["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in entry


def test_create_custom_key_store_errors(
    client: Any, hsm_server: InProcessServer, cluster: Cluster
) -> None:
    def create(**overrides: str) -> str:
        params = {
            "CustomKeyStoreName": f"s-{uuid.uuid4().hex[:8]}",
            "CloudHsmClusterId": cluster.cluster_id,
            "TrustAnchorCertificate": cluster.trust_anchor,
            "KeyStorePassword": cluster.password,
            **overrides,
        }
        return str(client.create_custom_key_store(**params)["CustomKeyStoreId"])

    def refused(**overrides: str) -> str:
        with pytest.raises(ClientError) as caught:
            create(**overrides)
        return error_code(caught.value)

    assert refused(CloudHsmClusterId="cluster-abcdefghijk") == "CloudHsmClusterNotFoundException"
    assert refused(TrustAnchorCertificate=trust_anchor_pem("someone else")) == (
        "IncorrectTrustAnchorException"
    )
    single = register_cluster(hsm_server.data_dir, hsms=1)
    assert refused(
        CloudHsmClusterId=single.cluster_id, TrustAnchorCertificate=single.trust_anchor
    ) == ("CloudHsmClusterInvalidConfigurationException")
    store_id = create(CustomKeyStoreName="taken-name")
    # The same request again is an idempotent retry; anything else about the name is not.
    assert create(CustomKeyStoreName="taken-name") == store_id
    other = register_cluster(hsm_server.data_dir, hsms=2)
    assert refused(
        CustomKeyStoreName="taken-name",
        CloudHsmClusterId=other.cluster_id,
        TrustAnchorCertificate=other.trust_anchor,
    ) == ("CustomKeyStoreNameInUseException")
    assert refused() == "CloudHsmClusterInUseException"
    # CloudHSM settings do not describe an external key store (docs/external-key-stores.md).
    assert refused(CustomKeyStoreType="EXTERNAL_KEY_STORE") == "ValidationException"


def test_what_aws_refuses_for_keys_in_a_custom_key_store(client: Any, connected_store: str) -> None:
    key_id = _create_key(client, connected_store)["KeyId"]

    def code(call: Any) -> str:
        with pytest.raises(ClientError) as caught:
            call()
        return error_code(caught.value)

    assert code(lambda: client.enable_key_rotation(KeyId=key_id)) == (
        "UnsupportedOperationException"
    )
    assert code(lambda: client.rotate_key_on_demand(KeyId=key_id)) == (
        "UnsupportedOperationException"
    )
    assert code(
        lambda: client.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
    ) == ("UnsupportedOperationException")
    assert code(lambda: client.generate_data_key_pair(KeyId=key_id, KeyPairSpec="RSA_2048")) == (
        "UnsupportedOperationException"
    )
    assert code(
        lambda: client.create_key(
            CustomKeyStoreId=connected_store, Origin="AWS_CLOUDHSM", KeySpec="RSA_2048"
        )
    ) == ("UnsupportedOperationException")
    assert code(lambda: client.create_key(CustomKeyStoreId=connected_store)) == (
        "UnsupportedOperationException"
    )
    assert code(lambda: client.create_key(Origin="AWS_CLOUDHSM")) == (
        "UnsupportedOperationException"
    )
    assert code(
        lambda: client.create_key(CustomKeyStoreId="cks-0123456789abcdef0", Origin="AWS_CLOUDHSM")
    ) == ("CustomKeyStoreNotFoundException")
    assert code(
        lambda: client.update_custom_key_store(
            CustomKeyStoreId=connected_store, NewCustomKeyStoreName="renamed"
        )
    ) == ("CustomKeyStoreInvalidStateException")


def test_operations_fail_over_when_a_token_is_lost(
    client: Any, hsm_server: InProcessServer
) -> None:
    cluster = register_cluster(hsm_server.data_dir, hsms=3)
    store_id = _create_store(client, cluster)
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    key_id = _create_key(client, store_id)["KeyId"]
    before = client.encrypt(KeyId=key_id, Plaintext=b"survives")["CiphertextBlob"]

    softhsm.remove_token(cluster.tokens[0])
    after = client.encrypt(KeyId=key_id, Plaintext=b"still works")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=before)["Plaintext"] == b"survives"
    assert client.decrypt(CiphertextBlob=after)["Plaintext"] == b"still works"
    # Two HSMs are still active: keys can still be created, in both of them.
    second = _create_key(client, store_id)["KeyId"]
    assert client.encrypt(KeyId=second, Plaintext=b"y")["KeyId"].endswith(second)

    softhsm.remove_token(cluster.tokens[1])
    with pytest.raises(ClientError) as refused:
        _create_key(client, store_id)
    assert error_code(refused.value) == "CloudHsmClusterInvalidConfigurationException"
    assert client.decrypt(CiphertextBlob=before)["Plaintext"] == b"survives"

    softhsm.remove_token(cluster.tokens[2])
    time.sleep(1.1)  # token objects are looked up again at least once a second
    with pytest.raises(ClientError) as refused:
        client.decrypt(CiphertextBlob=before)
    assert error_code(refused.value) == "KeyUnavailableException"


def test_the_customer_revokes_a_key_by_destroying_it_in_the_hsms(
    client: Any, cluster: Cluster, connected_store: str
) -> None:
    meta = _create_key(client, connected_store)
    blob = client.encrypt(KeyId=meta["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    for token in cluster.tokens:
        connection = TokenConnection.open(token.module, token.label, token.pin)
        try:
            ref = connection.find_aes_key(meta["Arn"])
            assert ref is not None
            connection.destroy(ref)
        finally:
            connection.close()
    time.sleep(1.1)
    with pytest.raises(ClientError) as refused:
        client.decrypt(CiphertextBlob=blob)
    assert error_code(refused.value) == "KeyUnavailableException"
    # As with AWS, the KMS key's state does not change; only its use fails.
    assert _state(client, meta["KeyId"]) == "Enabled"


def test_another_account_cannot_see_the_store(
    client: Any, hsm_server: InProcessServer, connected_store: str
) -> None:
    data = open_data_dir(Settings(data_dir=hsm_server.data_dir))
    try:
        account = data.admin.create_account(f"other-{uuid.uuid4().hex[:6]}").account_id
        data.admin.create_user(account, "admin")
        data.admin.put_user_policy(account, "admin", "Admin", ADMINISTRATOR_POLICY)
        other = hsm_server.client(data.admin.create_access_key(account, "admin"))
    finally:
        data.db.engine.dispose()
    with pytest.raises(ClientError) as refused:
        other.describe_custom_key_stores(CustomKeyStoreId=connected_store)
    assert error_code(refused.value) == "CustomKeyStoreNotFoundException"
    assert other.describe_custom_key_stores()["CustomKeyStores"] == []


def test_metrics_show_the_session_pools_of_the_stores_tokens(
    client: Any, hsm_server: InProcessServer, cluster: Cluster, connected_store: str
) -> None:
    key_id = _create_key(client, connected_store)["KeyId"]
    blob = client.encrypt(KeyId=key_id, Plaintext=b"in the token")["CiphertextBlob"]
    assert client.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the token"
    text = scrape(hsm_server.endpoint)
    idle = 0.0
    for token in cluster.tokens:
        assert sample(text, "strongroom_hsm_sessions_max", token=token.label) >= 1
        assert sample(text, "strongroom_hsm_sessions_in_use", token=token.label) == 0
        assert sample(text, "strongroom_hsm_session_errors_total", token=token.label) == 0
        assert sample(text, "strongroom_hsm_session_timeouts_total", token=token.label) == 0
        idle += sample(text, "strongroom_hsm_sessions_idle", token=token.label)
    assert idle >= 1  # the operations ran on a pooled session, back in the pool now
    assert cluster.password not in text
