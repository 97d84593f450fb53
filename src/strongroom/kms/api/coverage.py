"""Renders docs/api-coverage.md from the operation registry and the service model.

Regenerate with ``python -m strongroom.kms.api.coverage > docs/api-coverage.md``; a test fails
when the committed file differs from what the code says.
"""

from __future__ import annotations

from strongroom.kms.api.model import ServiceModel
from strongroom.kms.service.registry import OPERATIONS

NOTES: dict[str, str] = {
    "CreateKey": "SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT keys, Origin AWS_KMS, single-Region.",
    "Decrypt": "Symmetric ciphertexts; KeyId optional and checked (IncorrectKeyException).",
    "GenerateRandom": "CustomKeyStoreId refused until custom key stores exist.",
    "ListAliases": "Customer aliases; AWS managed aliases come with managed keys.",
}


def render() -> str:
    model = ServiceModel.load()
    names = sorted(model.operation_names)
    done = [n for n in names if n in OPERATIONS]
    lines = [
        "# KMS API coverage",
        "",
        "Generated from the operation registry (`kms/service/registry.py`) and botocore's KMS",
        "service model by `python -m strongroom.kms.api.coverage`; do not edit by hand.",
        "",
        f"**{len(done)} of {len(names)} operations** of the service model are served.",
        "Requests to the others are answered with `UnsupportedOperationException`.",
        "",
        "| Operation | Served | IAM action(s) | DryRun | Notes |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        operation = OPERATIONS.get(name)
        if operation is None:
            lines.append(f"| {name} | no | | | |")
            continue
        actions = ", ".join(f"`{a}`" for a in dict.fromkeys(operation.actions))
        dry_run = "yes" if operation.dry_run else ""
        lines.append(f"| {name} | yes | {actions} | {dry_run} | {NOTES.get(name, '')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
