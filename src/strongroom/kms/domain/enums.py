"""Enumerations of the KMS domain, spelled exactly as on the wire."""

from __future__ import annotations

from enum import StrEnum


class KeyState(StrEnum):
    CREATING = "Creating"
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    PENDING_IMPORT = "PendingImport"
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    UNAVAILABLE = "Unavailable"
    UPDATING = "Updating"


class KeySpec(StrEnum):
    SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"


class KeyUsage(StrEnum):
    ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"


class Origin(StrEnum):
    AWS_KMS = "AWS_KMS"


class KeyManager(StrEnum):
    AWS = "AWS"
    CUSTOMER = "CUSTOMER"


class EncryptionAlgorithm(StrEnum):
    SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"


class DataKeySpec(StrEnum):
    AES_256 = "AES_256"
    AES_128 = "AES_128"


DATA_KEY_BYTES: dict[DataKeySpec, int] = {DataKeySpec.AES_256: 32, DataKeySpec.AES_128: 16}


class RotationType(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


class KeyMaterialState(StrEnum):
    CURRENT = "CURRENT"
    NON_CURRENT = "NON_CURRENT"
