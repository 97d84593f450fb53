"""DeriveSharedSecret: ECDH between a KEY_AGREEMENT key and a peer's public key.

The shared secret is the raw ECDH output (the x coordinate); the caller runs its own KDF.
"""

from __future__ import annotations

from strongroom.kms.domain import key_specs
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import UnsupportedOperationException
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response


def derive_shared_secret(call: Call) -> Response:
    key, request = call.key, call.request
    algorithm = key_specs.check_algorithm(
        key.key_spec,
        key.key_usage,
        request["KeyAgreementAlgorithm"],
        key.arn,
        "key agreement algorithm",
    )
    if request.get("Recipient") is not None:
        raise UnsupportedOperationException("Recipient (Nitro Enclaves) is not supported.")
    secret = call.ctx.cache.asymmetric(key).derive(request["PublicKey"])
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin.value,
    }


OPERATIONS = (
    Operation(
        "DeriveSharedSecret",
        derive_shared_secret,
        (
            KeyAccess(
                "KeyId",
                "kms:DeriveSharedSecret",
                OpClass.CRYPTO,
                use=key_specs.Use.KEY_AGREEMENT,
            ),
        ),
        dry_run=True,
    ),
)
