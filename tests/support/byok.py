"""BYOK steps against a live server, with the wrapping done by the OpenSSL command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.byok_openssl import wrap_for_import

OAEP_256 = "RSAES_OAEP_SHA_256"
AES_WRAP_256 = "RSA_AES_KEY_WRAP_SHA_256"
FOREVER = {"ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}


def external_key(kms: Any, **arguments: str) -> str:
    created = kms.create_key(Origin="EXTERNAL", **arguments)["KeyMetadata"]
    return str(created["KeyId"])


def wrapped(
    kms: Any, tmp: Path, key_id: str, material: bytes, algorithm: str = OAEP_256
) -> tuple[bytes, bytes]:
    """(ImportToken, EncryptedKeyMaterial): fresh parameters, material wrapped by OpenSSL."""
    parameters = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048"
    )
    encrypted = wrap_for_import(tmp, parameters["PublicKey"], algorithm, material)
    return parameters["ImportToken"], encrypted


def import_material(
    kms: Any,
    tmp: Path,
    key_id: str,
    material: bytes,
    algorithm: str = OAEP_256,
    **arguments: Any,
) -> dict[str, Any]:
    token, encrypted = wrapped(kms, tmp, key_id, material, algorithm)
    options = arguments or FOREVER
    response: dict[str, Any] = kms.import_key_material(
        KeyId=key_id, ImportToken=token, EncryptedKeyMaterial=encrypted, **options
    )
    return response


def error_of(call: Any) -> tuple[str, int, str]:
    """The AWS error code, HTTP status and message a call fails with."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return (
        error["Error"]["Code"],
        error["ResponseMetadata"]["HTTPStatusCode"],
        error["Error"].get("Message", ""),
    )


def state(kms: Any, key_id: str) -> str:
    return str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"])
