"""The operator pages' desk: ``strongroom.console.operators.OperatorDesk`` over the quorum.

Every step calls :class:`Quorum` as ``strongroom operator`` does (same checks, same provider
trail events, same refusals recorded). Drafts travel through the browser sealed (AES-256-GCM,
bound to the proposer) so a page cannot change a proposal's id, nonce or times; the quorum
checks everything again when the signed draft comes back. The provider trail is the audit
chain's records of the account ``provider``; operator sign-ins are events there
too (``ConsoleOperatorSignIn``; refused attempts are not, or anyone could fill the trail).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from strongroom.console.operators import (
    ApprovalView,
    DeskError,
    Draft,
    OperatorView,
    ProposalView,
)
from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.export import export_account
from strongroom.kms.audit.record import PROVIDER_ACCOUNT
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.domain.governance import Operator, Proposal
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import (
    fingerprint,
    operator_principal,
    parse_public_key,
    verifies,
)
from strongroom.kms.governance.proposals import Realm
from strongroom.kms.governance.quorum import Quorum, Status
from strongroom.kms.governance.sign_in import sign_in_bytes
from strongroom.kms.storage.database import Database

DRAFT_AAD = b"strongroom-console-draft-v1/"
SIGN_IN_EVENT = "ConsoleOperatorSignIn"
# Actions a page may propose; the others (provider-decrypt with its ciphertext files, root key
# rotation, HSM cluster removal) are proposed with `strongroom operator propose`.
PROPOSABLE = ("enrol-operator", "remove-operator", "set-threshold")


def _when(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _view(status: Status) -> ProposalView:
    p = status.proposal
    parameters = dict(p.parameters)
    if "ciphertexts" in parameters:
        parameters["ciphertexts"] = len(parameters["ciphertexts"])
    return ProposalView(
        proposal_id=p.proposal_id,
        action=p.action,
        state=status.state,
        proposer=p.proposer,
        justification=p.justification,
        parameters=parameters,
        created=str(_when(p.created_at)),
        expires=str(_when(p.expires_at)),
        threshold=status.threshold,
        approvals=tuple(
            ApprovalView(a.operator, str(_when(a.approved_at)), a.operator in status.counted)
            for a in status.approvals
        ),
        executed=_when(p.executed_at),
        executed_by=p.executed_by,
        canonical_bytes=status.message,
    )


class QuorumDesk:
    def __init__(
        self,
        quorum: Quorum,
        db: Database,
        realm: Realm,
        draft_key: bytes,
        *,
        chain: AuditChain,
        now: Callable[[], datetime],
    ) -> None:
        self._quorum = quorum
        self._db = db
        self._chain = chain
        self._now = now
        self._seal = AESGCM(draft_key)
        self._realm = realm

    def __repr__(self) -> str:
        return "QuorumDesk(<key redacted>)"

    def sign_in_bytes(self, host: str, nonce: str, issued: int) -> bytes:
        return sign_in_bytes(self._realm, host, nonce, issued)

    def _active(self, name: str) -> Operator | None:
        _, members = self._quorum.roster()
        return next((op for op in members if op.name == name and op.active), None)

    def public_key(self, operator: str) -> bytes | None:
        found = self._active(operator)
        return None if found is None else bytes(found.public_key)

    def verify(self, operator: str, signature: bytes, message: bytes) -> bool:
        found = self._active(operator)
        return found is not None and verifies(found, signature, message)

    def record_sign_in(self, operator: str, source_ip: str) -> None:
        event = AuditEvent(
            time=self._now(),
            request_id=str(uuid.uuid4()),
            account_id=PROVIDER_ACCOUNT,
            principal_arn=operator_principal(operator),
            access_key_id="",
            source_ip=source_ip,
            operation=SIGN_IN_EVENT,
            resources=(),
        )
        with self._db.transaction() as tx:
            self._chain.append(tx, [event])

    def roster(self) -> tuple[int | None, tuple[OperatorView, ...]]:
        threshold, members = self._quorum.roster()
        return threshold, tuple(
            OperatorView(
                op.name,
                fingerprint(op.public_key),
                str(_when(op.enrolled_at)),
                _when(op.removed_at),
            )
            for op in members
        )

    def proposals(self) -> tuple[ProposalView, ...]:
        found = [_view(s) for s in self._quorum.proposals()]
        return tuple(sorted(found, key=lambda v: v.created, reverse=True))

    def proposal(self, proposal_id: str) -> ProposalView:
        with _refused():
            return _view(self._quorum.status(proposal_id))

    def draft(
        self, proposer: str, action: str, parameters: Mapping[str, Any], justification: str
    ) -> Draft:
        if action not in PROPOSABLE:
            raise DeskError(f"propose {action} with `strongroom operator propose`")
        if action == "enrol-operator":
            parameters = _enrolment(parameters)
        with _refused():
            proposal, message = self._quorum.draft(
                proposer=proposer,
                action=action,
                parameters=parameters,
                justification=justification,
            )
        body = orjson.dumps(
            {
                "id": proposal.proposal_id,
                "action": proposal.action,
                "parameters": dict(proposal.parameters),
                "justification": proposal.justification,
                "created": proposal.created_at.isoformat(),
                "expires": proposal.expires_at.isoformat(),
                "nonce": proposal.nonce,
            }
        )
        nonce = secrets.token_bytes(12)
        sealed = self._seal.encrypt(nonce, body, DRAFT_AAD + proposer.encode())
        token = base64.urlsafe_b64encode(nonce + sealed).decode()
        status = Status(proposal, _threshold(message), (), (), "draft", message)
        return Draft(token, _view(status))

    def submit(self, proposer: str, token: str, signature: bytes) -> ProposalView:
        try:
            raw = base64.urlsafe_b64decode(token)
            body = orjson.loads(
                self._seal.decrypt(raw[:12], raw[12:], DRAFT_AAD + proposer.encode())
            )
        except (InvalidTag, ValueError, orjson.JSONDecodeError):
            raise DeskError("the draft is not one this server made for you; draft again") from None
        draft = Proposal(
            proposal_id=str(body["id"]),
            proposer=proposer,
            action=str(body["action"]),
            parameters=body["parameters"],
            justification=str(body["justification"]),
            created_at=datetime.fromisoformat(body["created"]),
            expires_at=datetime.fromisoformat(body["expires"]),
            nonce=str(body["nonce"]),
        )
        with _refused():
            status = self._quorum.propose(
                proposer=proposer,
                action=draft.action,
                parameters=draft.parameters,
                justification=draft.justification,
                sign=lambda _: signature,
                ttl=draft.expires_at - draft.created_at,
                draft=draft,
            )
        return _view(status)

    def approve(self, proposal_id: str, operator: str, signature: bytes) -> ProposalView:
        with _refused():
            return _view(self._quorum.approve(proposal_id, operator, signature))

    def execute(self, proposal_id: str, operator: str, signature: bytes) -> Mapping[str, Any]:
        with _refused():
            if self._quorum.status(proposal_id).proposal.action == "provider-decrypt":
                raise GovernanceError(
                    "provider-decrypt runs only from the command line, so that the plaintexts "
                    "go to a file on your machine: strongroom operator execute "
                    f"{proposal_id} --key KEY.pem --out FILE"
                )
            outcome = self._quorum.execute(proposal_id, operator, signature)
        return dict(outcome.summary)

    def trail(self, limit: int) -> list[dict[str, Any]]:
        records = [orjson.loads(text) for text in export_account(self._db, PROVIDER_ACCOUNT)]
        return list(reversed(records[-limit:]))


def _enrolment(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """enrol-operator from a page: the public key as PEM text, as `keygen` writes it."""
    try:
        raw = parse_public_key(str(parameters.get("publicKeyPem", "")))
    except (GovernanceError, ValueError) as error:
        raise DeskError(str(error)) from None
    return {"name": parameters.get("name", ""), "publicKey": base64.b64encode(raw).decode()}


def _threshold(message: bytes) -> int:
    body = orjson.loads(message.split(b"\n", 1)[1])
    return int(body["threshold"])


@contextmanager
def _refused() -> Iterator[None]:
    """Governance refusals become :class:`DeskError` with the quorum's message."""
    try:
        yield
    except GovernanceError as error:
        raise DeskError(str(error)) from None
