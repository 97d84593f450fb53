"""KMIP calls are authorized by IAM and key policies (kms:ExportKeyMaterial for Get) and
recorded in the account's audit trail as Kmip<Operation> events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kmip.core import enums
from kmip.pie.exceptions import KmipOperationFailure

from strongroom.kms.app import open_data_dir
from strongroom.kms.config import load_settings
from tests.kmip.conftest import Tenant
from tests.support.kmip import KmipWorld


def _policy(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


@pytest.fixture
def limited(world: KmipWorld, tenant: Tenant) -> Iterator[tuple[Any, str]]:
    """A user that may create, describe and enable keys, but not export them, and its client."""
    name = f"kmip-{uuid.uuid4().hex[:8]}"
    data = open_data_dir(load_settings(world.server.data_dir))
    try:
        data.admin.create_user(tenant.account_id, name)
        data.admin.put_user_policy(
            tenant.account_id,
            name,
            "kmip",
            _policy("kms:CreateKey", "kms:DescribeKey", "kms:EnableKey"),
        )
    finally:
        data.db.engine.dispose()
    pair = world.pki.client(name)
    world.register(pair, f"arn:aws:iam::{tenant.account_id}:user/{name}")
    client = world.proxy(pair)
    yield client, name
    client.close()


def test_get_needs_kms_export_key_material(
    world: KmipWorld, tenant: Tenant, limited: tuple[Any, str]
) -> None:
    client, name = limited
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    with pytest.raises(KmipOperationFailure) as denied:
        client.get(uid)
    assert denied.value.reason == enums.ResultReason.PERMISSION_DENIED
    assert "kms:ExportKeyMaterial" in denied.value.message
    data = open_data_dir(load_settings(world.server.data_dir))
    try:
        data.admin.put_user_policy(
            tenant.account_id, name, "export", _policy("kms:ExportKeyMaterial")
        )
    finally:
        data.db.engine.dispose()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert len(client.get(uid).value) == 32
            break
        except KmipOperationFailure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_a_removed_client_certificate_stops_working(world: KmipWorld, tenant: Tenant) -> None:
    from strongroom.kms.service.kmip_admin import KmipAdmin
    from strongroom.kms.storage.identity import IdentityRepository
    from strongroom.kms.storage.kmip import KmipRepository

    pair = world.pki.client(f"removed-{uuid.uuid4().hex[:8]}")
    world.register(pair, tenant.principal_arn)
    client = world.proxy(pair)
    try:
        client.create(enums.CryptographicAlgorithm.AES, 256)
        data = open_data_dir(load_settings(world.server.data_dir))
        try:
            admin = KmipAdmin(KmipRepository(data.db), IdentityRepository(data.db), data.clock)
            fingerprint = admin.list_clients(tenant.account_id)[-1].fingerprint
            admin.remove_client(fingerprint)
        finally:
            data.db.engine.dispose()
        time.sleep(1.1)  # the documented bound: lookups are remembered for one second
        with pytest.raises(KmipOperationFailure) as failure:
            client.create(enums.CryptographicAlgorithm.AES, 256)
        assert failure.value.reason == enums.ResultReason.AUTHENTICATION_NOT_SUCCESSFUL
    finally:
        client.close()


def test_each_call_is_audited_with_the_principal_and_key(
    world: KmipWorld, tenant: Tenant, proxy: Any
) -> None:
    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    proxy.get(uid)
    with pytest.raises(KmipOperationFailure):
        proxy.encrypt(
            b"x", uid=uid, cryptographic_parameters={"block_cipher_mode": enums.BlockCipherMode.CBC}
        )
    arn = f"arn:aws:kms:{world.server.region}:{tenant.account_id}:key/{uid}"
    deadline = time.monotonic() + 5
    while True:
        events = [e for e in world.server.audit.events if arn in e.resources]
        names = [e.operation for e in events]
        if {"KmipCreate", "KmipGet", "KmipEncrypt"} <= set(names) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert names[:3] == ["KmipCreate", "KmipGet", "KmipEncrypt"]
    assert all(e.principal_arn == tenant.principal_arn for e in events)
    assert all(e.access_key_id.startswith("kmip:") for e in events)
    assert [e.error_code for e in events[:3]] == [None, None, "DisabledException"]


def test_the_exposure_report_marks_kmip_objects_exportable(
    world: KmipWorld, tenant: Tenant, proxy: Any
) -> None:
    from datetime import UTC, datetime

    from strongroom.kms.governance.exposure import accounts_report

    uid = proxy.create(enums.CryptographicAlgorithm.AES, 256)
    plain = tenant.kms.create_key()["KeyMetadata"]["KeyId"]
    data = open_data_dir(load_settings(world.server.data_dir))
    try:
        report = accounts_report(data.db, [tenant.account_id], datetime.now(UTC))
    finally:
        data.db.engine.dispose()
    rows = {row.key_arn.rsplit("/", 1)[-1]: row for row in report.keys}
    assert rows[uid].exposure == "exportable"
    assert "kms:ExportKeyMaterial" in rows[uid].how
    assert tenant.principal_arn in rows[uid].how
    assert rows[plain].exposure == "provider-under-quorum"
    assert report.counts["exportable"] >= 1
