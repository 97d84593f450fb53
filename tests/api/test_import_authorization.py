"""Key policy conditions on imports: kms:WrappingAlgorithm, kms:WrappingKeySpec,
kms:ExpirationModel and kms:ValidTo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.api.test_authorization import World, world  # noqa: F401 - the module's fixture
from tests.support.byok_openssl import random_bytes, wrap_for_import
from tests.support.errors import aws_error
from tests.support.policies import allow, enable_iam, key_policy

OAEP = "RSAES_OAEP_SHA_256"


def test_import_conditions(world: World, tmp_path: Path) -> None:  # noqa: F811
    limit = datetime.now(UTC) + timedelta(days=30)
    policy = key_policy(
        enable_iam(world.a),
        allow(
            world.arn("keyuser"),
            "kms:GetParametersForImport",
            {"StringEquals": {"kms:WrappingAlgorithm": OAEP, "kms:WrappingKeySpec": "RSA_2048"}},
        ),
        allow(
            world.arn("keyuser"),
            "kms:ImportKeyMaterial",
            {
                "StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"},
                "NumericLessThan": {"kms:ValidTo": str(limit.timestamp())},
            },
        ),
    )
    key_id = world.kms.create_key(Origin="EXTERNAL", Policy=policy)["KeyMetadata"]["Arn"]
    keyuser = world.client("keyuser")
    with aws_error("AccessDeniedException"):
        keyuser.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm=OAEP, WrappingKeySpec="RSA_3072"
        )
    with aws_error("AccessDeniedException"):
        keyuser.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
        )
    parameters = keyuser.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=OAEP, WrappingKeySpec="RSA_2048"
    )
    encrypted = wrap_for_import(tmp_path, parameters["PublicKey"], OAEP, random_bytes(32))
    token = parameters["ImportToken"]
    with aws_error("AccessDeniedException"):
        keyuser.import_key_material(
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=encrypted,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
    with aws_error("AccessDeniedException"):
        keyuser.import_key_material(
            KeyId=key_id,
            ImportToken=token,
            EncryptedKeyMaterial=encrypted,
            ExpirationModel="KEY_MATERIAL_EXPIRES",
            ValidTo=limit + timedelta(days=1),
        )
    keyuser.import_key_material(
        KeyId=key_id,
        ImportToken=token,
        EncryptedKeyMaterial=encrypted,
        ExpirationModel="KEY_MATERIAL_EXPIRES",
        ValidTo=limit - timedelta(days=1),
    )
    assert world.kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
