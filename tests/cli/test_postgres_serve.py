"""PostgreSQL as a new user meets it: ``strongroom serve --database-url postgresql://...`` on a
fresh database, ``strongroom admin migrate-db``, and no password in anything printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run
from tests.support.postgres import PostgresCluster
from tests.support.servers import free_port, read_credentials, wait_healthy

PASSWORD = "pw-never-printed-7f3a"  # the test cluster trusts 127.0.0.1: any password works


def _with_password(url: str) -> str:
    return url.replace("strongroom@", f"strongroom:{PASSWORD}@")


def test_migrate_db_upgrades_once_and_hides_the_password(
    tmp_path: Path, postgres: PostgresCluster
) -> None:
    url = _with_password(postgres.new_database())
    status, out, err = run(
        "admin", "--data-dir", str(tmp_path), "migrate-db", "--database-url", url
    )
    assert status == 0, err
    first = json.loads(out)
    assert first["From"] is None and first["Changed"] is True
    assert PASSWORD not in out + err and "***" in first["Database"]
    status, out, _ = run("admin", "--data-dir", str(tmp_path), "migrate-db", "--database-url", url)
    again = json.loads(out)
    assert (again["From"], again["To"], again["Changed"]) == (first["To"], first["To"], False)
    assert first["ObjectStore"]["From"] is None
    assert again["ObjectStore"]["From"] == again["ObjectStore"]["To"] == first["ObjectStore"]["To"]


def test_an_unreachable_database_is_a_message_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://strongroom:{PASSWORD}@127.0.0.1:{free_port()}/nothing"
    status, out, err = run(
        "admin", "--data-dir", str(tmp_path), "migrate-db", "--database-url", url
    )
    assert status != 0
    assert "cannot reach the database" in err and PASSWORD not in out + err


def test_serve_with_a_postgresql_url_runs_two_workers_on_a_fresh_database(
    tmp_path: Path, postgres: PostgresCluster
) -> None:
    url = _with_password(postgres.new_database())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "strongroom.cli.main", "serve", "--data-dir", str(tmp_path / "d"),
         "--port", str(port), "--workers", "2", "--database-url", url],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(endpoint, process, timeout=60)
        import boto3

        key = read_credentials(tmp_path / "d")
        kms = boto3.client(
            "kms", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key,
        )  # fmt: skip
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"on postgres")["CiphertextBlob"]
        for _ in range(4):  # both workers answer
            assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"on postgres"
        rows = _count_keys(postgres, url.rsplit("/", 1)[1])
        assert rows == 1
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "database postgresql://strongroom:***@" in output
    assert PASSWORD not in output


def _count_keys(postgres: PostgresCluster, database: str) -> int:
    import psycopg

    with psycopg.connect(postgres.url(database)) as conn:
        row = conn.execute("SELECT count(*) FROM keys").fetchone()
    assert row is not None
    return int(str(row[0]))


@pytest.fixture(autouse=True)
def _no_inherited_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_DATABASE_URL", raising=False)
