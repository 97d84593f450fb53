"""Sign, Verify and GetPublicKey with asymmetric keys.

MessageType RAW hashes the message with the algorithm's hash; DIGEST takes the caller's hash
as it is (never hashed again) and must be exactly the hash's length; EXTERNAL_MU (ML-DSA only)
is FIPS 204's 64-byte mu. Ed25519 and ML-DSA take no DIGEST. RSASSA-PSS uses MGF1 with
the same hash and a salt as long as the hash; ECDSA signatures are DER. A bad signature is an
error (KMSInvalidSignatureException), never ``SignatureValid: false``.
"""

from __future__ import annotations

from strongroom.kms import messages
from strongroom.kms.domain import key_specs
from strongroom.kms.domain.enums import MessageType
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import KMSInvalidSignatureException, ValidationException
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

SIGNING = key_specs.Use.SIGNING


def _prepare(call: Call) -> tuple[str, MessageType]:
    """The checked signing algorithm and message type (DIGEST and EXTERNAL_MU lengths)."""
    key, request = call.key, call.request
    algorithm = key_specs.check_algorithm(
        key.key_spec, key.key_usage, request["SigningAlgorithm"], key.arn, "signing algorithm"
    )
    message_type = MessageType(request.get("MessageType", MessageType.RAW.value))
    length = len(request["Message"])
    if message_type is MessageType.EXTERNAL_MU:
        if algorithm not in key_specs.EXTERNAL_MU_ALGORITHMS:
            raise ValidationException("MessageType EXTERNAL_MU is valid only for ML-DSA keys.")
        if length != key_specs.MU_BYTES:
            raise ValidationException(f"An EXTERNAL_MU message is {key_specs.MU_BYTES} bytes.")
    if message_type is MessageType.DIGEST:
        expected = key_specs.DIGEST_BYTES.get(algorithm)
        if expected is None:
            raise ValidationException(f"{algorithm} does not take MessageType DIGEST.")
        if length != expected:
            raise ValidationException(messages.digest_length(algorithm))
    return algorithm, message_type


def sign(call: Call) -> Response:
    algorithm, message_type = _prepare(call)
    handle = call.ctx.cache.asymmetric(call.key)
    signature = handle.sign(algorithm, call.request["Message"], message_type.value)
    return {"KeyId": call.key.arn, "Signature": signature, "SigningAlgorithm": algorithm}


def verify(call: Call) -> Response:
    algorithm, message_type = _prepare(call)
    request = call.request
    handle = call.ctx.cache.asymmetric(call.key)
    if not handle.verify(algorithm, request["Message"], message_type.value, request["Signature"]):
        raise KMSInvalidSignatureException()
    return {"KeyId": call.key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


def get_public_key(call: Call) -> Response:
    key = call.key
    return {
        "KeyId": key.arn,
        "PublicKey": call.ctx.cache.asymmetric(key).public_key(),
        "CustomerMasterKeySpec": key.key_spec.value,
        "KeySpec": key.key_spec.value,
        "KeyUsage": key.key_usage.value,
        **key_specs.metadata_algorithms(key.key_spec, key.key_usage),
    }


OPERATIONS = (
    Operation(
        "Sign", sign, (KeyAccess("KeyId", "kms:Sign", OpClass.CRYPTO, use=SIGNING),), dry_run=True
    ),
    Operation(
        "Verify",
        verify,
        (KeyAccess("KeyId", "kms:Verify", OpClass.CRYPTO, use=SIGNING),),
        dry_run=True,
    ),
    Operation(
        "GetPublicKey",
        get_public_key,
        (KeyAccess("KeyId", "kms:GetPublicKey", OpClass.CRYPTO, use=key_specs.Use.PUBLIC_KEY),),
    ),
)
