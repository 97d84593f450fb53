"""Shared by the XKS proxy tests: one server, two tenants with a store, a key and credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import load_settings
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY
from tests.support.servers import InProcessServer, in_process_server
from tests.support.xks import Tenant, make_tenant


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("xks")) as running:
        yield running


@pytest.fixture(scope="package")
def tenant(server: InProcessServer) -> Tenant:
    return make_tenant(server, server.admin_key)


@pytest.fixture(scope="package")
def other_tenant(server: InProcessServer) -> Tenant:
    """A second account with its own store, key and proxy credentials."""
    data = open_data_dir(load_settings(server.data_dir))
    try:
        account = data.admin.create_account("other")
        data.admin.create_user(account.account_id, "admin")
        data.admin.put_user_policy(account.account_id, "admin", "all", ADMINISTRATOR_POLICY)
        issued = data.admin.create_access_key(account.account_id, "admin")
    finally:
        data.db.engine.dispose()
    return make_tenant(server, issued)
