"""Custom key stores: Create/Describe/Update/Connect/Disconnect/Delete, and the key operations
that depend on them (CreateKey in a store, GenerateRandom from one). AWS_CLOUDHSM stores are
served here; what differs for EXTERNAL_KEY_STORE is in service/external_key_stores.py.

Connecting is synchronous here (AWS answers at once and connects in the background): the
request logs in to the cluster's tokens, and the state it ends in (CONNECTED, or FAILED with a
ConnectionErrorCode) is what DescribeCustomKeyStores shows right after.
"""

from __future__ import annotations

from dataclasses import replace

from strongroom.kms.domain.custom_key_stores import (
    CLUSTER_ID_PATTERN,
    MAX_STORES_PER_ACCOUNT,
    MIN_HSMS_TO_CREATE,
    ConnectionState,
    CustomKeyStore,
    HsmCluster,
    new_custom_key_store_id,
    same_certificate,
)
from strongroom.kms.domain.enums import KeyState, Origin
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import (
    CloudHsmClusterInUseException,
    CloudHsmClusterInvalidConfigurationException,
    CloudHsmClusterNotActiveException,
    CloudHsmClusterNotFoundException,
    CloudHsmClusterNotRelatedException,
    CustomKeyStoreHasCMKsException,
    CustomKeyStoreInvalidStateException,
    CustomKeyStoreNameInUseException,
    CustomKeyStoreNotFoundException,
    IncorrectTrustAnchorException,
    KmsError,
    LimitExceededException,
    UnsupportedOperationException,
    ValidationException,
    XksProxyUriInUseException,
)
from strongroom.kms.keystores.external.proxy_client import RequestContext
from strongroom.kms.keystores.pkcs11.errors import Pkcs11Error
from strongroom.kms.keystores.pkcs11.library import load_module
from strongroom.kms.service.custom_store_connections import (
    PASSWORD_PURPOSE,
    CustomKeyStoreConnections,
)
from strongroom.kms.service.custom_store_keys import check_new_key
from strongroom.kms.service.external_key_stores import (
    connection_error,
    new_external_store,
    updated_external_store,
)
from strongroom.kms.service.paging import page
from strongroom.kms.service.pipeline import Call, Operation, Response
from strongroom.kms.storage.custom_key_stores import CustomKeyStoreConflict, StoreConflict

_CONFLICTS: dict[StoreConflict, type[KmsError]] = {
    StoreConflict.NAME_IN_USE: CustomKeyStoreNameInUseException,
    StoreConflict.CLUSTER_IN_USE: CloudHsmClusterInUseException,
    StoreConflict.LIMIT: LimitExceededException,
    StoreConflict.HAS_KEYS: CustomKeyStoreHasCMKsException,
    StoreConflict.NOT_FOUND: CustomKeyStoreNotFoundException,
    StoreConflict.XKS_URI_IN_USE: XksProxyUriInUseException,
}
_MESSAGES = {
    StoreConflict.NAME_IN_USE: "The custom key store name is already in use in this account.",
    StoreConflict.CLUSTER_IN_USE: "The HSM cluster is already associated with a custom key store.",
    StoreConflict.LIMIT: f"An account can have at most {MAX_STORES_PER_ACCOUNT} custom key stores.",
    StoreConflict.HAS_KEYS: "The custom key store still contains KMS keys; delete them first.",
    StoreConflict.NOT_FOUND: "The custom key store does not exist.",
    StoreConflict.XKS_URI_IN_USE: (
        "The XksProxyUriEndpoint and XksProxyUriPath are already used by another external key "
        "store of this account."
    ),
}


def _conflict(error: CustomKeyStoreConflict) -> KmsError:
    return _CONFLICTS[error.reason](_MESSAGES[error.reason])


def _runtime(call: Call) -> CustomKeyStoreConnections:
    runtime = call.ctx.custom_stores
    if runtime is None:  # pragma: no cover - the composition root always provides one
        raise UnsupportedOperationException("Custom key stores are not enabled.")
    return runtime


def owned_store(call: Call, store_id: str) -> CustomKeyStore:
    """The caller's store (another account's store does not exist for the caller)."""
    store = _runtime(call).record(store_id)
    if store is None or store.account_id != call.caller.account_id:
        raise CustomKeyStoreNotFoundException(f"Custom key store {store_id} does not exist.")
    return store


def _cluster(call: Call, cluster_id: str) -> HsmCluster:
    if not CLUSTER_ID_PATTERN.fullmatch(cluster_id):
        raise ValidationException(f"CloudHsmClusterId {cluster_id!r} is not a valid cluster id.")
    cluster = _runtime(call).repo.get_cluster(cluster_id)
    if cluster is None:
        raise CloudHsmClusterNotFoundException(f"The HSM cluster {cluster_id} was not found.")
    return cluster


def _check_cluster_active(cluster: HsmCluster) -> None:
    """The cluster's module loads and at least two of its tokens are present."""
    try:
        module = load_module(cluster.module_path)
    except (Pkcs11Error, OSError):
        raise CloudHsmClusterNotActiveException(
            f"The HSM cluster {cluster.cluster_id} is not active."
        ) from None
    present = 0
    for label in cluster.token_labels:
        try:
            module.find_token(label)
        except Pkcs11Error:
            continue
        present += 1
    if present < MIN_HSMS_TO_CREATE:
        raise CloudHsmClusterInvalidConfigurationException(
            f"The HSM cluster {cluster.cluster_id} has {present} active HSM(s); "
            f"a custom key store needs at least {MIN_HSMS_TO_CREATE}."
        )


def create_custom_key_store(call: Call) -> Response:
    request, ctx = call.request, call.ctx
    store_type = request.get("CustomKeyStoreType", "AWS_CLOUDHSM")
    if store_type == "EXTERNAL_KEY_STORE":
        return _create_external(call)
    if any(request.get(m) is not None for m in request if m.startswith("XksProxy")):
        raise ValidationException("XksProxy settings are valid only for EXTERNAL_KEY_STORE.")
    for member in ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword"):
        if not request.get(member):
            raise ValidationException(f"{member} is required for an AWS_CLOUDHSM key store.")
    name = request["CustomKeyStoreName"]
    cluster = _cluster(call, request["CloudHsmClusterId"])
    if not same_certificate(request["TrustAnchorCertificate"], cluster.trust_anchor):
        raise IncorrectTrustAnchorException(
            "The trust anchor certificate does not match the cluster's trust anchor."
        )
    existing = _runtime(call).record_by_name(call.caller.account_id, name)
    if existing is not None and _same_store(call, existing, cluster):
        return {"CustomKeyStoreId": existing.custom_key_store_id}  # an idempotent retry
    _check_cluster_active(cluster)
    store = CustomKeyStore(
        custom_key_store_id=new_custom_key_store_id(),
        account_id=call.caller.account_id,
        name=name,
        cluster_id=cluster.cluster_id,
        trust_anchor=request["TrustAnchorCertificate"],
        connection_state=ConnectionState.DISCONNECTED,
        connection_error_code=None,
        created_at=ctx.clock.now(),
    )
    sealed = ctx.store.seal_secret(
        PASSWORD_PURPOSE, store.custom_key_store_id, request["KeyStorePassword"].encode()
    )
    try:
        _runtime(call).repo.create_store(store, sealed, max_per_account=MAX_STORES_PER_ACCOUNT)
    except CustomKeyStoreConflict as error:
        raise _conflict(error) from None
    _runtime(call).put(store)
    return {"CustomKeyStoreId": store.custom_key_store_id}


def _create_external(call: Call) -> Response:
    store, secret = new_external_store(call)
    sealed = call.ctx.store.seal_secret(
        PASSWORD_PURPOSE, store.custom_key_store_id, secret.encode()
    )
    try:
        _runtime(call).repo.create_store(store, sealed, max_per_account=MAX_STORES_PER_ACCOUNT)
    except CustomKeyStoreConflict as error:
        raise _conflict(error) from None
    _runtime(call).put(store)
    return {"CustomKeyStoreId": store.custom_key_store_id}


def _same_store(call: Call, existing: CustomKeyStore, cluster: HsmCluster) -> bool:
    if existing.cluster_id != cluster.cluster_id or existing.trust_anchor is None:
        return False
    if not same_certificate(existing.trust_anchor, call.request["TrustAnchorCertificate"]):
        return False
    sealed = _runtime(call).repo.sealed_password(existing.custom_key_store_id)
    return (
        sealed is not None
        and call.ctx.store.unseal_secret(PASSWORD_PURPOSE, existing.custom_key_store_id, sealed)
        == call.request["KeyStorePassword"].encode()
    )


def describe_custom_key_stores(call: Call) -> Response:
    request = call.request
    store_id, name = request.get("CustomKeyStoreId"), request.get("CustomKeyStoreName")
    if store_id is not None and name is not None:
        raise ValidationException("Specify CustomKeyStoreId or CustomKeyStoreName, not both.")
    if store_id is not None:
        return {"CustomKeyStores": [owned_store(call, store_id).listing()], "Truncated": False}
    if name is not None:
        store = _runtime(call).record_by_name(call.caller.account_id, name)
        if store is None:
            raise CustomKeyStoreNotFoundException(f"Custom key store {name} does not exist.")
        return {"CustomKeyStores": [store.listing()], "Truncated": False}
    repo, account = _runtime(call).repo, call.caller.account_id
    items, paging = page(
        lambda after, limit: repo.list_stores(account, after, limit),
        lambda store: store.custom_key_store_id,
        request.get("Limit", 100),
        request.get("Marker"),
    )
    return {"CustomKeyStores": [store.listing() for store in items], **paging}


def _require_disconnected(store: CustomKeyStore, operation: str) -> None:
    if store.connection_state is not ConnectionState.DISCONNECTED:
        raise CustomKeyStoreInvalidStateException(
            f"{operation} needs the custom key store {store.custom_key_store_id} to be "
            f"DISCONNECTED; it is {store.connection_state.value}."
        )


def update_custom_key_store(call: Call) -> Response:
    request, ctx = call.request, call.ctx
    store = owned_store(call, request["CustomKeyStoreId"])
    if store.external:
        return _update_external(call, store)
    new_name = request.get("NewCustomKeyStoreName")
    password = request.get("KeyStorePassword")
    new_cluster_id = request.get("CloudHsmClusterId")
    if any(request.get(m) is not None for m in request if m.startswith("Xks")):
        raise UnsupportedOperationException("External key store settings do not apply here.")
    new_cluster = None
    if new_cluster_id is not None and new_cluster_id != store.cluster_id:
        new_cluster = _cluster(call, new_cluster_id)
        # Clusters are related when they share the customer's trust anchor (one backup lineage).
        if store.trust_anchor is None or not same_certificate(
            new_cluster.trust_anchor, store.trust_anchor
        ):
            raise CloudHsmClusterNotRelatedException(
                f"The HSM cluster {new_cluster_id} is not related to the store's cluster."
            )
        _check_cluster_active(new_cluster)
    sealed = (
        None
        if password is None
        else ctx.store.seal_secret(PASSWORD_PURPOSE, store.custom_key_store_id, password.encode())
    )

    def mutate(current: CustomKeyStore) -> CustomKeyStore:
        _require_disconnected(current, "UpdateCustomKeyStore")
        changed = current
        if new_name is not None:
            changed = replace(changed, name=new_name)
        if new_cluster is not None:
            changed = replace(changed, cluster_id=new_cluster.cluster_id)
        return changed

    try:
        updated = _runtime(call).repo.update_store(
            store.custom_key_store_id, ctx.clock.now(), mutate, sealed_password=sealed
        )
    except CustomKeyStoreConflict as error:
        raise _conflict(error) from None
    _runtime(call).put(updated)
    return {}


def _update_external(call: Call, store: CustomKeyStore) -> Response:
    changed, secret = updated_external_store(call, store)
    sealed = (
        None
        if secret is None
        else call.ctx.store.seal_secret(
            PASSWORD_PURPOSE, store.custom_key_store_id, secret.encode()
        )
    )
    must_be_disconnected = changed.xks is not None and (
        store.xks is None
        or changed.xks.uri_endpoint != store.xks.uri_endpoint
        or changed.xks.connectivity != store.xks.connectivity
    )

    def mutate(current: CustomKeyStore) -> CustomKeyStore:
        if must_be_disconnected:
            _require_disconnected(current, "Changing the proxy endpoint or connectivity")
        return replace(current, name=changed.name, xks=changed.xks)

    try:
        updated = _runtime(call).repo.update_store(
            store.custom_key_store_id, call.ctx.clock.now(), mutate, sealed_password=sealed
        )
    except CustomKeyStoreConflict as error:
        raise _conflict(error) from None
    _runtime(call).put(updated)
    return {}


def connect_custom_key_store(call: Call) -> Response:
    ctx, runtime = call.ctx, _runtime(call)
    store = owned_store(call, call.request["CustomKeyStoreId"])
    if store.connection_state in (ConnectionState.FAILED, ConnectionState.DISCONNECTING):
        raise CustomKeyStoreInvalidStateException(
            f"The custom key store {store.custom_key_store_id} is "
            f"{store.connection_state.value}; disconnect it before connecting again."
        )
    if store.connected:
        return {}
    error = (
        connection_error(
            runtime.proxy_client(store, runtime.secret(store.custom_key_store_id)),
            RequestContext(call.caller.principal_arn, "ConnectCustomKeyStore", call.request_id),
        )
        if store.external
        else runtime.connect(store)
    )
    state = ConnectionState.CONNECTED if error is None else ConnectionState.FAILED
    updated = runtime.repo.update_store(
        store.custom_key_store_id,
        ctx.clock.now(),
        lambda current: current.with_connection(state, error),
    )
    runtime.put(updated)
    if error is not None:
        runtime.disconnect(store.custom_key_store_id)
    return {}


def disconnect_custom_key_store(call: Call) -> Response:
    ctx, runtime = call.ctx, _runtime(call)
    store = owned_store(call, call.request["CustomKeyStoreId"])

    def mutate(current: CustomKeyStore) -> CustomKeyStore:
        if current.connection_state in (
            ConnectionState.DISCONNECTED,
            ConnectionState.DISCONNECTING,
        ):
            raise CustomKeyStoreInvalidStateException(
                f"The custom key store {current.custom_key_store_id} is "
                f"{current.connection_state.value}."
            )
        return current.with_connection(ConnectionState.DISCONNECTED)

    updated = runtime.repo.update_store(store.custom_key_store_id, ctx.clock.now(), mutate)
    runtime.put(updated)
    runtime.disconnect(store.custom_key_store_id)
    return {}


def delete_custom_key_store(call: Call) -> Response:
    ctx = call.ctx
    store = owned_store(call, call.request["CustomKeyStoreId"])
    try:
        _runtime(call).repo.delete_store(
            store.custom_key_store_id,
            ctx.clock.now(),
            lambda current: _require_disconnected(current, "DeleteCustomKeyStore"),
        )
    except CustomKeyStoreConflict as error:
        raise _conflict(error) from None
    _runtime(call).forget(store.custom_key_store_id)
    return {}


# --- keys in a custom key store ----------------------------------------------------------


def create_key_in_store(call: Call, *, policy: str, description: str) -> KeyRecord:
    """CreateKey with CustomKeyStoreId: an AES-256 key generated inside the store's cluster.

    The caller (service/keys.py) has read the common parameters; the record is returned
    unsaved with its material reference in ``wrapped`` below.
    """
    request = call.request
    origin = request.get("Origin", Origin.AWS_KMS.value)
    store_id = request.get("CustomKeyStoreId")
    store = None if store_id is None else owned_store(call, store_id)
    if store_id is None or store is None:
        raise UnsupportedOperationException(
            "Origin AWS_CLOUDHSM needs a CustomKeyStoreId naming the key store."
        )
    if origin != Origin.AWS_CLOUDHSM.value or store.external:
        raise UnsupportedOperationException(
            "A key in a custom key store of type AWS_CLOUDHSM needs Origin AWS_CLOUDHSM; "
            "one in an EXTERNAL_KEY_STORE needs Origin EXTERNAL_KEY_STORE and an XksKeyId."
        )
    check_new_key(request, store)
    return KeyRecord(
        key_id=new_key_id(),
        account_id=call.caller.account_id,
        region=call.region,
        created_at=call.ctx.clock.now(),
        state=KeyState.ENABLED,
        description=description,
        origin=Origin.AWS_CLOUDHSM,
        current_material_id=new_material_id(),
        policy=policy,
        custom_key_store_id=store_id,
        cloud_hsm_cluster_id=store.cluster_id,
    )


def generate_random_in_store(call: Call, store_id: str, count: int) -> bytes:
    store = owned_store(call, store_id)
    if store.external:
        raise UnsupportedOperationException(
            "GenerateRandom takes the id of an AWS_CLOUDHSM key store, not of an external "
            "key store."
        )
    if not store.connected:
        raise CustomKeyStoreInvalidStateException(
            f"The custom key store {store_id} is not connected."
        )
    return _runtime(call).cluster(store_id).random(count)


# Those that may load a PKCS#11 module or log in to tokens run off the event loop.
OPERATIONS = (
    Operation(
        "CreateCustomKeyStore",
        create_custom_key_store,
        action="kms:CreateCustomKeyStore",
        blocking=True,
    ),
    Operation(
        "DescribeCustomKeyStores",
        describe_custom_key_stores,
        action="kms:DescribeCustomKeyStores",
    ),
    Operation(
        "UpdateCustomKeyStore",
        update_custom_key_store,
        action="kms:UpdateCustomKeyStore",
        blocking=True,
    ),
    Operation(
        "ConnectCustomKeyStore",
        connect_custom_key_store,
        action="kms:ConnectCustomKeyStore",
        blocking=True,
    ),
    Operation(
        "DisconnectCustomKeyStore",
        disconnect_custom_key_store,
        action="kms:DisconnectCustomKeyStore",
        blocking=True,
    ),
    Operation(
        "DeleteCustomKeyStore",
        delete_custom_key_store,
        action="kms:DeleteCustomKeyStore",
        blocking=True,
    ),
)
