"""On the real hash-chained trail: a KMIP change commits with its event (ADR 6), reads are
group-committed, and ``strongroom audit export`` shows them in the tenant's trail."""

from __future__ import annotations

import json
import time
from pathlib import Path

from kmip.core import enums

from tests.kmip.conftest import kms_caller_arn
from tests.support.cli import run
from tests.support.kmip import kmip_server


def test_kmip_events_are_in_the_chained_trail(tmp_path: Path) -> None:
    with kmip_server(tmp_path / "world", chained_audit=True) as world:
        arn = kms_caller_arn(world)
        account = arn.split(":")[4]
        pair = world.pki.client("audited")
        world.register(pair, arn)
        client = world.proxy(pair)
        try:
            uid = client.create(enums.CryptographicAlgorithm.AES, 256)
            client.activate(uid)
            client.get(uid)
        finally:
            client.close()
        deadline = time.monotonic() + 10
        while True:
            status, out, err = run(
                "audit", "export", "--data-dir", str(world.server.data_dir), "--account", account
            )
            assert status == 0, err
            events = [json.loads(line) for line in out.splitlines() if line.strip()]
            mine = [
                e
                for e in events
                if any(uid in r.get("ARN", str(r)) for r in e.get("resources", []))
            ]
            names = [e["eventName"] for e in mine]
            if (
                names[-3:] == ["KmipCreate", "KmipActivate", "KmipGet"]
                or time.monotonic() > deadline
            ):
                break
            time.sleep(0.1)
        assert names[-3:] == ["KmipCreate", "KmipActivate", "KmipGet"]
        assert all(e["userIdentity"]["arn"] == arn for e in mine)
        status, out, err = run("audit", "verify", "--data-dir", str(world.server.data_dir))
        assert status == 0, out + err
