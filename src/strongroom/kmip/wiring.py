"""The KMIP listener as a background job of each worker (kms/app.py puts it in the list).

The job never returns while the listener serves; cancelling it at shutdown closes the listener.
If the port cannot be opened the job fails, is logged, and is tried again a few seconds later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from strongroom.client.served import Served
from strongroom.kmip.dispatch import KmipService
from strongroom.kmip.identity import KmipIdentities
from strongroom.kmip.objects import KmipObjects
from strongroom.kmip.registry import kmip_operations
from strongroom.kmip.server import KmipServer, KmipTls, tls_context
from strongroom.kms.audit.events import CommitWaiter
from strongroom.kms.config import Settings
from strongroom.kms.domain.clock import Clock
from strongroom.kms.service.pipeline import Pipeline
from strongroom.kms.storage.database import Database
from strongroom.kms.storage.kmip import KmipRepository

RETRY_SECONDS = 5.0


def kmip_tls_files(settings: Settings) -> KmipTls:
    """The server's pair (given, or generated in <data_dir>/kmip) and the client CA."""
    client_ca = Path(settings.kmip_client_ca_file)
    if settings.kmip_cert_file:
        return KmipTls(Path(settings.kmip_cert_file), Path(settings.kmip_key_file), client_ca)
    from strongroom.kms.api.tls import self_signed

    host = settings.kmip_host or settings.host
    files = self_signed(settings.data_dir / "kmip", host, settings.tls_names)
    return KmipTls(files.certificate, files.private_key, client_ca)


def kmip_jobs(
    settings: Settings,
    pipeline: Pipeline,
    db: Database,
    clock: Clock,
    commits: CommitWaiter | None,
    *,
    record: Callable[[Served, float], None] | None = None,
) -> list[tuple[Callable[[], Awaitable[None]], float]]:
    """``record``: where each KMIP batch item is counted and logged (KmsApi.record)."""
    if not settings.kmip_port:
        return []
    repository = KmipRepository(db)
    operations = kmip_operations(KmipObjects(repository, pipeline.ctx.cache))
    service = KmipService(pipeline, KmipIdentities(repository), operations, clock.now)
    server = KmipServer(
        service,
        settings.kmip_host or settings.host,
        settings.kmip_port,
        tls_context(kmip_tls_files(settings)),
        commits=commits,
        max_connections=settings.max_connections,
        record=record,
    )
    return [(server.serve, RETRY_SECONDS)]
