"""A connection to a fresh SoftHSM2 token, for the driver's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strongroom.kms.keystores.pkcs11 import TokenConnection
from tests.support.softhsm import SoftHsmToken


@pytest.fixture
def conn(softhsm_token: SoftHsmToken) -> Iterator[TokenConnection]:
    connection = TokenConnection.open(softhsm_token.module, softhsm_token.label, softhsm_token.pin)
    yield connection
    connection.close()
