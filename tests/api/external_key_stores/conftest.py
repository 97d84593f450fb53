"""Two Strongroom servers on loopback (one the KMS, one the XKS proxy in front of SoftHSM) and
a misbehaving proxy. The KMS dials them by name through ``xks_proxy_connect_to``, as an
operator would route AWS-style https endpoints to a lab address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.bad_xks_proxy import BadProxy, bad_proxy
from tests.support.servers import InProcessServer, free_port, in_process_server
from tests.support.tenants import new_tenant
from tests.support.xks import Tenant, make_tenant

# Strongroom's own proxy, under several names: the endpoint and path name one store of an
# account (XksProxyUriInUseException), so each test takes its own name.
PROXIES = tuple(f"https://xks-proxy-{n}.test" for n in range(8))
BAD = "https://bad-proxy.test"  # the misbehaving one
CLOSED = "https://closed.test"  # nobody listens there
TIMEOUT = 1.5  # generous for a loaded 2-core box; the slow proxy waits 3 s


@dataclass
class World:
    kms: InProcessServer
    proxy: InProcessServer
    tenant: Tenant  # the proxy's tenant: its store, credential and external key
    bad: BadProxy
    # The account of the current test (an account has at most 10 custom key stores).
    account: IssuedAccessKey | None = None

    def client(self) -> Any:
        return self.kms.client(self.account)

    def create_store(self, endpoint: str = PROXIES[0], **overrides: Any) -> str:
        """An external key store of the KMS's admin pointing at Strongroom's proxy."""
        request: dict[str, Any] = {
            "CustomKeyStoreName": f"xks-{uuid.uuid4().hex[:8]}",
            "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
            "XksProxyConnectivity": "PUBLIC_ENDPOINT",
            "XksProxyUriEndpoint": endpoint,
            "XksProxyUriPath": self.tenant.xks.uri_path,
            "XksProxyAuthenticationCredential": {
                "AccessKeyId": self.tenant.xks.access_key_id,
                "RawSecretAccessKey": self.tenant.xks.secret,
            },
        }
        request.update(overrides)
        return str(self.client().create_custom_key_store(**request)["CustomKeyStoreId"])

    def create_bad_store(self, path: str | None = None, **overrides: Any) -> str:
        """A store pointing at the misbehaving proxy (in its current mode)."""
        return self.create_store(
            BAD,
            XksProxyUriPath=path or f"/p{uuid.uuid4().hex[:10]}/kms/xks/v1",
            XksProxyAuthenticationCredential={
                "AccessKeyId": "ABCDEFGHIJKLMNOPQRST",
                "RawSecretAccessKey": "a" * 43,
            },
            **overrides,
        )

    def store(self, store_id: str) -> dict[str, Any]:
        stores = self.client().describe_custom_key_stores(CustomKeyStoreId=store_id)
        entry: dict[str, Any] = stores["CustomKeyStores"][0]
        return entry


@pytest.fixture(scope="package")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("xks-proxy")) as running:
        yield running


@pytest.fixture(scope="package")
def misbehaving() -> Iterator[BadProxy]:
    with bad_proxy() as proxy:
        yield proxy


@pytest.fixture(scope="package")
def world(
    tmp_path_factory: pytest.TempPathFactory,
    proxy_server: InProcessServer,
    misbehaving: BadProxy,
) -> Iterator[World]:
    tenant = make_tenant(proxy_server, proxy_server.admin_key)
    routes = ",".join(
        (
            *(f"{name}={proxy_server.endpoint}" for name in PROXIES),
            f"{BAD}={misbehaving.endpoint}",
            f"{CLOSED}=http://127.0.0.1:{free_port()}",
        )
    )
    with in_process_server(
        tmp_path_factory.mktemp("xks-kms"),
        xks_proxy_connect_to=routes,
        xks_proxy_timeout_seconds=TIMEOUT,
    ) as kms:
        yield World(kms, proxy_server, tenant, misbehaving)


@pytest.fixture(autouse=True)
def own_account(world: World) -> Iterator[None]:
    """Every test in an account of its own."""
    world.account = new_tenant(world.kms, "x")
    yield
    world.account = None


@pytest.fixture
def bad(world: World) -> Iterator[BadProxy]:
    """The misbehaving proxy, back in good mode after each test."""
    world.bad.mode = "good"
    yield world.bad
    world.bad.mode = "good"
