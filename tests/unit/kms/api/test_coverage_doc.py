from __future__ import annotations

from pathlib import Path

from strongroom.kms.api.coverage import render
from strongroom.kms.service.registry import OPERATIONS

DOC = Path(__file__).parents[4] / "docs" / "api-coverage.md"


def test_committed_coverage_document_is_current() -> None:
    assert DOC.read_text() == render(), (
        "regenerate: python -m strongroom.kms.api.coverage > docs/api-coverage.md"
    )


def test_every_served_operation_is_marked() -> None:
    text = render()
    for name in OPERATIONS:
        assert f"| {name} | yes |" in text
    # Every operation of the model is served (ReplicateKey and UpdatePrimaryRegion were last).
    assert "| no |" not in text
