"""GenerateDataKey, GenerateDataKeyWithoutPlaintext and GenerateRandom."""

from __future__ import annotations

import secrets

from strongroom.kms import messages
from strongroom.kms.domain.enums import DATA_KEY_BYTES, DataKeySpec
from strongroom.kms.domain.key_specs import Use
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import ValidationException
from strongroom.kms.service.crypto_ops import seal
from strongroom.kms.service.custom_key_stores import generate_random_in_store
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

SYMMETRIC_ONLY = Use.SYMMETRIC_ENCRYPTION


def _data_key_length(call: Call) -> int:
    spec = call.request.get("KeySpec")
    count = call.request.get("NumberOfBytes")
    if (spec is None) == (count is None):
        raise ValidationException("Please specify either number of bytes or key spec.")
    if spec is not None:
        # A StrEnum member hashes and compares as its value: no DataKeySpec(spec) (0.5 µs)
        # unless the spec is unknown, which then fails as it always did.
        length = DATA_KEY_BYTES.get(spec)
        return DATA_KEY_BYTES[DataKeySpec(spec)] if length is None else length
    return int(count or 0)


def generate_data_key(call: Call) -> Response:
    plaintext = _new_data_key(call, _data_key_length(call))
    blob, material_id = seal(call.ctx, call.key, plaintext, call.request.get("EncryptionContext"))
    return {
        "CiphertextBlob": blob,
        "Plaintext": plaintext,
        "KeyId": call.key.arn,
        "KeyMaterialId": material_id,
    }


def _new_data_key(call: Call, length: int) -> bytes:
    """Random bytes; a custom key store's keys take them from the store's HSMs (an external
    key store's from Strongroom's generator, as AWS KMS generates them for XKS keys)."""
    store_id = call.key.custom_key_store_id
    if store_id is None or call.ctx.custom_stores is None or call.key.xks_key_id is not None:
        return secrets.token_bytes(length)
    return call.ctx.custom_stores.cluster(store_id).random(length)


def generate_data_key_without_plaintext(call: Call) -> Response:
    response = generate_data_key(call)
    del response["Plaintext"]
    return response


def generate_random(call: Call) -> Response:
    count = call.request.get("NumberOfBytes")
    if count is None:
        raise ValidationException(messages.NUMBER_OF_BYTES_REQUIRED)
    store_id = call.request.get("CustomKeyStoreId")
    if store_id is not None:
        return {"Plaintext": generate_random_in_store(call, store_id, count)}
    return {"Plaintext": secrets.token_bytes(count)}


OPERATIONS = (
    Operation(
        "GenerateDataKey",
        generate_data_key,
        (KeyAccess("KeyId", "kms:GenerateDataKey", OpClass.CRYPTO, use=SYMMETRIC_ONLY),),
        dry_run=True,
    ),
    Operation(
        "GenerateDataKeyWithoutPlaintext",
        generate_data_key_without_plaintext,
        (
            KeyAccess(
                "KeyId",
                "kms:GenerateDataKeyWithoutPlaintext",
                OpClass.CRYPTO,
                use=SYMMETRIC_ONLY,
            ),
        ),
        dry_run=True,
    ),
    Operation("GenerateRandom", generate_random, action="kms:GenerateRandom"),
)
