"""A custom key store's HSM cluster: logged-in tokens, key replication, failover.

Every KMS key of a custom key store is an AES-256 secret key object in **every** token of the
cluster, labelled with the key's ARN. It is generated in one token (``CKA_LOCAL``), copied to
the others wrapped under the *cluster wrapping key* (CWK), and then made non-extractable in
every token. The CWK is itself an AES-256 token key present in every token, created in the
first token when the cluster is first connected and carried to the others wrapped under an RSA
key pair that the receiving token generated for that purpose; after that it is non-extractable
everywhere. So no key of the store ever exists outside a token in clear (ADR 0008).

Operations go to the first token that answers: a token that fails (device error, token gone,
object missing) is skipped for ``_RETRY_DOWN_AFTER`` seconds and the next one is tried.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from strongroom.kms.domain.custom_key_stores import (
    MIN_HSMS_TO_CONNECT,
    MIN_HSMS_TO_CREATE,
    ConnectionErrorCode,
    HsmCluster,
)
from strongroom.kms.domain.enums import KeySpec
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import (
    CloudHsmClusterInvalidConfigurationException,
    InvalidCiphertextException,
    KeyUnavailableException,
    KMSInternalException,
    UnsupportedOperationException,
)
from strongroom.kms.keystores.base import MaterialCipher, MaterialHandle
from strongroom.kms.keystores.pkcs11.connection import TokenConnection
from strongroom.kms.keystores.pkcs11.errors import (
    AttributeCheckFailed,
    GcmAuthenticationFailed,
    PinIncorrect,
    PinLocked,
    Pkcs11Error,
    TokenKeyNotFound,
    TokenNotFound,
    TokenUnavailable,
)
from strongroom.kms.keystores.pkcs11.keys import KeyRef

log = logging.getLogger(__name__)

CLUSTER_WRAPPING_KEY_LABEL = "strongroom-cluster-wrapping-key"
_NONCE = 12
_RETRY_DOWN_AFTER = 5.0
_SESSION_COPY_SUFFIX = "#session"
_VERIFY_EVERY = 1.0
_T = TypeVar("_T")


class ClusterConnectError(Exception):
    """Connecting failed; ``code`` is the ConnectionErrorCode DescribeCustomKeyStores shows."""

    def __init__(self, code: ConnectionErrorCode) -> None:
        super().__init__(code.value)
        self.code = code


@dataclass(slots=True)
class _Token:
    label: str
    connection: TokenConnection
    down_until: float = 0.0
    keys: dict[str, KeyRef] = field(default_factory=dict)
    # When each cached key was last seen as a token object (see ClusterConnection._key).
    verified: dict[str, float] = field(default_factory=dict)

    def usable(self, now: float) -> bool:
        return self.down_until <= now


class ClusterConnection:
    """This process's logged-in connections to the tokens of one cluster, in failover order."""

    def __init__(self, cluster: HsmCluster, tokens: Sequence[_Token]) -> None:
        self.cluster = cluster
        self._tokens = list(tokens)
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, cluster: HsmCluster, password: str) -> ClusterConnection:
        """Log in to every token that answers; at least one must, with the right password."""
        tokens: list[_Token] = []
        failure: ConnectionErrorCode | None = None
        for label in cluster.token_labels:
            try:
                connection = TokenConnection.open(cluster.module_path, label, password)
            except PinIncorrect:
                failure = ConnectionErrorCode.INVALID_CREDENTIALS
            except PinLocked:
                failure = ConnectionErrorCode.USER_LOCKED_OUT
            except (TokenNotFound, TokenUnavailable):
                continue
            except Pkcs11Error:
                failure = failure or ConnectionErrorCode.INTERNAL_ERROR
            else:
                tokens.append(_Token(label, connection))
        if failure is not None:
            for token in tokens:
                token.connection.close()
            raise ClusterConnectError(failure)
        if len(tokens) < MIN_HSMS_TO_CONNECT:
            raise ClusterConnectError(ConnectionErrorCode.INSUFFICIENT_CLOUDHSM_HSMS)
        opened = cls(cluster, tokens)
        try:
            opened._ensure_wrapping_key()
        except Pkcs11Error:
            log.exception("could not set up the wrapping key of cluster %s", cluster.cluster_id)
            opened.close()
            raise ClusterConnectError(ConnectionErrorCode.INTERNAL_ERROR) from None
        return opened

    def close(self) -> None:
        with self._lock:
            self._closed = True
            tokens, self._tokens = self._tokens, []
        for token in tokens:
            try:
                token.connection.close()
            except Pkcs11Error:
                log.warning("closing token %s of cluster %s failed", token.label, self.cluster)

    @property
    def closed(self) -> bool:
        return self._closed

    def available_tokens(self) -> list[str]:
        """Labels of the tokens that answer now and hold the cluster wrapping key (a lookup
        reads the token's objects, so a lost token shows here)."""
        alive = []
        for token in self._tokens:
            if token.down_until == float("inf"):
                continue  # lacks the cluster wrapping key
            try:
                if token.connection.find_aes_key(CLUSTER_WRAPPING_KEY_LABEL) is None:
                    raise TokenKeyNotFound("no cluster wrapping key")
            except Pkcs11Error:
                token.down_until = time.monotonic() + _RETRY_DOWN_AFTER
                continue
            token.down_until = 0.0
            alive.append(token.label)
        return alive

    # --- the cluster wrapping key -------------------------------------------------------

    def _ensure_wrapping_key(self) -> None:
        """Make sure every reachable token holds the CWK; create it on a cluster's first use.

        A token that lacks it while another has it cannot get it any more (the CWK is
        non-extractable once distributed): such a token is left out until the customer
        restores it from a token that has it, as with a CloudHSM backup.
        """
        holders = []
        missing = []
        for token in self._tokens:
            ref = token.connection.find_aes_key(CLUSTER_WRAPPING_KEY_LABEL)
            if ref is None:
                missing.append(token)
            else:
                holders.append(token)
                token.keys[CLUSTER_WRAPPING_KEY_LABEL] = ref
        if holders:
            for token in missing:
                log.warning(
                    "token %s of cluster %s has no cluster wrapping key; it is not used",
                    token.label,
                    self.cluster.cluster_id,
                )
                token.down_until = float("inf")
            return
        first, *others = self._tokens
        cwk = first.connection.generate_aes_key(
            CLUSTER_WRAPPING_KEY_LABEL, key_id=b"cwk", extractable=True, wrapping=True
        )
        for token in others:
            copy = token.connection.receive_key(
                first.connection, cwk, CLUSTER_WRAPPING_KEY_LABEL, key_id=b"cwk", wrapping=True
            )
            token.keys[CLUSTER_WRAPPING_KEY_LABEL] = copy
        first.connection.make_unextractable(cwk)
        first.keys[CLUSTER_WRAPPING_KEY_LABEL] = cwk

    # --- keys ---------------------------------------------------------------------------

    def create_key(self, label: str, key_id: bytes) -> list[str]:
        """Generate a key in one token, replicate it to every other reachable token, check it.

        Returns the labels of the tokens that hold it. Needs two reachable tokens, as AWS
        needs two active HSMs to create a key.
        """
        tokens = [t for t in self._tokens if t.label in set(self.available_tokens())]
        if len(tokens) < MIN_HSMS_TO_CREATE:
            raise CloudHsmClusterInvalidConfigurationException(
                f"The cluster {self.cluster.cluster_id} has {len(tokens)} active HSM(s); "
                f"creating a key needs at least {MIN_HSMS_TO_CREATE}."
            )
        origin, *others = tokens
        created: list[tuple[_Token, KeyRef]] = []
        try:
            key = origin.connection.generate_aes_key(label, key_id=key_id, extractable=True)
            created.append((origin, key))
            origin_cwk = self._key(origin, CLUSTER_WRAPPING_KEY_LABEL)
            for token in others:
                wrapped = origin.connection.wrap_key(origin_cwk, key)
                copy = token.connection.unwrap_aes_key(
                    self._key(token, CLUSTER_WRAPPING_KEY_LABEL),
                    wrapped,
                    label,
                    key_id=key_id,
                    extractable=False,
                )
                created.append((token, copy))
            origin.connection.make_unextractable(key)
            _check_generated(origin.connection, key)
            for token, copy in created[1:]:
                _check_replica(token.connection, copy)
        except Pkcs11Error:
            for token, ref in created:
                try:
                    token.connection.destroy(ref)
                except Pkcs11Error:
                    log.warning("could not remove a half-created key from %s", token.label)
            log.exception("creating a key in cluster %s failed", self.cluster.cluster_id)
            raise KMSInternalException("The key could not be created in the HSM cluster.") from None
        return [token.label for token, _ in created]

    def destroy_key(self, label: str) -> list[str]:
        """Destroy the key in every token that holds it; return the tokens that failed."""
        failed = []
        for token in self._tokens:
            self._forget(token, label)
            try:
                ref = token.connection.find_aes_key(label)
                if ref is not None:
                    token.connection.destroy(ref)
            except Pkcs11Error:
                failed.append(token.label)
        return failed

    def run(self, label: str, work: Callable[[TokenConnection, KeyRef], _T]) -> _T:
        """Do ``work`` with the key in the first token that can; fail over to the next.

        A key that is not found is looked up again once (a session copy is lost when the
        token's login is renewed) before the token is passed over.
        """
        now = time.monotonic()
        for token in self._tokens:
            if not token.usable(now):
                continue
            for attempt in (1, 2):
                try:
                    return work(token.connection, self._key(token, label))
                except TokenKeyNotFound:
                    self._forget(token, label)
                    if attempt == 1:
                        continue
                except TokenUnavailable:
                    self._forget(token, label)
                token.down_until = now + _RETRY_DOWN_AFTER
                log.warning("token %s of cluster %s failed; trying the next", token.label, self)
                break
        raise KeyUnavailableException(
            "The key's HSM cluster has no active HSM that holds the key. Retry the request."
        )

    def random(self, n: int) -> bytes:
        return self.run(CLUSTER_WRAPPING_KEY_LABEL, lambda connection, _ref: connection.random(n))

    def _key(self, token: _Token, label: str) -> KeyRef:
        """The key to use in a token: a session copy of the token object where allowed.

        A session copy lives in this process, so it would outlive the token object (or the
        whole token): the token object is looked up again at most every
        ``_VERIFY_EVERY`` seconds, and a key the customer destroyed, or a token that is gone,
        stops working within that time.
        """
        ref = token.keys.get(label)
        if ref is not None and label != CLUSTER_WRAPPING_KEY_LABEL:
            now = time.monotonic()
            if now - token.verified.get(label, 0.0) > _VERIFY_EVERY:
                if token.connection.find_aes_key(label) is None:
                    raise TokenKeyNotFound(f"no key {label!r} in token {token.label}")
                token.verified[label] = now
        if ref is None:
            found = token.connection.find_aes_key(label)
            if found is None:
                raise TokenKeyNotFound(f"no key {label!r} in token {token.label}")
            try:
                ref = token.connection.session_copy(found, label + _SESSION_COPY_SUFFIX)
            except Pkcs11Error:  # an HSM may forbid copies (CKA_COPYABLE=false)
                ref = found
            token.keys[label] = ref
            token.verified[label] = time.monotonic()
        return ref

    @staticmethod
    def _forget(token: _Token, label: str) -> None:
        """Drop a cached key (destroying its session copy, if it is one)."""
        ref = token.keys.pop(label, None)
        if ref is not None and ref.label.endswith(_SESSION_COPY_SUFFIX):
            with contextlib.suppress(Pkcs11Error):  # gone already with its login session
                token.connection.destroy(ref)

    def __repr__(self) -> str:
        return f"ClusterConnection({self.cluster.cluster_id!r})"


def _check_generated(connection: TokenConnection, key: KeyRef) -> None:
    """The key was generated in this token, has always been sensitive, can no longer leave."""
    a = connection.attributes(key)
    if not (a.local and a.sensitive and a.always_sensitive and not a.extractable):
        raise _attribute_failure(a)


def _check_replica(connection: TokenConnection, key: KeyRef) -> None:
    a = connection.attributes(key)
    if not (a.sensitive and not a.extractable):
        raise _attribute_failure(a)


def _attribute_failure(attributes: object) -> Pkcs11Error:
    return AttributeCheckFailed(f"a cluster key failed its attribute check: {attributes}")


ClusterProvider = Callable[[], ClusterConnection]


class HsmKeyCipher:
    """A MaterialCipher whose AES-GCM runs inside the cluster's tokens.

    It asks for the cluster's current connection at every use, so a cipher cached across a
    disconnect and reconnect uses the new login, and one used while disconnected fails.
    """

    __slots__ = ("_cluster", "_label")

    def __init__(self, cluster: ClusterProvider, label: str) -> None:
        self._cluster = cluster
        self._label = label

    def encrypt(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        nonce = os.urandom(_NONCE)
        sealed = self._cluster().run(
            self._label, lambda c, key: c.gcm_encrypt(key, nonce, plaintext, aad)
        )
        return nonce, sealed

    def decrypt(self, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._cluster().run(
                self._label, lambda c, key: c.gcm_decrypt(key, nonce, sealed, aad)
            )
        except GcmAuthenticationFailed:
            raise InvalidCiphertextException() from None

    def __repr__(self) -> str:
        return f"HsmKeyCipher({self._label!r})"


class ClusterKeyStore:
    """The KeyStore of one custom key store: material is a reference to token objects."""

    def __init__(self, store_id: str, cluster: ClusterProvider) -> None:
        self._store_id = store_id
        self._cluster = cluster

    @property
    def store_id(self) -> str:
        return self._store_id

    def new_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    ) -> bytes:
        if key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise UnsupportedOperationException(
                "Custom key stores support only SYMMETRIC_DEFAULT keys."
            )
        tokens = self._cluster().create_key(key_arn, material_id.encode())
        return material_reference(key_arn, tokens)

    def open_material(self, key_arn: str, material_id: str, wrapped: bytes) -> MaterialCipher:
        label = json.loads(wrapped)["label"]
        if label != key_arn:
            raise KMSInternalException("A key's HSM reference names another key.")
        return HsmKeyCipher(self._cluster, label)

    def open_handle(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> MaterialHandle:
        if key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise UnsupportedOperationException(
                "Custom key stores support only SYMMETRIC_DEFAULT keys."
            )
        return self.open_material(key_arn, material_id, wrapped)

    def import_material(
        self, key_arn: str, material_id: str, key_spec: KeySpec, material: bytes
    ) -> bytes:
        raise UnsupportedOperationException("Keys in custom key stores cannot import material.")

    def export_material(
        self, key_arn: str, material_id: str, wrapped: bytes, key_spec: KeySpec
    ) -> Secret:
        raise UnsupportedOperationException("Keys in custom key stores never leave their HSM.")

    def imported_material_id(self, key_arn: str, material: bytes) -> str:
        raise UnsupportedOperationException("Keys in custom key stores cannot import material.")

    def seal_secret(self, purpose: str, name: str, secret: bytes) -> bytes:
        raise KMSInternalException("Custom key stores do not seal secrets.")

    def unseal_secret(self, purpose: str, name: str, sealed: bytes) -> bytes:
        raise KMSInternalException("Custom key stores do not seal secrets.")

    def __repr__(self) -> str:
        return f"ClusterKeyStore({self._store_id!r})"


def material_reference(key_arn: str, tokens: Sequence[str]) -> bytes:
    """What the database holds for a custom key store key: where it is, never what it is."""
    return json.dumps({"label": key_arn, "tokens": list(tokens)}, sort_keys=True).encode()
