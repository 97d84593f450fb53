"""Encapsulate and Decapsulate with ML-KEM keys (FIPS 203).

Encapsulate uses only the public key (a client can do the same offline with GetPublicKey's
key); Decapsulate needs the private key, which stays in the key store. ML-KEM's implicit
rejection means a well-formed but wrong ciphertext yields an unrelated secret, not an error.
"""

from __future__ import annotations

from strongroom.kms.domain import key_specs
from strongroom.kms.domain.states import OpClass
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

ENCAPSULATION = key_specs.Use.ENCAPSULATION


def _algorithm(call: Call) -> str:
    key = call.key
    return key_specs.check_algorithm(
        key.key_spec,
        key.key_usage,
        call.request["EncapsulationAlgorithm"],
        key.arn,
        "encapsulation algorithm",
    )


def encapsulate(call: Call) -> Response:
    algorithm = _algorithm(call)
    secret, ciphertext = call.ctx.cache.asymmetric(call.key).encapsulate()
    return {
        "KeyId": call.key.arn,
        "SharedSecret": secret,
        "SharedSecretCiphertextBlob": ciphertext,
        "EncapsulationAlgorithm": algorithm,
    }


def decapsulate(call: Call) -> Response:
    algorithm = _algorithm(call)
    handle = call.ctx.cache.asymmetric(call.key)
    secret = handle.decapsulate(call.request["SharedSecretCiphertextBlob"])
    return {"KeyId": call.key.arn, "SharedSecret": secret, "EncapsulationAlgorithm": algorithm}


OPERATIONS = (
    Operation(
        "Encapsulate",
        encapsulate,
        (KeyAccess("KeyId", "kms:Encapsulate", OpClass.CRYPTO, use=ENCAPSULATION),),
        dry_run=True,
    ),
    Operation(
        "Decapsulate",
        decapsulate,
        (KeyAccess("KeyId", "kms:Decapsulate", OpClass.CRYPTO, use=ENCAPSULATION),),
        dry_run=True,
    ),
)
