"""The tenant's own controls over what its custom key stores serve to AWS KMS (the XKS proxy).

Strongroom extension operations (not in AWS's model): ListXksKeys, DisableXksKey, EnableXksKey,
ListXksProxyCredentials and DeleteXksProxyCredential. With them the customer cuts AWS off
itself, per external key or per credential, through the KMS API and its IAM policies
(``kms:DisableXksKey`` ...; no KMS key is named, so identity policies decide), effective in
every worker within one change-feed poll. Another account's store does not exist for the
caller. Creating keys and credentials stays with ``strongroom admin xks`` (it logs in to the
HSM cluster from the command's own process).
"""

from __future__ import annotations

from strongroom.kms import messages
from strongroom.kms.errors import NotFoundException, ValidationException
from strongroom.kms.service.custom_key_stores import owned_store
from strongroom.kms.service.pipeline import Call, Operation, Response
from strongroom.kms.storage.xks import XksRepository

_STORE = {"CustomKeyStoreId": "CustomKeyStoreIdType"}
_KEY = {**_STORE, "XksKeyId": "XksKeyIdType"}
INPUT_MEMBERS = {
    "ListXksKeys": _STORE,
    "DisableXksKey": _KEY,
    "EnableXksKey": _KEY,
    "ListXksProxyCredentials": _STORE,
    "DeleteXksProxyCredential": {
        **_STORE,
        "AccessKeyId": "XksProxyAuthenticationAccessKeyIdType",
    },
}


def _required(call: Call, member: str) -> str:
    value = call.request.get(member)
    if value is None:
        path = member[0].lower() + member[1:]
        raise ValidationException(
            messages.validation_errors([messages.violation(" null", path, messages.NOT_NULL)])
        )
    return str(value)


def _repo(call: Call) -> XksRepository:
    return XksRepository(call.ctx.db)


def list_xks_keys(call: Call) -> Response:
    store = owned_store(call, _required(call, "CustomKeyStoreId"))
    keys = _repo(call).keys(store.custom_key_store_id)
    return {"XksKeys": [key.listing() for key in keys]}


def _set_enabled(call: Call, enabled: bool) -> Response:
    store = owned_store(call, _required(call, "CustomKeyStoreId"))
    xks_key_id = _required(call, "XksKeyId")
    if not _repo(call).set_enabled(
        store.custom_key_store_id, xks_key_id, enabled, call.ctx.clock.now()
    ):
        raise NotFoundException(f"External key {xks_key_id} does not exist in this store.")
    return {}


def disable_xks_key(call: Call) -> Response:
    return _set_enabled(call, False)


def enable_xks_key(call: Call) -> Response:
    return _set_enabled(call, True)


def list_xks_proxy_credentials(call: Call) -> Response:
    store = owned_store(call, _required(call, "CustomKeyStoreId"))
    return {
        "Credentials": [
            {"AccessKeyId": akid, "CreationDate": created.timestamp()}
            for akid, created in _repo(call).credentials(store.custom_key_store_id)
        ]
    }


def delete_xks_proxy_credential(call: Call) -> Response:
    store = owned_store(call, _required(call, "CustomKeyStoreId"))
    access_key_id = _required(call, "AccessKeyId")
    owned = {akid for akid, _ in _repo(call).credentials(store.custom_key_store_id)}
    if access_key_id not in owned:
        raise NotFoundException("No such proxy credential in this store.")
    _repo(call).delete_credential(access_key_id, call.ctx.clock.now())
    return {}


EXTENSIONS = (
    Operation("ListXksKeys", list_xks_keys, action="kms:ListXksKeys"),
    Operation("DisableXksKey", disable_xks_key, action="kms:DisableXksKey"),
    Operation("EnableXksKey", enable_xks_key, action="kms:EnableXksKey"),
    Operation(
        "ListXksProxyCredentials", list_xks_proxy_credentials, action="kms:ListXksProxyCredentials"
    ),
    Operation(
        "DeleteXksProxyCredential",
        delete_xks_proxy_credential,
        action="kms:DeleteXksProxyCredential",
    ),
)
