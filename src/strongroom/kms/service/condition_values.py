"""The condition keys of a request, computed only when a policy asks for them.

Most policies have no conditions, so on the hot path nothing here runs. Keys are looked up
lower-cased (condition key names are case-insensitive); values are strings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from strongroom.kms.domain import multi_region
from strongroom.kms.domain.key import KeyRecord

if TYPE_CHECKING:
    from strongroom.kms.service.pipeline import Call, KeyAccess

_EC_PREFIX = "kms:encryptioncontext:"
_REQUEST_TAG = "aws:requesttag/"
_RESOURCE_TAG = "aws:resourcetag/"
Values = tuple[str, ...]


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class RequestValues:
    """``ConditionValues`` for one (request, key, member) triple."""

    __slots__ = ("access", "call", "context", "key", "memo", "raw_context")

    def __init__(self, call: Call, key: KeyRecord | None, access: KeyAccess | None) -> None:
        self.call = call
        self.key = key
        self.access = access
        self.memo: dict[str, Values | None] = {}
        member = access.context_member if access is not None else "EncryptionContext"
        self.raw_context: Mapping[str, str] = call.request.get(member) or {}
        # Condition keys are case-insensitive, so kms:EncryptionContext:<key> is too: every
        # context pair whose key lower-cases to <key> answers it.
        self.context: dict[str, tuple[str, ...]] = {}
        for pair_key, value in self.raw_context.items():
            lowered = pair_key.lower()
            self.context[lowered] = (*self.context.get(lowered, ()), value)

    def get(self, name: str) -> Values | None:
        if name not in self.memo:
            self.memo[name] = self._compute(name)
        return self.memo[name]

    def _compute(self, name: str) -> Values | None:
        if name.startswith(_EC_PREFIX):
            return self.context.get(name[len(_EC_PREFIX) :])
        if name.startswith(_REQUEST_TAG):
            wanted = name[len(_REQUEST_TAG) :]
            found = [v for k, v in self.request_tags().items() if k.lower() == wanted]
            return tuple(found) or None
        if name.startswith(_RESOURCE_TAG):
            if self.key is None:
                return None
            wanted = name[len(_RESOURCE_TAG) :]
            tags = self.call.ctx.keys.list_tags(self.key.record_id)
            return tuple(v for k, v in tags if k.lower() == wanted) or None
        compute = _SIMPLE.get(name)
        return None if compute is None else compute(self)

    # --- the individual keys -------------------------------------------------------------

    def request_tags(self) -> dict[str, str]:
        tags = self.call.request.get("Tags") or ()
        return {t["TagKey"]: t["TagValue"] for t in tags}

    def user(self, value: str) -> Values | None:
        """A value of users and roles only: absent when a service calls as itself."""
        return None if self.call.caller.is_service else (value,)

    def request(self, member: str) -> Values | None:
        value = self.call.request.get(member)
        if value is None:
            return None
        if isinstance(value, list):
            return tuple(_text(v) for v in value)
        return (_text(value),)

    def key_attr(self, attr: str) -> Values | None:
        return None if self.key is None else (str(getattr(self.key, attr).value),)

    def multi_region(self) -> Values | None:
        if self.key is None:
            return None
        return ("true",) if self.key.primary_region is not None else ("false",)

    def multi_region_key_type(self) -> Values | None:
        kind = None if self.key is None else multi_region.key_type(self.key)
        return None if kind is None else (kind,)

    def resource_aliases(self) -> Values | None:
        if self.key is None:
            return None
        aliases = self.call.ctx.keys.list_aliases(
            self.key.account_id, self.key.region, self.key.record_id, None, 1000
        )
        return tuple(a.alias_name for a in aliases) or None

    def request_alias(self) -> Values | None:
        if self.access is None:
            return None
        alias = self.call.aliases_used.get(self.access.member)
        return None if alias is None else (alias,)

    def valid_to(self) -> Values | None:
        value = self.call.request.get("ValidTo")
        return None if value is None else (str(value.timestamp()),)

    def grant_constraint_type(self) -> Values | None:
        constraints = self.call.request.get("Constraints") or {}
        found = tuple(
            k
            for k in ("EncryptionContextEquals", "EncryptionContextSubset")
            if constraints.get(k) is not None
        )
        return found or None


_SIMPLE: dict[str, Callable[[RequestValues], Values | None]] = {
    # The original spelling: kms:EncryptionContextKeys is how policies check key case.
    "kms:encryptioncontextkeys": lambda v: tuple(v.raw_context) or None,
    # A service calling as itself has no account of its own and no ARN; its name instead.
    "kms:calleraccount": lambda v: v.user(v.call.caller.account_id),
    "aws:principalaccount": lambda v: v.user(v.call.caller.account_id),
    "aws:principalarn": lambda v: v.user(v.call.caller.principal_arn),
    "aws:principalservicename": lambda v: (
        (v.call.caller.principal_arn,) if v.call.caller.is_service else None
    ),
    "aws:sourcearn": lambda v: (
        (v.call.caller.source_arn,) if v.call.caller.source_arn is not None else None
    ),
    # Present for IAM users only, as in AWS.
    "aws:username": lambda v: (
        (v.call.caller.principal_arn.rsplit("/", 1)[-1],)
        if ":user/" in v.call.caller.principal_arn
        else None
    ),
    "aws:principaltype": lambda v: v.user(
        "AssumedRole" if ":role/" in v.call.caller.principal_arn else "User"
    ),
    "aws:sourceip": lambda v: (v.call.caller.source_ip,) if v.call.caller.source_ip else None,
    "aws:currenttime": lambda v: (v.call.ctx.clock.now().isoformat(),),
    "aws:epochtime": lambda v: (str(int(v.call.ctx.clock.now().timestamp())),),
    "aws:securetransport": lambda v: ("false",),
    "aws:tagkeys": lambda v: tuple(v.request_tags()) or None,
    "kms:keyspec": lambda v: v.key_attr("key_spec"),
    "kms:customermasterkeyspec": lambda v: v.key_attr("key_spec"),
    "kms:keyusage": lambda v: v.key_attr("key_usage"),
    "kms:customermasterkeyusage": lambda v: v.key_attr("key_usage"),
    "kms:keyorigin": lambda v: v.key_attr("origin"),
    "kms:keymanager": lambda v: v.key_attr("key_manager"),
    "kms:multiregion": lambda v: v.multi_region(),
    "kms:multiregionkeytype": lambda v: v.multi_region_key_type(),
    "kms:replicaregion": lambda v: v.request("ReplicaRegion"),
    "kms:primaryregion": lambda v: v.request("PrimaryRegion"),
    "kms:resourcealiases": lambda v: v.resource_aliases(),
    "kms:requestalias": lambda v: v.request_alias(),
    # The service that makes the call on the caller's behalf (the object store: s3.<region>...).
    "kms:viaservice": lambda v: (
        (v.call.caller.via_service,) if v.call.caller.via_service is not None else None
    ),
    "kms:grantoperations": lambda v: v.request("Operations"),
    "kms:granteeprincipal": lambda v: v.request("GranteePrincipal"),
    "kms:retiringprincipal": lambda v: v.request("RetiringPrincipal"),
    # True when a service integrated with the KMS creates the grant for the caller.
    "kms:grantisforawsresource": lambda v: (
        ("true",) if v.call.caller.via_service is not None else ("false",)
    ),
    "kms:grantconstrainttype": lambda v: v.grant_constraint_type(),
    "kms:encryptionalgorithm": lambda v: v.request("EncryptionAlgorithm"),
    "kms:signingalgorithm": lambda v: v.request("SigningAlgorithm"),
    "kms:macalgorithm": lambda v: v.request("MacAlgorithm"),
    "kms:messagetype": lambda v: v.request("MessageType"),
    "kms:keyagreementalgorithm": lambda v: v.request("KeyAgreementAlgorithm"),
    "kms:datakeypairspec": lambda v: v.request("KeyPairSpec"),
    "kms:bypasspolicylockoutsafetycheck": lambda v: v.request("BypassPolicyLockoutSafetyCheck"),
    "kms:rotationperiodindays": lambda v: v.request("RotationPeriodInDays"),
    "kms:schedulekeydeletionpendingwindowindays": lambda v: v.request("PendingWindowInDays"),
    "kms:reencryptonsamekey": lambda v: None,
    # BYOK: GetParametersForImport and ImportKeyMaterial (kms:ValidTo in epoch seconds).
    "kms:wrappingalgorithm": lambda v: v.request("WrappingAlgorithm"),
    "kms:wrappingkeyspec": lambda v: v.request("WrappingKeySpec"),
    "kms:expirationmodel": lambda v: v.request("ExpirationModel"),
    "kms:validto": lambda v: v.valid_to(),
}
