"""The one place errors become HTTP responses."""

from __future__ import annotations

import orjson

from strongroom.kms.errors import KmsError


def error_body(error: KmsError) -> bytes:
    """``{"__type", "message"}``; no ``message`` member where AWS sends none."""
    if not error.message:
        return orjson.dumps({"__type": error.code})
    return orjson.dumps({"__type": error.code, "message": error.message})


def error_response(error: KmsError) -> tuple[int, bytes]:
    return error.status, error_body(error)
