"""CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant."""

from __future__ import annotations

from strongroom.kms.domain.evaluation import Effect
from strongroom.kms.domain.grants import (
    Constraints,
    Grant,
    check_operations,
    check_principal_arn,
    check_service_principal,
    check_token,
    grant_id_of_token,
    new_grant_id,
)
from strongroom.kms.domain.ids import key_arn, key_id_of_record
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    AccessDeniedException,
    InvalidGrantIdException,
    ValidationException,
)
from strongroom.kms.service.paging import TIME_AND_ID, page
from strongroom.kms.service.pipeline import (
    Call,
    KeyAccess,
    Operation,
    Request,
    Response,
    managed_key,
)
from strongroom.kms.storage.grants import GrantRepository


def _repo(call: Call) -> GrantRepository:
    return GrantRepository(call.ctx.db)


def create_grant(call: Call) -> Response:
    request, key = call.request, call.key
    grantee, service_grantee = _principal(request, "Grantee")
    if grantee is None:
        raise ValidationException("Specify GranteePrincipal or GranteeServicePrincipal.")
    retiring, _ = _principal(request, "Retiring")
    if service_grantee and retiring is None:
        raise ValidationException(
            "A grant to a service principal needs a RetiringPrincipal or RetiringServicePrincipal."
        )
    constraints = Constraints.from_request(request.get("Constraints"), service_grantee)
    operations = check_operations(request["Operations"], key.key_spec, key.key_usage)
    parent = call.via_grant
    if parent is not None and not (
        set(operations) <= set(parent.operations)
        and (constraints or Constraints()).at_least_as_strict_as(parent.constraints)
    ):
        raise AccessDeniedException(
            f"User: {call.caller.principal_arn} may create grants only for a subset of the "
            "operations, and with constraints at least as strict as, the grant it uses."
        )
    grant = Grant(
        grant_id=new_grant_id(),
        key_id=key.record_id,
        issuing_account=key.account_id,
        grantee_principal=grantee,
        retiring_principal=retiring,
        operations=operations,
        constraints=constraints,
        name=request.get("Name"),
        created_at=call.ctx.clock.now(),
    )
    stored = _repo(call).create(grant)
    call.ctx.policies.forget_grants(key.record_id)
    return {"GrantId": stored.grant_id, "GrantToken": stored.token}


def _principal(request: Request, role: str) -> tuple[str | None, bool]:
    """``<role>Principal`` (an ARN) or ``<role>ServicePrincipal``, at most one; and whether it
    is a service principal."""
    arn, service = request.get(f"{role}Principal"), request.get(f"{role}ServicePrincipal")
    if arn is not None and service is not None:
        raise ValidationException(f"Specify {role}Principal or {role}ServicePrincipal, not both.")
    if service is not None:
        check_service_principal(service, f"{role}ServicePrincipal")
        return service, True
    if arn is not None:
        check_principal_arn(arn, f"{role}Principal")
    return arn, False


def list_grants(call: Call) -> Response:
    key, request, repo = call.key, call.request, _repo(call)
    grant_id = request.get("GrantId")
    if grant_id is not None and not repo.exists_for_key(key.record_id, grant_id):
        raise InvalidGrantIdException(f"Grant {grant_id} does not exist for {key.arn}.")
    grantee = request.get("GranteePrincipal")
    items, paging = page(
        lambda after, limit: repo.page_for_key(
            key.record_id, after, limit, grant_id=grant_id, grantee=grantee
        ),
        lambda g: (g.created_at, g.grant_id),
        request.get("Limit", 50),
        request.get("Marker"),
        TIME_AND_ID,
    )
    return {"Grants": [g.listing(key.arn) for g in items], **paging}


def list_retirable_grants(call: Call) -> Response:
    principal = call.request.get("RetiringPrincipal")
    if principal is None:
        raise ValidationException("RetiringPrincipal is required.")
    check_principal_arn(principal, "RetiringPrincipal")
    if principal.split(":")[4] != call.caller.account_id:
        # Another account's principals and their grants are not the caller's to see.
        raise AccessDeniedException(
            f"User: {call.caller.principal_arn} is not authorized to perform: "
            f"kms:ListRetirableGrants for a principal of another account"
        )
    repo = _repo(call)
    items, paging = page(
        lambda after, limit: repo.retirable_by(principal, call.region, after, limit),
        lambda g: g.grant_id,
        call.request.get("Limit", 50),
        call.request.get("Marker"),
    )
    return {
        "Grants": [g.listing(_key_arn(call.region, g)) for g in items],
        **paging,
    }


def _key_arn(region: str, grant: Grant) -> str:
    """The ARN of a grant's key (``Grant.key_id`` is the key's record id)."""
    return key_arn(region, grant.issuing_account, key_id_of_record(grant.key_id))


def _find_grant(call: Call) -> Grant:
    request, repo = call.request, _repo(call)
    token = request.get("GrantToken")
    if token is not None:
        return check_token(token, repo.get(grant_id_of_token(token)))
    key, grant_id = call.keys[0] if call.keys else None, request.get("GrantId")
    if key is None or grant_id is None:
        raise ValidationException("Specify GrantToken, or KeyId and GrantId.")
    grant = repo.get(grant_id)
    if grant is None or grant.key_id != key.record_id:
        raise InvalidGrantIdException(f"Grant {grant_id} does not exist for {key.arn}.")
    return grant


def authorize_retirement(call: Call) -> None:
    """Who may retire a grant, as AWS decides it: the retiring principal, the grantee of a grant
    that includes RetireGrant, or a principal of the key's account whose identity policies allow
    kms:RetireGrant. An identity-policy Deny of kms:RetireGrant stops all of them."""
    call.grant = grant = _find_grant(call)
    caller = call.caller
    key_arn = _key_arn(call.region, grant)
    identity = call.pipeline.authorizer.identity_effect(call, "kms:RetireGrant", key_arn)
    allowed = identity is not Effect.DENY and (
        caller.principal_arn == grant.retiring_principal
        or (caller.principal_arn == grant.grantee_principal and "RetireGrant" in grant.operations)
        or (caller.account_id == grant.issuing_account and identity is Effect.ALLOW)
    )
    if not allowed:
        raise AccessDeniedException(
            f"User: {caller.principal_arn} is not authorized to perform: kms:RetireGrant on "
            f"grant {grant.grant_id}"
        )


def retire_grant(call: Call) -> Response:
    assert call.grant is not None
    _repo(call).delete(call.grant.grant_id, call.ctx.clock.now())
    call.ctx.policies.forget_grants(call.grant.key_id)
    return {}


def revoke_grant(call: Call) -> Response:
    grant = _find_grant(call)
    _repo(call).delete(grant.grant_id, call.ctx.clock.now())
    call.ctx.policies.forget_grants(grant.key_id)
    return {}


OPERATIONS = (
    Operation(
        "CreateGrant",
        create_grant,
        managed_key("kms:CreateGrant", OpClass.CREATE_GRANT),
        dry_run=True,
    ),
    Operation("ListGrants", list_grants, managed_key("kms:ListGrants", OpClass.READ)),
    Operation("ListRetirableGrants", list_retirable_grants, action="kms:ListRetirableGrants"),
    # RetireGrant is authorized by the grant itself, not by policies.
    Operation(
        "RetireGrant",
        retire_grant,
        (KeyAccess("KeyId", "kms:RetireGrant", OpClass.READ, aliases=False, required=False),),
        dry_run=True,
        authorize=authorize_retirement,
    ),
    Operation(
        "RevokeGrant", revoke_grant, managed_key("kms:RevokeGrant", OpClass.READ), dry_run=True
    ),
)
