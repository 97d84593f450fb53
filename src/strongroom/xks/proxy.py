"""The four operations of the XKS proxy API, over a custom key store's HSM cluster.

Each request has already been authenticated with a credential of the custom key store named in
its path (api.py). Here: find the external key (cached, catalog), check its status and the
store's connection, run AES-256-GCM in a token, and record one audit event in the tenant's
trail, success or failure. The AAD given to the token binds the request's AAD with its length
(wire.gcm_aad); the IV is 12 fresh random bytes; the tag is 16 bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from strongroom.kms.audit.events import AuditEvent, AuditSink
from strongroom.kms.domain.custom_key_stores import CustomKeyStore
from strongroom.kms.domain.xks import XksCredential, XksKey
from strongroom.kms.errors import InvalidCiphertextException as KmsInvalidCiphertext
from strongroom.kms.errors import KmsError
from strongroom.kms.service.xks_catalog import XksCatalog
from strongroom.xks import wire
from strongroom.xks.errors import (
    InternalException,
    InvalidCiphertextException,
    InvalidStateException,
    KeyNotFoundException,
    XksError,
)

EVENT_SOURCE = "kms-xks-proxy"
VENDOR = "Strongroom"
MODEL = "Strongroom XKS proxy 0.1 (PKCS#11)"
_NONCE = 12
_OPERATION_NAMES = {
    wire.HEALTH: "GetHealthStatus",
    wire.METADATA: "GetKeyMetadata",
    wire.ENCRYPT: "Encrypt",
    wire.DECRYPT: "Decrypt",
}


class XksProxy:
    def __init__(
        self,
        catalog: XksCatalog,
        audit: AuditSink,
        region: str,
        now: Callable[[], datetime],
    ) -> None:
        self._catalog = catalog
        self._audit = audit
        self._region = region
        self._now = now

    def run(
        self,
        path: wire.XksPath,
        body: bytes,
        credential: XksCredential,
        request_id: str,
        source_ip: str,
    ) -> dict[str, object]:
        """Decode, perform and audit one request."""
        self._audit.admit()  # refused before it runs when the trail cannot take the event
        metadata: wire.RequestMetadata | None = None
        key: XksKey | None = None
        error: str | None = None
        try:
            parsed = wire.parse_body(body)
            if path.operation == wire.HEALTH:
                metadata = wire.request_metadata(parsed)
                return self._health(path.custom_key_store_id)
            if path.operation == wire.METADATA:
                metadata = wire.request_metadata(parsed, "awsPrincipalArn")
                key = self._key(path)
                return self._metadata(key)
            metadata = wire.request_metadata(parsed, "awsPrincipalArn", "kmsKeyArn")
            key = self._key(path)
            if path.operation == wire.ENCRYPT:
                return self._encrypt(key, wire.encrypt_request(parsed, metadata))
            return self._decrypt(key, wire.decrypt_request(parsed, metadata))
        except XksError as failure:
            error = failure.name
            raise
        finally:
            self._record(
                path,
                credential,
                request_id=request_id,
                source_ip=source_ip,
                metadata=metadata,
                key=key,
                error=error,
            )

    # --- operations ---------------------------------------------------------------------

    def _health(self, store_id: str) -> dict[str, object]:
        """A deep check: every token of the store's cluster is looked up in the HSM."""
        store = self._store(store_id)
        labels: tuple[str, ...] = ()
        alive: set[str] = set()
        cluster_record = self._catalog.cluster_record(store)
        if cluster_record is not None:
            labels = cluster_record.token_labels
        if store.connected:
            try:
                alive = set(self._catalog.cluster(store_id).available_tokens())
            except KmsError:
                alive = set()
        fleet = [
            {
                "id": label,
                "model": "PKCS#11 token",
                "healthStatus": "ACTIVE" if label in alive else "UNAVAILABLE",
            }
            for label in labels[:10]
        ] or [{"id": store_id, "model": "PKCS#11 token", "healthStatus": "UNAVAILABLE"}]
        return {
            "xksProxyFleetSize": 1,
            "xksProxyVendor": VENDOR,
            "xksProxyModel": MODEL,
            "ekmVendor": f"PKCS#11 HSM cluster {store.cluster_id}",
            "ekmFleetDetails": fleet,
        }

    @staticmethod
    def _metadata(key: XksKey) -> dict[str, object]:
        return {
            "keySpec": "AES_256",
            "keyUsage": ["ENCRYPT", "DECRYPT"],
            "keyStatus": "ENABLED" if key.enabled else "DISABLED",
        }

    def _encrypt(self, key: XksKey, request: wire.EncryptRequest) -> dict[str, object]:
        self._usable(key)
        cipher = self._catalog.cipher(key)
        aad = wire.gcm_aad(request.aad, None)
        try:
            iv, sealed = cipher.encrypt(request.plaintext, aad)
        except KmsError:
            raise InternalException() from None
        ciphertext, tag = sealed[: -wire.TAG_BYTES], sealed[-wire.TAG_BYTES :]
        response: dict[str, object] = {
            "ciphertext": wire.b64(ciphertext),
            "initializationVector": wire.b64(iv),
            "authenticationTag": wire.b64(tag),
        }
        if request.integrity_value:
            # The spec's order: the value first, then prove a decrypt of exactly this output
            # succeeds, so a corruption after the check cannot go unnoticed.
            cdiv = wire.integrity_value(request.aad, iv, ciphertext, tag)
            try:
                cipher.decrypt(iv, ciphertext + tag, aad)
            except KmsError:
                raise InternalException("The encryption could not be verified.") from None
            response["ciphertextDataIntegrityValue"] = wire.b64(cdiv)
        return response

    def _decrypt(self, key: XksKey, request: wire.DecryptRequest) -> dict[str, object]:
        self._usable(key)
        if len(request.iv) != _NONCE:
            raise InvalidCiphertextException()  # this proxy never makes a 16-byte IV
        aad = wire.gcm_aad(request.aad, request.ciphertext_metadata)
        try:
            plaintext = self._catalog.cipher(key).decrypt(
                request.iv, request.ciphertext + request.tag, aad
            )
        except KmsInvalidCiphertext:
            raise InvalidCiphertextException() from None
        except KmsError:
            raise InternalException() from None
        return {"plaintext": wire.b64(plaintext)}

    # --- lookups and checks -------------------------------------------------------------

    def _store(self, store_id: str) -> CustomKeyStore:
        store = self._catalog.store(store_id)
        if store is None:
            raise InvalidStateException("The custom key store no longer exists.")
        return store

    def _key(self, path: wire.XksPath) -> XksKey:
        key = self._catalog.key(path.custom_key_store_id, path.xks_key_id)
        if key is None:
            raise KeyNotFoundException()
        return key

    def _usable(self, key: XksKey) -> None:
        if not key.enabled:
            raise InvalidStateException("The external key is disabled.")
        if not self._store(key.custom_key_store_id).connected:
            raise InvalidStateException("The custom key store is not connected.")

    def _record(
        self,
        path: wire.XksPath,
        credential: XksCredential,
        *,
        request_id: str,
        source_ip: str,
        metadata: wire.RequestMetadata | None,
        key: XksKey | None,
        error: str | None,
    ) -> None:
        parameters: dict[str, object] = {"customKeyStoreId": path.custom_key_store_id}
        if path.xks_key_id:
            parameters["externalKeyId"] = path.xks_key_id
        principal = "" if metadata is None else metadata.aws_principal_arn or ""
        self._audit.record(
            AuditEvent(
                time=self._now(),
                request_id=request_id,
                account_id=credential.account_id,
                principal_arn=principal,
                access_key_id=credential.access_key_id,
                source_ip=source_ip,
                operation=_OPERATION_NAMES[path.operation],
                resources=() if key is None else (key.resource(self._region),),
                error_code=error,
                request_parameters=parameters,
                additional_data=None if metadata is None else metadata.audit_data(),
                event_source=EVENT_SOURCE,
            )
        )
