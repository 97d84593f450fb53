"""GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.

The private key (PKCS#8 DER) is encrypted under a symmetric encryption key as an ordinary
ciphertext blob, which Decrypt opens with the same encryption context. The public key is
SubjectPublicKeyInfo DER. Pair specs carry no usage restriction (KMS cannot police keys used
outside it).
"""

from __future__ import annotations

from strongroom.kms.domain.enums import DataKeyPairSpec
from strongroom.kms.domain.key_specs import Use
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import UnsupportedOperationException
from strongroom.kms.keystores.asymmetric import new_key_pair
from strongroom.kms.service.crypto_ops import seal
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

_SERVED = frozenset(spec.value for spec in DataKeyPairSpec)


def generate_data_key_pair(call: Call) -> Response:
    spec = call.request["KeyPairSpec"]
    if spec not in _SERVED:
        raise UnsupportedOperationException(f"KeyPairSpec {spec} is not supported.")
    if call.key.custom_key_store_id is not None:
        raise UnsupportedOperationException(
            f"{call.key.arn} is in a custom key store; data key pairs need a key outside one."
        )
    private_key, public_key = new_key_pair(spec)
    blob, material_id = seal(call.ctx, call.key, private_key, call.request.get("EncryptionContext"))
    return {
        "PrivateKeyCiphertextBlob": blob,
        "PrivateKeyPlaintext": private_key,
        "PublicKey": public_key,
        "KeyId": call.key.arn,
        "KeyPairSpec": spec,
        "KeyMaterialId": material_id,
    }


def generate_data_key_pair_without_plaintext(call: Call) -> Response:
    response = generate_data_key_pair(call)
    del response["PrivateKeyPlaintext"]
    return response


def _access(action: str) -> tuple[KeyAccess]:
    return (KeyAccess("KeyId", action, OpClass.CRYPTO, use=Use.SYMMETRIC_ENCRYPTION),)


OPERATIONS = (
    Operation(
        "GenerateDataKeyPair",
        generate_data_key_pair,
        _access("kms:GenerateDataKeyPair"),
        dry_run=True,
        blocking=True,  # RSA key generation
    ),
    Operation(
        "GenerateDataKeyPairWithoutPlaintext",
        generate_data_key_pair_without_plaintext,
        _access("kms:GenerateDataKeyPairWithoutPlaintext"),
        dry_run=True,
        blocking=True,
    ),
)
