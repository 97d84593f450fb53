"""Log lines for conditions that repeat (a full disk fails every commit): one line per interval.

A failure that repeats thousands of times a second must not write thousands of lines (nor
tracebacks, which can quote data). :class:`RateLimitedLog` writes the first occurrence at once,
then at most one line per ``interval`` seconds that says how many occurrences it left out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._last: float | None = None
        self._suppressed = 0

    def log(self, level: int, message: str) -> bool:
        """Write ``message`` unless a line was written less than ``interval`` seconds ago;
        return whether it was written."""
        with self._lock:
            now = self._monotonic()
            if self._last is not None and now - self._last < self._interval:
                self._suppressed += 1
                return False
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        if suppressed:
            message = f"{message} ({suppressed} more since the last line)"
        self._logger.log(level, message)
        return True

    def reset(self) -> None:
        """The condition ended: the next occurrence is written at once."""
        with self._lock:
            self._last, self._suppressed = None, 0


def is_environmental(error: BaseException) -> bool:
    """A failure of the machine rather than of our code: an operating system error (a full
    disk) or the database driver's ``OperationalError`` (SQLAlchemy keeps the driver's error as
    ``orig``; sqlite3 and psycopg both name it so: disk full, I/O error, locked, connection
    lost). Constraint violations and the like stay bugs."""
    orig = getattr(error, "orig", None)
    return isinstance(error, OSError) or type(orig).__name__ == "OperationalError"


def describe_failure(error: BaseException) -> str:
    """A one-line description of a failure that quotes no data.

    A database driver's error (SQLAlchemy keeps it as ``orig``) says what failed ("database or
    disk is full"); SQLAlchemy's own message would add the statement and its parameters, and
    other exceptions may hold arbitrary values, so only their type is named.
    """
    orig = getattr(error, "orig", None)
    if isinstance(orig, BaseException):
        text = str(orig).splitlines()[0] if str(orig) else ""
        return f"{type(orig).__name__}: {text[:200]}"
    if isinstance(error, OSError) and error.errno is not None:
        return f"{type(error).__name__}: {os.strerror(error.errno)}"
    return type(error).__name__
