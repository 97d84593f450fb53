"""The README's count of served KMS operations is the registry's (issue 16: it said 45 of 56,
then 54 of 56, after more had been served)."""

from __future__ import annotations

import re
from pathlib import Path

from strongroom.kms.api.model import ServiceModel
from strongroom.kms.service.registry import OPERATIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_counts_the_served_operations() -> None:
    names = ServiceModel.load().operation_names
    served = sum(1 for name in names if name in OPERATIONS)
    text = README.read_text()
    if served == len(names):
        wanted = f"all {len(names)} operations of the KMS service model"
    else:
        wanted = f"{served} of the {len(names)} operations of the KMS service model"
    assert wanted in text
    assert not re.search(r"\b\d+ of the \d+ operations of the KMS", text.replace(wanted, ""))
