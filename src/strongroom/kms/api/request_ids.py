"""Request ids in the UUID shape AWS uses, made without a system call per request.

``uuid.uuid4()`` asks the kernel for randomness on every call (several microseconds on the hot
path). Request ids must be unique, not unpredictable: a random per-process prefix and a counter
are enough, and worker processes never share a prefix.
"""

from __future__ import annotations

import itertools
import os

_COUNTER_MASK = (1 << 48) - 1


class RequestIds:
    def __init__(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._counter = itertools.count()

    def next(self) -> str:
        digits = f"{self._prefix}{next(self._counter) & _COUNTER_MASK:012x}"
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
