"""The KMIP listener: TLS 1.2+ with a required client certificate, one TTLV message at a time.

It runs on each worker's event loop, beside the HTTP server (``SO_REUSEPORT``: every worker
listens on the KMIP port and the kernel spreads connections). A message is read whole (its
length is in its first 8 bytes, at most ``MAX_MESSAGE`` bytes), handled in a thread (the
pipeline may read the database or run slow crypto), and answered before the next one is read.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from strongroom.client.served import Served
from strongroom.kmip import ttlv
from strongroom.kmip.dispatch import KmipService
from strongroom.kmip.identity import fingerprint
from strongroom.kms.audit.events import CommitWaiter, new_ticket
from strongroom.kms.errors import KmsError

log = logging.getLogger(__name__)

MAX_MESSAGE = 1024 * 1024
IDLE_SECONDS = 300.0
READ_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class KmipTls:
    certificate: Path
    private_key: Path
    client_ca: Path


def tls_context(files: KmipTls) -> ssl.SSLContext:
    """Server side: TLS 1.2 or newer, a client certificate from the client CA required."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(files.certificate), str(files.private_key))
    context.load_verify_locations(cafile=str(files.client_ca))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class KmipServer:
    def __init__(
        self,
        service: KmipService,
        host: str,
        port: int,
        tls: ssl.SSLContext,
        *,
        commits: CommitWaiter | None = None,
        max_connections: int = 1000,
        record: Callable[[Served, float], None] | None = None,
    ) -> None:
        """``record``: counts and logs each batch item (the node's metrics, request log)."""
        self._service = service
        self._record = record
        self._host = host
        self._port = port
        self._tls = tls
        self._commits = commits
        self._open: set[asyncio.StreamWriter] = set()
        self._max_connections = max_connections

    async def serve(self) -> None:
        """Listen until cancelled (the worker's shutdown cancels its background jobs)."""
        server = await asyncio.start_server(
            self._connection,
            self._host,
            self._port,
            ssl=self._tls,
            reuse_port=True,
            ssl_handshake_timeout=READ_SECONDS,
        )
        log.info("KMIP server listening on %s:%d", self._host, self._port)
        try:
            async with server:
                await server.serve_forever()
        finally:
            for writer in list(self._open):
                writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source_ip = str(peer[0]) if peer else ""
        tls_object = writer.get_extra_info("ssl_object")
        der = None if tls_object is None else tls_object.getpeercert(binary_form=True)
        if len(self._open) >= self._max_connections:
            writer.close()  # as many connections as the worker takes (max_connections)
            return
        self._open.add(writer)
        try:
            if der is None:
                return  # CERT_REQUIRED makes this unreachable; refuse all the same
            client = fingerprint(der)
            while True:
                data, framed = await self._read_message(reader)
                if data is None:
                    return
                writer.write(await self._answer(data, client, source_ip))
                await writer.drain()
                if not framed:
                    return  # after an unreadable header the stream is out of step
        except (ConnectionError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:
            return  # the worker is shutting down: the connection just closes
        finally:
            self._open.discard(writer)
            writer.close()

    async def _read_message(self, reader: asyncio.StreamReader) -> tuple[bytes | None, bool]:
        """(message, whether it was framed); (None, True) at the end of the stream."""
        try:
            header = await asyncio.wait_for(reader.readexactly(ttlv.HEADER), IDLE_SECONDS)
        except asyncio.IncompleteReadError:
            return None, True
        try:
            length = ttlv.message_length(header)
        except ttlv.TtlvError:
            return header, False  # answered with Invalid Message
        if length > MAX_MESSAGE:
            raise ConnectionError("message too large")
        body = await asyncio.wait_for(reader.readexactly(length - ttlv.HEADER), READ_SECONDS)
        return header + body, True

    async def _answer(self, data: bytes, client: str, source_ip: str) -> bytes:
        started = time.perf_counter()
        ticket = None if self._commits is None else new_ticket()
        answer, served = await asyncio.to_thread(self._service.handle, data, client, source_ip)
        if self._commits is not None and ticket is not None and ticket.seq:
            try:
                await self._commits.wait_committed(ticket)
            except KmsError:
                # The event could not be committed: answer nothing rather than an unaudited
                # success (the client sees the connection close).
                raise ConnectionError("audit unavailable") from None
        if self._record is not None:
            seconds = time.perf_counter() - started  # a batch's items share its latency
            for item in served:
                self._record(item, seconds)
        return answer
