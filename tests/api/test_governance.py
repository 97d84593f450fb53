"""Governance end to end: boto3 against a server with the real audit chain, and the real
``strongroom operator`` / ``strongroom audit`` commands on the same data directory."""

from __future__ import annotations

import base64
import json
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from strongroom.kms.service.admin import IssuedAccessKey
from tests.support.cli import run
from tests.support.errors import aws_error
from tests.support.hsm_clusters import register_cluster
from tests.support.raw_kms import RawKms
from tests.support.servers import InProcessServer, in_process_server


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path_factory.mktemp("gov"), chained_audit=True) as running:
        yield running


@pytest.fixture(scope="module")
def client(chained: InProcessServer) -> Any:
    return chained.client()


@pytest.fixture(scope="module")
def operators(chained: InProcessServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three operators, M=2, enrolled with the real CLI; returns the directory of their keys."""
    keys = tmp_path_factory.mktemp("operator-keys")
    for name in ("ann", "bob", "cat"):
        assert run("operator", "keygen", name, "--out", str(keys))[0] == 0
    members = [f"--operator={n}={keys / f'{n}.pub.pem'}" for n in ("ann", "bob", "cat")]
    status, _, err = run(
        "operator", "init", "--data-dir", str(chained.data_dir), "--threshold", "2", *members
    )
    assert (status, err) == (0, "")
    return keys


def records(server: InProcessServer) -> list[dict[str, Any]]:
    with sqlite3.connect(server.data_dir / "strongroom.db") as conn:
        rows = conn.execute("SELECT record FROM audit_events ORDER BY seq").fetchall()
    return [orjson.loads(r[0]) for r in rows]


def export(server: InProcessServer, account: str) -> list[dict[str, Any]]:
    status, out, err = run(
        "audit", "export", "--data-dir", str(server.data_dir), "--account", account
    )
    assert (status, err) == (0, "")
    return [json.loads(line) for line in out.splitlines()]


def propose_provider_decrypt(
    server: InProcessServer,
    operators: Path,
    key_arn: str,
    ciphertexts: list[Path],
    *extra: str,
    reference: str = "r",
    justification: str = "j",
) -> tuple[int, str, str]:
    """``strongroom operator propose provider-decrypt`` by operator ann, for a legal order."""
    files = [arg for path in ciphertexts for arg in ("--ciphertext-file", str(path))]
    return run(
        "operator",
        "propose",
        "provider-decrypt",
        "--data-dir",
        str(server.data_dir),
        "--key",
        str(operators / "ann.key"),
        "--key-id",
        key_arn,
        *files,
        *extra,
        "--reason-code",
        "LEGAL_ORDER",
        "--reference",
        reference,
        "--justification",
        justification,
    )


def test_a_control_plane_event_is_in_the_chain_when_the_call_returns(
    chained: InProcessServer, client: Any
) -> None:
    # No flush in between: the background flush runs once a second, these lines take less.
    key = client.create_key(Description="durable")["KeyMetadata"]
    client.create_alias(AliasName="alias/durable", TargetKeyId=key["KeyId"])
    client.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "team", "TagValue": "x"}])
    found = {r["eventName"]: r for r in records(chained) if r["requestID"]}
    created = found["CreateKey"]
    assert [r["ARN"] for r in created["resources"]] == [key["Arn"]]
    assert created["requestParameters"] == {"Description": "durable"}
    assert found["CreateAlias"]["requestParameters"]["AliasName"] == "alias/durable"
    assert found["TagResource"]["requestParameters"]["Tags"] == [
        {"TagKey": "team", "TagValue": "x"}
    ]


def test_a_change_whose_audit_append_fails_is_rolled_back(
    chained: InProcessServer, client: Any
) -> None:
    before = {k["KeyId"] for k in client.list_keys()["Keys"]}
    db = chained.data_dir / "strongroom.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit store unavailable'); END"
        )
    try:
        with aws_error("KMSInternalException"):
            client.create_key(Description="never")
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("DROP TRIGGER audit_down")
    assert {k["KeyId"] for k in client.list_keys()["Keys"]} == before


def _wait_for(server: InProcessServer, name: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = records(server)
        if any(r["eventName"] == name for r in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {name} event after 10 s")


def test_secrets_never_reach_the_trail(chained: InProcessServer, client: Any) -> None:
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    marker = b"PLAINTEXT-MARKER-5f1e"
    blob = client.encrypt(KeyId=key_id, Plaintext=marker, EncryptionContext={"app": "t"})
    data_key = client.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    client.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "t"})
    trail = json.dumps(_wait_for(chained, "Decrypt"))
    for secret in (marker, data_key["Plaintext"]):
        assert secret.decode("latin-1") not in trail
        assert base64.b64encode(secret).decode() not in trail
    assert base64.b64encode(blob["CiphertextBlob"]).decode() not in trail
    assert chained.admin_key.secret_access_key not in trail
    assert '"EncryptionContext":{"app":"t"}' in trail.replace(" ", "")


def _propose(server: InProcessServer, keys: Path, *extra: str) -> tuple[int, str, str]:
    return run("operator", "propose", "--data-dir", str(server.data_dir), *extra)


def test_provider_access_runs_once_and_shows_in_the_tenant_trail(
    chained: InProcessServer, client: Any, operators: Path, tmp_path: Path
) -> None:
    key = client.create_key(Description="tenant data")["KeyMetadata"]
    context = {"case": "17"}
    files: list[Path] = []
    for n, secret in enumerate((b"first secret", b"second secret")):
        blob = client.encrypt(KeyId=key["KeyId"], Plaintext=secret, EncryptionContext=context)
        path = tmp_path / f"c{n}.bin"
        path.write_bytes(blob["CiphertextBlob"])
        files.append(path)
    status, out, err = propose_provider_decrypt(
        chained,
        operators,
        key["Arn"],
        files,
        "--encryption-context",
        json.dumps(context),
        reference="court order 2026/17",
        justification="warrant served on us",
    )
    assert (status, err) == (0, ""), err
    pid = json.loads(out)["ProposalId"]
    out_file = tmp_path / "plain.json"
    data_dir = str(chained.data_dir)
    status, _, err = run(
        "operator",
        "execute",
        pid,
        "--data-dir",
        data_dir,
        "--key",
        str(operators / "ann.key"),
        "--out",
        str(out_file),
    )
    assert status == 2 and "1 valid approval(s); M=2 are needed" in err
    assert not out_file.exists()
    assert (
        run(
            "operator", "approve", pid, "--data-dir", data_dir, "--key", str(operators / "bob.key")
        )[0]
        == 0
    )
    status, out, err = run(
        "operator",
        "execute",
        pid,
        "--data-dir",
        data_dir,
        "--key",
        str(operators / "cat.key"),
        "--out",
        str(out_file),
    )
    assert (status, err) == (0, "")
    assert json.loads(out)["Executed"]["numberOfCiphertexts"] == 2
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    plain = json.loads(out_file.read_text())["plaintexts"]
    assert [base64.b64decode(p) for p in plain] == [b"first secret", b"second secret"]
    # exactly once
    status, _, err = run(
        "operator",
        "execute",
        pid,
        "--data-dir",
        data_dir,
        "--key",
        str(operators / "cat.key"),
        "--out",
        str(tmp_path / "again"),
    )
    assert status == 2 and "executed already" in err

    trail = export(chained, key["AWSAccountId"])
    (access,) = [r for r in trail if r["eventName"] == "ProviderAccess"]
    assert access["resources"][0]["ARN"] == key["Arn"]
    assert access["userIdentity"]["type"] == "StrongroomOperator"
    assert access["errorCode"] is None
    details = access["additionalEventData"]
    assert details["proposer"] == "ann"
    assert details["approvers"] == ["ann", "bob"]
    assert details["executedBy"] == "cat"
    assert (details["reasonCode"], details["reference"]) == ("LEGAL_ORDER", "court order 2026/17")
    assert details["justification"] == "warrant served on us"
    assert access["requestParameters"]["numberOfCiphertexts"] == 2
    text = json.dumps(trail)
    assert "first secret" not in text and base64.b64encode(b"first secret").decode() not in text
    assert "Zmlyc3Qgc2VjcmV0" not in json.dumps(export(chained, "provider"))
    # the tenant lists it through the API (a Strongroom extension operation)
    raw = RawKms(chained.endpoint, chained.admin_key)
    try:
        reply = raw.call("ListProviderAccesses", {"KeyId": key["Arn"]})
    finally:
        raw.close()
    assert reply.status == 200, reply.body
    (listed,) = reply.body["ProviderAccesses"]
    # Timestamps in epoch seconds, as the KMS answers them (the trail's record says ISO 8601).
    assert abs(listed["EventTime"] - chained.clock.now().timestamp()) < 3600
    assert {
        k: listed[k]
        for k in (
            "KeyArn",
            "Outcome",
            "Proposer",
            "Approvers",
            "ExecutedBy",
            "ReasonCode",
            "Reference",
            "NumberOfCiphertexts",
        )
    } == {
        "KeyArn": key["Arn"],
        "Outcome": "Executed",
        "Proposer": "ann",
        "Approvers": ["ann", "bob"],
        "ExecutedBy": "cat",
        "ReasonCode": "LEGAL_ORDER",
        "Reference": "court order 2026/17",
        "NumberOfCiphertexts": 2,
    }
    assert listed["ProposalId"] == pid and reply.body["Truncated"] is False
    # the exposure report counts it
    status, out, _ = run(
        "report",
        "exposure",
        "--data-dir",
        data_dir,
        "--account",
        key["AWSAccountId"],
        "--format",
        "json",
    )
    (row,) = [k for k in json.loads(out)["Keys"] if k["KeyArn"] == key["Arn"]]
    assert (status, row["Exposure"], row["ProviderAccesses"]) == (0, "provider-under-quorum", 1)
    # the chain is intact after all of it
    status, out, _ = run("audit", "verify", "--data-dir", data_dir)
    assert status == 0 and "chain intact" in out


def test_a_key_in_the_customers_hsm_is_refused_at_once_and_the_tenant_sees_it(
    chained: InProcessServer, client: Any, operators: Path, tmp_path: Path
) -> None:
    # A real custom key store key: generated in a SoftHSM2 cluster the tenant connected.
    cluster = register_cluster(chained.data_dir, hsms=2)
    store_id = client.create_custom_key_store(
        CustomKeyStoreName="customer-hsm",
        CloudHsmClusterId=cluster.cluster_id,
        TrustAnchorCertificate=cluster.trust_anchor,
        KeyStorePassword=cluster.password,
    )["CustomKeyStoreId"]
    client.connect_custom_key_store(CustomKeyStoreId=store_id)
    meta = client.create_key(CustomKeyStoreId=store_id, Origin="AWS_CLOUDHSM")["KeyMetadata"]
    account = meta["AWSAccountId"]
    record_arn = meta["Arn"]
    blob = tmp_path / "c.bin"
    blob.write_bytes(
        client.encrypt(KeyId=record_arn, Plaintext=b"the customer's")["CiphertextBlob"]
    )
    status, out, err = propose_provider_decrypt(
        chained, operators, record_arn, [blob], reference="order 9", justification="warrant"
    )
    assert (status, out) == (2, "")
    assert "held in the customer's HSM" in err
    status, out, _ = run("operator", "list", "--data-dir", str(chained.data_dir))
    assert record_arn not in out  # no proposal was stored
    (refusal,) = [
        r
        for r in export(chained, account)
        if r["eventName"] == "ProviderAccess" and r["resources"][0]["ARN"] == record_arn
    ]
    assert refusal["errorCode"] == "KeyInCustomerHsm"
    assert refusal["additionalEventData"]["proposer"] == "ann"
    assert refusal["requestParameters"]["reasonCode"] == "LEGAL_ORDER"
    status, out, _ = run(
        "report", "exposure", "--data-dir", str(chained.data_dir), "--account", account
    )
    line = next(x for x in out.splitlines() if x.startswith(record_arn))
    assert status == 0 and "customer-hsm-only" in line
    assert "HSM clusters: 1, HSMs: 2 (2000.00 USD/month)" in out


def test_a_provider_access_that_fails_to_decrypt_leaves_no_trace_but_the_refusal(
    chained: InProcessServer, client: Any, operators: Path, tmp_path: Path
) -> None:
    key = client.create_key()["KeyMetadata"]
    blob = client.encrypt(KeyId=key["KeyId"], Plaintext=b"p", EncryptionContext={"a": "1"})
    path = tmp_path / "c.bin"
    path.write_bytes(blob["CiphertextBlob"])
    data_dir = str(chained.data_dir)
    status, out, err = propose_provider_decrypt(
        chained, operators, key["Arn"], [path], "--encryption-context", '{"a": "2"}'
    )
    assert status == 0, err
    pid = json.loads(out)["ProposalId"]
    assert (
        run(
            "operator", "approve", pid, "--data-dir", data_dir, "--key", str(operators / "bob.key")
        )[0]
        == 0
    )
    out_file = tmp_path / "plain.json"
    status, _, err = run(
        "operator",
        "execute",
        pid,
        "--data-dir",
        data_dir,
        "--key",
        str(operators / "bob.key"),
        "--out",
        str(out_file),
    )
    assert status == 2 and "does not decrypt" in err and "nothing was executed" in err
    assert not out_file.exists()
    shown = json.loads(run("operator", "show", pid, "--data-dir", data_dir)[1])
    assert shown["State"] == "approved"
    assert not [
        r
        for r in export(chained, key["AWSAccountId"])
        if r["eventName"] == "ProviderAccess" and r["resources"][0]["ARN"] == key["Arn"]
    ]


def test_malformed_proposals_are_refused(
    chained: InProcessServer, operators: Path, tmp_path: Path
) -> None:
    data_dir, ann = str(chained.data_dir), str(operators / "ann.key")
    cases = [
        (("launch-missiles",), "unknown action 'launch-missiles'"),
        (("set-threshold", "--threshold", "9"), "M=9 exceeds the number of operators N=3"),
        (
            (
                "provider-decrypt",
                "--key-id",
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                "--reason-code",
                "LEGAL_ORDER",
                "--reference",
                "r",
            ),
            "no key",
        ),
        (("remove-operator", "--name", "nobody"), "nobody is not an enrolled operator"),
    ]
    for argv, error in cases:
        status, _, err = run(
            "operator",
            "propose",
            argv[0],
            "--data-dir",
            data_dir,
            "--key",
            ann,
            "--justification",
            "j",
            *argv[1:],
        )
        assert status == 2 and error in err, err
    status, _, err = run(
        "operator",
        "propose",
        "set-threshold",
        "--data-dir",
        data_dir,
        "--key",
        ann,
        "--justification",
        "  ",
        "--threshold",
        "2",
    )
    assert status == 2 and "a justification is required" in err


def test_another_tenant_sees_none_of_it(chained: InProcessServer, operators: Path) -> None:
    data_dir = str(chained.data_dir)
    account = json.loads(
        run("admin", "--data-dir", data_dir, "accounts", "create", "--name", "other")[1]
    )["AccountId"]
    run("admin", "--data-dir", data_dir, "users", "create", "--account", account, "dev")
    run(
        "admin",
        "--data-dir",
        data_dir,
        "users",
        "put-policy",
        "--account",
        account,
        "--user",
        "dev",
        "--name",
        "all",
        "--document",
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    )
    issued = json.loads(
        run(
            "admin",
            "--data-dir",
            data_dir,
            "access-keys",
            "create",
            "--account",
            account,
            "--user",
            "dev",
        )[1]
    )
    key = IssuedAccessKey(issued["AccessKeyId"], issued["SecretAccessKey"], account, "dev")
    deadline = time.monotonic() + 5
    raw = RawKms(chained.endpoint, key)
    try:
        while (reply := raw.call("ListProviderAccesses", {})).status != 200:
            assert time.monotonic() < deadline, reply.body  # the new key reaches the worker
            time.sleep(0.05)
        assert reply.body == {"ProviderAccesses": [], "Truncated": False}
        assert raw.call("ListProviderAccesses", {"Marker": "x"}).error_code == (
            "InvalidMarkerException"
        )
    finally:
        raw.close()
