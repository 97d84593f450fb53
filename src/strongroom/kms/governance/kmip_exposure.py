"""KMIP objects in the exposure report: exportable keys (docs/adr/0023).

A KMIP object's material leaves the KMS through KMIP Get, so besides the provider (under
quorum, as for every default-store key) whoever may Get it holds the plaintext key: every
principal whose key policy, IAM policies or grants allow ``kms:ExportKeyMaterial`` on it. The
report names the account's registered KMIP client principals, the ones that can reach Get.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from strongroom.kms.governance.exposure import ExposureReport
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.kmip import KmipRepository

EXPORTABLE = "exportable"
FLAG = "exportable: KMIP object; its material leaves the KMS through KMIP Get"


def how(clients: list[str]) -> str:
    holders = ", ".join(clients) if clients else "no KMIP client is registered now"
    return (
        "anyone allowed kms:ExportKeyMaterial on it can hold the plaintext key (KMIP Get), "
        f"and the provider under M-of-N operator quorum; KMIP client principals: {holders}"
    )


def with_exportable_keys(
    report: ExposureReport, db: Database, accounts: Iterable[str]
) -> ExposureReport:
    repository = KmipRepository(db)
    exportable: set[str] = set()
    clients: dict[str, list[str]] = {}
    for account in accounts:
        exportable |= set(repository.key_ids(account))
        clients[account] = sorted({c.principal_arn for c in repository.clients(account)})
    if not exportable:
        return report
    rows = tuple(
        replace(
            row,
            exposure=EXPORTABLE,
            how=how(clients.get(row.account_id, [])),
            flags=(*row.flags, FLAG),
        )
        if row.key_arn.rsplit("/", 1)[-1] in exportable
        else row
        for row in report.keys
    )
    return replace(report, keys=rows, counts=dict(Counter(r.exposure for r in rows)))
