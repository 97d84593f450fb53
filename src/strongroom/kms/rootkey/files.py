"""The files of a file root key: its check value, the next key, the switch, and locks.

A rotation of a file root key (``rotate-root-key``) changes two things that cannot change
together: the database (every blob re-wrapped, ``meta.root_key`` naming the new key) and the
file ``root.key``. The order makes every crash recoverable:

1. the new key is written to ``root.key.next`` (0600, ``O_EXCL``, fsync) before the database
   transaction: a crash before the commit leaves an unused file and the data as it was;
2. the transaction commits (``meta.root_key = file:<kcv of the new key>``);
3. ``root.key`` is hard-linked as ``root.key.retired-<UTC time>`` and ``root.key.next`` atomically
   replaces ``root.key``, so a ``root.key`` exists at every moment.

A start that finds the database naming the key in ``root.key.next`` finishes step 3
(:func:`file_root_key_in_force`); a ``root.key`` that matches neither is refused.

The key check value (kcv) identifies a key without revealing it: the first 8 bytes of
HMAC-SHA256(root key, ``strongroom/kcv/v1``), in hex. ``meta.root_key`` holds ``file:<kcv>``;
the older ``file`` (no kcv, written before rotation existed) is still accepted, unchecked.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from strongroom.kms.config import ConfigError
from strongroom.kms.domain.secrets import Secret
from strongroom.kms.rootkey.key_file import create_root_key_file, load_root_key_file

log = logging.getLogger(__name__)

FILE = "file"
KCV_INFO = b"strongroom/kcv/v1"
NEXT_NAME = "root.key.next"
LOCK_NAME = "root.key.lock"


def key_check_value(key: Secret) -> str:
    """16 hex digits that tell root keys apart; the key cannot be learnt from them."""
    return hmac.new(key.reveal(), KCV_INFO, hashlib.sha256).digest()[:8].hex()


def file_descriptor(key: Secret) -> str:
    return f"{FILE}:{key_check_value(key)}"


def is_file_descriptor(descriptor: str | None) -> bool:
    return descriptor is not None and (descriptor == FILE or descriptor.startswith(FILE + ":"))


def next_path(root_key_path: Path) -> Path:
    return root_key_path.with_name(NEXT_NAME)


def retired_path(root_key_path: Path, now: datetime) -> Path:
    return root_key_path.with_name(f"root.key.retired-{now:%Y%m%dT%H%M%SZ}")


def write_next_key(root_key_path: Path) -> Secret:
    """A new random root key in ``root.key.next`` (0600, never overwriting), returned."""
    path = next_path(root_key_path)
    create_root_key_file(path)
    return load_root_key_file(path)


def switch_to_next(root_key_path: Path, now: datetime) -> Path:
    """Retire ``root.key`` (a hard link, kept 0600) and move ``root.key.next`` in its place."""
    retired = retired_path(root_key_path, now)
    if not retired.exists():
        os.link(root_key_path, retired)
    os.replace(next_path(root_key_path), root_key_path)
    _fsync_dir(root_key_path.parent)
    return retired


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _flock(path: Path, mode: int, busy: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, mode)
        except BlockingIOError:
            raise ConfigError(busy) from None
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def root_key_change_lock(data_dir: Path) -> Iterator[None]:
    """Held while the root key changes or a start finishes a switch (waits for the other)."""
    with _flock(data_dir / LOCK_NAME, fcntl.LOCK_EX, "unreachable"):
        yield


def file_root_key_in_force(
    root_key_path: Path,
    recorded: str | None,
    reread: Callable[[], str | None],
    now: datetime,
) -> Secret:
    """The key of ``root.key`` if the data is sealed under it, after finishing a switch.

    ``reread`` is a callable returning ``meta.root_key`` again (under the change lock).
    """
    key = load_root_key_file(root_key_path)
    if recorded in (None, FILE) or recorded == file_descriptor(key):
        return key
    with root_key_change_lock(root_key_path.parent):
        recorded = reread()
        key = load_root_key_file(root_key_path)
        if recorded == file_descriptor(key):
            return key  # another process finished the switch meanwhile
        following = next_path(root_key_path)
        if following.exists() and recorded == file_descriptor(load_root_key_file(following)):
            retired = switch_to_next(root_key_path, now)
            log.warning(
                "finished an interrupted root key rotation: %s is in force, the old key is %s",
                recorded,
                retired.name,
            )
            return load_root_key_file(root_key_path)
    raise ConfigError(
        f"{root_key_path} is not the root key the data in {root_key_path.parent} is sealed "
        f"under (recorded {recorded}, the file is {file_descriptor(key)}); put the matching "
        "root key file back (a root.key.retired-* file or a backup)"
    )
