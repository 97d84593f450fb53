"""The audit events of ``strongroom admin`` changes, written in the change's transaction.

An administrator acting on the data directory directly is not an IAM principal: events name
``strongroom:administrator/<login>``. Only an allow-list of arguments is recorded (never a
secret access key, never a policy document's text: its name is enough to find it).
"""

from __future__ import annotations

import argparse
import getpass
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from strongroom.kms.audit.record import ADMINISTRATOR_PREFIX, PROVIDER_ACCOUNT

if TYPE_CHECKING:
    from strongroom.kms.app import DataDir

READ_ONLY_VERBS = frozenset(
    {"list", "get-policy", "list-policies", "list-keys", "list-credentials", "list-clients"}
)
_RECORDED_ARGUMENTS = (
    "account",
    "account_id",
    "name",
    "principal",
    "user",
    "role",
    "access_key_id",
    "custom_key_store",
    "xks_key_id",
    "fingerprint",
)
# Commands whose noun does not end in a plural "s".
_THING_NAMES = {"xks": "Xks", "kmip": "Kmip"}


def event_name(args: argparse.Namespace) -> str:
    """``admin users put-policy`` -> ``AdminPutPolicyUser``; ``accounts create`` ->
    ``AdminCreateAccount``."""
    verb = "".join(part.title() for part in str(args.verb).split("-"))
    thing = _THING_NAMES.get(args.thing) or "".join(
        part.title() for part in str(args.thing).rstrip("s").split("-")
    )
    return f"Admin{verb}{thing}"


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def audited(data_dir: DataDir, args: argparse.Namespace) -> Iterator[None]:
    """Around one admin command: its change and its event commit together."""
    verb = getattr(args, "verb", None)
    if verb is None or verb in READ_ONLY_VERBS or args.thing == "due":
        yield
        return
    from strongroom.kms.audit.durable import DurableEvent
    from strongroom.kms.audit.events import AuditEvent
    from strongroom.kms.audit.store import AuditChain
    from strongroom.kms.storage.database import commit_hook

    region, now = data_dir.settings.region, data_dir.clock.now
    parameters = {
        name: getattr(args, name)
        for name in _RECORDED_ARGUMENTS
        if getattr(args, name, None) is not None
    }

    def build() -> AuditEvent:
        return AuditEvent(
            time=now(),
            request_id=str(uuid.uuid4()),
            account_id=getattr(args, "account", None) or PROVIDER_ACCOUNT,
            principal_arn=ADMINISTRATOR_PREFIX + _login(),
            access_key_id="",
            source_ip="",
            operation=event_name(args),
            resources=(),
            request_parameters=parameters,
        )

    event = DurableEvent(AuditChain(data_dir.store, region, now), build)
    with commit_hook(event):
        yield
