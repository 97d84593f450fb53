"""Encrypt, Decrypt, ReEncrypt with symmetric keys: the hot path.

Nothing here touches the database in steady state: keys and material come from the cache.
"""

from __future__ import annotations

from collections.abc import Mapping

from strongroom.kms import messages
from strongroom.kms.domain import ciphertext, key_specs
from strongroom.kms.domain.ciphertext import CiphertextBlob
from strongroom.kms.domain.enums import EncryptionAlgorithm, KeySpec, KeyUsage
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import (
    IncorrectKeyException,
    InvalidCiphertextException,
    ValidationException,
)
from strongroom.kms.service.context import ServiceContext
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

SYMMETRIC = EncryptionAlgorithm.SYMMETRIC_DEFAULT.value
ENCRYPTION = key_specs.Use.ENCRYPTION
_SYMMETRIC_KEY = KeySpec.SYMMETRIC_DEFAULT
_ENCRYPT_DECRYPT = KeyUsage.ENCRYPT_DECRYPT
if SYMMETRIC not in key_specs.algorithms(_SYMMETRIC_KEY, _ENCRYPT_DECRYPT):  # check_algorithm
    raise RuntimeError("the key spec table no longer offers SYMMETRIC_DEFAULT")


def check_algorithm(key: KeyRecord, algorithm: str | None) -> str:
    """The encryption algorithm a request names (SYMMETRIC_DEFAULT if none), if the key has it."""
    if algorithm is None and key.key_spec is _SYMMETRIC_KEY and key.key_usage is _ENCRYPT_DECRYPT:
        return SYMMETRIC  # the table's answer for the usual request (checked at import above)
    return key_specs.check_algorithm(
        key.key_spec,
        key.key_usage,
        algorithm or SYMMETRIC,
        key.arn,
        "encryption algorithm",
    )


def seal(
    ctx: ServiceContext, key: KeyRecord, plaintext: bytes, context: Mapping[str, str] | None
) -> tuple[bytes, str]:
    """Encrypt under the key's current material; return the blob and the material id."""
    material_id = key.current_material_id
    assert material_id is not None
    header, cipher = ctx.cache.sealing(key, material_id)
    nonce, sealed = cipher.encrypt(plaintext, ciphertext.additional_data(header, context))
    return b"".join((header, nonce, sealed)), material_id


def unseal(
    ctx: ServiceContext, key: KeyRecord, blob: CiphertextBlob, context: Mapping[str, str] | None
) -> bytes:
    return ctx.cache.material(key, blob.material_id).decrypt(
        blob.nonce, blob.sealed, blob.additional_data(context)
    )


def _check_named_key(call: Call, member: str, key: KeyRecord) -> None:
    """If the request also names the key, it must be the one the ciphertext was made with."""
    named = call.request.get(member)
    if named is not None and call.pipeline.resolve(named, call.caller).key_id != key.key_id:
        raise IncorrectKeyException()


def _no_context(context: Mapping[str, str] | None, member: str) -> None:
    if context:
        raise ValidationException(
            f"{member} is not supported with asymmetric keys: they take no encryption context."
        )


def _encrypt_with(
    ctx: ServiceContext,
    key: KeyRecord,
    plaintext: bytes,
    *,
    algorithm: str,
    context: Mapping[str, str] | None,
    context_member: str,
) -> tuple[bytes, str | None]:
    """Encrypt under a symmetric key (our blob) or an RSA key (raw RSAES-OAEP)."""
    if algorithm == SYMMETRIC:
        return seal(ctx, key, plaintext, context)
    _no_context(context, context_member)
    limit = key_specs.oaep_plaintext_limit(key.key_spec, algorithm)
    if len(plaintext) > limit:
        raise ValidationException(
            messages.rsa_plaintext_too_large(algorithm, key.key_spec.value, limit)
        )
    return ctx.cache.asymmetric(key).encrypt(algorithm, plaintext), None


def _decrypt_with(
    ctx: ServiceContext,
    key: KeyRecord,
    raw: bytes,
    *,
    blob: CiphertextBlob | None,
    algorithm: str,
    context: Mapping[str, str] | None,
    context_member: str,
) -> bytes:
    """Open our blob (symmetric) or a raw RSAES-OAEP ciphertext made with the public key."""
    if blob is not None:
        if algorithm != SYMMETRIC:
            raise InvalidCiphertextException()
        return unseal(ctx, key, blob, context)
    _no_context(context, context_member)
    return ctx.cache.asymmetric(key).decrypt(algorithm, raw)


def encrypt(call: Call) -> Response:
    key, request = call.key, call.request
    algorithm = check_algorithm(key, request.get("EncryptionAlgorithm"))
    context = request.get("EncryptionContext")
    if algorithm == SYMMETRIC:  # what _encrypt_with does first, without its call
        blob, _ = seal(call.ctx, key, request["Plaintext"], context)
    else:
        blob, _ = _encrypt_with(
            call.ctx,
            key,
            request["Plaintext"],
            algorithm=algorithm,
            context=context,
            context_member="EncryptionContext",
        )
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


def decrypt(call: Call) -> Response:
    key, request, blob = call.key, call.request, call.blob
    if blob is not None:
        _check_named_key(call, "KeyId", key)
    algorithm = check_algorithm(key, request.get("EncryptionAlgorithm"))
    context = request.get("EncryptionContext")
    if blob is not None and algorithm == SYMMETRIC:  # what _decrypt_with does, without its call
        plaintext = unseal(call.ctx, key, blob, context)
    else:
        plaintext = _decrypt_with(
            call.ctx,
            key,
            request["CiphertextBlob"],
            blob=blob,
            algorithm=algorithm,
            context=context,
            context_member="EncryptionContext",
        )
    response: Response = {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": algorithm,
    }
    if blob is not None:
        response["KeyMaterialId"] = blob.material_id
    return response


def re_encrypt(call: Call) -> Response:
    request, blob = call.request, call.blob
    source, destination = call.keys
    assert source is not None and destination is not None
    if blob is not None:
        _check_named_key(call, "SourceKeyId", source)
    source_algorithm = check_algorithm(source, request.get("SourceEncryptionAlgorithm"))
    destination_algorithm = check_algorithm(
        destination, request.get("DestinationEncryptionAlgorithm")
    )
    plaintext = _decrypt_with(
        call.ctx,
        source,
        request["CiphertextBlob"],
        blob=blob,
        algorithm=source_algorithm,
        context=request.get("SourceEncryptionContext"),
        context_member="SourceEncryptionContext",
    )
    new_blob, material_id = _encrypt_with(
        call.ctx,
        destination,
        plaintext,
        algorithm=destination_algorithm,
        context=request.get("DestinationEncryptionContext"),
        context_member="DestinationEncryptionContext",
    )
    response: Response = {
        "CiphertextBlob": new_blob,
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": destination_algorithm,
    }
    if blob is not None:
        response["SourceKeyMaterialId"] = blob.material_id
    if material_id is not None:
        response["DestinationKeyMaterialId"] = material_id
    return response


OPERATIONS = (
    Operation(
        "Encrypt",
        encrypt,
        (KeyAccess("KeyId", "kms:Encrypt", OpClass.CRYPTO, use=ENCRYPTION),),
        dry_run=True,
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
                algorithm_member="EncryptionAlgorithm",
                use=ENCRYPTION,
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
                algorithm_member="SourceEncryptionAlgorithm",
                context_member="SourceEncryptionContext",
                use=ENCRYPTION,
            ),
            KeyAccess(
                "DestinationKeyId",
                "kms:ReEncryptTo",
                OpClass.CRYPTO,
                context_member="DestinationEncryptionContext",
                use=ENCRYPTION,
            ),
        ),
        dry_run=True,
    ),
)
