"""M-of-N quorum approvals: propose, approve, execute exactly once.

Rules (docs/security.md "Governance"):

- A proposal needs signatures of M distinct *active* operators over its canonical bytes
  (proposals.py); the proposer's signature is the first.
- The canonical bytes include M: when M changes, approvals given under the old M stop counting
  and pending proposals need fresh approvals. A removed operator's approvals stop counting.
  Both are evaluated when a proposal is executed (and shown by ``status``).
- A signature that does not verify over the stored proposal counts for nothing, so a proposal
  whose stored parameters were changed after signing cannot be executed.
- Expired proposals can be neither approved nor executed; an executed one never runs again
  (a conditional update marks it, in the transaction that runs the act).
- Every step and every refusal is an event in the provider's trail (account ``provider``),
  written in the transaction of the change it records.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.audit.record import PROVIDER_ACCOUNT
from strongroom.kms.audit.store import AuditChain
from strongroom.kms.domain.clock import Clock
from strongroom.kms.domain.governance import Approval, Operator, Proposal
from strongroom.kms.governance.actions import (
    Action,
    EnrolOperator,
    Execution,
    GovernanceEnv,
    Outcome,
    RefusedWithRecord,
    RemoveHsmCluster,
    RemoveOperator,
    RotateRootKey,
    SetThreshold,
    check_threshold,
)
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import check_name, operator_principal, verifies
from strongroom.kms.governance.proposals import canonical_bytes
from strongroom.kms.governance.provider_access import ProviderDecrypt
from strongroom.kms.storage.database import DuplicateRecord
from strongroom.kms.storage.unit_of_work import Transaction

DEFAULT_TTL = timedelta(hours=24)
MAX_TTL = timedelta(days=30)
# A draft (a proposal prepared for signing elsewhere) must be submitted within this time.
DRAFT_TTL = timedelta(hours=1)
ACTIONS = (
    "provider-decrypt",
    "enrol-operator",
    "remove-operator",
    "set-threshold",
    "rotate-root-key",
    "remove-hsm-cluster",
)

Signer = Callable[[bytes], bytes]


@dataclass(frozen=True, slots=True)
class Status:
    proposal: Proposal
    threshold: int
    approvals: tuple[Approval, ...]
    # Approvers whose signature verifies now, by active operators, under the M in force.
    counted: tuple[str, ...]
    state: str  # pending | approved | executed | expired
    message: bytes


class Quorum:
    def __init__(self, env: GovernanceEnv, chain: AuditChain, clock: Clock) -> None:
        self._env = env
        self._chain = chain
        self._clock = clock

    # --- set-up ---------------------------------------------------------------------------

    def initialise(self, threshold: int, members: Sequence[tuple[str, bytes]]) -> None:
        """Enrol the first operators and set M; refused once done."""
        now = self._clock.now()
        with self._env.db.transaction() as tx:
            if tx.governance.threshold() is not None:
                raise GovernanceError(
                    "governance is initialised already; change operators and M by proposals"
                )
            names = [check_name(name) for name, _ in members]
            if len(set(names)) != len(names):
                raise GovernanceError("operator names must be distinct")
            if len({key for _, key in members}) != len(members):
                raise GovernanceError("each operator needs a public key of its own")
            check_threshold(threshold, len(members))
            for name, key in members:
                tx.governance.add_operator(Operator(name, key, now))
            tx.governance.set_threshold(threshold)
            self._audit(
                tx,
                "InitializeOperators",
                "",
                now,
                parameters={"threshold": threshold, "operators": sorted(names)},
            )

    def roster(self) -> tuple[int | None, list[Operator]]:
        with self._env.db.read() as tx:
            return tx.governance.threshold(), tx.governance.operators(include_removed=True)

    def operator_by_key(self, public_key: bytes) -> Operator:
        with self._env.db.read() as tx:
            for op in tx.governance.operators():
                if op.public_key == public_key:
                    return op
        raise GovernanceError("that key belongs to no enrolled operator")

    # --- proposals ------------------------------------------------------------------------

    def propose(
        self,
        *,
        proposer: str,
        action: str,
        parameters: Mapping[str, Any],
        justification: str,
        sign: Signer,
        ttl: timedelta = DEFAULT_TTL,
        draft: Proposal | None = None,
    ) -> Status:
        """``draft``: a proposal made by :meth:`draft` and signed elsewhere (the web console);
        its id, nonce and times are kept, everything is checked again as for a new one."""
        if not justification.strip():
            raise GovernanceError("a justification is required")
        if not timedelta(0) < ttl <= MAX_TTL:
            raise GovernanceError("a proposal expires after more than 0 and at most 30 days")
        now = self._clock.now()
        with (
            self._refusals_recorded(proposer, "ProposeGovernanceAction", action, now),
            self._env.db.transaction() as tx,
        ):
            threshold = self._threshold(tx)
            self._active(tx, proposer)
            normalised = self._action(action, proposer, now).check(tx, parameters)
            proposal = self._new_proposal(
                proposer, action, normalised, justification, now=now, ttl=ttl
            )
            if draft is not None:
                proposal = _checked_draft(draft, proposal, now)
                if tx.governance.proposal(draft.proposal_id) is not None:
                    raise GovernanceError(f"{draft.proposal_id} has been submitted already")
            message = canonical_bytes(proposal, self._env.realm, threshold)
            signature = sign(message)
            self._verify(tx, proposer, signature, message)
            tx.governance.insert_proposal(proposal)
            tx.governance.add_approval(proposal.proposal_id, Approval(proposer, signature, now))
            self._audit(tx, "ProposeGovernanceAction", proposer, now, proposal=proposal)
        return self.status(proposal.proposal_id)

    def draft(
        self,
        *,
        proposer: str,
        action: str,
        parameters: Mapping[str, Any],
        justification: str,
        ttl: timedelta = DEFAULT_TTL,
    ) -> tuple[Proposal, bytes]:
        """A proposal checked as :meth:`propose` checks it and its canonical bytes, stored
        nowhere: the proposer signs the bytes elsewhere and submits both to :meth:`propose`
        (``draft=``) within an hour. Nothing is recorded until then."""
        if not justification.strip():
            raise GovernanceError("a justification is required")
        if not timedelta(0) < ttl <= MAX_TTL:
            raise GovernanceError("a proposal expires after more than 0 and at most 30 days")
        now = self._clock.now()
        with self._env.db.read() as tx:
            threshold = self._threshold(tx)
            self._active(tx, proposer)
            normalised = self._action(action, proposer, now).check(tx, parameters)
        proposal = self._new_proposal(proposer, action, normalised, justification, now=now, ttl=ttl)
        return proposal, canonical_bytes(proposal, self._env.realm, threshold)

    @staticmethod
    def _new_proposal(
        proposer: str,
        action: str,
        parameters: Mapping[str, Any],
        justification: str,
        *,
        now: datetime,
        ttl: timedelta,
    ) -> Proposal:
        return Proposal(
            proposal_id="gp-" + secrets.token_hex(10),
            proposer=proposer,
            action=action,
            parameters=parameters,
            justification=justification,
            created_at=now,
            expires_at=now + ttl,
            nonce=secrets.token_hex(16),
        )

    def approve(self, proposal_id: str, operator: str, signature: bytes) -> Status:
        now = self._clock.now()
        with (
            self._refusals_recorded(operator, "ApproveGovernanceAction", proposal_id, now),
            self._env.db.transaction() as tx,
        ):
            proposal = self._pending(tx, proposal_id, now)
            message = canonical_bytes(proposal, self._env.realm, self._threshold(tx))
            self._verify(tx, operator, signature, message)
            try:
                tx.governance.add_approval(proposal_id, Approval(operator, signature, now))
            except DuplicateRecord:
                raise GovernanceError(
                    f"{operator} has approved {proposal_id} already; approvals must come "
                    "from distinct operators"
                ) from None
            self._audit(tx, "ApproveGovernanceAction", operator, now, proposal=proposal)
        return self.status(proposal_id)

    def execute(self, proposal_id: str, operator: str, signature: bytes) -> Outcome:
        """Run an approved proposal once; ``signature`` (over its bytes) proves the executor."""
        now = self._clock.now()
        ran: list[Outcome] = []
        try:
            outcome = self._execute(proposal_id, operator, signature, now, ran)
        except BaseException:
            if ran and ran[0].after_commit is not None:
                ran[0].after_commit.rolled_back()
            raise
        if outcome.after_commit is not None:
            finished = outcome.after_commit.committed()
            outcome = replace(outcome, summary={**outcome.summary, **finished})
        return outcome

    def _execute(
        self, proposal_id: str, operator: str, signature: bytes, now: datetime, ran: list[Outcome]
    ) -> Outcome:
        with (
            self._refusals_recorded(operator, "ExecuteGovernanceAction", proposal_id, now),
            self._env.db.transaction() as tx,
        ):
            proposal = self._pending(tx, proposal_id, now)
            threshold = self._threshold(tx)
            message = canonical_bytes(proposal, self._env.realm, threshold)
            self._verify(tx, operator, signature, message)
            counted = self._counted(tx, proposal, message)
            if len(counted) < threshold:
                raise GovernanceError(
                    f"{proposal_id} has {len(counted)} valid approval(s); M={threshold} are needed"
                )
            if not tx.governance.mark_executed(proposal_id, now, operator):
                raise GovernanceError(f"{proposal_id} has been executed already")
            execution = Execution(proposal, counted, operator, now, str(uuid.uuid4()))
            outcome = self._action(proposal.action, proposal.proposer, now).run(tx, execution)
            ran.append(outcome)
            self._audit(
                tx,
                "ExecuteGovernanceAction",
                operator,
                now,
                proposal=proposal,
                details={"approvers": list(counted), "outcome": dict(outcome.summary)},
            )
            self._chain.append(tx, outcome.events)
        return outcome

    def status(self, proposal_id: str) -> Status:
        now = self._clock.now()
        with self._env.db.read() as tx:
            proposal = tx.governance.proposal(proposal_id)
            if proposal is None:
                raise GovernanceError(f"no proposal {proposal_id}")
            threshold = self._threshold(tx)
            message = canonical_bytes(proposal, self._env.realm, threshold)
            counted = self._counted(tx, proposal, message)
            approvals = tuple(tx.governance.approvals(proposal_id))
        if proposal.executed_at is not None:
            state = "executed"
        elif proposal.expired(now):
            state = "expired"
        else:
            state = "approved" if len(counted) >= threshold else "pending"
        return Status(proposal, threshold, approvals, counted, state, message)

    def proposals(self) -> list[Status]:
        with self._env.db.read() as tx:
            ids = [p.proposal_id for p in tx.governance.proposals()]
        return [self.status(i) for i in ids]

    # --- checks ---------------------------------------------------------------------------

    def _action(self, name: str, proposer: str, now: datetime) -> Action:
        actions: dict[str, Action] = {
            "provider-decrypt": ProviderDecrypt(self._env, proposer, now),
            "enrol-operator": EnrolOperator(),
            "remove-operator": RemoveOperator(),
            "set-threshold": SetThreshold(),
            "rotate-root-key": RotateRootKey(self._env.root_keys),
            "remove-hsm-cluster": RemoveHsmCluster(self._env.clusters),
        }
        found = actions.get(name)
        if found is None:
            raise GovernanceError(f"unknown action {name!r}; one of: {', '.join(ACTIONS)}")
        return found

    @staticmethod
    def _threshold(tx: Transaction) -> int:
        value = tx.governance.threshold()
        if value is None:
            raise GovernanceError("governance is not initialised (strongroom operator init)")
        return value

    @staticmethod
    def _active(tx: Transaction, name: str) -> Operator:
        found = tx.governance.operator(name)
        if found is None:
            raise GovernanceError(f"{name} is not an operator")
        if not found.active:
            raise GovernanceError(f"operator {name} has been removed")
        return found

    def _verify(self, tx: Transaction, name: str, signature: bytes, message: bytes) -> None:
        if not verifies(self._active(tx, name), signature, message):
            raise GovernanceError(
                f"the signature of {name} does not verify over this proposal (wrong key, or the "
                "proposal or the threshold changed since it was signed)"
            )

    @staticmethod
    def _pending(tx: Transaction, proposal_id: str, now: datetime) -> Proposal:
        proposal = tx.governance.proposal(proposal_id)
        if proposal is None:
            raise GovernanceError(f"no proposal {proposal_id}")
        if proposal.executed_at is not None:
            raise GovernanceError(f"{proposal_id} has been executed already")
        if proposal.expired(now):
            raise GovernanceError(f"{proposal_id} expired at {proposal.expires_at.isoformat()}")
        return proposal

    @staticmethod
    def _counted(tx: Transaction, proposal: Proposal, message: bytes) -> tuple[str, ...]:
        active = {op.name: op for op in tx.governance.operators()}
        return tuple(
            a.operator
            for a in tx.governance.approvals(proposal.proposal_id)
            if a.operator in active and verifies(active[a.operator], a.signature, message)
        )

    # --- audit ----------------------------------------------------------------------------

    @contextmanager
    def _refusals_recorded(
        self, operator: str, operation: str, subject: str, now: datetime
    ) -> Iterator[None]:
        """A refused step is an event too (in its own transaction: the step rolled back)."""
        try:
            yield
        except RefusedWithRecord as refusal:
            with self._env.db.transaction() as tx:
                self._audit(tx, operation, operator, now, refusal=str(refusal), subject=subject)
                self._chain.append(tx, refusal.events)
            raise
        except GovernanceError as refusal:
            with self._env.db.transaction() as tx:
                self._audit(tx, operation, operator, now, refusal=str(refusal), subject=subject)
            raise

    def _audit(
        self,
        tx: Transaction,
        operation: str,
        operator: str,
        now: datetime,
        *,
        proposal: Proposal | None = None,
        parameters: Mapping[str, object] | None = None,
        details: Mapping[str, object] | None = None,
        refusal: str | None = None,
        subject: str | None = None,
    ) -> None:
        data: dict[str, object] = dict(details or {})
        if proposal is not None:
            data |= {
                "proposalId": proposal.proposal_id,
                "action": proposal.action,
                "proposer": proposal.proposer,
                "justification": proposal.justification,
                "expires": proposal.expires_at.isoformat(),
            }
            parameters = _public_parameters(proposal)
        if refusal is not None:
            data |= {"refusal": refusal, "subject": subject}
        event = AuditEvent(
            time=now,
            request_id=str(uuid.uuid4()),
            account_id=PROVIDER_ACCOUNT,
            principal_arn=operator_principal(operator) if operator else "",
            access_key_id="",
            source_ip="",
            operation=operation,
            resources=(),
            error_code="GovernanceRefusal" if refusal is not None else None,
            request_parameters=parameters,
            additional_data=data,
        )
        self._chain.append(tx, [event])


def _checked_draft(draft: Proposal, fresh: Proposal, now: datetime) -> Proposal:
    """The draft's id, nonce and times on the freshly checked proposal, if the draft is one
    :meth:`Quorum.draft` could have made for the same act less than an hour ago."""
    same = (draft.proposer, draft.action, dict(draft.parameters), draft.justification) == (
        fresh.proposer,
        fresh.action,
        dict(fresh.parameters),
        fresh.justification,
    )
    if not same:
        raise GovernanceError("the draft does not match the proposal submitted with it")
    if not draft.created_at <= now < draft.created_at + DRAFT_TTL:
        raise GovernanceError("the draft is more than an hour old; draft the proposal again")
    if not timedelta(0) < draft.expires_at - draft.created_at <= MAX_TTL:
        raise GovernanceError("a proposal expires after more than 0 and at most 30 days")
    if not draft.proposal_id.startswith("gp-") or len(draft.nonce) != 32:
        raise GovernanceError("the draft is not one this server made")
    return replace(
        fresh,
        proposal_id=draft.proposal_id,
        created_at=draft.created_at,
        expires_at=draft.expires_at,
        nonce=draft.nonce,
    )


def _public_parameters(proposal: Proposal) -> dict[str, object]:
    """What the provider's trail shows of the parameters: ciphertexts by number only."""
    shown = dict(proposal.parameters)
    if "ciphertexts" in shown:
        shown["ciphertexts"] = len(proposal.parameters["ciphertexts"])
    return shown
