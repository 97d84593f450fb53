"""The additional checksums S3 computes over object data: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.

CRC32 comes from ``zlib``, CRC32C and CRC64NVME from ``awscrt`` (the library botocore itself
uses for them), SHA from ``hashlib``. Values travel base64-encoded, big-endian for the CRCs.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from awscrt import checksums as crt

from strongroom.objectstore.errors import BadDigest, InvalidRequest

ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
HEADER_PREFIX = "x-amz-checksum-"


class _Crc:
    def __init__(self, function: Callable[[bytes, int], int], width: int) -> None:
        self._function = function
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


class _Sha:
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()


def _zlib_crc32(data: bytes, previous: int) -> int:
    return zlib.crc32(data, previous)


def _crc32c(data: bytes, previous: int) -> int:
    return int(crt.crc32c(data, previous))


def _crc64nvme(data: bytes, previous: int) -> int:
    return int(crt.crc64nvme(data, previous))


_FACTORIES: dict[str, Callable[[], _Crc | _Sha]] = {
    "CRC32": lambda: _Crc(_zlib_crc32, 4),
    "CRC32C": lambda: _Crc(_crc32c, 4),
    "CRC64NVME": lambda: _Crc(_crc64nvme, 8),
    "SHA1": lambda: _Sha("sha1"),
    "SHA256": lambda: _Sha("sha256"),
}


class Checksum:
    """A running checksum of one algorithm."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._state = _FACTORIES[algorithm]()

    def update(self, data: bytes) -> None:
        self._state.update(data)

    def b64(self) -> str:
        return base64.b64encode(self._state.digest()).decode("ascii")


@dataclass(frozen=True, slots=True)
class Expected:
    """The checksum a request asks for: its algorithm and, unless it comes in the trailer,
    its value."""

    algorithm: str
    value: str | None  # None: the value arrives in the aws-chunked trailer

    @property
    def header(self) -> str:
        return HEADER_PREFIX + self.algorithm.lower()


def requested(headers: Mapping[str, str]) -> Expected | None:
    """The checksum a PutObject/UploadPart request declares (a header or ``x-amz-trailer``)."""
    found = [a for a in ALGORITHMS if HEADER_PREFIX + a.lower() in headers]
    if len(found) > 1:
        raise InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    if found:
        return Expected(found[0], headers[HEADER_PREFIX + found[0].lower()])
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer:
        algorithm = trailer.removeprefix(HEADER_PREFIX).upper()
        if algorithm not in ALGORITHMS:
            raise InvalidRequest("The value specified in the x-amz-trailer header is not supported")
        return Expected(algorithm, None)
    named = headers.get("x-amz-sdk-checksum-algorithm") or headers.get("x-amz-checksum-algorithm")
    if named:
        if named.upper() not in ALGORITHMS:
            raise InvalidRequest("Checksum algorithm provided is unsupported.")
        return None
    return None


def verify(expected: Expected, actual: Checksum, trailer: Mapping[str, str]) -> str:
    """The verified base64 value; a mismatch is S3's BadDigest."""
    value = expected.value if expected.value is not None else trailer.get(expected.header)
    if value is None:
        raise InvalidRequest(f"The {expected.header} trailer is missing.")
    if value != actual.b64():
        raise BadDigest(
            f"The {expected.algorithm} you specified did not match the calculated checksum."
        )
    return value


def composite(algorithm: str, part_values: list[str]) -> str:
    """S3's checksum of checksums for a multipart object: ``<b64>-<number of parts>``."""
    state = Checksum(algorithm)
    for value in part_values:
        state.update(base64.b64decode(value))
    return f"{state.b64()}-{len(part_values)}"
