"""A real, small filesystem that tests can fill: a tmpfs mount, or ext4 on a loop device.

Both need root (the suite runs as root in CI). A tmpfs of a few MiB is tried first; where
mounting tmpfs is not allowed (or ``STRONGROOM_TEST_LOOP_DEVICE`` is set), an ext4 image on a
loop device. Without either, the test that asks for one is skipped with the reason.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*argv: str) -> bool:
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


@contextmanager
def small_filesystem(mount_point: Path, size_mib: int = 16) -> Iterator[Path]:
    """Mount a ``size_mib`` filesystem at ``mount_point`` for the block; unmount after."""
    mount_point.mkdir(parents=True, exist_ok=True)
    image = mount_point.with_name(mount_point.name + ".img")
    loop: str | None = None
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small filesystem needs root and mount(8)")
    if not _run(
        "mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(mount_point)
    ):
        with image.open("wb") as handle:
            handle.truncate(size_mib * 1024 * 1024)
        found = subprocess.run(
            ["losetup", "--find", "--show", str(image)],
            capture_output=True,
            text=True,
            check=False,
        )
        loop = found.stdout.strip()
        if found.returncode != 0 or not (
            _run("mkfs.ext4", "-q", loop) and _run("mount", loop, str(mount_point))
        ):
            if loop:
                _run("losetup", "-d", loop)
            image.unlink(missing_ok=True)
            pytest.skip("neither a tmpfs mount nor a loop device is available here")
    try:
        yield mount_point
    finally:
        _run("umount", "-l", str(mount_point))
        if loop:
            _run("losetup", "-d", loop)
            image.unlink(missing_ok=True)


def fill(directory: Path) -> Path:
    """Write a file into ``directory`` until the filesystem has no space left; return it."""
    filler = directory / "filler"
    chunk = b"\0" * (1024 * 1024)
    with filler.open("wb", buffering=0) as handle:
        for size in (len(chunk), 4096, 512, 1):
            while True:
                try:
                    handle.write(chunk[:size])
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
    return filler
