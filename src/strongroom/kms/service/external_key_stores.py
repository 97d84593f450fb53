"""Custom key stores of type EXTERNAL_KEY_STORE: Strongroom as a client of an XKS proxy.

The store's record says where the proxy is and which credential signs for it; the secret is
sealed under the root key with the store's other secrets. Creating a store, changing how it
reaches its proxy, and connecting it each ask the proxy for its health first (AWS does the
same); creating a key asks the proxy for the external key's metadata. See
docs/external-key-stores.md.
"""

from __future__ import annotations

from dataclasses import replace

from strongroom.kms.domain.custom_key_stores import (
    ConnectionErrorCode,
    ConnectionState,
    CustomKeyStore,
    new_custom_key_store_id,
)
from strongroom.kms.domain.enums import KeyState, Origin
from strongroom.kms.domain.external_key_stores import (
    XKS_KEY_ID_PATTERN,
    CustomKeyStoreType,
    XksProxyConnectivity,
    XksProxySettings,
)
from strongroom.kms.domain.ids import new_key_id, new_material_id
from strongroom.kms.domain.key import KeyRecord
from strongroom.kms.errors import (
    CustomKeyStoreInvalidStateException,
    KmsError,
    UnsupportedOperationException,
    ValidationException,
    XksKeyAlreadyInUseException,
    XksKeyInvalidConfigurationException,
    XksKeyNotFoundException,
    XksProxyIncorrectAuthenticationCredentialException,
    XksProxyInvalidConfigurationException,
    XksProxyInvalidResponseException,
    XksProxyUriUnreachableException,
    XksProxyVpcEndpointServiceNotFoundException,
)
from strongroom.kms.keystores.external.proxy_client import (
    ProxyError,
    ProxyFailure,
    RequestContext,
    XksProxyClient,
)
from strongroom.kms.service.custom_store_keys import check_new_key
from strongroom.kms.service.pipeline import Call

_CLOUDHSM_MEMBERS = ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword")
# Settings AWS lets change only while the store is DISCONNECTED.
_NEEDS_DISCONNECTED = (
    "XksProxyUriEndpoint",
    "XksProxyConnectivity",
    "XksProxyVpcEndpointServiceName",
)

_CREATE_ERRORS: dict[ProxyFailure, type[KmsError]] = {
    ProxyFailure.UNREACHABLE: XksProxyUriUnreachableException,
    ProxyFailure.TIMED_OUT: XksProxyUriUnreachableException,
    ProxyFailure.TLS: XksProxyInvalidConfigurationException,
    ProxyFailure.ACCESS_DENIED: XksProxyIncorrectAuthenticationCredentialException,
    ProxyFailure.INVALID_RESPONSE: XksProxyInvalidResponseException,
}
_CONNECTION_ERRORS = {
    ProxyFailure.UNREACHABLE: ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE,
    ProxyFailure.TIMED_OUT: ConnectionErrorCode.XKS_PROXY_TIMED_OUT,
    ProxyFailure.TLS: ConnectionErrorCode.XKS_PROXY_INVALID_TLS_CONFIGURATION,
    ProxyFailure.ACCESS_DENIED: ConnectionErrorCode.XKS_PROXY_ACCESS_DENIED,
    ProxyFailure.INVALID_RESPONSE: ConnectionErrorCode.XKS_PROXY_INVALID_RESPONSE,
}


class _AllUnavailable(Exception):
    """The proxy answered, but none of its key manager instances is available."""


def _context(call: Call, operation: str) -> RequestContext:
    return RequestContext(call.caller.principal_arn, operation, call.request_id)


def _check_health(client: XksProxyClient, context: RequestContext) -> None:
    instances = client.health(context)
    if instances and all(i.get("healthStatus") == "UNAVAILABLE" for i in instances):
        raise _AllUnavailable()


def _test_proxy(client: XksProxyClient, context: RequestContext) -> None:
    """GetHealthStatus, as AWS sends it before saving a store's connection settings."""
    try:
        _check_health(client, context)
    except _AllUnavailable:
        raise XksProxyUriUnreachableException(
            "The external key store proxy reports that none of its key managers is available."
        ) from None
    except ProxyError as error:
        if error.detail.endswith("InvalidUriPathException"):
            raise XksProxyUriUnreachableException(
                "The external key store proxy does not serve the XksProxyUriPath."
            ) from None
        kind = _CREATE_ERRORS.get(error.kind, XksProxyInvalidConfigurationException)
        raise kind(f"The external key store proxy check failed: {error}.") from None


def connection_error(client: XksProxyClient, context: RequestContext) -> ConnectionErrorCode | None:
    """ConnectCustomKeyStore of an external key store: the proxy's health decides."""
    try:
        _check_health(client, context)
    except _AllUnavailable:
        return ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE
    except ProxyError as error:
        if error.detail.endswith("InvalidUriPathException"):
            return ConnectionErrorCode.XKS_PROXY_NOT_REACHABLE
        return _CONNECTION_ERRORS.get(
            error.kind, ConnectionErrorCode.XKS_PROXY_INVALID_CONFIGURATION
        )
    return None


def _credential(request: dict[str, object] | object) -> tuple[str, str]:
    if not isinstance(request, dict):
        raise ValidationException("XksProxyAuthenticationCredential is required.")
    access_key_id, secret = request.get("AccessKeyId"), request.get("RawSecretAccessKey")
    if not isinstance(access_key_id, str) or not isinstance(secret, str):
        raise ValidationException(
            "XksProxyAuthenticationCredential needs AccessKeyId and RawSecretAccessKey."
        )
    return access_key_id, secret


def _check_connectivity(connectivity: str, vpc_service: object) -> XksProxyConnectivity:
    if connectivity == XksProxyConnectivity.VPC_ENDPOINT_SERVICE.value:
        if not vpc_service:
            raise ValidationException(
                "XksProxyVpcEndpointServiceName is required for VPC_ENDPOINT_SERVICE connectivity."
            )
        # Strongroom runs in no Amazon VPC: no endpoint service can ever be found.
        raise XksProxyVpcEndpointServiceNotFoundException(
            f"The VPC endpoint service {vpc_service} was not found: Strongroom reaches external "
            "key store proxies through PUBLIC_ENDPOINT connectivity only."
        )
    if vpc_service:
        raise ValidationException(
            "XksProxyVpcEndpointServiceName is valid only with VPC_ENDPOINT_SERVICE connectivity."
        )
    return XksProxyConnectivity.PUBLIC_ENDPOINT


def new_external_store(call: Call) -> tuple[CustomKeyStore, str]:
    """CreateCustomKeyStore's EXTERNAL_KEY_STORE branch: the checked store and its secret.
    The proxy has answered a signed GetHealthStatus with these settings."""
    request = call.request
    given = [m for m in _CLOUDHSM_MEMBERS if request.get(m) is not None]
    if given:
        raise ValidationException(f"{given[0]} is not valid for an EXTERNAL_KEY_STORE key store.")
    for member in ("XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyConnectivity"):
        if not request.get(member):
            raise ValidationException(f"{member} is required for an EXTERNAL_KEY_STORE key store.")
    connectivity = _check_connectivity(
        request["XksProxyConnectivity"], request.get("XksProxyVpcEndpointServiceName")
    )
    access_key_id, secret = _credential(request.get("XksProxyAuthenticationCredential"))
    store = CustomKeyStore(
        custom_key_store_id=new_custom_key_store_id(),
        account_id=call.caller.account_id,
        name=request["CustomKeyStoreName"],
        cluster_id=None,
        trust_anchor=None,
        connection_state=ConnectionState.DISCONNECTED,
        connection_error_code=None,
        created_at=call.ctx.clock.now(),
        store_type=CustomKeyStoreType.EXTERNAL_KEY_STORE,
        xks=XksProxySettings(
            uri_endpoint=request["XksProxyUriEndpoint"],
            uri_path=request["XksProxyUriPath"],
            connectivity=connectivity,
            access_key_id=access_key_id,
        ),
    )
    runtime = call.ctx.custom_stores
    assert runtime is not None
    _test_proxy(runtime.proxy_client(store, secret), _context(call, "CreateCustomKeyStore"))
    return store, secret


def updated_external_store(call: Call, store: CustomKeyStore) -> tuple[CustomKeyStore, str | None]:
    """UpdateCustomKeyStore of an external key store: the store as it will be, and the new
    secret if one was given. New connection settings are tested against the proxy first."""
    request = call.request
    assert store.xks is not None
    given = [m for m in ("CloudHsmClusterId", "KeyStorePassword") if request.get(m) is not None]
    if given:
        raise UnsupportedOperationException(f"{given[0]} does not apply to an external key store.")
    if store.connection_state is not ConnectionState.DISCONNECTED:
        for member in _NEEDS_DISCONNECTED:
            if request.get(member) is not None:
                raise CustomKeyStoreInvalidStateException(
                    f"Changing {member} needs the custom key store {store.custom_key_store_id} "
                    f"to be DISCONNECTED; it is {store.connection_state.value}."
                )
    xks = store.xks
    connectivity = request.get("XksProxyConnectivity")
    if connectivity is not None or request.get("XksProxyVpcEndpointServiceName"):
        xks = replace(
            xks,
            connectivity=_check_connectivity(
                connectivity or xks.connectivity.value,
                request.get("XksProxyVpcEndpointServiceName"),
            ),
        )
    if request.get("XksProxyUriEndpoint") is not None:
        xks = replace(xks, uri_endpoint=request["XksProxyUriEndpoint"])
    if request.get("XksProxyUriPath") is not None:
        xks = replace(xks, uri_path=request["XksProxyUriPath"])
    secret = None
    if request.get("XksProxyAuthenticationCredential") is not None:
        access_key_id, secret = _credential(request["XksProxyAuthenticationCredential"])
        xks = replace(xks, access_key_id=access_key_id)
    updated = replace(store, xks=xks)
    if request.get("NewCustomKeyStoreName") is not None:
        updated = replace(updated, name=request["NewCustomKeyStoreName"])
    if xks != store.xks or secret is not None:
        runtime = call.ctx.custom_stores
        assert runtime is not None
        current = secret if secret is not None else runtime.secret(store.custom_key_store_id)
        _test_proxy(runtime.proxy_client(updated, current), _context(call, "UpdateCustomKeyStore"))
    return updated, secret


# --- keys ------------------------------------------------------------------------------------


def new_external_key(
    call: Call, store: CustomKeyStore, *, policy: str, description: str
) -> KeyRecord:
    """CreateKey with Origin EXTERNAL_KEY_STORE: the proxy must know the external key, and it
    must be an enabled AES-256 key for encryption and decryption (AWS's check)."""
    request = call.request
    xks_key_id = request.get("XksKeyId")
    if not xks_key_id:
        raise ValidationException("XksKeyId is required for a key with Origin EXTERNAL_KEY_STORE.")
    if not XKS_KEY_ID_PATTERN.fullmatch(xks_key_id):
        raise ValidationException("XksKeyId is not a valid external key id.")
    if not store.external:
        raise UnsupportedOperationException(
            "Origin EXTERNAL_KEY_STORE needs a custom key store of type EXTERNAL_KEY_STORE."
        )
    check_new_key(request, store)
    if call.ctx.keys.key_of_external_key(store.custom_key_store_id, xks_key_id) is not None:
        raise XksKeyAlreadyInUseException(
            f"The external key {xks_key_id} is already associated with a KMS key in this "
            "external key store."
        )
    runtime = call.ctx.custom_stores
    assert runtime is not None
    try:
        metadata = runtime.proxy(store.custom_key_store_id).key_metadata(
            xks_key_id, _context(call, "CreateKey")
        )
    except ProxyError as error:
        if error.kind is ProxyFailure.KEY_NOT_FOUND:
            raise XksKeyNotFoundException(
                f"The external key store proxy does not know the external key {xks_key_id}."
            ) from None
        raise CustomKeyStoreInvalidStateException(
            f"The external key store proxy could not be asked about the external key: {error}."
        ) from None
    if not metadata.usable:
        raise XksKeyInvalidConfigurationException(
            f"The external key {xks_key_id} must be an enabled AES_256 key for ENCRYPT and "
            f"DECRYPT; the proxy says {metadata.key_spec}, {'/'.join(metadata.key_usage)}, "
            f"{metadata.key_status}."
        )
    return KeyRecord(
        key_id=new_key_id(),
        account_id=call.caller.account_id,
        region=call.region,
        created_at=call.ctx.clock.now(),
        state=KeyState.ENABLED,
        description=description,
        origin=Origin.EXTERNAL_KEY_STORE,
        current_material_id=new_material_id(),
        policy=policy,
        custom_key_store_id=store.custom_key_store_id,
        xks_key_id=xks_key_id,
    )
