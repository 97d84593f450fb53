"""KMIP Get and Encrypt: requests per second with pykmip's client, against the raw operation.

Starts an in-process server with KMIP on (one worker, a private PKI made with `cryptography`,
the default store's root key in memory), registers a client certificate, makes an active
AES-256 KMIP key, then measures, one thread each, medians of ``--runs`` runs of ``--seconds``:

* pykmip: ``ProxyKmipClient.get`` / ``.encrypt`` (AES-CBC, PKCS5, 64 bytes) over one TLS
  connection, request after request (the client's TTLV encoding and parsing included);
* server: the same request bytes through ``KmipService.handle`` in memory (TTLV, identity,
  pipeline: resolve, authorize, key-state table, audit record; no socket, no TLS);
* raw: what the operation itself costs: for Get, unwrapping the material under the root key
  (``SoftwareKeyStore.export_material``, AES-256-GCM); for Encrypt, AES-256-CBC of the same
  64 bytes with `cryptography`.

Run it when nobody else benchmarks (2 shared cores):

    .venv/bin/python bench/kmip_bench.py --seconds 2 --runs 3
"""

from __future__ import annotations

import argparse
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

from cryptography.hazmat.primitives import padding  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from kmip.core import enums  # noqa: E402

from strongroom.kmip import ttlv  # noqa: E402
from strongroom.kmip.messages import version_item  # noqa: E402
from strongroom.kmip.tags import Tag  # noqa: E402
from strongroom.kmip.ttlv import Item  # noqa: E402

CBC = {
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
    "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
}


def per_second(work: Callable[[], object], seconds: float, runs: int) -> float:
    rates = []
    for _ in range(runs):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            work()
            count += 1
        rates.append(count / elapsed)
    return statistics.median(rates)


def request(operation: int, payload: list[Item]) -> bytes:
    header = Item.struct(
        Tag.REQUEST_HEADER, [version_item((1, 2)), Item.integer(Tag.BATCH_COUNT, 1)]
    )
    batch = Item.struct(
        Tag.BATCH_ITEM,
        [Item.enum(Tag.OPERATION, operation), Item.struct(Tag.REQUEST_PAYLOAD, payload)],
    )
    return ttlv.encode(Item.struct(Tag.REQUEST_MESSAGE, [header, batch]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from tests.kmip.conftest import kms_caller_arn
    from tests.support.kmip import kmip_server

    from strongroom.kmip.identity import fingerprint
    from strongroom.kmip.objects import KmipObjects
    from strongroom.kmip.registry import kmip_operations

    with tempfile.TemporaryDirectory() as scratch, kmip_server(Path(scratch)) as world:
        arn = kms_caller_arn(world)
        pair = world.pki.client("bench")
        world.register(pair, arn)
        client = world.proxy(pair)
        uid = client.create(enums.CryptographicAlgorithm.AES, 256)
        client.activate(uid)
        material = client.get(uid).value
        data = os.urandom(64)

        # The server's side alone: a service over the same database, audit in memory.
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        from strongroom.kmip.dispatch import KmipService
        from strongroom.kmip.identity import KmipIdentities
        from strongroom.kms.app import create_app
        from strongroom.kms.audit.log import MemoryAuditLog
        from strongroom.kms.storage.kmip import KmipRepository

        app: Any = create_app(world.server.settings, audit=MemoryAuditLog())
        pipeline = app.api._pipeline  # the worker's own pipeline, as the KMIP job gets it
        repository = KmipRepository(pipeline.ctx.db)
        service = KmipService(
            pipeline,
            KmipIdentities(repository),
            kmip_operations(KmipObjects(repository, pipeline.ctx.cache)),
            pipeline.ctx.clock.now,
        )
        der = x509.load_pem_x509_certificate(pair.certificate.read_bytes()).public_bytes(
            Encoding.DER
        )
        client_id = fingerprint(der)
        get_bytes = request(0x0A, [Item.text(Tag.UNIQUE_IDENTIFIER, uid)])
        parameters = Item.struct(
            Tag.CRYPTOGRAPHIC_PARAMETERS,
            [Item.enum(Tag.BLOCK_CIPHER_MODE, 1), Item.enum(Tag.PADDING_METHOD, 3)],
        )
        encrypt_bytes = request(
            0x1F,
            [Item.text(Tag.UNIQUE_IDENTIFIER, uid), parameters, Item.bytes_(Tag.DATA, data)],
        )
        store = pipeline.ctx.store
        key = pipeline.ctx.cache.key(uid)
        found = pipeline.ctx.keys.get_material(key.current_material_id)

        def raw_get() -> object:
            return store.export_material(key.arn, key.current_material_id, found[2], key.key_spec)

        def raw_encrypt() -> object:
            padder = padding.PKCS7(128).padder()
            padded = padder.update(data) + padder.finalize()
            encryptor = Cipher(algorithms.AES(material), modes.CBC(os.urandom(16))).encryptor()
            return encryptor.update(padded) + encryptor.finalize()

        rows = [
            ("Get", "pykmip over TLS", lambda: client.get(uid)),
            ("Get", "server (in memory)", lambda: service.handle(get_bytes, client_id, "")),
            ("Get", "raw unwrap", raw_get),
            (
                "Encrypt",
                "pykmip over TLS",
                lambda: client.encrypt(data, uid=uid, cryptographic_parameters=CBC),
            ),
            (
                "Encrypt",
                "server (in memory)",
                lambda: service.handle(encrypt_bytes, client_id, ""),
            ),
            ("Encrypt", "raw AES-CBC", raw_encrypt),
        ]
        print(f"{'operation':<9} {'path':<20} {'requests/s':>12}")
        for operation, path, work in rows:
            rate = per_second(work, args.seconds, args.runs)
            print(f"{operation:<9} {path:<20} {rate:>12,.0f}")
        client.close()


if __name__ == "__main__":
    main()
