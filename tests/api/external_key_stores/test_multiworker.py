"""An external key store behind a real ``strongroom serve`` with two worker processes: each
worker keeps its own client of the proxy; a rotated credential and a disconnect made through
one worker are in force in both within a second (the change feed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from strongroom.kms.config import config_file
from tests.support import propagation
from tests.support.processes import uvicorn_workers
from tests.support.raw_kms import RawKms, Reply, connect_to_each_worker
from tests.support.servers import InProcessServer, ServerProcess, server_process
from tests.support.store_disconnect import check_disconnect_reaches_every_worker, key_or_error
from tests.support.xks import Tenant, admin, make_tenant

ENDPOINT = "https://xks-multiworker.test"


@dataclass
class Deployment:
    server: ServerProcess
    workers: list[int]
    proxy: InProcessServer
    tenant: Tenant  # at the proxy: its own store, credential and external key
    store_id: str
    key_id: str
    key_arn: str

    def pin(self) -> dict[int, RawKms]:
        return connect_to_each_worker(self.server.endpoint, self.server.admin_key, self.workers)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, proxy_server: InProcessServer
) -> Iterator[Deployment]:
    tenant = make_tenant(proxy_server, proxy_server.admin_key)
    data_dir = tmp_path_factory.mktemp("xks-multiworker") / "data"
    data_dir.mkdir(mode=0o700)
    config_file(data_dir).write_text(
        f'xks_proxy_connect_to = "{ENDPOINT}={proxy_server.endpoint}"\n'
        "xks_proxy_timeout_seconds = 2.0\n"
    )
    with server_process(data_dir, 2) as running:
        assert running.process is not None
        client = running.client()
        store_id = client.create_custom_key_store(
            CustomKeyStoreName="shared-xks",
            CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyConnectivity="PUBLIC_ENDPOINT",
            XksProxyUriEndpoint=ENDPOINT,
            XksProxyUriPath=tenant.xks.uri_path,
            XksProxyAuthenticationCredential={
                "AccessKeyId": tenant.xks.access_key_id,
                "RawSecretAccessKey": tenant.xks.secret,
            },
        )["CustomKeyStoreId"]
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
        meta = client.create_key(
            CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=tenant.key_id
        )["KeyMetadata"]
        yield Deployment(
            running,
            uvicorn_workers(running.process.pid),
            proxy_server,
            tenant,
            store_id,
            meta["KeyId"],
            meta["Arn"],
        )


def test_a_rotated_credential_reaches_every_worker(deployment: Deployment) -> None:
    pinned, control = deployment.pin(), deployment.pin()
    server = deployment.server

    def request(conn: RawKms) -> Reply:
        return conn.encrypt(deployment.key_id)

    # Both workers hold a client of the proxy with the first credential.
    propagation.warm(
        pinned, server.endpoint, server.admin_key, request, deployment.key_arn, read=key_or_error
    )
    # The spec's rotation: a second credential at the proxy, KMS told through one worker,
    # then the first credential deleted at the proxy.
    new = admin(
        deployment.proxy,
        "xks",
        "create-credential",
        "--custom-key-store",
        deployment.tenant.store_id,
    )["XksProxyAuthenticationCredential"]
    reply = control[deployment.workers[1]].call(
        "UpdateCustomKeyStore",
        {"CustomKeyStoreId": deployment.store_id, "XksProxyAuthenticationCredential": new},
    )
    assert reply.status == 200, reply
    time.sleep(propagation.DEADLINE)  # every KMS worker has dropped its old client by then
    admin(deployment.proxy, "xks", "delete-credential", deployment.tenant.xks.access_key_id)
    time.sleep(propagation.DEADLINE)  # and the proxy's worker has forgotten the old one
    propagation.warm(
        pinned, server.endpoint, server.admin_key, request, deployment.key_arn, read=key_or_error
    )


def test_a_disconnect_reaches_every_worker_within_a_second(deployment: Deployment) -> None:
    check_disconnect_reaches_every_worker(deployment)
