"""One check for both kinds of custom key store (AWS_CLOUDHSM and EXTERNAL_KEY_STORE): a
DisconnectCustomKeyStore made through one worker is in force in every worker within the
deadline, and after ConnectCustomKeyStore every worker serves the store's key again."""

from __future__ import annotations

import time
from typing import Protocol

from tests.support import propagation
from tests.support.raw_kms import RawKms, Reply
from tests.support.servers import ServerProcess


class StoreDeployment(Protocol):
    @property
    def server(self) -> ServerProcess: ...

    @property
    def workers(self) -> list[int]: ...

    @property
    def store_id(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    @property
    def key_arn(self) -> str: ...

    def pin(self) -> dict[int, RawKms]: ...


def key_or_error(reply: Reply) -> str:
    """The key a reply names, or its error code."""
    return reply.error_code or str(reply.body["KeyId"])


def check_disconnect_reaches_every_worker(deployment: StoreDeployment) -> None:
    pinned, control = deployment.pin(), deployment.pin()
    server = deployment.server

    def request(conn: RawKms) -> Reply:
        return conn.encrypt(deployment.key_id)

    def warm() -> None:
        propagation.warm(
            pinned,
            server.endpoint,
            server.admin_key,
            request,
            deployment.key_arn,
            read=key_or_error,
        )

    def disconnect() -> None:
        reply = control[deployment.workers[1]].call(
            "DisconnectCustomKeyStore", {"CustomKeyStoreId": deployment.store_id}
        )
        assert reply.status == 200, reply

    warm()
    attempts = propagation.watch(
        pinned, server.endpoint, server.admin_key, request, disconnect, read=key_or_error
    )
    propagation.check_deadline(
        attempts, deployment.workers, deployment.key_arn, "KMSInvalidStateException"
    )
    # Connected again, every worker logs in again and serves.
    reply = control[deployment.workers[0]].call(
        "ConnectCustomKeyStore", {"CustomKeyStoreId": deployment.store_id}
    )
    assert reply.status == 200, reply
    time.sleep(propagation.DEADLINE)  # the other workers learn of it within that time
    warm()
