"""Fresh accounts for tests that must not see each other's keys."""

from __future__ import annotations

import uuid

from strongroom.kms.app import open_data_dir
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, IssuedAccessKey
from tests.support.servers import InProcessServer


def new_tenant(server: InProcessServer, prefix: str = "t") -> IssuedAccessKey:
    """The access key of the administrator (``AdministratorAccess``) of a fresh account."""
    data = open_data_dir(server.settings)
    try:
        account = data.admin.create_account(f"{prefix}-{uuid.uuid4().hex[:8]}").account_id
        data.admin.create_user(account, "admin")
        data.admin.put_user_policy(account, "admin", "AdministratorAccess", ADMINISTRATOR_POLICY)
        return data.admin.create_access_key(account, "admin")
    finally:
        data.db.engine.dispose()
