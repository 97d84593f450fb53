"""GenerateMac and VerifyMac with HMAC keys (RFC 2104 over whatever bytes are given)."""

from __future__ import annotations

from strongroom.kms.domain import key_specs
from strongroom.kms.domain.states import OpClass
from strongroom.kms.errors import KMSInvalidMacException
from strongroom.kms.service.pipeline import Call, KeyAccess, Operation, Response

MAC = key_specs.Use.MAC


def _algorithm(call: Call) -> str:
    key = call.key
    return key_specs.check_algorithm(
        key.key_spec, key.key_usage, call.request["MacAlgorithm"], key.arn, "MAC algorithm"
    )


def generate_mac(call: Call) -> Response:
    algorithm = _algorithm(call)
    mac = call.ctx.cache.mac_material(call.key).mac(call.request["Message"])
    return {"Mac": mac, "MacAlgorithm": algorithm, "KeyId": call.key.arn}


def verify_mac(call: Call) -> Response:
    algorithm = _algorithm(call)
    material = call.ctx.cache.mac_material(call.key)
    if not material.verify(call.request["Message"], call.request["Mac"]):
        raise KMSInvalidMacException()
    return {"KeyId": call.key.arn, "MacValid": True, "MacAlgorithm": algorithm}


OPERATIONS = (
    Operation(
        "GenerateMac",
        generate_mac,
        (KeyAccess("KeyId", "kms:GenerateMac", OpClass.CRYPTO, use=MAC),),
        dry_run=True,
    ),
    Operation(
        "VerifyMac",
        verify_mac,
        (KeyAccess("KeyId", "kms:VerifyMac", OpClass.CRYPTO, use=MAC),),
        dry_run=True,
    ),
)
