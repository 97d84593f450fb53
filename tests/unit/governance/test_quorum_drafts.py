"""Drafts: a proposal checked and its bytes given out for signing elsewhere (the web console),
recorded only when submitted with the proposer's signature, once, within an hour."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from strongroom.kms.governance.errors import GovernanceError
from tests.unit.governance.helpers import governed

SET_M: dict[str, Any] = {
    "proposer": "ann",
    "action": "set-threshold",
    "parameters": {"threshold": 3},
}


def test_a_signed_draft_becomes_the_proposal_it_showed(tmp_path: Path) -> None:
    with governed(tmp_path) as g:
        draft, message = g.quorum.draft(**SET_M, justification="more approvers")
        assert g.quorum.proposals() == []  # nothing recorded by drafting
        status = g.quorum.propose(
            **SET_M,
            justification="more approvers",
            sign=lambda _: g.keys["ann"].sign(message),
            ttl=draft.expires_at - draft.created_at,
            draft=draft,
        )
        assert status.proposal.proposal_id == draft.proposal_id
        assert status.message == message
        assert status.counted == ("ann",)


def test_a_draft_is_submitted_once(tmp_path: Path) -> None:
    with governed(tmp_path) as g:
        draft, message = g.quorum.draft(**SET_M, justification="once")
        submit = {
            **SET_M,
            "justification": "once",
            "sign": lambda _: g.keys["ann"].sign(message),
            "draft": draft,
        }
        g.quorum.propose(**submit)
        with pytest.raises(GovernanceError, match="submitted already"):
            g.quorum.propose(**submit)
        assert len(g.quorum.proposals()) == 1


def test_an_old_or_altered_draft_or_a_wrong_signature_is_refused(tmp_path: Path) -> None:
    with governed(tmp_path) as g:
        draft, message = g.quorum.draft(**SET_M, justification="checked")

        def submit(**change: Any) -> None:
            g.quorum.propose(
                **{
                    **SET_M,
                    "justification": "checked",
                    "sign": lambda _: g.keys["ann"].sign(message),
                    "draft": draft,
                    **change,
                }
            )

        with pytest.raises(GovernanceError, match="does not match"):
            submit(justification="something else")
        with pytest.raises(GovernanceError, match="does not verify"):
            submit(sign=lambda _: g.keys["bob"].sign(message))
        with pytest.raises(GovernanceError, match="not one this server made"):
            submit(draft=replace(draft, nonce="short"))
        g.clock.advance(timedelta(hours=1))
        with pytest.raises(GovernanceError, match="more than an hour old"):
            submit()
        assert g.quorum.proposals() == []
        refusals = [r for r in g.records() if r["eventName"] == "ProposeGovernanceAction"]
        assert len(refusals) == 4 and all(r["errorCode"] == "GovernanceRefusal" for r in refusals)


def test_drafting_checks_the_act_and_the_proposer(tmp_path: Path) -> None:
    with governed(tmp_path) as g:
        with pytest.raises(GovernanceError, match="not an operator"):
            g.quorum.draft(**{**SET_M, "proposer": "eve"}, justification="x")
        with pytest.raises(GovernanceError, match="justification"):
            g.quorum.draft(**SET_M, justification=" ")
        with pytest.raises(GovernanceError):
            g.quorum.draft(**{**SET_M, "parameters": {"threshold": 9}}, justification="x")
