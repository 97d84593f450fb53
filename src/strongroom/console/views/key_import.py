"""Importing key material into an EXTERNAL key, with the material wrapped in the browser.

The page asks the KMS for import parameters (GetParametersForImport: RSAES_OAEP_SHA_256 with
an RSA_2048 wrapping key) as the signed-in principal and shows the wrapping public key; the
page's script wraps the key material file the user picks with WebCrypto (RSA-OAEP, SHA-256),
so the plaintext material never reaches the server, and the form sends the wrapped material
and the import token to ImportKeyMaterial. Without the script, ``strongroom byok import``
does the same from a terminal.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from strongroom.console.http import Response
from strongroom.console.kms import KmsCallError
from strongroom.console.pages import Page, PageContext
from strongroom.console.views.key_forms import key_page

ALGORITHM = "RSAES_OAEP_SHA_256"
WRAPPING_KEY_SPEC = "RSA_2048"


def import_form(ctx: PageContext, key_id: str, error: KmsCallError | None = None) -> Page:
    params = ctx.attempt(
        "GetParametersForImport",
        {"KeyId": key_id, "WrappingAlgorithm": ALGORITHM, "WrappingKeySpec": WRAPPING_KEY_SPEC},
    )
    scheme = "https" if ctx.request.secure else "http"
    return Page(
        "key_import.html",
        {
            "key_id": key_id,
            "params": params,
            "error": error,
            "endpoint": f"{scheme}://{ctx.request.headers.get('host', '')}",
        },
        400 if error is not None else (200 if params.ok else 403),
        title=f"Import key material into {key_id}",
    )


def _request(ctx: PageContext, key_id: str) -> dict[str, Any]:
    field = ctx.request.field
    wrapped = "".join(field("wrapped").split())
    try:
        if not wrapped or len(base64.b64decode(wrapped, validate=True)) < 16:
            raise ValueError
    except (binascii.Error, ValueError):
        raise KmsCallError(
            "Not sent", "Wrap the key material first (the wrapped material is base64)."
        ) from None
    request: dict[str, Any] = {
        "KeyId": key_id,
        "ImportToken": field("import_token"),
        "EncryptedKeyMaterial": wrapped,
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
    if field("expires") == "yes":
        try:
            day = datetime.strptime(field("valid_to"), "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise KmsCallError("Not sent", "Give the expiry date as YYYY-MM-DD.") from None
        request["ExpirationModel"] = "KEY_MATERIAL_EXPIRES"
        request["ValidTo"] = day.timestamp()
    return request


def import_material(ctx: PageContext, key_id: str) -> Page | Response:
    try:
        ctx.call("ImportKeyMaterial", _request(ctx, key_id))
    except KmsCallError as error:
        return import_form(ctx, key_id, error)
    return key_page(key_id, "import")
