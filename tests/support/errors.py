"""Assertions on AWS errors as botocore reports them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError


@dataclass
class CaughtError:
    code: str = ""
    message: str = ""
    status: int = 0


@contextmanager
def aws_error(code: str, status: int | None = None) -> Iterator[CaughtError]:
    """Expect a ClientError with this code (and HTTP status); yields its details."""
    caught = CaughtError()
    with pytest.raises(ClientError) as info:
        yield caught
    error = info.value.response["Error"]
    caught.code = error["Code"]
    caught.message = error.get("Message", "")
    caught.status = info.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert caught.code == code, f"expected {code}, got {caught.code}: {caught.message}"
    if status is not None:
        assert caught.status == status


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(error.response["Error"]["Code"])
