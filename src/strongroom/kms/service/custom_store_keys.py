"""What CreateKey asks of a key in any custom key store, AWS_CLOUDHSM or EXTERNAL_KEY_STORE:
a symmetric encryption key, single-Region, in a connected store. The kind-specific checks
(origin, XksKeyId) stay with each kind (custom_key_stores.py, external_key_stores.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from strongroom.kms.domain.custom_key_stores import CustomKeyStore
from strongroom.kms.domain.enums import KeySpec, KeyUsage
from strongroom.kms.errors import (
    CustomKeyStoreInvalidStateException,
    UnsupportedOperationException,
)


def check_new_key(request: Mapping[str, Any], store: CustomKeyStore) -> None:
    spec = request.get("KeySpec") or request.get("CustomerMasterKeySpec")
    if spec not in (None, KeySpec.SYMMETRIC_DEFAULT.value) or request.get("KeyUsage") not in (
        None,
        KeyUsage.ENCRYPT_DECRYPT.value,
    ):
        kind = "External key stores" if store.external else "Custom key stores"
        raise UnsupportedOperationException(
            f"{kind} hold only SYMMETRIC_DEFAULT keys for ENCRYPT_DECRYPT."
        )
    if request.get("MultiRegion"):
        raise UnsupportedOperationException("Keys in custom key stores cannot be multi-Region.")
    if not store.connected:
        raise CustomKeyStoreInvalidStateException(
            f"The custom key store {store.custom_key_store_id} is not connected."
        )
