"""The ``strongroom.client`` interfaces, served in process by the KMS pipeline.

A service such as the object store calls the KMS on behalf of the principal that signed its own
request. Each call goes through :class:`InProcessCalls` (``in_process.py``), the console's path
too, and so through :meth:`Pipeline.execute` exactly like an HTTP request: request quotas, the
key resolved, the key policy, identity policies and grants (with ``kms:ViaService`` set to the
calling service), the key-state table, audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from strongroom.client.identity import Decision
from strongroom.client.kms import DataKey, KeyDescription, KmsCallError, Rewrapped
from strongroom.client.principal import Credential, Principal
from strongroom.kms.audit.events import CommitWaiter, Ticket, new_ticket
from strongroom.kms.domain.evaluation import Effect
from strongroom.kms.errors import KmsError
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.caller import Credential as KmsCredential
from strongroom.kms.service.in_process import InProcessCalls
from strongroom.kms.service.pipeline import Call, Operation, Pipeline, Response

_DECISIONS = {Effect.ALLOW: Decision.ALLOW, Effect.DENY: Decision.DENY, Effect.NONE: Decision.NONE}


class InProcessKmsClient:
    """:class:`strongroom.client.kms.KmsClient` over the in-process calls, for one calling
    service (``s3``): each call is made in its principal's region, as the service of that
    region (``kms:ViaService`` = ``s3.<region>.amazonaws.com``)."""

    def __init__(self, calls: InProcessCalls, service: str) -> None:
        self._calls = calls
        self._service = service

    def _run(self, name: str, request: dict[str, Any], principal: Principal) -> Response:
        try:
            return self._calls.execute(
                principal, name, request, region=principal.region, service=self._service
            )
        except KmsError as error:
            raise KmsCallError(error.code, error.message) from None

    def generate_data_key(
        self, principal: Principal, key_id: str, context: Mapping[str, str]
    ) -> DataKey:
        request = {"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": dict(context)}
        response = self._run("GenerateDataKey", request, principal)
        plaintext = response["Plaintext"]
        blob = response["CiphertextBlob"]
        assert isinstance(plaintext, bytes) and isinstance(blob, bytes)
        material = response.get("KeyMaterialId")
        return DataKey(
            str(response["KeyId"]), blob, plaintext, None if material is None else str(material)
        )

    def re_encrypt(
        self,
        principal: Principal,
        ciphertext: bytes,
        context: Mapping[str, str],
        destination_key_id: str,
    ) -> Rewrapped:
        request = {
            "CiphertextBlob": ciphertext,
            "SourceEncryptionContext": dict(context),
            "DestinationKeyId": destination_key_id,
            "DestinationEncryptionContext": dict(context),
        }
        response = self._run("ReEncrypt", request, principal)
        blob = response["CiphertextBlob"]
        assert isinstance(blob, bytes)
        material = response.get("DestinationKeyMaterialId")
        return Rewrapped(str(response["KeyId"]), blob, None if material is None else str(material))

    def decrypt(self, principal: Principal, ciphertext: bytes, context: Mapping[str, str]) -> bytes:
        request = {"CiphertextBlob": ciphertext, "EncryptionContext": dict(context)}
        plaintext = self._run("Decrypt", request, principal)["Plaintext"]
        assert isinstance(plaintext, bytes)
        return plaintext

    def describe_key(self, principal: Principal, key_id: str) -> KeyDescription:
        metadata = self._run("DescribeKey", {"KeyId": key_id}, principal)["KeyMetadata"]
        assert isinstance(metadata, dict)
        return KeyDescription(
            str(metadata["Arn"]),
            str(metadata["KeyId"]),
            str(metadata["KeyState"]),
            str(metadata.get("KeyManager", "CUSTOMER")),
        )


class CredentialLookup(Protocol):
    def lookup(self, access_key_id: str) -> KmsCredential | None: ...


class InProcessAuthenticator:
    """:class:`strongroom.client.identity.Authenticator` over the KMS's credential lookup
    (the credential cache, or development credentials, which know every access key id)."""

    def __init__(self, credentials: CredentialLookup) -> None:
        self._credentials = credentials

    def lookup(self, access_key_id: str) -> Credential | None:
        found = self._credentials.lookup(access_key_id)
        if found is None:
            return None
        principal = found.principal
        return Credential(access_key_id, principal.account_id, principal.arn, found.secret_bytes())


def _no_handler(call: Call) -> Response:
    raise AssertionError("identity checks run no handler")


class InProcessIdentityPolicies:
    """:class:`strongroom.client.identity.IdentityPolicies` by the KMS's policy engine.

    The same evaluation as the KMS's own identity checks (conditions such as ``aws:SourceIp``
    included); only identity policies take part, as bucket policies are not supported.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        self._pipeline = pipeline
        self._operations: dict[str, Operation] = {}

    def decide(self, principal: Principal, action: str, resource: str) -> Decision:
        operation = self._operations.get(action)
        if operation is None:
            operation = self._operations[action] = Operation(action, _no_handler, action=action)
        call = Call(
            operation,
            {},
            Caller(
                principal.account_id,
                principal.arn,
                principal.access_key_id,
                principal.source_ip,
                principal.region or self._pipeline.ctx.default_region,
            ),
            "",
            self._pipeline.ctx,
            self._pipeline,
        )
        return _DECISIONS[self._pipeline.authorizer.identity_effect(call, action, resource)]


class InProcessAuditGate:
    """:class:`strongroom.client.kms.AuditGate` over the chained audit log's commit waiter
    (``None``: events are group-committed after the response, nothing to wait for)."""

    def __init__(self, commits: CommitWaiter | None) -> None:
        self._commits = commits

    def open(self) -> object:
        return None if self._commits is None else new_ticket()

    async def close(self, token: object) -> None:
        if self._commits is None or not isinstance(token, Ticket) or not token.seq:
            return
        try:
            await self._commits.wait_committed(token)
        except KmsError as error:
            raise KmsCallError(error.code, error.message) from None
