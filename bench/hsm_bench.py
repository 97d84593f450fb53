"""PKCS#11 driver overhead: raw python-pkcs11 AES-GCM vs ``TokenConnection.gcm_encrypt``.

On one fresh SoftHSM2 token (its own tmp ``SOFTHSM2_CONF``), AES-256-GCM encryption of 4 KiB
with a 12-byte IV and 16 bytes of AAD, each figure the median of ``--runs`` windows of
``--seconds``:

- ``raw``: python-pkcs11 directly, one session, the key object found once (the floor);
- ``driver``: ``TokenConnection.gcm_encrypt`` (pool checkout, KeyRef resolution, errors);
- ``driver-session-key``: the same with a session (not token) object key;
- ``root-unwrap-hsm`` / ``root-unwrap-file``: what a KeyCache miss costs, unwrapping one
  32-byte material blob with ``HsmRootKey`` (session copy) vs ``FileRootKey``;
- ``raw-locked-4t`` / ``driver-pool-4t`` / ``driver-1session-4t``: 4 threads on one locked
  raw session, on the driver's pool (8 sessions) and on the driver with ``max_sessions=1``:
  the "pool or one locked session" question.

    .venv/bin/python bench/hsm_bench.py --runs 5 --seconds 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import softhsm

softhsm.configure_session()

from pkcs11 import Attribute, Mechanism  # noqa: E402
from pkcs11.mechanisms import GCMParams  # noqa: E402

from strongroom.kms.domain.secrets import Secret  # noqa: E402
from strongroom.kms.keystores.pkcs11 import TokenConnection, load_module  # noqa: E402
from strongroom.kms.rootkey.hsm import HsmRootKey  # noqa: E402
from strongroom.kms.rootkey.providers import FileRootKey  # noqa: E402

PAYLOAD = os.urandom(4096)
AAD = os.urandom(16)


def rate(op: Callable[[int], object], seconds: float, threads: int = 1) -> tuple[float, float]:
    """(ops per wall second, process CPU microseconds per op)."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def loop(index: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            op(n)
            n += 1
        counts[index] = n

    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(loop, range(threads)))
    total = sum(counts)
    return total / (time.perf_counter() - start), (time.process_time() - cpu) * 1e6 / total


def iv(n: int) -> bytes:
    return n.to_bytes(12, "big")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()

    token = softhsm.create_token("bench")
    conn = TokenConnection.open(token.module, token.label, token.pin)
    key = conn.generate_aes_key("bench-key", key_id=b"b")
    session_key = conn.generate_aes_key("bench-session", key_id=b"s", token_object=False)
    single = TokenConnection.open(token.module, token.label, token.pin, max_sessions=1)
    raw_session = load_module(token.module).find_token(token.label).open(rw=True)
    (raw_key,) = raw_session.get_objects({Attribute.LABEL: "bench-key"})
    lock = threading.Lock()
    hsm_root = HsmRootKey.open(token.module, token.label, token.pin, "bench-root", create=True)
    file_root = FileRootKey(Secret(os.urandom(32)))
    hsm_blob, file_blob = hsm_root.wrap(os.urandom(32), AAD), file_root.wrap(os.urandom(32), AAD)

    def raw(n: int) -> object:
        return raw_key.encrypt(
            PAYLOAD, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv(n), AAD, 128)
        )

    def raw_locked(n: int) -> object:
        with lock:
            return raw(n)

    cases: dict[str, tuple[Callable[[int], object], int]] = {
        "raw": (raw, 1),
        "driver": (lambda n: conn.gcm_encrypt(key, iv(n), PAYLOAD, AAD), 1),
        "driver-session-key": (lambda n: conn.gcm_encrypt(session_key, iv(n), PAYLOAD, AAD), 1),
        "root-unwrap-hsm": (lambda n: hsm_root.unwrap(hsm_blob, AAD), 1),
        "root-unwrap-file": (lambda n: file_root.unwrap(file_blob, AAD), 1),
        "raw-locked-4t": (raw_locked, 4),
        "driver-pool-4t": (lambda n: conn.gcm_encrypt(key, iv(n), PAYLOAD, AAD), 4),
        "driver-1session-4t": (lambda n: single.gcm_encrypt(key, iv(n), PAYLOAD, AAD), 4),
    }
    walls: dict[str, list[float]] = {name: [] for name in cases}
    cpus: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved, so load changes hit every case alike
        for name, (op, threads) in cases.items():
            wall, cpu = rate(op, args.seconds, threads)
            walls[name].append(wall)
            cpus[name].append(cpu)
    medians = {name: round(statistics.median(values)) for name, values in walls.items()}
    cpu_us = {name: round(statistics.median(values), 1) for name, values in cpus.items()}
    overhead = cpu_us["driver"] - cpu_us["raw"]
    print(
        json.dumps(
            {
                "ops_per_s_median": medians,
                "cpu_us_per_op_median": cpu_us,
                "driver_overhead_cpu_us_per_op": round(overhead, 1),
            }
        )
    )
    for name, value in medians.items():
        print(f"{name:22} {value:>8} ops/s  {cpu_us[name]:>6} us CPU/op")
    raw_session.close()
    hsm_root.close()
    single.close()
    conn.close()


if __name__ == "__main__":
    main()
