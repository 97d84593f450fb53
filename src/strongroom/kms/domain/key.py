"""The KMS key as a value, and the KeyMetadata AWS returns for it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from strongroom.kms.domain.enums import (
    KeyManager,
    KeySpec,
    KeyState,
    KeyUsage,
    Origin,
)
from strongroom.kms.domain.ids import alias_arn, key_arn
from strongroom.kms.domain.key_specs import metadata_algorithms
from strongroom.kms.domain.lineage import HsmLineage


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """Everything about a key except its material, which only key stores touch."""

    key_id: str
    account_id: str
    region: str
    created_at: datetime
    state: KeyState
    description: str = ""
    key_spec: KeySpec = KeySpec.SYMMETRIC_DEFAULT
    key_usage: KeyUsage = KeyUsage.ENCRYPT_DECRYPT
    origin: Origin = Origin.AWS_KMS
    key_manager: KeyManager = KeyManager.CUSTOMER
    current_material_id: str | None = None
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    policy: str = ""
    # Automatic rotation: the period when enabled (None when disabled) and the next date.
    rotation_period_days: int | None = None
    next_rotation_date: datetime | None = None
    # Keys of a custom key store (Origin AWS_CLOUDHSM) name the store and its HSM cluster.
    custom_key_store_id: str | None = None
    cloud_hsm_cluster_id: str | None = None
    # Imported material that was exported out of an HSM token (see domain/lineage.py).
    hsm_lineage: HsmLineage | None = None
    # Keys of an external key store (Origin EXTERNAL_KEY_STORE): the external key at the proxy.
    xks_key_id: str | None = None

    arn: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the ARN is read several times per request on the hot path.
        object.__setattr__(self, "arn", key_arn(self.region, self.account_id, self.key_id))

    @property
    def enabled(self) -> bool:
        return self.state is KeyState.ENABLED

    @property
    def rotation_enabled(self) -> bool:
        return self.rotation_period_days is not None

    def with_state(self, state: KeyState) -> KeyRecord:
        return replace(self, state=state, deletion_date=None, pending_window_days=None)

    def metadata(self) -> dict[str, object]:
        """KeyMetadata exactly as DescribeKey and CreateKey return it."""
        meta: dict[str, object] = {
            "AWSAccountId": self.account_id,
            "KeyId": self.key_id,
            "Arn": self.arn,
            "CreationDate": self.created_at.timestamp(),
            "Enabled": self.enabled,
            "Description": self.description,
            "KeyUsage": self.key_usage.value,
            "KeyState": self.state.value,
            "Origin": self.origin.value,
            "KeyManager": self.key_manager.value,
            "CustomerMasterKeySpec": self.key_spec.value,
            "KeySpec": self.key_spec.value,
            **metadata_algorithms(self.key_spec, self.key_usage),
            "MultiRegion": False,
        }
        if self.deletion_date is not None:
            meta["DeletionDate"] = self.deletion_date.timestamp()
        if self.pending_window_days is not None:
            meta["PendingDeletionWindowInDays"] = self.pending_window_days
        # AWS names the current material of symmetric encryption keys only.
        if self.current_material_id is not None and self.key_spec is KeySpec.SYMMETRIC_DEFAULT:
            meta["CurrentKeyMaterialId"] = self.current_material_id
        if self.custom_key_store_id is not None:
            meta["CustomKeyStoreId"] = self.custom_key_store_id
        if self.cloud_hsm_cluster_id is not None:
            meta["CloudHsmClusterId"] = self.cloud_hsm_cluster_id
        if self.xks_key_id is not None:
            meta["XksKeyConfiguration"] = {"Id": self.xks_key_id}
        return meta


@dataclass(frozen=True, slots=True)
class AliasRecord:
    account_id: str
    alias_name: str
    target_key_id: str
    created_at: datetime
    updated_at: datetime

    def listing(self, region: str) -> dict[str, object]:
        return {
            "AliasName": self.alias_name,
            "AliasArn": alias_arn(region, self.account_id, self.alias_name),
            "TargetKeyId": self.target_key_id,
            "CreationDate": self.created_at.timestamp(),
            "LastUpdatedDate": self.updated_at.timestamp(),
        }
