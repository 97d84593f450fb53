"""Grants: per-key, allow-only delegations to one grantee, with optional context constraints."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.domain.key_specs import grant_operations
from strongroom.kms.errors import InvalidGrantTokenException, ValidationException

# Operations that take an encryption context: a grant's context constraints apply to these.
# A constrained grant may include other operations (DescribeKey, CreateGrant, RetireGrant);
# the constraint does not apply to them (for CreateGrant, sub-grants must be as strict).
CONTEXT_OPERATIONS = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    }
)
_PRINCIPAL = re.compile(r"arn:aws:iam::[0-9]{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/-]+)")
TOKEN_PREFIX = "SRGT1."  # noqa: S105 - a format marker, not a secret


# The model's ServicePrincipalType: "s3.amazonaws.com", "logs.us-east-1.amazonaws.com".
_SERVICE_PRINCIPAL = re.compile(r"([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+")


def check_principal_arn(value: str, member: str) -> None:
    if _PRINCIPAL.fullmatch(value) is None:
        raise ValidationException(f"{member} {value} is not a valid principal ARN.")


def check_service_principal(value: str, member: str) -> None:
    if len(value) > 128 or _SERVICE_PRINCIPAL.fullmatch(value) is None:
        raise ValidationException(f"{member} {value} is not a valid service principal.")


def is_service_principal(principal: str) -> bool:
    """Grantees and retiring principals are ARNs, or service principals, which are not."""
    return not principal.startswith("arn:")


@dataclass(frozen=True, slots=True)
class Constraints:
    equals: Mapping[str, str] | None = None
    subset: Mapping[str, str] | None = None
    # The resource a service-principal grantee must be acting for (its aws:SourceArn).
    source_arn: str | None = None

    @classmethod
    def from_request(
        cls, raw: Mapping[str, object] | None, service_grantee: bool = False
    ) -> Constraints | None:
        source_arn = None if not raw else raw.get("SourceArn")
        if source_arn is not None and not service_grantee:
            raise ValidationException("SourceArn constraints apply to service principals only.")
        if service_grantee and source_arn is None:
            raise ValidationException(
                "A grant to a service principal needs a SourceArn grant constraint."
            )
        if not raw:
            return None
        equals, subset = raw.get("EncryptionContextEquals"), raw.get("EncryptionContextSubset")
        if equals is not None and subset is not None:
            raise ValidationException(
                "A grant constraint can be EncryptionContextEquals or EncryptionContextSubset, "
                "not both."
            )
        if equals is None and subset is None and source_arn is None:
            return None
        return cls(equals=equals, subset=subset, source_arn=source_arn)  # type: ignore[arg-type]

    def allows_source(self, source_arn: str | None) -> bool:
        return self.source_arn is None or self.source_arn == source_arn

    def allows(self, context: Mapping[str, str] | None) -> bool:
        """Keys compare case-insensitively, values exactly, as AWS documents."""
        if self.equals is None and self.subset is None:
            return True
        given = {k.lower(): v for k, v in (context or {}).items()}
        if self.equals is not None:
            return given == {k.lower(): v for k, v in self.equals.items()}
        required = {k.lower(): v for k, v in (self.subset or {}).items()}
        return all(given.get(k) == v for k, v in required.items())

    def at_least_as_strict_as(self, parent: Constraints | None) -> bool:
        if parent is None:
            return True
        mine = {**(self.subset or {}), **(self.equals or {})}
        theirs = {**(parent.subset or {}), **(parent.equals or {})}
        lowered = {k.lower(): v for k, v in mine.items()}
        return (
            all(lowered.get(k.lower()) == v for k, v in theirs.items())
            and (parent.equals is None or self.equals == parent.equals)
            and (parent.source_arn is None or self.source_arn == parent.source_arn)
        )

    def listing(self) -> dict[str, object]:
        entry: dict[str, object] = {}
        if self.equals is not None:
            entry["EncryptionContextEquals"] = dict(self.equals)
        elif self.subset is not None or self.source_arn is None:
            entry["EncryptionContextSubset"] = dict(self.subset or {})
        if self.source_arn is not None:
            entry["SourceArn"] = self.source_arn
        return entry


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    key_id: str
    issuing_account: str
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]
    constraints: Constraints | None
    name: str | None
    created_at: datetime

    @property
    def token(self) -> str:
        """The grant token: it names the grant and carries a checksum.

        Like AWS's, a token is not a credential: it only lets a grant take effect at once, and
        only for the grant's own grantee. Deterministic, so a retried CreateGrant (same Name)
        returns a token that works.
        """
        return f"{TOKEN_PREFIX}{self.grant_id}.{_checksum(self.grant_id, self.key_id)}"

    def permits(
        self,
        principal_arn: str,
        operation: str,
        context: Mapping[str, str] | None,
        source_arn: str | None = None,
    ) -> bool:
        """``source_arn`` is the caller's aws:SourceArn (services calling as themselves)."""
        constraints = self.constraints
        return (
            principal_arn == self.grantee_principal
            and operation in self.operations
            and (constraints is None or constraints.allows_source(source_arn))
            and (
                constraints is None
                or operation not in CONTEXT_OPERATIONS
                or constraints.allows(context)
            )
        )

    def same_request(self, other: Grant) -> bool:
        """A retried CreateGrant with the same Name and parameters (idempotency)."""
        return (
            self.grantee_principal,
            self.retiring_principal,
            set(self.operations),
            self.constraints,
        ) == (
            other.grantee_principal,
            other.retiring_principal,
            set(other.operations),
            other.constraints,
        )

    def listing(self, key_arn: str) -> dict[str, object]:
        entry: dict[str, object] = {
            "KeyId": key_arn,
            "GrantId": self.grant_id,
            "CreationDate": self.created_at.timestamp(),
            "IssuingAccount": f"arn:aws:iam::{self.issuing_account}:root",
            "Operations": list(self.operations),
        }
        grantee = "Service" if is_service_principal(self.grantee_principal) else ""
        entry[f"Grantee{grantee}Principal"] = self.grantee_principal
        if self.name is not None:
            entry["Name"] = self.name
        if self.retiring_principal is not None:
            retiring = "Service" if is_service_principal(self.retiring_principal) else ""
            entry[f"Retiring{retiring}Principal"] = self.retiring_principal
        if self.constraints is not None:
            entry["Constraints"] = self.constraints.listing()
        return entry


def check_operations(
    operations: Sequence[str], key_spec: KeySpec, key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
) -> tuple[str, ...]:
    """The grant's operations, if a key of this spec and usage supports them all."""
    if not operations:
        raise ValidationException("A grant needs at least one operation.")
    invalid = sorted(set(operations) - grant_operations(key_spec, key_usage))
    if invalid:
        raise ValidationException(
            f"Grant operations {', '.join(invalid)} are not valid for a {key_spec.value} key "
            f"with key usage {key_usage.value}."
        )
    return tuple(dict.fromkeys(operations))


def new_grant_id() -> str:
    return secrets.token_hex(32)


def _checksum(grant_id: str, key_id: str) -> str:
    return hashlib.sha256(f"{grant_id}/{key_id}".encode()).hexdigest()[:32]


def grant_id_of_token(token: str) -> str:
    """The grant a token names; malformed tokens are refused. Check it with ``matches``."""
    parts = token.split(".")
    if len(parts) != 3 or not token.startswith(TOKEN_PREFIX) or len(parts[1]) != 64:
        raise InvalidGrantTokenException("The grant token is not valid.")
    return parts[1]


def check_token(token: str, grant: Grant | None) -> Grant:
    if grant is None or not hmac.compare_digest(token.encode(), grant.token.encode()):
        raise InvalidGrantTokenException("The grant token is not valid.")
    return grant
