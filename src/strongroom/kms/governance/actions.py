"""The privileged acts a quorum can approve, and what each does when it runs.

Every action has two steps: ``check`` at propose time (validate and normalise the parameters;
the normalised form is what operators sign) and ``run`` at execution, inside the write
transaction that marks the proposal executed and appends its audit events, so an act either
happens and is recorded, or neither.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from strongroom.kms.audit.events import AuditEvent
from strongroom.kms.domain.governance import Operator, Proposal
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import check_name
from strongroom.kms.governance.proposals import Realm
from strongroom.kms.keystores.base import KeyStore
from strongroom.kms.service.admin_error import AdminError
from strongroom.kms.service.cache import KeyCache
from strongroom.kms.storage.database import Database, DuplicateRecord
from strongroom.kms.storage.keys import KeyRepository
from strongroom.kms.storage.unit_of_work import Transaction


class RefusedWithRecord(GovernanceError):
    """A refusal that must be on record (e.g. in a tenant's trail) although nothing ran."""

    def __init__(self, message: str, events: Sequence[AuditEvent]) -> None:
        super().__init__(message)
        self.events = tuple(events)


class ClusterRegistry(Protocol):
    """The registry of HSM clusters (service/hsm_clusters.py); what removing one needs."""

    def remove_cluster(self, tx: Transaction, cluster_id: str) -> None:
        """Remove within the proposal's transaction; AdminError if it is unknown or in use."""
        ...


class AfterCommit(Protocol):
    """What an act must do once its transaction has committed, or undo if it rolled back.

    Root key rotation switches files after the commit (the database first: see
    kms/rootkey/files.py); both steps also release what the act holds (locks, a token login).
    """

    def committed(self) -> Mapping[str, object]:
        """Finish; what it returns is added to the outcome's summary (not audited)."""
        ...

    def rolled_back(self) -> None: ...


class RootKeyRotator(Protocol):
    """Rotation of the default store's root key (kms/rootkey/rotation.py)."""

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        """Normalised parameters (the root key in force, the target); GovernanceError."""
        ...

    def rotate(
        self, tx: Transaction, params: Mapping[str, Any], now: datetime
    ) -> tuple[dict[str, object], AfterCommit]:
        """Re-wrap everything in ``tx``; the summary and the after-commit step."""
        ...


@dataclass(frozen=True, slots=True)
class GovernanceEnv:
    """What actions may use: the database, the keys and their material, the deployment."""

    db: Database
    keys: KeyRepository
    store: KeyStore
    realm: Realm
    clusters: ClusterRegistry | None = None
    root_keys: RootKeyRotator | None = None
    materials: KeyCache = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "materials", KeyCache(self.db, self.keys, self.store))


@dataclass(frozen=True, slots=True)
class Execution:
    """One approved proposal being run: who proposed, approved and executes it, and when."""

    proposal: Proposal
    approvers: tuple[str, ...]
    executor: str
    now: datetime
    request_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    # What was done, in words an auditor reads (never a secret).
    summary: Mapping[str, object]
    # For the operator only (provider-decrypt: the plaintexts); never logged or audited.
    output: bytes | None = field(default=None, repr=False)
    # Events for other trails than the provider's (a tenant's, for provider access).
    events: tuple[AuditEvent, ...] = ()
    # Run by the quorum after the execution transaction commits or rolls back.
    after_commit: AfterCommit | None = None


class Action(Protocol):
    name: str

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]: ...

    def run(self, tx: Transaction, execution: Execution) -> Outcome: ...


def text_param(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise GovernanceError(f"parameter {name} is required (a non-empty string)")
    return value


def b64_param(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise GovernanceError(f"{what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise GovernanceError(f"{what} is not valid base64") from None


def _active(tx: Transaction) -> dict[str, Operator]:
    return {op.name: op for op in tx.governance.operators()}


def _threshold(tx: Transaction) -> int:
    value = tx.governance.threshold()
    if value is None:
        raise GovernanceError("governance is not initialised (strongroom operator init)")
    return value


class EnrolOperator:
    name = "enrol-operator"

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        name = check_name(text_param(params, "name"))
        key = b64_param(params.get("publicKey"), "publicKey")
        if len(key) != 32:
            raise GovernanceError("publicKey must be a raw 32-byte Ed25519 public key")
        if tx.governance.operator(name) is not None:
            raise GovernanceError(f"operator {name} exists already (names are never reused)")
        return {"name": name, "publicKey": base64.b64encode(key).decode()}

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        params = self.check(tx, execution.proposal.parameters)
        key = base64.b64decode(params["publicKey"])
        try:
            tx.governance.add_operator(Operator(params["name"], key, execution.now))
        except DuplicateRecord:
            raise GovernanceError("that public key belongs to an operator already") from None
        return Outcome({"enrolled": params["name"], "operators": len(_active(tx))})


class RemoveOperator:
    name = "remove-operator"

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        name = text_param(params, "name")
        if name not in _active(tx):
            raise GovernanceError(f"{name} is not an enrolled operator")
        return {"name": name}

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        name = self.check(tx, execution.proposal.parameters)["name"]
        remaining = len(_active(tx)) - 1
        threshold = _threshold(tx)
        if remaining < threshold:
            raise GovernanceError(
                f"removing {name} would leave {remaining} operators for a threshold of "
                f"{threshold}; lower the threshold first"
            )
        tx.governance.remove_operator(name, execution.now)
        return Outcome({"removed": name, "operators": remaining})


class SetThreshold:
    name = "set-threshold"

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        value = params.get("threshold")
        if not isinstance(value, int) or isinstance(value, bool):
            raise GovernanceError("parameter threshold is required (an integer)")
        check_threshold(value, len(_active(tx)))
        return {"threshold": value}

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        value = self.check(tx, execution.proposal.parameters)["threshold"]
        previous = _threshold(tx)
        tx.governance.set_threshold(value)
        return Outcome({"threshold": value, "previous": previous})


def check_threshold(threshold: int, operators: int) -> None:
    if threshold < 1:
        raise GovernanceError("the threshold M must be at least 1")
    if threshold > operators:
        raise GovernanceError(
            f"the threshold M={threshold} exceeds the number of operators N={operators}"
        )


class RotateRootKey:
    """Re-wrapping every material and sealed secret under a new root key, atomically.

    Parameters: none for a file root key (a new random key); ``keyLabel`` (and optionally
    ``tokenLabel``) for an HSM root key. Normalised with ``from``, the root key in force, so
    operators sign which key is replaced and an approval cannot outlive another rotation.
    """

    name = "rotate-root-key"

    def __init__(self, rotator: RootKeyRotator | None) -> None:
        self._rotator = rotator

    def _require(self) -> RootKeyRotator:
        if self._rotator is None:
            raise GovernanceError("this deployment cannot rotate its root key here")
        return self._rotator

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._require().check(tx, params)

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        rotator = self._require()
        params = rotator.check(tx, execution.proposal.parameters)
        summary, after_commit = rotator.rotate(tx, params, execution.now)
        return Outcome(summary, after_commit=after_commit)


class RemoveHsmCluster:
    name = "remove-hsm-cluster"

    def __init__(self, clusters: ClusterRegistry | None) -> None:
        self._clusters = clusters

    def check(self, tx: Transaction, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"clusterId": text_param(params, "clusterId")}

    def run(self, tx: Transaction, execution: Execution) -> Outcome:
        cluster_id = self.check(tx, execution.proposal.parameters)["clusterId"]
        if self._clusters is None:
            raise GovernanceError(
                "this deployment has no HSM cluster registry; there is no cluster to remove"
            )
        try:
            self._clusters.remove_cluster(tx, cluster_id)
        except AdminError as error:
            raise GovernanceError(str(error)) from None
        return Outcome({"removedCluster": cluster_id})
