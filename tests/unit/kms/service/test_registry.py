"""The operation registry and the error hierarchy against botocore's KMS service model."""

from __future__ import annotations

import botocore.session
import pytest

from strongroom.kms.errors import all_error_classes
from strongroom.kms.service.registry import OPERATIONS

MODEL = botocore.session.get_session().get_service_model("kms")
# Errors every AWS JSON service may return that the KMS model does not list.
COMMON_ERRORS = {
    "AccessDeniedException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "NotAuthorizedException",
    "RequestEntityTooLargeException",
    # HTTP-level refusals of the connection limits, named as AWS's common errors
    "RequestHeaderSectionTooLarge",
    "RequestTimeout",
    "ServiceUnavailable",
    "SerializationException",
    "ThrottlingException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "ValidationException",
}


def test_every_registered_operation_is_in_the_model() -> None:
    assert set(OPERATIONS) <= set(MODEL.operation_names)


def test_dry_run_flag_matches_the_model() -> None:
    for name, operation in OPERATIONS.items():
        has_dry_run = "DryRun" in MODEL.operation_model(name).input_shape.members
        assert operation.dry_run == has_dry_run, name


def test_every_wire_error_is_modelled_or_common() -> None:
    modelled = {shape.name for shape in MODEL.error_shapes}
    ours = set(all_error_classes())
    assert ours - modelled <= COMMON_ERRORS
    assert ours >= COMMON_ERRORS


def test_registered_operations_cover_the_core(capsys: pytest.CaptureFixture[str]) -> None:
    core = {
        "CreateKey",
        "DescribeKey",
        "ListKeys",
        "EnableKey",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "UpdateKeyDescription",
        "TagResource",
        "UntagResource",
        "ListResourceTags",
        "CreateAlias",
        "UpdateAlias",
        "DeleteAlias",
        "ListAliases",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateRandom",
    }
    assert core <= set(OPERATIONS)
    missing = sorted(set(MODEL.operation_names) - set(OPERATIONS))
    with capsys.disabled():
        print(
            f"\nKMS API coverage: {len(OPERATIONS)} of {len(MODEL.operation_names)} "
            f"operations; not implemented yet: {', '.join(missing)}"
        )
    assert len(missing) == len(MODEL.operation_names) - len(OPERATIONS)


def test_actions_are_kms_actions() -> None:
    for operation in OPERATIONS.values():
        assert operation.actions, operation.name
        assert all(action.startswith("kms:") for action in operation.actions)


# Operations whose handlers may take long (RSA key generation or private-key work, PKCS#11
# logins and token objects) run off the event loop; the hot path never does.
SLOW = {
    "CreateKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "CreateCustomKeyStore",
    "UpdateCustomKeyStore",
    "ConnectCustomKeyStore",
    "DisconnectCustomKeyStore",
    "DeleteCustomKeyStore",
}
HOT = {"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"}


def test_slow_operations_run_off_the_event_loop_and_the_hot_path_on_it() -> None:
    assert {name for name, op in OPERATIONS.items() if op.blocking} == SLOW
    assert not SLOW & HOT
