"""Data key operations against a KMS reached as a client (botocore, any AWS-compatible KMS).

Encryption: GenerateDataKey with the first key, then Encrypt of that data key with each other
key, so any one of them can decrypt. Decryption: Decrypt of the encrypted data keys the
keyring may use (strict: only the listed keys; discovery: any ``aws-kms`` key, optionally only
in some accounts) until one succeeds. The encryption context is passed to every call, so the
KMS binds it to the data key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from strongroom.envelope.errors import (
    InvalidMessageError,
    KeyUnusableError,
    KmsError,
    PermissionDeniedError,
    UsageError,
    WrongKeyError,
)
from strongroom.envelope.format import KMS_PROVIDER_ID, EncryptedDataKey
from strongroom.envelope.suites import KEY_LENGTH

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=5, read_timeout=30
)
_WRONG_KEY_CODES = {
    "NotFoundException",
    "IncorrectKeyException",
    "DisabledException",
    "KMSInvalidStateException",
    "InvalidKeyUsageException",
}
_DEFAULT_REGION = "us-east-1"


def kms_client(
    endpoint_url: str | None = None, region: str | None = None, profile: str | None = None
) -> Any:
    """A botocore KMS client; without ``endpoint_url`` botocore honours AWS_ENDPOINT_URL_KMS."""
    session = botocore.session.Session(profile=profile)
    region = region or session.get_config_variable("region") or _DEFAULT_REGION
    return session.create_client(
        "kms", endpoint_url=endpoint_url, region_name=region, config=_CLIENT_CONFIG
    )


def arn_account(arn: str) -> str | None:
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[2] == "kms":
        return parts[4]
    return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(error: ClientError) -> str:
    detail = error.response.get("Error", {})
    return f"{detail.get('Code', 'Error')}: {detail.get('Message', '')}".rstrip(": ")


@dataclass
class KmsKeyring:
    """Which KMS keys a message is encrypted for, and which may decrypt it.

    ``key_ids`` are key ids, key ARNs, alias names or alias ARNs. For decryption in strict
    mode (``discovery=False``) aliases are resolved to key ARNs with DescribeKey.
    """

    client: Any
    key_ids: Sequence[str] = ()
    discovery: bool = False
    discovery_accounts: Sequence[str] | None = None
    _resolved: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.key_ids = tuple(self.key_ids)
        if self.discovery and self.key_ids:
            raise UsageError("discovery mode takes no key ids (use discovery accounts to restrict)")

    # -- encryption -------------------------------------------------------------------------

    def generate(self, context: Mapping[str, str]) -> tuple[bytes, list[EncryptedDataKey]]:
        if not self.key_ids:
            raise UsageError("encryption needs at least one KMS key id")
        first, *others = self.key_ids
        response = self._call(
            first,
            "generate_data_key",
            KeyId=first,
            NumberOfBytes=KEY_LENGTH,
            EncryptionContext=dict(context),
        )
        data_key = bytes(response["Plaintext"])
        if len(data_key) != KEY_LENGTH:
            raise KmsError(f"the KMS returned a {len(data_key)}-byte data key, not {KEY_LENGTH}")
        keys = [EncryptedDataKey(KMS_PROVIDER_ID, response["KeyId"], response["CiphertextBlob"])]
        for key_id in others:
            response = self._call(
                key_id,
                "encrypt",
                KeyId=key_id,
                Plaintext=data_key,
                EncryptionContext=dict(context),
            )
            keys.append(
                EncryptedDataKey(KMS_PROVIDER_ID, response["KeyId"], response["CiphertextBlob"])
            )
        return data_key, keys

    def _call(self, key_id: str, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return dict(getattr(self.client, operation)(**params))
        except ClientError as error:
            code = _code(error)
            if code == "AccessDeniedException":
                raise PermissionDeniedError(
                    f"not allowed to use KMS key {key_id}: {_describe(error)}"
                ) from None
            if code in _WRONG_KEY_CODES:
                raise KeyUnusableError(
                    f"KMS key {key_id} cannot be used: {_describe(error)}"
                ) from None
            raise KmsError(f"KMS {operation} with {key_id} failed: {_describe(error)}") from None
        except BotoCoreError as error:
            raise KmsError(f"cannot reach the KMS: {error}") from None

    # -- decryption -------------------------------------------------------------------------

    def candidates(self, keys: Sequence[EncryptedDataKey]) -> list[EncryptedDataKey]:
        """The encrypted data keys this keyring may try, in message order."""
        found = []
        for key in keys:
            if key.provider_id != KMS_PROVIDER_ID:
                continue
            if self.discovery:
                if self.discovery_accounts is None or arn_account(key.provider_info) in set(
                    self.discovery_accounts
                ):
                    found.append(key)
            elif self._allowed(key.provider_info):
                found.append(key)
        return found

    def _allowed(self, arn: str) -> bool:
        return arn in self._allowed_arns()

    def _allowed_arns(self) -> set[str]:
        allowed = set()
        for key_id in self.key_ids:
            if key_id not in self._resolved:
                self._resolved[key_id] = self._resolve(key_id)
            allowed.add(self._resolved[key_id])
        return allowed

    def _resolve(self, key_id: str) -> str:
        """The key ARN a strict-mode key id, alias or alias ARN names (one DescribeKey)."""
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        metadata = self._call(key_id, "describe_key", KeyId=key_id)["KeyMetadata"]
        return str(metadata["Arn"])

    def decrypt(self, keys: Sequence[EncryptedDataKey], context: Mapping[str, str]) -> bytes:
        candidates = self.candidates(keys)
        if not candidates:
            allowed = "any key" if self.discovery else ", ".join(self.key_ids) or "no key"
            if self.discovery and self.discovery_accounts is not None:
                allowed = "keys of accounts " + ", ".join(self.discovery_accounts)
            holders = ", ".join(key.provider_info for key in keys) or "no KMS key"
            raise WrongKeyError(
                f"the message was encrypted for {holders}; the allowed keys are {allowed}"
            )
        failures: list[EnvelopeFailure] = []
        for key in candidates:
            try:
                response = self.client.decrypt(
                    KeyId=key.provider_info,
                    CiphertextBlob=key.ciphertext,
                    EncryptionContext=dict(context),
                )
            except ClientError as error:
                failures.append(EnvelopeFailure(_code(error), key.provider_info, _describe(error)))
                continue
            except BotoCoreError as error:
                raise KmsError(f"cannot reach the KMS: {error}") from None
            if response.get("KeyId") != key.provider_info:
                raise InvalidMessageError()
            data_key = bytes(response["Plaintext"])
            if len(data_key) != KEY_LENGTH:
                raise InvalidMessageError()
            return data_key
        codes = {failure.code for failure in failures}
        if "InvalidCiphertextException" in codes:
            raise InvalidMessageError()
        detail = "; ".join(f"{f.key_arn}: {f.detail}" for f in failures)
        if codes == {"AccessDeniedException"}:
            raise PermissionDeniedError(f"not allowed to decrypt with {detail}")
        if codes <= _WRONG_KEY_CODES | {"AccessDeniedException"}:
            raise WrongKeyError(f"no key could decrypt the message: {detail}")
        raise KmsError(f"KMS Decrypt failed: {detail}")


@dataclass(frozen=True)
class EnvelopeFailure:
    code: str
    key_arn: str
    detail: str
