"""The operator pages (provider side): proposals and their approvals, approving and executing
by signature, enrolment and the quorum's threshold (by proposals), and the provider's trail.

Every change goes through :class:`OperatorDesk`, the quorum service ``strongroom operator``
uses; a refusal is the quorum's own message, shown on the page that sent the form. Signatures
are made by the operator: the pages show the bytes to sign and take the signature back.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from strongroom.console.http import Request, Response, redirect
from strongroom.console.operators import DeskError, OperatorDesk
from strongroom.console.pages import Page

PROPOSAL = r"/console/operator/proposals/(gp-[0-9a-f]{1,64})"
TRAIL_LIMIT = 200
DONE = {
    "approved": "Your approval is recorded.",
    "executed": "The proposal was executed.",
    "proposed": "Your proposal is recorded, with your signature as its first approval.",
}


@dataclass(frozen=True, slots=True)
class OperatorContext:
    """One operator's signed-in request: who, and the quorum desk; no KMS principal."""

    request: Request
    operator: str
    desk: OperatorDesk


def _signature(ctx: OperatorContext) -> bytes:
    text = "".join(ctx.request.field("signature").split())
    if not text:
        raise DeskError("Paste or make the signature first.")
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DeskError("The signature is not base64.") from None
    if len(value) != 64:
        raise DeskError("An Ed25519 signature is 64 bytes (88 base64 characters).")
    return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def proposals(ctx: OperatorContext) -> Page:
    done = ctx.request.query.get("done", "")
    return Page(
        "operator_proposals.html",
        {"proposals": ctx.desk.proposals(), "notice": DONE.get(done)},
        title="Proposals",
    )


def proposal(
    ctx: OperatorContext, proposal_id: str, error: str | None = None, status: int = 200
) -> Page:
    try:
        found = ctx.desk.proposal(proposal_id)
    except DeskError as refusal:
        return Page("error.html", {"message": str(refusal)}, 404)
    mine = any(a.operator == ctx.operator for a in found.approvals)
    return Page(
        "operator_proposal.html",
        {
            "p": found,
            "bytes": _b64(found.canonical_bytes),
            "mine": mine,
            "counted": sum(1 for a in found.approvals if a.counted),
            "error": error,
            "notice": DONE.get(ctx.request.query.get("done", "")),
            "me": ctx.operator,
        },
        status,
        title=f"Proposal {found.proposal_id}",
    )


def _step(
    ctx: OperatorContext, proposal_id: str, done: str, run: Callable[[bytes], object]
) -> Page | Response:
    try:
        run(_signature(ctx))
    except DeskError as refusal:
        return proposal(ctx, proposal_id, str(refusal), 400)
    return redirect(f"/console/operator/proposals/{quote(proposal_id)}?done={done}")


def approve(ctx: OperatorContext, proposal_id: str) -> Page | Response:
    return _step(
        ctx,
        proposal_id,
        "approved",
        lambda signature: ctx.desk.approve(proposal_id, ctx.operator, signature),
    )


def execute(ctx: OperatorContext, proposal_id: str) -> Page | Response:
    return _step(
        ctx,
        proposal_id,
        "executed",
        lambda signature: ctx.desk.execute(proposal_id, ctx.operator, signature),
    )


def roster(ctx: OperatorContext, error: str | None = None, status: int = 200) -> Page:
    threshold, members = ctx.desk.roster()
    active = [op for op in members if op.removed is None]
    return Page(
        "operator_roster.html",
        {
            "threshold": threshold,
            "members": members,
            "active": active,
            "error": error,
            "form": {name: values[0] for name, values in ctx.request.form.items() if values},
            "me": ctx.operator,
        },
        status,
        title="Operators and quorum",
    )


def _parameters(ctx: OperatorContext, action: str) -> dict[str, Any]:
    field = ctx.request.field
    if action == "enrol-operator":
        return {"name": field("name").strip(), "publicKeyPem": field("public_key")}
    if action == "remove-operator":
        return {"name": field("name").strip()}
    if action == "set-threshold":
        if not re.fullmatch(r"[0-9]{1,3}", field("threshold").strip()):
            raise DeskError("The threshold M is a whole number.")
        return {"threshold": int(field("threshold"))}
    raise DeskError(f"Unknown action {action!r}.")


def draft(ctx: OperatorContext) -> Page:
    action = ctx.request.field("action")
    try:
        made = ctx.desk.draft(
            ctx.operator,
            action,
            _parameters(ctx, action),
            ctx.request.field("justification").strip(),
        )
    except DeskError as refusal:
        return roster(ctx, str(refusal), 400)
    return Page(
        "operator_draft.html",
        {"draft": made, "p": made.proposal, "bytes": _b64(made.proposal.canonical_bytes)},
        title="Sign your proposal",
    )


def submit(ctx: OperatorContext) -> Page | Response:
    try:
        made = ctx.desk.submit(ctx.operator, ctx.request.field("draft"), _signature(ctx))
    except DeskError as refusal:
        return Page("error.html", {"message": str(refusal)}, 400)
    return redirect(f"/console/operator/proposals/{quote(made.proposal_id)}?done=proposed")


def trail(ctx: OperatorContext) -> Page:
    return Page(
        "operator_trail.html",
        {"events": ctx.desk.trail(TRAIL_LIMIT), "limit": TRAIL_LIMIT},
        title="Provider trail",
    )


ROUTES: tuple[tuple[str, str, Callable[..., Page | Response], str], ...] = (
    ("GET", r"/console/operator/proposals", proposals, "operator-proposals"),
    ("GET", PROPOSAL, proposal, "operator-proposal"),
    ("POST", PROPOSAL + "/approve", approve, "operator-approve"),
    ("POST", PROPOSAL + "/execute", execute, "operator-execute"),
    ("GET", r"/console/operator/roster", roster, "operator-roster"),
    ("POST", r"/console/operator/drafts", draft, "operator-draft"),
    ("POST", r"/console/operator/proposals", submit, "operator-submit"),
    ("GET", r"/console/operator/trail", trail, "operator-trail"),
)
