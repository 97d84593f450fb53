"""The error of refused governance requests (a kind of administrative refusal)."""

from __future__ import annotations

from strongroom.kms.service.admin_error import AdminError


class GovernanceError(AdminError):
    """A refused governance request (bad signature, below threshold, expired, ...).

    A subclass of AdminError so that the ``strongroom`` command reports it like every other
    refused administrative request: one line on stderr and exit code 2. Messages never
    contain key material, plaintext or signatures.
    """
