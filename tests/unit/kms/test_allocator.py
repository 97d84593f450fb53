"""The allocator thresholds of a worker: 1 MiB buffers freed and allocated again are reused, not
faulted in page by page; an operator's own MALLOC_* settings are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Allocates and frees 1 MiB buffers, four at a time (as a GET of object data does), and prints
# the page faults per buffer; with "tune", after allocator.tune() (printing what it returned).
_PROBE = """
import resource, sys
from strongroom.kms import allocator
if sys.argv[1] == "tune":
    print(allocator.tune())
else:
    print(None)
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def request():  # a few buffers alive at once, then all freed (a GET: read, plaintext, ...)
    buffers = [bytes(1 << 20) for _ in range(4)]
    del buffers
for _ in range(20):
    request()
before = faults()
for n in range(100):
    request()
print((faults() - before) / 400)
"""


def _probe(mode: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return out[0], float(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_workers_reuse_large_buffers() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    _, untuned = _probe("plain", clean)
    took, tuned = _probe("tune", clean)
    assert took == "True"
    assert untuned > 20  # freed memory given back, then faulted in again (4 KiB pages)
    assert tuned < untuned / 10


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_an_operators_settings_win() -> None:
    took, _ = _probe("tune", {"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert took == "False"
