"""Events of real requests (through boto3, SigV4 and the pipeline) in the chained trail."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from strongroom.kms.audit.export import export_account
from strongroom.kms.audit.verify import verify_chain
from strongroom.kms.audit.writer import ChainedAuditLog
from tests.support.servers import InProcessServer
from tests.unit.kms.audit.helpers import new_store, open_db


def test_real_events_chain_verify_and_export_without_secrets(
    server: InProcessServer, kms: Any, tmp_path: Path
) -> None:
    before = len(server.audit.events)
    key_id = kms.create_key(Description="audit trail test")["KeyMetadata"]["KeyId"]
    plaintext = b"attack at dawn, bring the strongroom keys"
    blob = kms.encrypt(KeyId=key_id, Plaintext=plaintext)["CiphertextBlob"]
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == plaintext
    with pytest.raises(ClientError):
        kms.describe_key(KeyId="alias/no-such-alias")
    events = server.audit.events[before:]

    db, store = open_db(tmp_path), new_store()
    sink = ChainedAuditLog(db, store, server.region)
    for event in events:
        sink.record(event)
    sink.flush()
    verdict = verify_chain(db, store)
    assert verdict.ok, verdict.summary()

    lines = list(export_account(db, server.admin_key.account_id))
    records = [orjson.loads(line) for line in lines]
    assert [r["eventName"] for r in records] == [
        "CreateKey",
        "Encrypt",
        "GenerateDataKey",
        "Decrypt",
        "DescribeKey",
    ]
    encrypt = records[1]
    assert encrypt["resources"][0]["ARN"].endswith(f":key/{key_id}")
    assert encrypt["resources"][0]["accountId"] == server.admin_key.account_id
    assert encrypt["userIdentity"]["accessKeyId"] == server.admin_key.access_key_id
    assert (records[0]["readOnly"], encrypt["readOnly"]) == (False, True)
    assert records[-1]["errorCode"] == "NotFoundException"

    stored = "\n".join(lines).encode()
    for secret in (
        plaintext,
        base64.b64encode(plaintext),
        data_key["Plaintext"],
        base64.b64encode(data_key["Plaintext"]),
        server.admin_key.secret_access_key.encode(),
    ):
        assert secret not in stored
