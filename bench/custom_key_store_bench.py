"""Encrypt through a custom key store, side by side with raw python-pkcs11 AES-GCM on one token.

Sets up a private SoftHSM2 token directory with a two-token cluster, then measures, one thread
each, medians of ``--runs`` runs of ``--seconds`` s:

* raw: ``python-pkcs11`` AES-256-GCM ``C_Encrypt`` with a token key on the first token (a fresh
  12-byte IV per call), the floor any HSM-backed Encrypt has to pay;
* Strongroom: the whole KMS ``Encrypt`` request (SigV4 verification, validation, pipeline with
  authorization and audit record, the blob format, JSON) through the real ASGI app in memory,
  under a key of a custom key store on the same token;
* Strongroom under a default-store key, for reference (no HSM on that path).

No socket is involved, so the ratio is what the KMS adds to the HSM's own work; over HTTP the
server's HTTP stack adds the same cost to both kinds of key (see run_kms_bench.py).

    .venv/bin/python bench/custom_key_store_bench.py
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hot_path_micro import ENDPOINT, scope_of  # noqa: E402
from sign_request import sign  # noqa: E402

Rate = tuple[float, float]  # calls per second of wall time, per CPU-second of this thread


def measure(work: Callable[[], object], seconds: float) -> Rate:
    """Calls per second of wall time and per CPU-second of the calling thread, over ``seconds``.

    The CPU figure leaves out the time other processes took the core: it is the steadier one
    on a shared machine.
    """
    calls = 0
    started, cpu = time.perf_counter(), time.thread_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            work()
        calls += 50
    return calls / elapsed, calls / max(time.thread_time() - cpu, 1e-9)


def medians(
    works: dict[str, Callable[[], object]],
    seconds: float,
    runs: int,
    between: Callable[[], object] = lambda: None,
) -> dict[str, Rate]:
    """Median rates of each work over ``runs`` runs, the runs of the works interleaved (a change
    of load during the measurement then weighs on all of them alike); ``between`` runs before
    each run, untimed."""
    samples: dict[str, list[Rate]] = {name: [] for name in works}
    for _ in range(runs):
        for name, work in works.items():
            between()
            samples[name].append(measure(work, seconds))
    return {
        name: (
            statistics.median(wall for wall, _ in rates),
            statistics.median(cpu for _, cpu in rates),
        )
        for name, rates in samples.items()
    }


def raw_gcm(key: Any, plaintext: bytes) -> Callable[[], object]:
    from pkcs11 import Mechanism
    from pkcs11.mechanisms import GCMParams

    def encrypt() -> bytes:
        params = GCMParams(os.urandom(12), b"aad", 128)
        return bytes(key.encrypt(plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=params))

    return encrypt


def raw_rates(token: str, label: str, args: argparse.Namespace) -> dict[str, dict[int, Rate]]:
    """Raw python-pkcs11 on the same token, with the very key the custom key store uses (a
    private, sensitive token object) and with a session copy of it."""
    from pkcs11 import Attribute
    from tests.support import softhsm

    from strongroom.kms.keystores.pkcs11 import load_module

    results: dict[str, dict[int, Rate]] = {}
    module = load_module(softhsm.MODULE)
    with module.find_token(token).open(rw=True) as session:
        token_key = session.get_key(label=label)
        session_key = token_key.copy({Attribute.TOKEN: False, Attribute.LABEL: "bench"})
        for size in (32, 4096):
            plaintext = os.urandom(size)
            raws = {
                "raw python-pkcs11, the same token key": raw_gcm(token_key, plaintext),
                "raw python-pkcs11, a session copy": raw_gcm(session_key, plaintext),
            }
            for name, rate in medians(raws, args.seconds, args.runs).items():
                results.setdefault(name, {})[size] = rate
        session_key.destroy()
    return results


class InMemoryApi:
    """Signed requests through the real ASGI app, without a socket."""

    def __init__(self, app: Any, credentials: tuple[str, str]) -> None:
        self._app = app
        self._credentials = credentials
        self._loop = asyncio.new_event_loop()

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        import orjson

        request = sign(ENDPOINT, *self._credentials, operation, body)
        status, payload = self._loop.run_until_complete(self._send(request))
        result: dict[str, Any] = orjson.loads(payload)
        if status != 200:
            raise RuntimeError(f"{operation}: {status} {result}")
        return result

    def repeater(self, operation: str, body: dict[str, Any]) -> Callable[[], object]:
        """The same signed request again and again (valid within the clock-skew window)."""
        request = sign(ENDPOINT, *self._credentials, operation, body)
        return lambda: self._loop.run_until_complete(self._send(request))

    async def _send(self, request: Any) -> tuple[int, bytes]:
        scope = scope_of(request)
        reply: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                reply["status"] = message["status"]
            elif message["type"] == "http.response.body":
                reply["body"] = reply.get("body", b"") + message.get("body", b"")

        await self._app.api.handle(scope, receive, send)
        return reply["status"], reply["body"]


def report(results: dict[str, dict[int, Rate]], runs: int, seconds: float) -> None:
    raw = results["raw python-pkcs11, the same token key"]
    print(f"load average: {os.getloadavg()[0]:.2f}; medians of {runs} x {seconds} s")
    for column, title in ((0, "ops/s"), (1, "ops/CPU-s")):
        head = f"{'32 B ' + title:>15} {'4 KiB ' + title:>16} {'vs raw 32 B':>12} {'4 KiB':>7}"
        print(f"{'':<42} {head}")
        for name, rates in results.items():
            small, large = rates[32][column], rates[4096][column]
            print(
                f"{name:<42} {small:>15,.0f} {large:>16,.0f} "
                f"{small / raw[32][column]:>12.2f} {large / raw[4096][column]:>7.2f}"
            )
    custom = results["Strongroom Encrypt, custom key store"]
    default = results["Strongroom Encrypt, default store"]
    print(
        "item 6, custom key store request / default-store request: "
        + "; ".join(
            f"{label} {custom[size][0] / default[size][0]:.2f} (per CPU-s "
            f"{custom[size][1] / default[size][1]:.2f})"
            for size, label in ((32, "32 B"), (4096, "4 KiB"))
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--softhsm-mechanisms",
        default="ALL",
        help="SoftHSM's slots.mechanisms for the tokens, e.g. the list docs/custom-key-stores.md "
        "recommends (default ALL, as the tests)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-cks-bench-") as tmp:
        # Before anything loads the PKCS#11 module: this process's own SoftHSM2 tokens.
        from tests.support import softhsm

        softhsm.configure_session(args.softhsm_mechanisms)
        tokens = [softhsm.create_token("bench") for _ in range(2)]

        from tests.support.hsm_clusters import new_cluster_id, trust_anchor_pem

        from strongroom.kms.app import create_app, initialize, open_data_dir
        from strongroom.kms.config import load_settings

        results: dict[str, dict[int, Rate]] = {}
        # As in hot_path_micro.py: this harness starts no audit writer thread, so with the
        # default before-response durability every Encrypt would wait for a commit that never
        # comes (10 s, then 503). Buffered, with a deep queue: both requests alike.
        settings = load_settings(Path(tmp) / "data").with_overrides(
            request_quotas="off", audit_durability="buffered", audit_max_pending=10_000_000
        )
        _, issued = initialize(settings)
        assert issued is not None
        cluster_id, anchor = new_cluster_id(), trust_anchor_pem()
        data = open_data_dir(settings)
        data.hsm_clusters.register(cluster_id, softhsm.MODULE, [t.label for t in tokens], anchor)
        data.db.engine.dispose()
        app = create_app(settings)
        api = InMemoryApi(app, (issued.access_key_id, issued.secret_access_key))
        store_id = api.call(
            "CreateCustomKeyStore",
            {
                "CustomKeyStoreName": "bench",
                "CloudHsmClusterId": cluster_id,
                "TrustAnchorCertificate": anchor,
                "KeyStorePassword": tokens[0].pin,
            },
        )["CustomKeyStoreId"]
        api.call("ConnectCustomKeyStore", {"CustomKeyStoreId": store_id})
        hsm_key = api.call("CreateKey", {"CustomKeyStoreId": store_id, "Origin": "AWS_CLOUDHSM"})
        default_key = api.call("CreateKey", {})
        # With no writer thread the audit events of every request stay queued: hundreds of
        # thousands by the end, and the full garbage collections they bring land in one run
        # or another. Dropped between runs (in the server the writer takes them, on its own
        # thread).
        queued = getattr(app.api._pipeline._audit, "_pending", None)
        drain = queued.clear if queued is not None else lambda: None
        requests = (
            ("Strongroom Encrypt, custom key store", hsm_key),
            ("Strongroom Encrypt, default store", default_key),
        )
        for size in (32, 4096):
            works = {}
            for name, meta in requests:
                body = {
                    "KeyId": meta["KeyMetadata"]["KeyId"],
                    "Plaintext": base64.b64encode(os.urandom(size)).decode(),
                }
                works[name] = api.repeater("Encrypt", body)
            for name, rate in medians(works, args.seconds, args.runs, drain).items():
                results.setdefault(name, {})[size] = rate
        # The key store layer alone: what Encrypt does with the key (session copy, failover,
        # fresh IV, C_Encrypt), without the request around it.
        ctx = app.api._pipeline.ctx
        meta = hsm_key["KeyMetadata"]
        record = ctx.cache.key(meta["Arn"].split(":")[3], meta["KeyId"])
        assert record is not None and record.current_material_id is not None
        cipher = ctx.cache.material(record, record.current_material_id)
        for size in (32, 4096):
            plaintext = os.urandom(size)
            layer: dict[str, Callable[[], object]] = {
                "Strongroom key store layer (HsmKeyCipher)": functools.partial(
                    cipher.encrypt, plaintext, b"aad"
                )
            }
            for name, rate in medians(layer, args.seconds, args.runs).items():
                results.setdefault(name, {})[size] = rate
        results.update(raw_rates(tokens[0].label, hsm_key["KeyMetadata"]["Arn"], args))
        app._on_shutdown()

    report(results, args.runs, args.seconds)


if __name__ == "__main__":
    main()
