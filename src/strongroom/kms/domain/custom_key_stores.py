"""Custom key stores of type AWS_CLOUDHSM: a tenant's store backed by an HSM cluster.

A cluster is registered by the provider's operator (``strongroom admin hsm-cluster``): a
PKCS#11 module, the labels of its tokens (one per HSM) and the customer's trust anchor
certificate. A tenant ties a custom key store to a cluster with the crypto user's password
(AWS's ``kmsuser``); while the store is CONNECTED its keys live and are used only in the
cluster's tokens.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from strongroom.kms.domain.enums import KeyState
from strongroom.kms.domain.external_key_stores import CustomKeyStoreType, XksProxySettings

CLUSTER_ID_PATTERN = re.compile(r"cluster-[2-7a-zA-Z]{11,16}")
STORE_ID_PATTERN = re.compile(r"cks-[0-9a-f]{17}")
MAX_STORES_PER_ACCOUNT = 10
# AWS needs two active HSMs (in different AZs) to create a store or a key, one to connect.
MIN_HSMS_TO_CREATE = 2
MIN_HSMS_TO_CONNECT = 1


class ConnectionState(StrEnum):
    CONNECTED = "CONNECTED"
    CONNECTING = "CONNECTING"
    FAILED = "FAILED"
    DISCONNECTED = "DISCONNECTED"
    DISCONNECTING = "DISCONNECTING"


class ConnectionErrorCode(StrEnum):
    INTERNAL_ERROR = "INTERNAL_ERROR"
    CLUSTER_NOT_FOUND = "CLUSTER_NOT_FOUND"
    INSUFFICIENT_CLOUDHSM_HSMS = "INSUFFICIENT_CLOUDHSM_HSMS"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    USER_LOCKED_OUT = "USER_LOCKED_OUT"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    NETWORK_ERRORS = "NETWORK_ERRORS"
    # External key stores.
    XKS_PROXY_ACCESS_DENIED = "XKS_PROXY_ACCESS_DENIED"
    XKS_PROXY_INVALID_CONFIGURATION = "XKS_PROXY_INVALID_CONFIGURATION"
    XKS_PROXY_INVALID_RESPONSE = "XKS_PROXY_INVALID_RESPONSE"
    XKS_PROXY_INVALID_TLS_CONFIGURATION = "XKS_PROXY_INVALID_TLS_CONFIGURATION"
    XKS_PROXY_NOT_REACHABLE = "XKS_PROXY_NOT_REACHABLE"
    XKS_PROXY_TIMED_OUT = "XKS_PROXY_TIMED_OUT"


def new_custom_key_store_id() -> str:
    """``cks-`` and 17 hex digits, as AWS writes them."""
    return "cks-" + secrets.token_hex(9)[:17]


@dataclass(frozen=True, slots=True)
class HsmCluster:
    """An HSM cluster the provider registered: where its tokens are, whose CA it trusts."""

    cluster_id: str
    module_path: str
    token_labels: tuple[str, ...]
    trust_anchor: str
    created_at: datetime

    def listing(self) -> dict[str, object]:
        return {
            "ClusterId": self.cluster_id,
            "Module": self.module_path,
            "Tokens": list(self.token_labels),
            "CreationDate": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class CustomKeyStore:
    """A tenant's custom key store. Its secret (the crypto user's password of an HSM cluster,
    or the XKS proxy's secret access key) is kept sealed elsewhere.

    An AWS_CLOUDHSM store has ``cluster_id`` and ``trust_anchor``; an EXTERNAL_KEY_STORE has
    ``xks`` instead (and None for those two).
    """

    custom_key_store_id: str
    account_id: str
    name: str
    cluster_id: str | None
    trust_anchor: str | None
    connection_state: ConnectionState
    connection_error_code: ConnectionErrorCode | None
    created_at: datetime
    store_type: CustomKeyStoreType = CustomKeyStoreType.AWS_CLOUDHSM
    xks: XksProxySettings | None = None

    @property
    def external(self) -> bool:
        return self.store_type is CustomKeyStoreType.EXTERNAL_KEY_STORE

    @property
    def connected(self) -> bool:
        return self.connection_state is ConnectionState.CONNECTED

    def with_connection(
        self, state: ConnectionState, error: ConnectionErrorCode | None = None
    ) -> CustomKeyStore:
        return replace(self, connection_state=state, connection_error_code=error)

    def listing(self) -> dict[str, object]:
        """One entry of DescribeCustomKeyStores."""
        entry: dict[str, object] = {
            "CustomKeyStoreId": self.custom_key_store_id,
            "CustomKeyStoreName": self.name,
            "ConnectionState": self.connection_state.value,
            "CreationDate": self.created_at.timestamp(),
            "CustomKeyStoreType": self.store_type.value,
        }
        if self.xks is not None:
            entry["XksProxyConfiguration"] = self.xks.listing()
        else:
            entry["CloudHsmClusterId"] = self.cluster_id
            entry["TrustAnchorCertificate"] = self.trust_anchor
        if (
            self.connection_state is ConnectionState.FAILED
            and self.connection_error_code is not None
        ):
            entry["ConnectionErrorCode"] = self.connection_error_code.value
        return entry


# States a disconnected store's keys keep: PendingDeletion stays, so it can be cancelled.
_STATES_KEPT_WHEN_DISCONNECTED = frozenset({KeyState.PENDING_DELETION})


def effective_key_state(stored: KeyState, store_connected: bool) -> KeyState:
    """The state a key of a custom key store shows: Unavailable while its store is not
    connected (except PendingDeletion); its stored state (Enabled/Disabled) again once it is."""
    if store_connected or stored in _STATES_KEPT_WHEN_DISCONNECTED:
        return stored
    return KeyState.UNAVAILABLE


def same_certificate(a: str, b: str) -> bool:
    """Trust anchors compare by their PEM body, ignoring line endings and surrounding space."""
    return _normalize_pem(a) == _normalize_pem(b)


def _normalize_pem(text: str) -> str:
    return "".join(text.split())
