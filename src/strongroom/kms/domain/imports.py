"""Rules of importing key material (BYOK): wrapping choices, import tokens, expiry, states.

Pure values and decisions; the cryptography lives in ``keystores/wrapping.py`` and the
operations in ``service/importing.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from strongroom.kms import messages
from strongroom.kms.domain.enums import KeyMaterialState, KeySpec, KeyState
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidImportTokenException,
    KMSInvalidStateException,
    LimitExceededException,
    ValidationException,
)

TOKEN_VALIDITY = timedelta(hours=24)
MAX_VALID_TO = timedelta(days=365)
TOKEN_PURPOSE = "import-token"  # noqa: S105 (a label, not a secret)
_TOKEN_VERSION = 1


class WrappingAlgorithm(StrEnum):
    RSAES_OAEP_SHA_1 = "RSAES_OAEP_SHA_1"
    RSAES_OAEP_SHA_256 = "RSAES_OAEP_SHA_256"
    RSA_AES_KEY_WRAP_SHA_1 = "RSA_AES_KEY_WRAP_SHA_1"
    RSA_AES_KEY_WRAP_SHA_256 = "RSA_AES_KEY_WRAP_SHA_256"

    @property
    def hybrid(self) -> bool:
        """RSA-OAEP wraps an AES key that wraps the material (RFC 5649), as AWS's guide."""
        return self.value.startswith("RSA_AES_KEY_WRAP_")


class WrappingKeySpec(StrEnum):
    RSA_2048 = "RSA_2048"
    RSA_3072 = "RSA_3072"
    RSA_4096 = "RSA_4096"

    @property
    def bits(self) -> int:
        return int(self.value.rsplit("_", 1)[1])


class ExpirationModel(StrEnum):
    KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
    KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"


class ImportType(StrEnum):
    NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
    EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"


class ImportState(StrEnum):
    IMPORTED = "IMPORTED"
    PENDING_IMPORT = "PENDING_IMPORT"


# Bytes of imported material AWS accepts per key spec (HMAC keys: a range; see kms-api.md).
SYMMETRIC_BYTES = 32
HMAC_BYTES: dict[KeySpec, tuple[int, int]] = {
    KeySpec.HMAC_224: (28, 64),
    KeySpec.HMAC_256: (32, 64),
    KeySpec.HMAC_384: (48, 128),
    KeySpec.HMAC_512: (64, 128),
}


def is_private_key_spec(spec: KeySpec) -> bool:
    """Material of this spec is a PKCS#8 private key (not raw bytes)."""
    return spec is not KeySpec.SYMMETRIC_DEFAULT and spec not in HMAC_BYTES


def wrapping_choice(
    key_spec: KeySpec, algorithm: str, wrapping_spec: str
) -> tuple[WrappingAlgorithm, WrappingKeySpec]:
    """Check a GetParametersForImport choice against the key's spec, as AWS's guide rules.

    RSAES_PKCS1_V1_5 is withdrawn (2023-10-10) and SM2 exists only in China Regions. Direct
    RSAES-OAEP cannot carry an RSA private key, nor a P-521 one under a 2048-bit wrapping key
    (neither fits in one OAEP block): those need RSA_AES_KEY_WRAP_*.
    """
    if algorithm == "RSAES_PKCS1_V1_5":
        raise ValidationException(
            "The RSAES_PKCS1_V1_5 wrapping algorithm is no longer supported. Use "
            "RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256."
        )
    if algorithm == "SM2PKE" or wrapping_spec == "SM2":
        raise ValidationException("SM2 wrapping is supported only in China Regions.")
    chosen, spec = WrappingAlgorithm(algorithm), WrappingKeySpec(wrapping_spec)
    if not chosen.hybrid:
        if key_spec.value.startswith("RSA_"):
            raise ValidationException(
                f"{chosen.value} cannot wrap RSA key material; use RSA_AES_KEY_WRAP_SHA_256 or "
                "RSA_AES_KEY_WRAP_SHA_1."
            )
        if key_spec is KeySpec.ECC_NIST_P521 and spec is WrappingKeySpec.RSA_2048:
            raise ValidationException(
                f"{chosen.value} with wrapping key spec RSA_2048 cannot wrap ECC_NIST_P521 key "
                "material; use a larger wrapping key or RSA_AES_KEY_WRAP_SHA_256."
            )
    return chosen, spec


@dataclass(frozen=True, slots=True)
class ImportParameters:
    """What an import token carries: the wrapping private key, its algorithm and its expiry.

    Serialized by :meth:`encode` and sealed by the key store under the root key with the key's
    ARN bound as AAD, so a token is unforgeable, opens only for the key it was made for and
    never shows the private key (see docs/formats.md, "Import tokens").
    """

    algorithm: WrappingAlgorithm
    wrapping_spec: WrappingKeySpec
    valid_to: datetime
    private_key: Secret  # PKCS#8 DER

    def encode(self) -> bytes:
        algorithms, specs = list(WrappingAlgorithm), list(WrappingKeySpec)
        header = struct.pack(
            ">BBBq",
            _TOKEN_VERSION,
            algorithms.index(self.algorithm),
            specs.index(self.wrapping_spec),
            round(self.valid_to.timestamp() * 1000),  # milliseconds, as the response has it
        )
        return header + self.private_key.reveal()

    @classmethod
    def decode(cls, payload: bytes) -> ImportParameters:
        size = struct.calcsize(">BBBq")
        if len(payload) <= size:
            raise InvalidImportTokenException()
        version, algorithm, spec, valid_to = struct.unpack(">BBBq", payload[:size])
        algorithms, specs = list(WrappingAlgorithm), list(WrappingKeySpec)
        if version != _TOKEN_VERSION or algorithm >= len(algorithms) or spec >= len(specs):
            raise InvalidImportTokenException()
        return cls(
            algorithms[algorithm],
            specs[spec],
            datetime.fromtimestamp(valid_to / 1000, UTC),
            Secret(payload[size:]),
        )

    @staticmethod
    def expiry(now: datetime) -> datetime:
        """When parameters made ``now`` expire, to the millisecond the token records."""
        valid_to = now + TOKEN_VALIDITY
        return valid_to.replace(microsecond=valid_to.microsecond // 1000 * 1000)

    def check_valid(self, now: datetime) -> None:
        if now >= self.valid_to:
            raise ExpiredImportTokenException()


def expiration(
    model: str | None, valid_to: datetime | None, now: datetime
) -> tuple[ExpirationModel, datetime | None]:
    """The ExpirationModel and ValidTo of an ImportKeyMaterial request, checked.

    KEY_MATERIAL_EXPIRES (the default) needs a ValidTo in the future and at most 365 days
    ahead; KEY_MATERIAL_DOES_NOT_EXPIRE must come without one.
    """
    chosen = ExpirationModel(model or ExpirationModel.KEY_MATERIAL_EXPIRES.value)
    if chosen is ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE:
        if valid_to is not None:
            raise ValidationException(
                "ValidTo must not be set when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
            )
        return chosen, None
    if valid_to is None:
        raise ValidationException(messages.VALID_TO_REQUIRED)
    if valid_to <= now:
        raise ValidationException("ValidTo must be a time in the future.")
    if valid_to > now + MAX_VALID_TO:
        raise ValidationException("ValidTo must be at most 365 days from now.")
    return chosen, valid_to


def check_material_length(spec: KeySpec, material: bytes) -> None:
    """Raw material (symmetric, HMAC) must have a length the key spec allows."""
    if spec is KeySpec.SYMMETRIC_DEFAULT:
        if len(material) != SYMMETRIC_BYTES:
            raise IncorrectKeyMaterialException(
                f"Key material for a SYMMETRIC_DEFAULT key must be {SYMMETRIC_BYTES} bytes."
            )
        return
    low, high = HMAC_BYTES[spec]
    if not low <= len(material) <= high:
        raise IncorrectKeyMaterialException(
            f"Key material for a {spec.value} key must be {low} to {high} bytes."
        )


@dataclass(frozen=True, slots=True)
class ImportedMaterial:
    """One key material of an EXTERNAL key, whether or not it is imported right now.

    The record outlives deletion and expiry (only the wrapped copy goes), so that importing
    the same material again restores the key. ``material_id`` is derived from the key and the
    material by a keyed MAC of the key store: it recognizes the material without revealing it.
    """

    material_id: str
    key_id: str
    sequence: int  # 1 for the key's first material, then in import order
    expiration_model: ExpirationModel
    valid_to: datetime | None
    imported: bool
    imported_at: datetime
    description: str | None = None
    rotated_at: datetime | None = None  # when RotateKeyOnDemand made it current

    def state(self, key: KeyRecord) -> KeyMaterialState:
        if self.material_id == key.current_material_id:
            return KeyMaterialState.CURRENT
        if self.sequence > 1 and self.rotated_at is None:
            return KeyMaterialState.PENDING_ROTATION
        return KeyMaterialState.NON_CURRENT

    def associated(self, key: KeyRecord) -> bool:
        """Permanently part of the key (current or once current): the key needs it."""
        return self.state(key) is not KeyMaterialState.PENDING_ROTATION

    def listing(self, key: KeyRecord) -> dict[str, object]:
        """An entry of ListKeyRotations for a symmetric key with imported material."""
        entry: dict[str, object] = {
            "KeyId": key.key_id,
            "KeyMaterialId": self.material_id,
            "ImportState": (
                ImportState.IMPORTED if self.imported else ImportState.PENDING_IMPORT
            ).value,
            "KeyMaterialState": self.state(key).value,
            "ExpirationModel": self.expiration_model.value,
        }
        if self.description is not None:
            entry["KeyMaterialDescription"] = self.description
        if self.valid_to is not None:
            entry["ValidTo"] = self.valid_to.timestamp()
        if self.rotated_at is not None:
            entry["RotationDate"] = self.rotated_at.timestamp()
            entry["RotationType"] = "ON_DEMAND"
        return entry


def state_after_import(key: KeyRecord, materials: list[ImportedMaterial]) -> KeyState:
    """A key pending import becomes Enabled once every material it needs is imported."""
    if key.state is not KeyState.PENDING_IMPORT:
        return key.state
    needed = [m for m in materials if m.associated(key)]
    return KeyState.ENABLED if needed and all(m.imported for m in needed) else key.state


def state_after_removal(key: KeyRecord, removed: ImportedMaterial) -> KeyState:
    """Losing material the key needs makes it PendingImport (pending deletion stays so)."""
    if removed.associated(key) and key.state in (KeyState.ENABLED, KeyState.DISABLED):
        return KeyState.PENDING_IMPORT
    return key.state


def metadata(materials: list[ImportedMaterial], key: KeyRecord) -> dict[str, object]:
    """KeyMetadata's ExpirationModel and ValidTo (the earliest expiry the key depends on)."""
    needed = [m for m in materials if m.associated(key) and m.imported]
    if not needed:
        return {}
    expiring = [m.valid_to for m in needed if m.valid_to is not None]
    if not expiring:
        return {"ExpirationModel": ExpirationModel.KEY_MATERIAL_DOES_NOT_EXPIRE.value}
    return {
        "ExpirationModel": ExpirationModel.KEY_MATERIAL_EXPIRES.value,
        "ValidTo": min(expiring).timestamp(),
    }


@dataclass(frozen=True, slots=True)
class ImportRequest:
    """An ImportKeyMaterial request once its token and material are checked."""

    material_id: str
    import_type: ImportType | None
    requested_id: str | None
    description: str | None
    expiration_model: ExpirationModel
    valid_to: datetime | None
    at: datetime


def plan_import(
    key: KeyRecord, materials: list[ImportedMaterial], request: ImportRequest
) -> tuple[KeyRecord, ImportedMaterial]:
    """Decide (under the key's lock) what an import does: the key after it and the material.

    The first import defaults to NEW_KEY_MATERIAL, later ones to EXISTING_KEY_MATERIAL, which
    must be byte-identical to material the key already has. Only symmetric encryption keys take
    more than one material; a new one waits in PENDING_ROTATION for RotateKeyOnDemand.
    """
    known = {m.material_id: m for m in materials}
    existing = known.get(request.material_id)
    import_type = request.import_type or (
        ImportType.EXISTING_KEY_MATERIAL if materials else ImportType.NEW_KEY_MATERIAL
    )
    if import_type is ImportType.NEW_KEY_MATERIAL:
        if request.requested_id is not None:
            raise ValidationException(
                "KeyMaterialId cannot be specified when ImportType is NEW_KEY_MATERIAL."
            )
        if existing is not None:
            raise IncorrectKeyMaterialException(
                "This key material is already associated with the KMS key; import it with "
                "ImportType EXISTING_KEY_MATERIAL."
            )
        if materials and key.key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise IncorrectKeyMaterialException(
                f"{key.arn} already has key material; asymmetric and HMAC keys take only one."
            )
        pending = [m for m in materials if m.state(key) is KeyMaterialState.PENDING_ROTATION]
        if pending:
            raise KMSInvalidStateException(
                messages.material_pending_rotation(pending[0].material_id, key.arn)
            )
        material = ImportedMaterial(
            material_id=request.material_id,
            key_id=key.key_id,
            sequence=max((m.sequence for m in materials), default=0) + 1,
            expiration_model=request.expiration_model,
            valid_to=request.valid_to,
            imported=True,
            imported_at=request.at,
            description=request.description,
        )
    else:
        if existing is None or request.requested_id not in (None, request.material_id):
            raise IncorrectKeyMaterialException(
                "The key material does not match the key material previously imported into "
                "this KMS key."
            )
        material = ImportedMaterial(
            material_id=existing.material_id,
            key_id=key.key_id,
            sequence=existing.sequence,
            expiration_model=request.expiration_model,
            valid_to=request.valid_to,
            imported=True,
            imported_at=request.at,
            description=request.description or existing.description,
            rotated_at=existing.rotated_at,
        )
    updated = key
    if key.current_material_id is None:
        updated = replace(key, current_material_id=material.material_id)
    after = [m for m in materials if m.material_id != material.material_id] + [material]
    return replace(updated, state=state_after_import(updated, after)), material


def plan_rotation(
    key: KeyRecord, materials: list[ImportedMaterial], at: datetime, limit: int
) -> tuple[KeyRecord, ImportedMaterial]:
    """RotateKeyOnDemand of an imported key: the material pending rotation becomes current."""
    pending = [m for m in materials if m.state(key) is KeyMaterialState.PENDING_ROTATION]
    if not pending or not pending[0].imported:
        raise KMSInvalidStateException(messages.no_material_pending_rotation(key.arn))
    if sum(1 for m in materials if m.rotated_at is not None) >= limit:
        raise LimitExceededException(
            f"{key.arn} has reached its limit of {limit} on-demand rotations."
        )
    rotated = replace(pending[0], rotated_at=at)
    return replace(key, current_material_id=rotated.material_id), rotated
