"""What a request quota costs per request: the local path and the leasing path.

    .venv/bin/python bench/quota_bench.py

Times ``RequestQuotas.admit`` for Encrypt (best of 7 x 200,000 calls) with AWS's default
cryptographic quota (10,000/s, 2 workers: leases of 312 tokens) under a fixed clock, and the
``LeaseTable.lease`` call itself (an ``flock`` pair and the mmap update).
"""

from __future__ import annotations

import tempfile
import timeit
from pathlib import Path

from strongroom.kms.api.quotas import SYMMETRIC_KEYS, LeaseTable, RequestQuotas, quota_table


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        leases = LeaseTable(Path(tmp) / "quotas")
        table = quota_table(
            cryptographic=10_000, asymmetric=500, ecc=300, overrides="", nodes=1, workers=2
        )
        quota = table[SYMMETRIC_KEYS]
        tick = [0.0]

        def clock() -> float:
            tick[0] += 1.0 / 8000  # a worker at 8,000 requests/s: windows pass, leases renew
            return tick[0]

        quotas = RequestQuotas(table, leases, clock)
        number = 200_000
        admit = min(
            timeit.repeat(
                lambda: quotas.admit_by_key(
                    "111122223333", "us-east-1", "Encrypt", "SYMMETRIC_DEFAULT"
                ),
                number=number,
                repeat=7,
            )
        )
        window = [0]

        def lease() -> None:
            window[0] += 1
            leases.lease(b"111122223333/cryptographic", quota, window[0], float(window[0]))

        leasing = min(timeit.repeat(lease, number=20_000, repeat=7))
        print(f"admit (Encrypt, lease {quota.lease}): {admit / number * 1e9:.0f} ns per request")
        print(f"lease (flock + mmap): {leasing / 20_000 * 1e6:.2f} µs per lease")
        leases.close()


if __name__ == "__main__":
    main()
