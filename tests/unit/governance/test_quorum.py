"""M-of-N approvals: every refusal the quorum makes, and exactly-once execution."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from strongroom.kms.domain.custom_key_stores import (
    ConnectionState,
    CustomKeyStore,
    new_custom_key_store_id,
)
from strongroom.kms.governance.errors import GovernanceError
from strongroom.kms.governance.operators import raw_public_key
from strongroom.kms.governance.quorum import Status
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
from tests.support.hsm_clusters import new_cluster_id, trust_anchor_pem
from tests.unit.governance.helpers import Governed, governed, new_key


@pytest.fixture
def gov(tmp_path: Path) -> Iterator[Governed]:
    with governed(tmp_path) as g:
        yield g


def propose_threshold(gov: Governed, value: int, by: str = "ann") -> Status:
    return gov.quorum.propose(
        proposer=by,
        action="set-threshold",
        parameters={"threshold": value},
        justification="change M",
        sign=gov.keys[by].sign,
    )


def test_a_proposal_runs_once_after_m_approvals(gov: Governed) -> None:
    status = propose_threshold(gov, 3)
    pid = status.proposal.proposal_id
    assert (status.state, status.counted, status.threshold) == ("pending", ("ann",), 2)
    gov.approve("bob", pid)
    assert gov.quorum.status(pid).state == "approved"
    outcome = gov.quorum.execute(pid, "cat", gov.sign("cat", pid))
    assert dict(outcome.summary) == {"threshold": 3, "previous": 2}
    assert gov.quorum.roster()[0] == 3
    assert gov.quorum.status(pid).state == "executed"
    with pytest.raises(GovernanceError, match="executed already"):
        gov.quorum.execute(pid, "cat", gov.sign("cat", pid))
    names = [r["eventName"] for r in gov.records()]
    assert names[-4:] == [
        "ProposeGovernanceAction",
        "ApproveGovernanceAction",
        "ExecuteGovernanceAction",
        "ExecuteGovernanceAction",
    ]
    assert gov.records()[-1]["errorCode"] == "GovernanceRefusal"


def test_execution_below_the_threshold_is_refused(gov: Governed) -> None:
    pid = propose_threshold(gov, 1).proposal.proposal_id
    with pytest.raises(GovernanceError, match="1 valid approval\\(s\\); M=2 are needed"):
        gov.quorum.execute(pid, "ann", gov.sign("ann", pid))
    assert gov.quorum.roster()[0] == 2
    assert gov.quorum.status(pid).state == "pending"


def test_double_approval_by_one_operator_is_refused(gov: Governed) -> None:
    pid = propose_threshold(gov, 1).proposal.proposal_id
    with pytest.raises(GovernanceError, match=r"ann has approved .* already"):
        gov.approve("ann", pid)
    assert gov.quorum.status(pid).counted == ("ann",)


def test_a_bad_signature_is_refused(gov: Governed) -> None:
    pid = propose_threshold(gov, 1).proposal.proposal_id
    # bob signs with a key that is not his enrolled one
    forged = new_key().sign(gov.quorum.status(pid).message)
    with pytest.raises(GovernanceError, match="signature of bob does not verify"):
        gov.quorum.approve(pid, "bob", forged)
    # a right key over other bytes
    with pytest.raises(GovernanceError, match="signature of bob does not verify"):
        gov.quorum.approve(pid, "bob", gov.keys["bob"].sign(b"something else"))
    assert gov.quorum.status(pid).counted == ("ann",)


def test_a_non_operator_cannot_propose_or_approve(gov: Governed) -> None:
    outsider = new_key()
    with pytest.raises(GovernanceError, match="eve is not an operator"):
        gov.quorum.propose(
            proposer="eve",
            action="set-threshold",
            parameters={"threshold": 1},
            justification="x",
            sign=outsider.sign,
        )
    pid = propose_threshold(gov, 1).proposal.proposal_id
    with pytest.raises(GovernanceError, match="eve is not an operator"):
        gov.quorum.approve(pid, "eve", outsider.sign(gov.quorum.status(pid).message))
    with pytest.raises(GovernanceError, match="belongs to no enrolled operator"):
        gov.quorum.operator_by_key(raw_public_key(outsider.public_key()))


def test_an_expired_proposal_can_be_neither_approved_nor_executed(gov: Governed) -> None:
    status = gov.quorum.propose(
        proposer="ann",
        action="set-threshold",
        parameters={"threshold": 1},
        justification="x",
        sign=gov.keys["ann"].sign,
        ttl=timedelta(hours=1),
    )
    pid = status.proposal.proposal_id
    gov.approve("bob", pid)
    signature = gov.sign("cat", pid)
    gov.clock.advance(timedelta(hours=1, seconds=1))
    assert gov.quorum.status(pid).state == "expired"
    with pytest.raises(GovernanceError, match="expired"):
        gov.quorum.execute(pid, "cat", signature)
    with pytest.raises(GovernanceError, match="expired"):
        gov.quorum.approve(pid, "cat", signature)
    assert gov.quorum.roster()[0] == 2


def test_parameters_changed_after_signing_void_the_approvals(gov: Governed) -> None:
    pid = propose_threshold(gov, 2).proposal.proposal_id
    gov.approve("bob", pid)
    db_file = gov.data.settings.data_dir / "strongroom.db"
    with sqlite3.connect(db_file) as conn:
        conn.execute(
            "UPDATE gov_proposals SET parameters = '{\"threshold\":1}' WHERE proposal_id = ?",
            (pid,),
        )
    assert gov.quorum.status(pid).counted == ()
    # cat's signature over the altered bytes proves who cat is; ann's and bob's signatures
    # were over the original bytes and count for nothing
    with pytest.raises(GovernanceError, match="0 valid approval"):
        gov.quorum.execute(pid, "cat", gov.sign("cat", pid))
    assert gov.quorum.roster()[0] == 2


def test_a_removed_operator_counts_no_more(gov: Governed) -> None:
    removal = gov.quorum.propose(
        proposer="ann",
        action="remove-operator",
        parameters={"name": "cat"},
        justification="left the company",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    pending = propose_threshold(gov, 1, by="cat").proposal.proposal_id  # cat proposes, signs
    gov.approve("bob", removal)
    gov.quorum.execute(removal, "bob", gov.sign("bob", removal))
    # cat's approval of the pending proposal no longer counts; cat can do nothing any more
    assert gov.quorum.status(pending).counted == ()
    with pytest.raises(GovernanceError, match="operator cat has been removed"):
        gov.approve("cat", pending)
    gov.approve("ann", pending)
    with pytest.raises(GovernanceError, match="1 valid approval"):
        gov.quorum.execute(pending, "ann", gov.sign("ann", pending))


def test_changing_m_voids_approvals_given_under_the_old_m(gov: Governed) -> None:
    pending = gov.quorum.propose(
        proposer="ann",
        action="remove-hsm-cluster",
        parameters={"clusterId": "cluster-1"},
        justification="decommissioned",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    gov.approve("bob", pending)
    change = propose_threshold(gov, 3).proposal.proposal_id
    gov.approve("cat", change)
    gov.quorum.execute(change, "cat", gov.sign("cat", change))
    status = gov.quorum.status(pending)
    assert (status.threshold, status.counted, status.state) == (3, (), "pending")


def test_removing_an_operator_below_m_is_refused(tmp_path: Path) -> None:
    with governed(tmp_path, ("ann", "bob"), threshold=2) as gov:
        pid = gov.quorum.propose(
            proposer="ann",
            action="remove-operator",
            parameters={"name": "bob"},
            justification="x",
            sign=gov.keys["ann"].sign,
        ).proposal.proposal_id
        gov.approve("bob", pid)
        with pytest.raises(GovernanceError, match="would leave 1 operators for a threshold of 2"):
            gov.quorum.execute(pid, "ann", gov.sign("ann", pid))
        assert gov.quorum.status(pid).state == "approved"  # rolled back: not executed


def test_enrolment_adds_an_operator_who_can_then_approve(gov: Governed) -> None:
    dan = new_key()
    import base64

    pid = gov.quorum.propose(
        proposer="ann",
        action="enrol-operator",
        parameters={
            "name": "dan",
            "publicKey": base64.b64encode(raw_public_key(dan.public_key())).decode(),
        },
        justification="new hire",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    gov.approve("bob", pid)
    gov.quorum.execute(pid, "bob", gov.sign("bob", pid))
    gov.keys["dan"] = dan
    other = propose_threshold(gov, 1, by="dan").proposal.proposal_id
    assert gov.quorum.status(other).counted == ("dan",)


def test_initialise_is_refused_twice_and_checks_m(tmp_path: Path) -> None:
    zed = [("zed", raw_public_key(new_key().public_key()))]
    with governed(tmp_path) as gov, pytest.raises(GovernanceError, match="initialised already"):
        gov.quorum.initialise(1, zed)
    for threshold, error in ((4, "exceeds the number of operators N=3"), (0, "at least 1")):
        with (
            pytest.raises(GovernanceError, match=error),
            governed(tmp_path / "b", threshold=threshold),
        ):
            pass


def _approved(gov: Governed, action: str, params: dict[str, str]) -> str:
    pid = gov.quorum.propose(
        proposer="ann",
        action=action,
        parameters=params,
        justification="x",
        sign=gov.keys["ann"].sign,
    ).proposal.proposal_id
    gov.approve("bob", pid)
    return pid


def test_an_hsm_cluster_is_removed_under_quorum_unless_a_store_uses_it(gov: Governed) -> None:
    clusters = gov.data.hsm_clusters
    unknown = _approved(gov, "remove-hsm-cluster", {"clusterId": "cluster-abcdefghijk"})
    with pytest.raises(GovernanceError, match="is not registered"):
        gov.quorum.execute(unknown, "bob", gov.sign("bob", unknown))
    assert gov.quorum.status(unknown).state == "approved"  # nothing ran: it can be retried

    registered = new_cluster_id()
    clusters.register(registered, "/usr/lib/softhsm/libsofthsm2.so", ["a", "b"], trust_anchor_pem())
    stores = CustomKeyStoreRepository(gov.data.db)
    store = CustomKeyStore(
        custom_key_store_id=new_custom_key_store_id(),
        account_id=gov.data.admin.list_accounts()[0].account_id,
        name="in-use",
        cluster_id=registered,
        trust_anchor="anchor",
        connection_state=ConnectionState.DISCONNECTED,
        connection_error_code=None,
        created_at=gov.clock.now(),
    )
    stores.create_store(store, b"sealed", max_per_account=10)
    in_use = _approved(gov, "remove-hsm-cluster", {"clusterId": registered})
    with pytest.raises(GovernanceError, match="used by a custom key store"):
        gov.quorum.execute(in_use, "bob", gov.sign("bob", in_use))
    stores.delete_store(store.custom_key_store_id, gov.clock.now(), lambda _store: None)

    pid = _approved(gov, "remove-hsm-cluster", {"clusterId": registered})
    gov.quorum.execute(pid, "bob", gov.sign("bob", pid))
    assert gov.quorum.status(pid).state == "executed"
    assert registered not in {c.cluster_id for c in clusters.list()}
