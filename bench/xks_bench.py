"""XKS Encrypt through Strongroom's proxy, side by side with raw python-pkcs11 on the same token.

Sets up a private SoftHSM2 two-token cluster, a connected custom key store, an external key and
proxy credentials, then measures, one thread each, medians of ``--runs`` runs of ``--seconds``:

* raw: python-pkcs11 AES-256-GCM ``C_Encrypt`` with the external key's token object (fresh
  12-byte IV per call): the floor any proxy in front of this HSM pays;
* the key store layer: ``HsmKeyCipher.encrypt`` (session copy, failover, IV), as the proxy uses it;
* Strongroom: the whole XKS Encrypt request (SigV4 for ``kms-xks-proxy``, JSON, cached lookups,
  the token's GCM, audit record) through the real ASGI app in memory, without and with the
  integrity value (CDIV: one more C_Decrypt);
* the routing check every KMS request now pays (``POST /``), in ns.

No socket is involved (see run_kms_bench.py for the HTTP stack's own cost).

``--client`` measures the other side instead (Strongroom as a client of an external key store,
docs/external-key-stores.md), over real loopback sockets with two in-process servers: a KMS
Encrypt on a key of an external key store (double encryption: the KMS's own GCM, then an XKS
Encrypt at the proxy, a Strongroom in front of SoftHSM2), next to a KMS Encrypt on a default-store
key, the proxy's XKS Encrypt alone, and raw python-pkcs11 on the proxy's token key.

    .venv/bin/python bench/xks_bench.py
    .venv/bin/python bench/xks_bench.py --client --seconds 0.5 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import http.client
import json
import os
import sys
import tempfile
import timeit
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from custom_key_store_bench import InMemoryApi, medians, raw_gcm  # noqa: E402

HOST = "127.0.0.1:8080"


def ops_per_second(work: Callable[[], object], seconds: float, runs: int) -> float:
    """Median calls per second of wall time over ``runs`` runs of ``seconds``."""
    return medians({"work": work}, seconds, runs)["work"][0]


def xks_scope_and_body(
    configuration: dict[str, Any], key_id: str, size: int, cdiv: bool
) -> tuple[dict[str, Any], bytes]:
    path = f"{configuration['XksProxyUriPath']}/keys/{key_id}/encrypt"
    body: dict[str, Any] = {
        "requestMetadata": {
            "awsPrincipalArn": "arn:aws:iam::111122223333:user/Alice",
            "kmsKeyArn": f"arn:aws:kms:eu-west-1:111122223333:key/{uuid.uuid4()}",
            "kmsOperation": "GenerateDataKey",
            "kmsRequestId": str(uuid.uuid4()),
        },
        "plaintext": base64.b64encode(os.urandom(size)).decode(),
        "additionalAuthenticatedData": base64.b64encode(os.urandom(64)).decode(),
        "encryptionAlgorithm": "AES_GCM",
    }
    if cdiv:
        body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url=f"http://{HOST}{path}",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    credential = configuration["XksProxyAuthenticationCredential"]
    SigV4Auth(
        Credentials(credential["AccessKeyId"], credential["RawSecretAccessKey"]),
        "kms-xks-proxy",
        "eu-west-1",
    ).add_auth(request)
    headers = [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
    headers += [(b"host", HOST.encode()), (b"content-length", str(len(data)).encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
    }
    return scope, data


def asgi_repeater(app: Any, scope: dict[str, Any], body: bytes) -> Callable[[], object]:
    loop = asyncio.new_event_loop()
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    def once() -> object:
        loop.run_until_complete(app(scope, receive, send))
        if status.pop() != 200:
            raise RuntimeError("XKS Encrypt failed")
        return None

    return once


def client_side(seconds: float, runs: int) -> None:
    """KMS Encrypt through an external key store, over sockets, against its parts."""
    from contextlib import ExitStack

    from tests.support import softhsm

    softhsm.configure_session()
    from tests.support.raw_kms import RawKms
    from tests.support.servers import in_process_server
    from tests.support.xks import make_tenant

    from strongroom.kms.keystores.pkcs11 import load_module

    endpoint = "https://xks-bench.test"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="strongroom-xks-")))
        proxy = stack.enter_context(in_process_server(tmp / "proxy"))
        tenant = make_tenant(proxy, proxy.admin_key)
        kms = stack.enter_context(
            in_process_server(
                tmp / "kms",
                xks_proxy_connect_to=f"{endpoint}={proxy.endpoint}",
                xks_proxy_timeout_seconds=5.0,
            )
        )
        client = kms.client()
        store_id = client.create_custom_key_store(
            CustomKeyStoreName="bench",
            CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyConnectivity="PUBLIC_ENDPOINT",
            XksProxyUriEndpoint=endpoint,
            XksProxyUriPath=tenant.xks.uri_path,
            XksProxyAuthenticationCredential={
                "AccessKeyId": tenant.xks.access_key_id,
                "RawSecretAccessKey": tenant.xks.secret,
            },
        )["CustomKeyStoreId"]
        client.connect_custom_key_store(CustomKeyStoreId=store_id)
        external = client.create_key(
            CustomKeyStoreId=store_id, Origin="EXTERNAL_KEY_STORE", XksKeyId=tenant.key_id
        )["KeyMetadata"]["KeyId"]
        default = client.create_key()["KeyMetadata"]["KeyId"]
        raw = RawKms(kms.endpoint, kms.admin_key)
        stack.callback(raw.close)

        def encrypt(key_id: str) -> Callable[[], object]:
            def once() -> object:
                reply = raw.encrypt(key_id, b"k" * 32)
                if reply.status != 200:
                    raise RuntimeError(f"Encrypt failed: {reply}")
                return None

            return once

        def xks_encrypt() -> object:
            status, _ = tenant.xks.encrypt(tenant.key_id, b"k" * 48, b"a" * 32)
            if status != 200:
                raise RuntimeError("XKS Encrypt failed")
            return None

        results: dict[str, float] = {}
        # Alternated, so that a change of the machine's load hits both alike.
        for _ in range(runs):
            for name, work in (
                ("KMS Encrypt, default-store key", encrypt(default)),
                ("KMS Encrypt, external key store key", encrypt(external)),
            ):
                results[name] = max(results.get(name, 0.0), ops_per_second(work, seconds, 1))
        tenant.xks.connection = http.client.HTTPConnection(
            proxy.endpoint.removeprefix("http://"), timeout=10
        )
        results["XKS Encrypt at the proxy alone"] = ops_per_second(xks_encrypt, seconds, runs)
        module = load_module(softhsm.MODULE)
        # This process's proxy worker is logged in to the token already.
        with module.find_token(tenant.cluster.tokens[0].label).open() as session:
            token_key = session.get_key(label=f"strongroom-xks/{tenant.store_id}/{tenant.key_id}")
            results["raw python-pkcs11, the proxy's token key"] = ops_per_second(
                raw_gcm(token_key, os.urandom(48)), seconds, runs
            )
    floor = results["raw python-pkcs11, the proxy's token key"]
    print(f"load average: {os.getloadavg()[0]:.2f}; best of {runs} x {seconds} s, 32 B plaintext")
    print(f"{'':<44} {'ops/s':>10} {'vs raw':>8}")
    for name, rate in results.items():
        print(f"{name:<44} {rate:>10,.0f} {rate / floor:>8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--client", action="store_true", help="Strongroom as a client of an external key store"
    )
    args = parser.parse_args()
    if args.client:
        client_side(args.seconds, args.runs)
    else:
        proxy_side(args)


def proxy_side(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="strongroom-xks-bench-") as tmp:
        from tests.support import softhsm

        softhsm.configure_session()
        tokens = [softhsm.create_token("bench") for _ in range(2)]

        from tests.support.hsm_clusters import new_cluster_id, trust_anchor_pem

        from strongroom.kms.app import create_app, initialize, open_data_dir
        from strongroom.kms.config import load_settings
        from strongroom.kms.keystores.pkcs11 import load_module
        from strongroom.kms.service.xks_admin import XksAdmin
        from strongroom.kms.storage.custom_key_stores import CustomKeyStoreRepository
        from strongroom.kms.storage.xks import XksRepository

        # This harness starts no audit writer thread: with the default before-response
        # durability every call would wait for a commit that never comes (then 503), as in
        # custom_key_store_bench.py. Buffered, with a deep queue.
        settings = load_settings(Path(tmp) / "data").with_overrides(
            request_quotas="off", audit_durability="buffered", audit_max_pending=10_000_000
        )
        _, issued = initialize(settings)
        assert issued is not None
        cluster_id, anchor = new_cluster_id(), trust_anchor_pem()
        data = open_data_dir(settings)
        data.hsm_clusters.register(cluster_id, softhsm.MODULE, [t.label for t in tokens], anchor)
        app = create_app(settings)
        kms = InMemoryApi(app, (issued.access_key_id, issued.secret_access_key))
        store_id = kms.call(
            "CreateCustomKeyStore",
            {
                "CustomKeyStoreName": "bench",
                "CloudHsmClusterId": cluster_id,
                "TrustAnchorCertificate": anchor,
                "KeyStorePassword": tokens[0].pin,
            },
        )["CustomKeyStoreId"]
        kms.call("ConnectCustomKeyStore", {"CustomKeyStoreId": store_id})
        xks_admin = XksAdmin(
            XksRepository(data.db), CustomKeyStoreRepository(data.db), data.store, data.clock
        )
        key = xks_admin.create_key(store_id)
        configuration = xks_admin.create_credential(store_id).configuration()
        data.db.engine.dispose()

        results: dict[str, dict[int, float]] = {}
        for name, cdiv in (("Strongroom XKS Encrypt", False), ("  ... with CDIV", True)):
            for size in (32, 4096):
                scope, body = xks_scope_and_body(configuration, key.xks_key_id, size, cdiv)
                results.setdefault(name, {})[size] = ops_per_second(
                    asgi_repeater(app, scope, body), args.seconds, args.runs
                )
        cipher = app.xks._proxy._catalog.cipher(key)  # type: ignore[union-attr]
        for size in (32, 4096):
            plaintext = os.urandom(size)
            results.setdefault("key store layer (HsmKeyCipher)", {})[size] = ops_per_second(
                functools.partial(cipher.encrypt, plaintext, b"aad"), args.seconds, args.runs
            )
        module = load_module(softhsm.MODULE)
        with module.find_token(tokens[0].label).open() as session:
            token_key = session.get_key(label=key.label)
            for size in (32, 4096):
                results.setdefault("raw python-pkcs11, the same token key", {})[size] = (
                    ops_per_second(raw_gcm(token_key, os.urandom(size)), args.seconds, args.runs)
                )
        kms_scope: dict[str, Any] = {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": [
                (
                    b"authorization",
                    b"AWS4-HMAC-SHA256 Credential=AKIA/20261205/us-east-1/kms/aws4_request",
                )
            ],
        }
        xks = app.xks

        def route() -> bool:  # what AsgiApp.__call__ asks of every request
            return (
                xks is not None and kms_scope["path"].startswith("/xks/") and xks.claims(kms_scope)
            )

        routing_ns = min(timeit.repeat(route, number=100_000, repeat=5)) * 1e4
        app._on_shutdown()

    raw = results["raw python-pkcs11, the same token key"]
    print(f"load average: {os.getloadavg()[0]:.2f}; medians of {args.runs} x {args.seconds} s")
    print(f"{'':<40} {'32 B ops/s':>12} {'4 KiB ops/s':>12} {'vs raw 32 B':>12} {'4 KiB':>8}")
    for name, rates in results.items():
        print(
            f"{name:<40} {rates[32]:>12,.0f} {rates[4096]:>12,.0f} "
            f"{rates[32] / raw[32]:>12.2f} {rates[4096] / raw[4096]:>8.2f}"
        )
    print(f"XKS routing check on a KMS request (POST /): {routing_ns:.0f} ns")


if __name__ == "__main__":
    main()
