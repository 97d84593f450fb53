"""The one pipeline every KMS operation runs through.

authenticate (done by the API layer, which hands us a :class:`Caller`) -> resolve the keys the
request names -> authorize each (and the alias, for alias operations) -> check each against the
key-state table and the key-spec/usage table -> DryRun -> run the operation -> audit.
Operations declare what they need in :class:`Operation`; none of them resolves, authorizes or
checks state by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from strongroom.kms import messages
from strongroom.kms.audit.durable import DurableEvent
from strongroom.kms.audit.events import KMS_EVENT_SOURCE, AuditEvent, AuditSink
from strongroom.kms.audit.parameters import RequestParameters
from strongroom.kms.audit.record import is_read_only
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.domain import ciphertext, key_specs, states
from strongroom.kms.domain.ciphertext import CiphertextBlob
from strongroom.kms.domain.evaluation import Effect
from strongroom.kms.domain.grants import Grant
from strongroom.kms.domain.ids import alias_arn, key_arn, parse_key_ref
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.managed import is_reserved_alias, service_of_alias
from strongroom.kms.errors import (
    AccessDeniedException,
    DependencyTimeoutException,
    DryRunOperationException,
    InvalidCiphertextException,
    KmsError,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from strongroom.kms.keystores.external.double_cipher import REQUEST
from strongroom.kms.keystores.external.proxy_client import RequestContext
from strongroom.kms.service import managed
from strongroom.kms.service.authorization import Authorizer
from strongroom.kms.service.caller import Caller
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.storage.database import DatabaseUnavailable, commit_hook

Request = Mapping[str, Any]
Response = dict[str, object]


class NeedsThread(Exception):
    """Raised before anything is done when a call made on the event loop (``inline``) turns
    out to need a network round trip (a key of an external key store): the server runs it
    again in a thread. Nothing was audited or changed."""


@dataclass(frozen=True, slots=True)
class KeyAccess:
    """One key an operation works on: where the request names it and what is checked."""

    member: str
    action: str
    op_class: states.OpClass
    aliases: bool = True
    required: bool = True
    from_ciphertext: bool = False
    # The member that names the key when a dry run ignores the ciphertext (IGNORE_CIPHERTEXT).
    dry_run_member: str | None = None
    # For a ciphertext member: the request member naming the encryption algorithm. When it
    # names an asymmetric one, the ciphertext is raw (RSAES-OAEP) and ``dry_run_member``
    # names the key.
    algorithm_member: str | None = None
    # Control-plane operations read the key from the database, not from the cache.
    fresh: bool = False
    # The request member whose encryption context conditions and grant constraints see.
    context_member: str = "EncryptionContext"
    # What the operation needs of the key (spec and usage), checked by the key spec table.
    use: key_specs.Use = key_specs.Use.ANY


def managed_key(action: str, op_class: states.OpClass) -> tuple[KeyAccess]:
    """The usual key of a management operation: ``KeyId`` by id or ARN, read fresh."""
    return (KeyAccess("KeyId", action, op_class, aliases=False, fresh=True),)


@dataclass(frozen=True, slots=True)
class Operation:
    name: str
    handler: Callable[[Call], Response]
    keys: tuple[KeyAccess, ...] = ()
    action: str | None = None  # for operations on no key (CreateKey, ListKeys, ...)
    dry_run: bool = False
    # Replaces policy authorization for operations that grants authorize (RetireGrant).
    authorize: Callable[[Call], None] | None = None
    # A request member naming an alias that is itself a resource of the action (CreateAlias,
    # UpdateAlias, DeleteAlias): identity policies must allow the action on the alias's ARN.
    alias_resource: str | None = None
    # Slow work (RSA key generation, HSM logins and token objects): the server runs it in a
    # thread so that the worker's event loop, and every other request on it, never waits.
    blocking: bool = False
    # Worked out once: the positions of the keys whose use is noted (cryptographic ones), and
    # whether the operation changes nothing (its event is then group-committed).
    noted: tuple[int, ...] = field(init=False, repr=False, compare=False)
    read_only: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        noted = tuple(i for i, k in enumerate(self.keys) if k.op_class is states.OpClass.CRYPTO)
        object.__setattr__(self, "noted", noted)
        object.__setattr__(self, "read_only", is_read_only(self.name))

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(k.action for k in self.keys) or ((self.action,) if self.action else ())


@dataclass(slots=True)
class Call:
    """What an operation handler receives: the validated request and the checked keys."""

    operation: Operation
    request: Request
    caller: Caller
    request_id: str
    ctx: ServiceContext
    pipeline: Pipeline
    keys: tuple[KeyRecord | None, ...] = ()
    blob: CiphertextBlob | None = None
    extra_resources: list[str] = field(default_factory=list)
    # Alias names the request used, by member (for kms:RequestAlias).
    aliases_used: dict[str, str] = field(default_factory=dict)
    # The grant that authorized this call, when no policy did.
    via_grant: Grant | None = None
    # The grant an operation acts on (RetireGrant), found while authorizing.
    grant: Grant | None = None

    @property
    def region(self) -> str:
        """The region the call is made in."""
        return self.caller.region

    @property
    def key(self) -> KeyRecord:
        """The first (usually only) key; present whenever its access is ``required``."""
        first = self.keys[0]
        assert first is not None
        return first


def _has_external_key(keys: tuple[KeyRecord | None, ...]) -> bool:
    for key in keys:  # noqa: SIM110 - a loop: any() over a generator costs more per request
        if key is not None and key.xks_key_id is not None:
            return True
    return False


def _check_alias_writable(name: object) -> None:
    """``alias/aws/`` names belong to AWS managed keys: no tenant creates, moves or deletes
    them. AWS answers NotAuthorizedException, with no message."""
    if isinstance(name, str) and is_reserved_alias(name):
        raise NotAuthorizedException()


def _ignores_ciphertext(request: Request) -> bool:
    modifiers = request.get("DryRunModifiers", ())
    return bool(request.get("DryRun")) and "IGNORE_CIPHERTEXT" in modifiers


def _raw_ciphertext(access: KeyAccess, request: Request) -> bool:
    """The request names an asymmetric encryption algorithm: the ciphertext is not ours."""
    if access.algorithm_member is None:
        return False
    algorithm = request.get(access.algorithm_member)
    return algorithm is not None and algorithm != "SYMMETRIC_DEFAULT"


class Pipeline:
    def __init__(
        self,
        ctx: ServiceContext,
        authorizer: Authorizer,
        audit: AuditSink,
        durable: AuditChain | None = None,
        parameters: RequestParameters | None = None,
    ) -> None:
        """``audit`` takes data-plane events (group-committed); ``durable``, when given, writes
        the events of successful control-plane changes in the change's own transaction.
        ``parameters`` picks what events show of requests (default: the model's operations)."""
        self.ctx = ctx
        self.authorizer = authorizer
        self._audit = audit
        self._durable = durable
        self._parameters = parameters or RequestParameters()
        # (account, region, operation, key spec) -> None or ThrottlingException: request quotas
        # that depend on the key's type (api/quotas.py RequestQuotas.admit_by_key); None: off.
        self.admit_by_key: Callable[[str, str, str, str], None] | None = None

    def execute(
        self,
        operation: Operation,
        request: Request,
        caller: Caller,
        request_id: str,
        *,
        inline: bool = False,
    ) -> Response:
        """``inline``: the caller runs on an event loop, and would rather get NeedsThread than
        wait there for an external key store's proxy."""
        try:
            return self._execute(operation, request, caller, request_id, inline)
        except DatabaseUnavailable:
            # Only what needed the database fails: cached keys still serve the hot path.
            raise DependencyTimeoutException(
                "The system timed out while trying to fulfill the request. You can retry the "
                "request."
            ) from None

    def _execute(
        self,
        operation: Operation,
        request: Request,
        caller: Caller,
        request_id: str,
        inline: bool,
    ) -> Response:
        # Refused before anything runs when the trail cannot take the event (audit/policy.py).
        self._audit.admit()
        call = Call(operation, request, caller, request_id, self.ctx, self)
        durable = None if operation.read_only else self._durable_event(call)
        token = None
        try:
            self._prepare(call)
            admit = self.admit_by_key
            if admit is not None and caller.counted and call.keys and call.keys[0] is not None:
                admit(caller.account_id, call.region, operation.name, call.keys[0].key_spec)
            if _has_external_key(call.keys):
                if inline:
                    raise NeedsThread()
                token = REQUEST.set(
                    RequestContext(caller.principal_arn, operation.name, request_id)
                )
            if operation.dry_run and request.get("DryRun"):
                raise DryRunOperationException()
            if durable is None:
                response = operation.handler(call)
            else:
                with commit_hook(durable):
                    response = operation.handler(call)
        except KmsError as error:
            self._record(call, error.code, self.ctx.clock.now())
            raise
        except DatabaseUnavailable:
            self._record(call, DependencyTimeoutException.__name__, self.ctx.clock.now())
            raise
        finally:
            if token is not None:
                REQUEST.reset(token)
        now = self.ctx.clock.now()
        if durable is None:
            self._audit.record(self._event(call, None, now))
        else:
            durable.write_alone(self.ctx.db)
        self._note_usage(call, now)
        return response

    def _durable_event(self, call: Call) -> DurableEvent | None:
        """Control-plane changes (operations that are not read-only) audit durably."""
        if self._durable is None or call.operation.read_only:  # read-only: group-committed
            return None
        return DurableEvent(self._durable, lambda: self._event(call, None, self.ctx.clock.now()))

    def _note_usage(self, call: Call, now: datetime) -> None:
        keys = call.keys
        for index in call.operation.noted:
            key = keys[index] if index < len(keys) else None
            if key is not None:
                self.ctx.usage.note(key.record_id, call.operation.name, now, call.request_id)

    def _prepare(self, call: Call) -> None:
        operation = call.operation
        if operation.alias_resource is not None:
            _check_alias_writable(call.request.get(operation.alias_resource))
        if not operation.keys:
            if operation.action is not None:
                self.authorizer.authorize(call, operation.action, None, None)
            return
        for access in operation.keys:
            key = self._resolve_access(call, access)
            # Recorded before the checks, so a refused request is audited with its key.
            call.keys += (key,)
            if key is None:
                # An optional key that is absent (ListAliases without KeyId): the action is
                # then decided by identity policies alone, like any operation on no key.
                if operation.authorize is None:
                    self.authorizer.authorize(call, access.action, None, access)
                continue
            if operation.authorize is None:
                self.authorizer.authorize(call, access.action, key, access)
            states.check(access.op_class, key.state, key.arn)
            states.check_manager(access.op_class, key.key_manager, key.arn)
            key_specs.check_use(access.use, operation.name, key.key_spec, key.key_usage, key.arn)
        if operation.alias_resource is not None:
            self._authorize_alias(call, operation.alias_resource)
        if operation.authorize is not None:
            operation.authorize(call)

    def _authorize_alias(self, call: Call, member: str) -> None:
        name = call.request.get(member)
        if name is None:
            return
        caller, action = call.caller, call.operation.actions[0]
        arn = alias_arn(call.region, caller.account_id, name)
        effect = self.authorizer.identity_effect(call, action, arn)
        if effect is Effect.ALLOW:
            return
        reason = (
            "with an explicit deny in an identity-based policy"
            if effect is Effect.DENY
            else f"because no identity-based policy allows the {action} action"
        )
        raise AccessDeniedException(
            f"User: {caller.principal_arn} is not authorized to perform: {action} on resource: "
            f"{arn} {reason}"
        )

    def _resolve_access(self, call: Call, access: KeyAccess) -> KeyRecord | None:
        raw = call.request.get(access.member)
        ignored = access.dry_run_member is not None and _ignores_ciphertext(call.request)
        # A required member is checked before anything else decides how the key is found:
        # a raw (asymmetric) ciphertext names its key elsewhere but is needed all the same.
        if raw is None and access.required and not ignored:
            raise ValidationException(f"{access.member} is required.")
        raw_ciphertext = access.algorithm_member is not None and _raw_ciphertext(
            access, call.request
        )
        if access.dry_run_member is not None and (raw_ciphertext or ignored):
            named = call.request.get(access.dry_run_member)
            if named is None:
                reason = (
                    f"{access.algorithm_member} is asymmetric"
                    if raw_ciphertext
                    else "DryRunModifiers has IGNORE_CIPHERTEXT"
                )
                raise ValidationException(f"{access.dry_run_member} is required when {reason}.")
            return self.resolve(named, call.caller, request_id=call.request_id)
        if raw is None:
            return None
        if access.from_ciphertext:
            call.blob = ciphertext.parse(raw)
            # A multi-Region key's ciphertext names its shared id: any replica decrypts it.
            key = self.ctx.cache.key(call.region, call.blob.key_id)
            if key is None:
                raise InvalidCiphertextException()
            return key
        if access.aliases and isinstance(raw, str) and "alias/" in raw:
            call.aliases_used[access.member] = raw[raw.index("alias/") :]
        return self._resolve(raw, call.caller, access.aliases, access.fresh, call.request_id)

    def resolve(
        self,
        raw: str,
        caller: Caller,
        *,
        aliases: bool = True,
        fresh: bool = False,
        request_id: str = "",
    ) -> KeyRecord:
        """Find the key a KeyId value names, as AWS does: id, key ARN, alias, alias ARN.

        A bare key id or alias name refers to the caller's own account; an ARN may name
        another account, whose keys authorization then decides about. A predefined
        ``alias/aws/<service>`` of the caller's own account that has no key yet gets its AWS
        managed key now (service/managed.py), as in AWS.
        """
        return self._resolve(raw, caller, aliases, fresh, request_id)

    def _resolve(
        self, raw: str, caller: Caller, aliases: bool, fresh: bool, request_id: str
    ) -> KeyRecord:
        ref = parse_key_ref(raw)
        region = caller.region
        account = ref.account_id or caller.account_id
        if ref.region is not None and ref.region != region:
            raise NotFoundException(messages.invalid_arn_region(ref.region))
        cache = self.ctx.cache
        if ref.is_alias:
            if not aliases:
                raise NotFoundException(messages.invalid_key_id(raw))
            lookup = cache.refresh_alias if fresh else cache.alias_target
            key_id = lookup(account, region, ref.value)
            if key_id is None:
                service = service_of_alias(ref.value)
                if service is not None and account == caller.account_id:
                    audit = self._creation_event(caller, request_id, service.alias_name)
                    return managed.ensure(self.ctx, account, region, service, audit)
                raise NotFoundException(
                    messages.alias_not_found(alias_arn(region, account, ref.value))
                )
        else:
            key_id = ref.value
        key = cache.refresh_key(region, key_id) if fresh else cache.key(region, key_id)
        if key is None or key.account_id != account:
            raise NotFoundException(messages.key_not_found(key_arn(region, account, key_id)))
        return key

    def _creation_event(
        self, caller: Caller, request_id: str, alias_name: str
    ) -> Callable[[KeyRecord], DurableEvent] | None:
        """The audit event of an AWS managed key created for ``caller``'s request: CreateKey
        on the new key, by the service (``invokedBy``), committed with the key."""
        durable = self._durable
        if durable is None:
            return None

        def event(key: KeyRecord) -> DurableEvent:
            return DurableEvent(
                durable,
                lambda: AuditEvent(
                    time=key.created_at,
                    request_id=request_id,
                    account_id=caller.account_id,
                    principal_arn=caller.principal_arn,
                    access_key_id=caller.access_key_id,
                    source_ip=caller.source_ip,
                    operation="CreateKey",
                    resources=(key.arn,),
                    region=key.region,
                    additional_data={
                        "keyManager": "AWS",
                        "aliasName": alias_name,
                        "invokedBy": caller.via_service,
                    },
                ),
            )

        return event

    def _record(self, call: Call, error_code: str | None, now: datetime) -> None:
        self._audit.record(self._event(call, error_code, now))

    def _event(self, call: Call, error_code: str | None, now: datetime) -> AuditEvent:
        keys, extra, caller = call.keys, call.extra_resources, call.caller
        if len(keys) == 1 and keys[0] is not None and not extra:  # the usual: one key
            resources: tuple[str, ...] = (keys[0].arn,)
        else:
            resources = tuple([k.arn for k in keys if k is not None] + extra)
        name = call.operation.name
        # Positional, in AuditEvent's field order (13 keywords cost more than the event's own
        # fields); tests/unit/kms/service/test_pipeline.py checks each field by name.
        return AuditEvent(
            now,  # time
            call.request_id,
            caller.account_id,
            caller.principal_arn,
            caller.access_key_id,
            caller.source_ip,
            name,  # operation
            resources,
            error_code,
            self._parameters.select(name, call.request),  # request_parameters
            None,  # additional_data
            KMS_EVENT_SOURCE,  # event_source
            caller.region,
        )
