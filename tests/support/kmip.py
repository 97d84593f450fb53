"""KMIP test world: a private PKI made with ``cryptography``, a server with KMIP on, and
pykmip clients over TLS (pykmip 0.11.0, an independent implementation)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from strongroom.kms.app import open_data_dir
from strongroom.kms.service.admin import ADMINISTRATOR_POLICY, IssuedAccessKey
from strongroom.kms.service.kmip_admin import KmipAdmin
from strongroom.kms.storage.identity import IdentityRepository
from strongroom.kms.storage.kmip import KmipRepository
from tests.support.servers import InProcessServer, free_port, in_process_server

_NOW = datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Pair:
    certificate: Path
    private_key: Path


@dataclass(frozen=True)
class Authority:
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    pem: Path


def _write(path: Path, data: bytes, mode: int = 0o644) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def authority(directory: Path, name: str) -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(hours=1))
        .not_valid_after(_NOW + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    return Authority(name, key, certificate, _write(directory / f"{name}.pem", pem))


def issue(ca: Authority, directory: Path, name: str, *, server: bool = False) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(hours=1))
        .not_valid_after(_NOW + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    certificate = builder.sign(ca.key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return Pair(
        _write(directory / f"{name}.pem", certificate.public_bytes(serialization.Encoding.PEM)),
        _write(directory / f"{name}.key", key_pem, 0o600),
    )


@dataclass(frozen=True)
class Pki:
    directory: Path
    server_ca: Authority
    client_ca: Authority
    server: Pair

    def client(self, name: str, ca: Authority | None = None) -> Pair:
        return issue(ca or self.client_ca, self.directory, name)


def make_pki(directory: Path) -> Pki:
    # An empty pykmip configuration: the clients take every setting from their arguments,
    # never from ~/.pykmip or /etc/pykmip on the machine.
    (directory / "no-pykmip.conf").write_text("")
    server_ca = authority(directory, "server-ca")
    client_ca = authority(directory, "client-ca")
    return Pki(
        directory, server_ca, client_ca, issue(server_ca, directory, "kmip-server", server=True)
    )


@dataclass(frozen=True)
class KmipWorld:
    server: InProcessServer
    pki: Pki
    port: int

    def register(self, pair: Pair, principal_arn: str) -> None:
        data = open_data_dir(self.server.settings)
        try:
            KmipAdmin(KmipRepository(data.db), IdentityRepository(data.db), data.clock).add_client(
                pair.certificate.read_bytes(), principal_arn
            )
        finally:
            data.db.engine.dispose()

    def new_account(self, name: str) -> tuple[str, IssuedAccessKey]:
        """Another account with an administrator ``admin``; its id and access key."""
        data = open_data_dir(self.server.settings)
        try:
            account = data.admin.create_account(name)
            data.admin.create_user(account.account_id, "admin")
            data.admin.put_user_policy(account.account_id, "admin", "all", ADMINISTRATOR_POLICY)
            issued = data.admin.create_access_key(account.account_id, "admin")
        finally:
            data.db.engine.dispose()
        return account.account_id, issued

    def proxy(self, pair: Pair, version: Any = None) -> Any:
        """pykmip's ProxyKmipClient, opened, over TLS with ``pair`` as its certificate."""
        from kmip.pie.client import ProxyKmipClient

        client = ProxyKmipClient(
            hostname="127.0.0.1",
            port=self.port,
            cert=str(pair.certificate),
            key=str(pair.private_key),
            ca=str(self.pki.server_ca.pem),
            # pykmip builds ssl.SSLContext(<this>) without hostname checks; PROTOCOL_TLS_CLIENT
            # would turn them on and fail in its wrap_socket (no server_hostname).
            ssl_version="PROTOCOL_SSLv23",
            config_file=str(self.pki.directory / "no-pykmip.conf"),
            kmip_version=version,
        )
        client.open()
        return client

    def raw(self, pair: Pair, version: Any = None) -> Any:
        """pykmip's lower-level KmipClient (KMIPProxy), opened."""
        from kmip.services.kmip_client import KMIPProxy

        client = KMIPProxy(
            host="127.0.0.1",
            port=self.port,
            certfile=str(pair.certificate),
            keyfile=str(pair.private_key),
            ca_certs=str(self.pki.server_ca.pem),
            ssl_version="PROTOCOL_SSLv23",
            config_file=str(self.pki.directory / "no-pykmip.conf"),
            kmip_version=version,
        )
        client.open()
        return client


def wait_listening(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on KMIP port {port}")


@contextmanager
def kmip_server(directory: Path, **settings: Any) -> Iterator[KmipWorld]:
    pki_dir = directory / "pki"
    pki_dir.mkdir(parents=True)
    pki = make_pki(pki_dir)
    port = free_port()
    with in_process_server(
        directory / "data",
        kmip_port=port,
        kmip_cert_file=str(pki.server.certificate),
        kmip_key_file=str(pki.server.private_key),
        kmip_client_ca_file=str(pki.client_ca.pem),
        **settings,
    ) as server:
        wait_listening(port)
        yield KmipWorld(server, pki, port)
