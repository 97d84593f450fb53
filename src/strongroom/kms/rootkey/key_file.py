"""The embedded default's root key: 32 random bytes in a file only its owner may read."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from strongroom.kms.domain.secrets import Secret

ROOT_KEY_BYTES = 32


class RootKeyFileError(Exception):
    """The root key file is missing, malformed or readable by others."""


def create_root_key_file(path: Path) -> None:
    """Write a new root key with mode 0600; never overwrite an existing one.

    The key is written aside and linked into place, so a start killed at any moment leaves
    either no ``root.key`` (the next start makes one) or a whole one, never an empty file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    aside = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        aside.unlink()  # a key that was never put in place encrypted nothing
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_bytes(ROOT_KEY_BYTES))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(aside, path)  # fails if a root key exists: it is never replaced
    finally:
        aside.unlink()
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def load_root_key_file(path: Path) -> Secret:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RootKeyFileError(f"root key file {path} does not exist") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RootKeyFileError(
            f"root key file {path} is accessible by group or others (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
        )
    data = path.read_bytes()
    if len(data) != ROOT_KEY_BYTES:
        raise RootKeyFileError(f"root key file {path} does not hold {ROOT_KEY_BYTES} bytes")
    return Secret(data)
