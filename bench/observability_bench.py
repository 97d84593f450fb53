"""CPU cost of observability per request and per second, in-process (no server, no load).

- per request: ``Metrics.observe`` (the counter and histogram every request pays), and one
  request log line (``RequestLog.kms_request``) in JSON and in text, written with ``write(2)``
  to /dev/null (the real system call, not the terminal's cost);
- per second and worker: ``Metrics.publish`` (snapshot + file) and, per scrape,
  ``Metrics.exposition`` merging two workers, with 40 operations x 3 outcomes of series.

CPU time (``time.process_time``) per call, median of ``--repeat`` repetitions; a small load for
a second or two of one core.

    .venv/bin/python bench/observability_bench.py [--calls 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from strongroom.kms.api.metrics import Metrics
from strongroom.kms.api.request_log import RequestLog
from strongroom.kms.service.caller import Caller

CALLER = Caller(
    "111122223333", "arn:aws:iam::111122223333:user/app", "AKIAEXAMPLE", "10.0.0.1", "us-east-1"
)
ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REQUEST = {"KeyId": ARN, "Plaintext": b"x" * 1024}
RESPONSE = {"KeyId": ARN, "CiphertextBlob": b"y" * 1100}


def per_call_us(work: Callable[[], object], calls: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(calls):
            work()
        samples.append((time.process_time() - start) / calls * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    null = os.open(os.devnull, os.O_WRONLY)
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        node = Path(tmp) / "metrics"
        worker, other = Metrics(node_dir=node, worker="1"), Metrics(node_dir=node, worker="2")
        for metrics in (worker, other):
            for op in range(40):
                for code in ("OK", "NotFoundException", "DisabledException"):
                    metrics.observe(f"Operation{op}", code, 0.001)
        other.publish()
        rows.append(
            (
                "Metrics.observe (every request)",
                per_call_us(
                    lambda: worker.observe("Encrypt", "OK", 0.0004), args.calls, args.repeat
                ),
            )
        )
        for fmt in ("json", "text"):
            log = RequestLog("node-1", format=fmt, write=lambda line: os.write(null, line))
            rows.append(
                (
                    f"request log line, {fmt} (every request, when on)",
                    per_call_us(
                        functools.partial(
                            log.kms_request,
                            "5f0c6a1e-0000-4000-8000-000000000000",
                            "Encrypt",
                            200,
                            "OK",
                            0.0004,
                            caller=CALLER,
                            request=REQUEST,
                            response=RESPONSE,
                        ),
                        args.calls,
                        args.repeat,
                    ),
                )
            )
        off = RequestLog("node-1", level="error", write=lambda line: os.write(null, line))
        rows.append(
            (
                "request log, level error, a 200 (filtered out)",
                per_call_us(
                    lambda: off.kms_request(
                        "r", "Encrypt", 200, "OK", 0.0, caller=CALLER, request=None, response=None
                    ),
                    args.calls,
                    args.repeat,
                ),
            )
        )
        slow = max(1, args.calls // 100)
        rows.append(
            ("Metrics.publish (once a second)", per_call_us(worker.publish, slow, args.repeat))
        )
        rows.append(
            (
                "Metrics.exposition, 2 workers (per scrape)",
                per_call_us(worker.exposition, slow, args.repeat),
            )
        )
    os.close(null)
    print("| what | CPU µs per call |")
    print("|---|---|")
    for name, micros in rows:
        print(f"| {name} | {micros:.2f} |")


if __name__ == "__main__":
    main()
