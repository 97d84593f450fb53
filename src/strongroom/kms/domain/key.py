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
from strongroom.kms.domain.ids import alias_arn, key_arn, material_binding, record_id
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
    # A multi-Region key's primary region (domain/multi_region.py); None: single-Region.
    primary_region: str | None = None
    # Keys of an external key store (Origin EXTERNAL_KEY_STORE): the external key at the proxy.
    xks_key_id: str | None = None

    arn: str = field(init=False, repr=False, compare=False)
    # The key's storage identity in its region (domain/ids.record_id): what repositories,
    # caches and the change feed name it by.
    record_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Computed once: the ARN is read several times per request on the hot path.
        object.__setattr__(self, "arn", key_arn(self.region, self.account_id, self.key_id))
        object.__setattr__(self, "record_id", record_id(self.region, self.key_id))

    @property
    def material_binding(self) -> str:
        """What the key's wrapped material is bound to (shared by multi-Region replicas)."""
        return material_binding(self.region, self.account_id, self.key_id)

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
            "MultiRegion": self.primary_region is not None,
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
    """An alias: unique per account and region, naming a key of that region."""

    account_id: str
    region: str
    alias_name: str
    target_key_id: str
    created_at: datetime
    updated_at: datetime

    def listing(self) -> dict[str, object]:
        return {
            "AliasName": self.alias_name,
            "AliasArn": alias_arn(self.region, self.account_id, self.alias_name),
            "TargetKeyId": self.target_key_id,
            "CreationDate": self.created_at.timestamp(),
            "LastUpdatedDate": self.updated_at.timestamp(),
        }
