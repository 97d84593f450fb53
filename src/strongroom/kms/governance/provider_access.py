"""Provider access to a tenant key, under quorum and in the tenant's sight.

``provider-decrypt`` decrypts exactly the approved ciphertexts under the approved key (with the
approved encryption context) and hands the plaintexts to the executing operator. The tenant's
own audit trail gets a ``ProviderAccess`` event naming the proposer, the approvers, the reason
code, the reference and what was done (key ARN, number and SHA-256 of the ciphertexts), never
a plaintext. Keys held in the customer's HSM (custom key store, Origin AWS_CLOUDHSM) are
refused at propose time, and that refusal is in the tenant's trail too: the material is not
the provider's to use.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.enums import KeySpec, Origin
from strongroom.kms.domain.ids import parse_key_ref, record_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import InvalidCiphertextException, KmsError
from strongroom.kms.governance.actions import (
    Execution,
    GovernanceEnv,
    Outcome,
    RefusedWithRecord,
    b64_param,
    text_param,
)
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import operator_principal
from strongroom.kms.governance.transparency import EVENT_NAME
from strongroom.kms.storage.unit_of_work import Transaction

ACTION = "provider-decrypt"
REFUSED_IN_CUSTOMER_HSM = "KeyInCustomerHsm"
# Keys the provider cannot use: in the customer's HSM, or needing the customer's external key.
CUSTOMER_HELD = frozenset({Origin.AWS_CLOUDHSM, Origin.EXTERNAL_KEY_STORE})


def _refusal(key: KeyRecord) -> str:
    if key.origin is Origin.EXTERNAL_KEY_STORE:
        return (
            f"refused: {key.arn} needs the customer's external key {key.xks_key_id} (external "
            f"key store {key.custom_key_store_id}); the provider cannot use it"
        )
    return (
        f"refused: {key.arn} is held in the customer's HSM (custom key store "
        f"{key.custom_key_store_id}); the provider cannot use it"
    )


REASON_CODES = frozenset(
    {"LEGAL_ORDER", "CUSTOMER_REQUEST", "SECURITY_INCIDENT", "SERVICE_RECOVERY"}
)
MAX_CIPHERTEXTS = 100


def tenant_event(
    key: KeyRecord,
    operator: str,
    now: datetime,
    *,
    parameters: Mapping[str, object],
    details: Mapping[str, object],
    error_code: str | None = None,
) -> AuditEvent:
    """The event in the key owner's trail (its account is the key's, not the operator's)."""
    return AuditEvent(
        time=now,
        request_id=str(uuid.uuid4()),
        account_id=key.account_id,
        principal_arn=operator_principal(operator),
        access_key_id="",
        source_ip="",
        operation=EVENT_NAME,
        resources=(key.arn,),
        error_code=error_code,
        request_parameters=parameters,
        additional_data=details,
    )


def _digests(blobs: list[str]) -> list[str]:
    return [hashlib.sha256(base64.b64decode(b)).hexdigest() for b in blobs]


class ProviderDecrypt:
    name = ACTION

    def __init__(self, env: GovernanceEnv, proposer: str, now: datetime) -> None:
        # proposer and now: for the refusal event written at propose time.
        self._env = env
        self._proposer = proposer
        self._now = now

    def _key(self, params: Mapping[str, Any]) -> KeyRecord:
        raw = text_param(params, "keyId")
        try:
            ref = parse_key_ref(raw)
        except KmsError:
            raise GovernanceError(f"keyId {raw!r} is neither a key id nor a key ARN") from None
        # A multi-Region key is named by its ARN (its id alone names no region).
        record = record_id(ref.region or "", ref.value)
        key = None if ref.is_alias else self._env.keys.get_key(record)
        if key is None or (ref.account_id is not None and ref.account_id != key.account_id):
            raise GovernanceError(f"no key {raw} (name it by key id or key ARN)")
        return key

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        key = self._key(params)
        reason = text_param(params, "reasonCode")
        reference = text_param(params, "reference")
        if key.origin in CUSTOMER_HELD:
            message = _refusal(key)
            event = tenant_event(
                key,
                self._proposer,
                self._now,
                parameters={"keyId": key.arn, "reasonCode": reason, "reference": reference},
                details={"proposer": self._proposer, "refusal": message},
                error_code=REFUSED_IN_CUSTOMER_HSM,
            )
            raise RefusedWithRecord(message, [event])
        if reason not in REASON_CODES:
            raise GovernanceError(f"reasonCode must be one of {', '.join(sorted(REASON_CODES))}")
        if key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise GovernanceError("provider-decrypt supports symmetric keys only")
        blobs = params.get("ciphertexts")
        if not isinstance(blobs, list) or not 1 <= len(blobs) <= MAX_CIPHERTEXTS:
            raise GovernanceError(f"ciphertexts must list 1 to {MAX_CIPHERTEXTS} ciphertexts")
        for n, blob in enumerate(blobs, 1):
            try:
                parsed = ciphertext.parse(b64_param(blob, f"ciphertext {n}"))
            except InvalidCiphertextException:
                raise GovernanceError(f"ciphertext {n} is not a Strongroom ciphertext") from None
            if parsed.key_id != key.key_id:
                raise GovernanceError(f"ciphertext {n} was not made under {key.arn}")
        context = params.get("encryptionContext") or {}
        if not isinstance(context, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in context.items()
        ):
            raise GovernanceError("encryptionContext must be an object of strings")
        return {
            "keyId": key.arn,
            "ciphertexts": list(blobs),
            "encryptionContext": context,
            "reasonCode": reason,
            "reference": reference,
        }

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        params = execution.proposal.parameters
        key = self._key(params)
        if key.origin in CUSTOMER_HELD:  # cannot be approved; checked again anyway
            raise GovernanceError(_refusal(key))
        context = params["encryptionContext"] or None
        plaintexts = []
        for n, text in enumerate(params["ciphertexts"], 1):
            blob = ciphertext.parse(base64.b64decode(text))
            try:
                cipher = self._env.materials.material(key, blob.material_id)
                plain = cipher.decrypt(blob.nonce, blob.sealed, blob.additional_data(context))
            except InvalidCiphertextException:
                raise GovernanceError(
                    f"ciphertext {n} does not decrypt under {key.arn} with the approved "
                    "encryption context; nothing was executed"
                ) from None
            plaintexts.append(base64.b64encode(plain).decode())
        proposal = execution.proposal
        what = {
            "keyArn": key.arn,
            "numberOfCiphertexts": len(plaintexts),
            "ciphertextSha256": _digests(params["ciphertexts"]),
        }
        event = tenant_event(
            key,
            execution.executor,
            execution.now,
            parameters={
                "keyId": key.arn,
                "numberOfCiphertexts": len(plaintexts),
                "encryptionContext": params["encryptionContext"],
            },
            details={
                "proposalId": proposal.proposal_id,
                "proposer": proposal.proposer,
                "approvers": list(execution.approvers),
                "executedBy": execution.executor,
                "reasonCode": params["reasonCode"],
                "reference": params["reference"],
                "justification": proposal.justification,
                "ciphertextSha256": what["ciphertextSha256"],
            },
        )
        output = orjson.dumps(
            {"proposalId": proposal.proposal_id, "keyArn": key.arn, "plaintexts": plaintexts},
            option=orjson.OPT_INDENT_2,
        )
        return Outcome(what, output, (event,))
