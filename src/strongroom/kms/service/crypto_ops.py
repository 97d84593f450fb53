"""Encrypt, Decrypt, ReEncrypt with symmetric keys: the hot path.

Nothing here touches the database in steady state: keys and material come from the cache.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.kms.domain import ciphertext
from strongroom.kms.domain.ciphertext import CiphertextBlob
from strongroom.kms.domain.encryption_context import encode_context
from strongroom.kms.domain.enums import EncryptionAlgorithm
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import IncorrectKeyException, InvalidKeyUsageException
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

SYMMETRIC = EncryptionAlgorithm.SYMMETRIC_DEFAULT.value


def check_algorithm(key: KeyRecord, algorithm: str | None) -> None:
    if algorithm is not None and algorithm != SYMMETRIC:
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is ENCRYPT_DECRYPT with key spec {key.key_spec.value}, which "
            f"does not support the encryption algorithm {algorithm}."
        )


def seal(
    ctx: ServiceContext, key: KeyRecord, plaintext: bytes, context: Mapping[str, str] | None
) -> tuple[bytes, str]:
    """Encrypt under the key's current material; return the blob and the material id."""
    material_id = key.current_material_id
    assert material_id is not None
    header = ciphertext.header_for(key.key_id, material_id)
    nonce, sealed = ctx.cache.material(key, material_id).encrypt(
        plaintext, header + encode_context(context)
    )
    return header + nonce + sealed, material_id


def unseal(
    ctx: ServiceContext, key: KeyRecord, blob: CiphertextBlob, context: Mapping[str, str] | None
) -> bytes:
    return ctx.cache.material(key, blob.material_id).decrypt(
        blob.nonce, blob.sealed, blob.header + encode_context(context)
    )


def _check_named_key(call: Call, member: str, key: KeyRecord) -> None:
    """If the request also names the key, it must be the one the ciphertext was made with."""
    named = call.request.get(member)
    if named is not None and call.pipeline.resolve(named, call.caller).key_id != key.key_id:
        raise IncorrectKeyException()


def encrypt(call: Call) -> Response:
    key, request = call.key, call.request
    check_algorithm(key, request.get("EncryptionAlgorithm"))
    blob, _ = seal(call.ctx, key, request["Plaintext"], request.get("EncryptionContext"))
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": SYMMETRIC}


def decrypt(call: Call) -> Response:
    key, request, blob = call.key, call.request, call.blob
    assert blob is not None
    _check_named_key(call, "KeyId", key)
    check_algorithm(key, request.get("EncryptionAlgorithm"))
    plaintext = unseal(call.ctx, key, blob, request.get("EncryptionContext"))
    return {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": SYMMETRIC,
        "KeyMaterialId": blob.material_id,
    }


def re_encrypt(call: Call) -> Response:
    request, blob = call.request, call.blob
    source, destination = call.keys
    assert blob is not None and source is not None and destination is not None
    _check_named_key(call, "SourceKeyId", source)
    check_algorithm(source, request.get("SourceEncryptionAlgorithm"))
    check_algorithm(destination, request.get("DestinationEncryptionAlgorithm"))
    plaintext = unseal(call.ctx, source, blob, request.get("SourceEncryptionContext"))
    new_blob, material_id = seal(
        call.ctx, destination, plaintext, request.get("DestinationEncryptionContext")
    )
    return {
        "CiphertextBlob": new_blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC,
        "DestinationEncryptionAlgorithm": SYMMETRIC,
        "SourceKeyMaterialId": blob.material_id,
        "DestinationKeyMaterialId": material_id,
    }


OPERATIONS = (
    Operation(
        "Encrypt", encrypt, (KeyAccess("KeyId", "kms:Encrypt", OpClass.CRYPTO),), dry_run=True
    ),
    Operation(
        "Decrypt",
        decrypt,
        (
            KeyAccess(
                "CiphertextBlob",
                "kms:Decrypt",
                OpClass.CRYPTO,
                from_ciphertext=True,
                dry_run_member="KeyId",
            ),
        ),
        dry_run=True,
    ),
    Operation(
        "ReEncrypt",
        re_encrypt,
        (
            KeyAccess(
                "CiphertextBlob",
                "kms:ReEncryptFrom",
                OpClass.CRYPTO,
                from_ciphertext=True,
                dry_run_member="SourceKeyId",
                context_member="SourceEncryptionContext",
            ),
            KeyAccess(
                "DestinationKeyId",
                "kms:ReEncryptTo",
                OpClass.CRYPTO,
                context_member="DestinationEncryptionContext",
            ),
        ),
        dry_run=True,
    ),
)
