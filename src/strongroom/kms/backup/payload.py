"""What a backup holds once decrypted: JSON Lines of files, tables and rows, then a trailer.

Records, one JSON value per line, in this order::

    {"file": "<path under the data dir>", "mode": 384, "data": "<base64>"}   (any number)
    {"table": "<name>", "columns": ["<column>", ...]}                       (every table)
    [<value>, ...]                                                          (its rows)
    {"blob": "<id>", "offset": O, "data": "<base64>", "last": true|false}   (object data)
    {"end": {"files": F, "rows": R, "tables": {"<name>": <rows>, ...},
             "blobs": B, "blob_bytes": N}}

Blobs are the object store's encrypted files that the rows reference (docs/adr/0027), in
pieces of at most ``BLOB_PIECE`` bytes, each blob's pieces in order from offset 0, its last
marked. They are ciphertext already; the backup's own encryption covers them again. A backup
made before blobs were carried has no blob records and no ``blobs`` in its trailer.

Row values are JSON scalars, except bytes (``{"b": "<base64>"}``) and datetimes
(``{"t": "<ISO 8601, UTC>"}``). The trailer lets restore tell a complete backup from one that
was cut at a chunk boundary by the writer itself; the container already refuses anything else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from strongroom.kms.backup.container import BackupError


@dataclass(frozen=True, slots=True)
class CarriedFile:
    path: str  # relative to the data directory, "/"-separated
    mode: int
    data: bytes


BLOB_PIECE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class BlobPiece:
    blob_id: str
    offset: int
    data: bytes
    last: bool


@dataclass(slots=True)
class Contents:
    """What pass one of a restore found (counts only: the rows are read again to be loaded)."""

    files: list[CarriedFile] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    blob_bytes: int = 0


def _value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if "b" in value:
            return base64.b64decode(value["b"], validate=True)
        return datetime.fromisoformat(value["t"])
    return value


def file_line(carried: CarriedFile) -> bytes:
    data = base64.b64encode(carried.data).decode("ascii")
    return _line({"file": carried.path, "mode": carried.mode, "data": data})


def table_line(name: str, columns: list[str]) -> bytes:
    return _line({"table": name, "columns": columns})


def row_line(values: Iterable[Any]) -> bytes:
    return _line([_value(v) for v in values])


def blob_line(piece: BlobPiece) -> bytes:
    data = base64.b64encode(piece.data).decode("ascii")
    return _line({"blob": piece.blob_id, "offset": piece.offset, "data": data, "last": piece.last})


def end_line(files: int, tables: dict[str, int], blobs: int = 0, blob_bytes: int = 0) -> bytes:
    end = {"files": files, "rows": sum(tables.values()), "tables": tables}
    return _line({"end": {**end, "blobs": blobs, "blob_bytes": blob_bytes}})


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Split decrypted chunks into lines (a line may span chunks)."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        raise BackupError("the backup's contents end in the middle of a record")


Record = CarriedFile | tuple[str, tuple[Any, ...]] | BlobPiece | Contents


def records(chunks: Iterable[bytes], expected_columns: dict[str, list[str]]) -> Iterator[Record]:
    """Parse and check the records: files, then ``(table, row)`` pairs, then blob pieces,
    last a :class:`Contents` built from the trailer once it matched what came before."""
    seen = Contents()
    table: str | None = None
    blob: tuple[str, int] | None = None  # the blob being read and its next offset
    ended = False
    try:
        for raw in lines(chunks):
            if ended:
                raise BackupError("the backup has records after its end")
            item = json.loads(raw)
            if isinstance(item, dict) and "blob" in item:
                piece = _blob_piece(item, blob)
                if piece.offset == 0:
                    seen.blobs += 1
                seen.blob_bytes += len(piece.data)
                blob = None if piece.last else (piece.blob_id, piece.offset + len(piece.data))
                yield piece
            elif blob is not None or (seen.blobs and not isinstance(item, dict)):
                raise BackupError("the backup's object data is cut or out of place")
            elif isinstance(item, list):
                if table is None or len(item) != len(expected_columns[table]):
                    raise BackupError("the backup has a row that fits no table")
                seen.tables[table] += 1
                yield table, tuple(_restored(v) for v in item)
            elif "file" in item:
                if table is not None:
                    raise BackupError("the backup has a file after its tables")
                data = base64.b64decode(item["data"], validate=True)
                carried = CarriedFile(item["file"], int(item["mode"]), data)
                seen.files.append(carried)
                yield carried
            elif "table" in item:
                if seen.blobs:
                    raise BackupError("the backup has a table after its object data")
                table = item["table"]
                if expected_columns.get(table) != item["columns"] or table in seen.tables:
                    raise BackupError(f"the backup's table {table!r} does not fit this version")
                seen.tables[table] = 0
            elif "end" in item:
                _check_end(item["end"], seen)
                ended = True
            else:
                raise BackupError("the backup has a record of an unknown kind")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise BackupError("the backup's contents are damaged") from None
    if not ended:
        raise BackupError("the backup has no trailer: it is incomplete")
    if set(seen.tables) != set(expected_columns):
        raise BackupError("the backup lacks tables this version has")
    yield seen


def _blob_piece(item: dict[str, Any], current: tuple[str, int] | None) -> BlobPiece:
    piece = BlobPiece(
        str(item["blob"]),
        int(item["offset"]),
        base64.b64decode(item["data"], validate=True),
        bool(item["last"]),
    )
    expected = current if current is not None else (piece.blob_id, 0)
    if (piece.blob_id, piece.offset) != expected or len(piece.data) > BLOB_PIECE:
        raise BackupError("the backup's object data is cut or out of place")
    return piece


def _check_end(end: dict[str, Any], seen: Contents) -> None:
    if (
        end["tables"] != seen.tables
        or end["files"] != len(seen.files)
        or (end.get("blobs", 0), end.get("blob_bytes", 0)) != (seen.blobs, seen.blob_bytes)
    ):
        raise BackupError("the backup's contents do not match its trailer")
