"""AWS's message texts live in kms/messages.py only: no other KMS module spells one."""

from __future__ import annotations

import ast
from pathlib import Path

import strongroom.kms
from strongroom.kms import messages
from strongroom.kms.errors import IncorrectKeyException, ThrottlingException

KMS = Path(strongroom.kms.__file__).parent

# Fragments of AWS wordings kms/messages.py holds.
FRAGMENTS = (
    "validation error",
    "failed to satisfy constraint",
    "Member must",
    'does not exist"',
    "Invalid keyId",
    "Invalid arn",
    "which is not valid for",
    "cannot encrypt data larger",
    "Digest is invalid length",
    "is incompatible with key spec",
    "You must specify a KeyUsage",
    "Tags beginning with",
    "validTo date",
    "pending rotation for the key",
    "Credential should be scoped to a valid region",
    "does not identify a CMK",
    "rate at which you may call KMS",
    "DryRun option is set",
    'Alias must start with the prefix "alias/"',
    "Signature expired",
    "must be a 'SignedHeader'",
    "request signature we calculated",
    "Credential should be scoped",
    "one or more invalid principals",
    "will not allow you to update the key policy",
    "An alias with the name",
    "invalid characters for an alias",
)


def _texts(path: Path) -> list[str]:
    """The string literals of a module (f-strings with their fields left out), docstrings
    excepted."""
    tree = ast.parse(path.read_text())
    docstrings = {  # every bare string statement: module, class, function, attribute docs
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            texts.append("".join(str(v.value) for v in node.values if isinstance(v, ast.Constant)))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            texts.append(node.value)
    return texts


def test_no_module_but_messages_spells_an_aws_text() -> None:
    strays = [
        f"{path.relative_to(KMS)}: {fragment}"
        for path in sorted(KMS.rglob("*.py"))
        if path.name != "messages.py"
        for text in _texts(path)
        for fragment in FRAGMENTS
        if fragment in text
    ]
    assert strays == []


def test_error_classes_take_their_default_text_from_messages() -> None:
    assert IncorrectKeyException().message == messages.INCORRECT_KEY
    assert ThrottlingException().message == messages.THROTTLING


def test_validation_texts_compose_as_aws_sends_them() -> None:
    one = messages.violation(
        " '0'", "numberOfBytes", messages.bound_constraint("value", "greater", 1)
    )
    assert messages.validation_errors([one]) == (
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )
    assert messages.validation_errors([one, one]).startswith("2 validation errors detected: ")
