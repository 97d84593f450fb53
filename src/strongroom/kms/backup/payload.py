"""What a backup holds once decrypted: JSON Lines of files, tables and rows, then a trailer.

Records, one JSON value per line, in this order::

    {"file": "<path under the data dir>", "mode": 384, "data": "<base64>"}   (any number)
    {"table": "<name>", "columns": ["<column>", ...]}                       (every table)
    [<value>, ...]                                                          (its rows)
    {"end": {"files": F, "rows": R, "tables": {"<name>": <rows>, ...}}}

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


@dataclass(slots=True)
class Contents:
    """What pass one of a restore found (counts only: the rows are read again to be loaded)."""

    files: list[CarriedFile] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)


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


def end_line(files: int, tables: dict[str, int]) -> bytes:
    return _line({"end": {"files": files, "rows": sum(tables.values()), "tables": tables}})


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


def records(
    chunks: Iterable[bytes], expected_columns: dict[str, list[str]]
) -> Iterator[CarriedFile | tuple[str, tuple[Any, ...]] | Contents]:
    """Parse and check the records: files, then ``(table, row)`` pairs, last a
    :class:`Contents` built from the trailer once it matched what came before."""
    seen = Contents()
    table: str | None = None
    ended = False
    try:
        for raw in lines(chunks):
            if ended:
                raise BackupError("the backup has records after its end")
            item = json.loads(raw)
            if isinstance(item, list):
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
                table = item["table"]
                if expected_columns.get(table) != item["columns"] or table in seen.tables:
                    raise BackupError(f"the backup's table {table!r} does not fit this version")
                seen.tables[table] = 0
            elif "end" in item:
                end = item["end"]
                if end["tables"] != seen.tables or end["files"] != len(seen.files):
                    raise BackupError("the backup's contents do not match its trailer")
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
