from __future__ import annotations

from pathlib import Path

from strongroom.objectstore.coverage import NOTES, _model, render
from strongroom.objectstore.routing import COPY_VARIANTS, ROUTES

DOC = Path(__file__).parents[3] / "docs" / "s3-coverage.md"


def test_committed_coverage_document_is_current() -> None:
    assert DOC.read_text() == render(), (
        "regenerate: python -m strongroom.objectstore.coverage > docs/s3-coverage.md"
    )


def test_routed_and_noted_operations_exist_in_the_s3_model() -> None:
    operations = _model()["operations"]
    for route in ROUTES:
        assert route.operation in operations, route
        assert operations[route.operation]["http"]["method"] == route.method, route
    assert set(NOTES) <= {r.operation for r in ROUTES} | set(COPY_VARIANTS)
    assert set(COPY_VARIANTS) <= set(operations)
    text = render()
    assert "| GetObject | yes |" in text
    assert "| PutBucketPolicy | no |" in text
