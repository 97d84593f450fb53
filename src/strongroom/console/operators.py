"""The narrow interface through which the operator pages reach governance.

Operators are not principals of the KMS API: the provider's staff act through the M-of-N
quorum with their own Ed25519 keys, as ``strongroom operator`` does. :class:`OperatorDesk` is
what that command does, for the console: its implementation (``strongroom.kms.api.
console_operators``) calls the same quorum service as the CLI, so a proposal, an approval or an
execution from a page is checked, recorded and audited exactly as from the command line. No
private key ever reaches the server: every step that needs one takes a signature made by the
operator (in the browser with WebCrypto, or with ``strongroom operator sign``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class DeskError(Exception):
    """A governance refusal, with the quorum's own message (nothing secret in it)."""


@dataclass(frozen=True, slots=True)
class OperatorView:
    name: str
    fingerprint: str
    enrolled: str
    removed: str | None


@dataclass(frozen=True, slots=True)
class ApprovalView:
    operator: str
    at: str
    counted: bool


@dataclass(frozen=True, slots=True)
class ProposalView:
    proposal_id: str
    action: str
    state: str  # pending | approved | executed | expired
    proposer: str
    justification: str
    parameters: Mapping[str, Any]  # ciphertexts by number only
    created: str
    expires: str
    threshold: int
    approvals: tuple[ApprovalView, ...]
    executed: str | None
    executed_by: str | None
    canonical_bytes: bytes


@dataclass(frozen=True, slots=True)
class Draft:
    """A proposal checked and not yet recorded: ``token`` (opaque, sealed) carries it to
    :meth:`OperatorDesk.submit` with the proposer's signature over ``canonical_bytes``."""

    token: str
    proposal: ProposalView


class OperatorDesk(Protocol):
    def sign_in_bytes(self, host: str, nonce: str, issued: int) -> bytes:
        """What an operator signs to sign in (domain-separated from proposals)."""
        ...

    def public_key(self, operator: str) -> bytes | None:
        """The active operator's public key (None: no such operator, or removed)."""
        ...

    def verify(self, operator: str, signature: bytes, message: bytes) -> bool:
        """True if ``signature`` is the active operator's over ``message``."""
        ...

    def record_sign_in(self, operator: str, source_ip: str) -> None:
        """An operator's console sign-in, as a provider trail event."""
        ...

    def roster(self) -> tuple[int | None, tuple[OperatorView, ...]]: ...

    def proposals(self) -> tuple[ProposalView, ...]: ...

    def proposal(self, proposal_id: str) -> ProposalView: ...

    def draft(
        self, proposer: str, action: str, parameters: Mapping[str, Any], justification: str
    ) -> Draft:
        """enrol-operator takes ``name`` and ``publicKeyPem`` (the file `keygen` wrote)."""
        ...

    def submit(self, proposer: str, token: str, signature: bytes) -> ProposalView: ...

    def approve(self, proposal_id: str, operator: str, signature: bytes) -> ProposalView: ...

    def execute(self, proposal_id: str, operator: str, signature: bytes) -> Mapping[str, Any]:
        """Run an approved proposal; its summary. Refuses provider-decrypt (the plaintexts go
        to a file on the operator's machine: ``strongroom operator execute --out``)."""
        ...

    def trail(self, limit: int) -> list[dict[str, Any]]:
        """The provider's audit trail (account ``provider``), newest first."""
        ...
