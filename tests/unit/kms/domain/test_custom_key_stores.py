from __future__ import annotations

from datetime import UTC, datetime

import pytest

from strongroom.kms.domain.custom_key_stores import (
    CLUSTER_ID_PATTERN,
    STORE_ID_PATTERN,
    ConnectionErrorCode,
    ConnectionState,
    CustomKeyStore,
    effective_key_state,
    new_custom_key_store_id,
    same_certificate,
)
from strongroom.kms.domain.enums import KeyState

S = KeyState


@pytest.mark.parametrize(
    ("stored", "connected", "seen"),
    [
        (S.ENABLED, True, S.ENABLED),
        (S.DISABLED, True, S.DISABLED),
        (S.PENDING_DELETION, True, S.PENDING_DELETION),
        (S.ENABLED, False, S.UNAVAILABLE),
        (S.DISABLED, False, S.UNAVAILABLE),
        # Kept so it can still be cancelled, as AWS does.
        (S.PENDING_DELETION, False, S.PENDING_DELETION),
    ],
)
def test_a_key_is_unavailable_while_its_store_is_not_connected(
    stored: KeyState, connected: bool, seen: KeyState
) -> None:
    assert effective_key_state(stored, connected) is seen


def test_store_ids_look_like_aws_ones() -> None:
    ids = {new_custom_key_store_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(STORE_ID_PATTERN.fullmatch(i) for i in ids)


@pytest.mark.parametrize(
    ("cluster_id", "valid"),
    [
        ("cluster-abcdefghijk", True),
        ("cluster-234567abcdefGHIJ", True),
        ("cluster-abcdefghij", False),  # 10 characters
        ("cluster-abcdefgh1jk", False),  # 1 is not in the alphabet
        ("cluster-abcdefghijklmnopq", False),  # 17 characters
        ("klaster-abcdefghijk", False),
    ],
)
def test_cluster_ids_follow_the_model_pattern(cluster_id: str, valid: bool) -> None:
    assert bool(CLUSTER_ID_PATTERN.fullmatch(cluster_id)) is valid


def test_certificates_compare_without_line_endings_or_spaces() -> None:
    pem = "-----BEGIN CERTIFICATE-----\nMIIBabc\ndef==\n-----END CERTIFICATE-----\n"
    assert same_certificate(pem, pem.replace("\n", "\r\n") + "  ")
    assert not same_certificate(pem, pem.replace("abc", "abd"))


def _store(state: ConnectionState, error: ConnectionErrorCode | None) -> CustomKeyStore:
    return CustomKeyStore(
        custom_key_store_id="cks-0123456789abcdef0",
        account_id="111122223333",
        name="n",
        cluster_id="cluster-abcdefghijk",
        trust_anchor="PEM",
        connection_state=state,
        connection_error_code=error,
        created_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_the_error_code_is_listed_only_for_a_failed_store() -> None:
    failed = _store(ConnectionState.FAILED, ConnectionErrorCode.INVALID_CREDENTIALS).listing()
    assert failed["ConnectionErrorCode"] == "INVALID_CREDENTIALS"
    assert failed["CreationDate"] == datetime(2026, 1, 2, tzinfo=UTC).timestamp()
    stale = _store(ConnectionState.DISCONNECTED, ConnectionErrorCode.INVALID_CREDENTIALS)
    assert "ConnectionErrorCode" not in stale.listing()
    connected = _store(ConnectionState.DISCONNECTED, None).with_connection(
        ConnectionState.CONNECTED
    )
    assert connected.connected and connected.connection_error_code is None
