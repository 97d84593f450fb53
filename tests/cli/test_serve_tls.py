"""``strongroom serve`` over TLS: boto3, the AWS CLI and OpenSSL verify the certificate.

A generated self-signed pair and a certificate made by the OpenSSL command line (a second,
independent party) are both served; clients that do not trust the CA are refused. Plain HTTP
on an address other machines can reach needs ``--allow-plain-http``.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from strongroom.kms.service.admin import IssuedAccessKey
from tests.api.test_aws_cli import find_aws
from tests.support.processes import OutputDrain, non_loopback_addresses, strongroom
from tests.support.servers import free_port, read_credentials


@dataclass
class TlsServer:
    endpoint: str
    data_dir: Path
    key: IssuedAccessKey
    output: OutputDrain

    def client(self, verify: Any) -> Any:
        return boto3.client(
            "kms",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.key.access_key_id,
            aws_secret_access_key=self.key.secret_access_key,
            verify=verify,
            config=Config(retries={"max_attempts": 1}),
        )


@contextmanager
def tls_server(data_dir: Path, ca_file: Path, *args: str) -> Iterator[TlsServer]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "STRONGROOM_DATA_DIR"}
    command = [sys.executable, "-m", "strongroom.cli.main", "serve", "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    output = OutputDrain(process)
    endpoint = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, output.text()
            try:
                context = ssl.create_default_context(cafile=str(ca_file))
                with urllib.request.urlopen(f"{endpoint}/health", context=context, timeout=2):
                    break
            except (OSError, ssl.SSLError):
                assert time.monotonic() < deadline, output.text()
                time.sleep(0.2)
        yield TlsServer(endpoint, data_dir, read_credentials(data_dir), output)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def openssl(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )


def openssl_ca_and_server(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 and localhost, made by the OpenSSL CLI."""
    directory.mkdir()
    ca_key, ca, key, csr, cert = (
        directory / name for name in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    made = openssl(
        "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=OpenSSL test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    made = openssl(
        "req", "-new", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost"
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    extensions = directory / "ext.cnf"
    extensions.write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=critical,CA:FALSE\n"
    )
    made = openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extensions),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return ca, cert, key


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    data_dir = tmp_path_factory.mktemp("tls") / "data"
    with tls_server(data_dir, data_dir / "tls" / "ca.pem", "--tls", "self-signed") as server:
        yield server


def test_banner_names_the_ca_and_how_to_use_it(self_signed: TlsServer) -> None:
    ca = (self_signed.data_dir / "tls" / "ca.pem").resolve()
    text = self_signed.output.text()
    assert f"Strongroom KMS on {self_signed.endpoint} " in text
    assert f"AWS_CA_BUNDLE={ca}" in text
    assert f"--endpoint-url {self_signed.endpoint} --ca-bundle {ca}" in text


def test_generated_private_key_is_owner_only(self_signed: TlsServer) -> None:
    key = self_signed.data_dir / "tls" / "server.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    assert "server.key" not in self_signed.output.text()


def test_boto3_trusting_the_ca_works(self_signed: TlsServer) -> None:
    kms = self_signed.client(str(self_signed.data_dir / "tls" / "ca.pem"))
    key_id = kms.create_key(Description="over TLS")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"


def test_boto3_with_another_ca_or_the_system_cas_is_refused(
    self_signed: TlsServer, tmp_path: Path
) -> None:
    other_ca, _, _ = openssl_ca_and_server(tmp_path / "other")
    for verify in (str(other_ca), True):
        kms = self_signed.client(verify)
        with pytest.raises(botocore.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            kms.list_keys()


def test_aws_cli_with_ca_bundle_and_with_aws_ca_bundle(
    self_signed: TlsServer, tmp_path: Path
) -> None:
    ca = str(self_signed.data_dir / "tls" / "ca.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path),
        AWS_ACCESS_KEY_ID=self_signed.key.access_key_id,
        AWS_SECRET_ACCESS_KEY=self_signed.key.secret_access_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    base = [find_aws(), "kms", "list-keys", "--endpoint-url", self_signed.endpoint]
    for extra, extra_env in (
        (["--ca-bundle", ca], {}),
        ([], {"AWS_CA_BUNDLE": ca}),
        ([], {}),
    ):
        done = subprocess.run(
            [*base, *extra],
            env={**env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if extra or extra_env:
            assert done.returncode == 0, done.stderr
            assert isinstance(json.loads(done.stdout)["Keys"], list)
        else:
            assert done.returncode != 0
            assert "CERTIFICATE_VERIFY_FAILED" in done.stderr


def test_openssl_verifies_the_chain_and_refuses_tls_1_1(self_signed: TlsServer) -> None:
    ca = str(self_signed.data_dir / "tls" / "ca.pem")
    address = self_signed.endpoint.removeprefix("https://")
    verified = openssl(
        "s_client", "-connect", address, "-CAfile", ca, "-verify_return_error",
        "-verify_ip", "127.0.0.1",
    )  # fmt: skip
    assert "Verify return code: 0 (ok)" in verified.stdout, verified.stdout + verified.stderr
    old = openssl("s_client", "-connect", address, "-tls1_1")
    assert "Cipher is (NONE)" in old.stdout


def test_restart_reuses_the_generated_pair(self_signed: TlsServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ca = data_dir / "tls" / "ca.pem"
    with tls_server(data_dir, ca, "--tls", "self-signed"):
        first = ca.read_bytes(), (data_dir / "tls" / "server.key").read_bytes()
    with tls_server(data_dir, ca, "--tls", "self-signed") as again:
        assert (ca.read_bytes(), (data_dir / "tls" / "server.key").read_bytes()) == first
        assert again.client(str(ca)).list_keys()["Keys"] is not None


def test_certificate_made_by_openssl_is_served(tmp_path: Path) -> None:
    ca, cert, key = openssl_ca_and_server(tmp_path / "pki")
    data_dir = tmp_path / "data"
    with tls_server(data_dir, ca, "--tls-cert", str(cert), "--tls-key", str(key)) as server:
        assert isinstance(server.client(str(ca)).list_keys()["Keys"], list)
        assert "clients must trust its issuer" in server.output.text()
        assert not (data_dir / "tls").exists()


def test_plain_http_on_a_reachable_address_is_refused(tmp_path: Path) -> None:
    wildcard = "0.0.0.0"  # noqa: S104 - the refusal is the point; nothing binds
    result = strongroom("serve", "--data-dir", str(tmp_path / "d"), "--host", wildcard)
    assert result.returncode == 2
    assert "refusing plain HTTP on 0.0.0.0" in result.stderr
    assert "Strongroom KMS on" not in result.stdout
    assert not (tmp_path / "d").exists()


def test_allow_plain_http_starts_with_a_warning(tmp_path: Path) -> None:
    addresses = [address for family, address in non_loopback_addresses() if "." in address]
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address to listen on")
    port = free_port()
    command = [sys.executable, "-m", "strongroom.cli.main", "serve", "--workers", "1"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "d"), "--host", addresses[0], "--port",
         str(port), "--allow-plain-http"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )  # fmt: skip
    output = OutputDrain(process)
    try:
        banner = output.wait_for("Strongroom KMS on", timeout=60)
        assert f"WARNING: serving PLAIN HTTP on {addresses[0]}" in banner
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
