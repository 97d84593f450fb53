"""TLS material for the listener: a given certificate, or a generated self-signed pair.

``--tls self-signed`` writes ``<data_dir>/tls/``:

- ``ca.pem``: a one-off certificate authority that clients trust (``aws --ca-bundle``,
  ``AWS_CA_BUNDLE``, boto3 ``verify=``). Its private key is never written: it signs the server
  certificate once and is dropped, and the CA is name-constrained to the server's names, so
  trusting it trusts nothing else;
- ``server.pem`` (certificate) and ``server.key`` (its private key, ``0600``, ``O_EXCL``).

The pair is reused while it covers the names asked for and stays valid for 30 more days;
otherwise both (and so the CA clients must trust) are generated again.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=397)
RENEW_BEFORE = datetime.timedelta(days=30)
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class TlsFiles:
    certificate: Path
    private_key: Path
    ca_bundle: Path | None  # None: a certificate the operator gave; its CA is theirs
    generated: bool = False


def server_names(host: str, extra: str = "") -> tuple[list[str], list[IpAddress]]:
    """DNS names and addresses the certificate must carry for a listener on ``host``."""
    names = ["localhost"]
    addresses: list[IpAddress] = [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    candidates = [socket.gethostname()] if host in _WILDCARDS else [host]
    candidates += [name.strip() for name in extra.split(",") if name.strip()]
    for candidate in candidates:
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            if candidate not in names:
                names.append(candidate)
        else:
            if address not in addresses:
                addresses.append(address)
    return names, addresses


def self_signed(directory: Path, host: str, extra_names: str = "") -> TlsFiles:
    """The self-signed pair for ``host`` under ``directory``, reused or generated."""
    names, addresses = server_names(host, extra_names)
    files = TlsFiles(
        directory / "server.pem", directory / "server.key", directory / "ca.pem", generated=True
    )
    if _reusable(files, names, addresses):
        return TlsFiles(files.certificate, files.private_key, files.ca_bundle)
    directory.mkdir(mode=0o700, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Strongroom local CA")])
    general = [x509.DNSName(n) for n in names] + [x509.IPAddress(a) for a in addresses]
    permitted: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    permitted += [x509.IPAddress(ipaddress.ip_network(a)) for a in addresses]
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.NameConstraints(permitted, None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])])
    server = (
        _builder(server_name, ca_name, server_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    for path in (files.private_key, files.certificate, directory / "ca.pem"):
        path.unlink(missing_ok=True)
    _write(files.private_key, key_pem, 0o600)
    pem = serialization.Encoding.PEM
    _write(files.certificate, server.public_bytes(pem) + ca.public_bytes(pem), 0o644)
    _write(directory / "ca.pem", ca.public_bytes(pem), 0o644)
    return files


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _reusable(files: TlsFiles, names: list[str], addresses: list[IpAddress]) -> bool:
    paths = (files.certificate, files.private_key, files.ca_bundle)
    if not all(path is not None and path.exists() for path in paths):
        return False
    certificate = x509.load_pem_x509_certificate(files.certificate.read_bytes())
    if certificate.not_valid_after_utc - datetime.datetime.now(datetime.UTC) < RENEW_BEFORE:
        return False
    alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    have_names = set(alternative.value.get_values_for_type(x509.DNSName))
    have_addresses = set(alternative.value.get_values_for_type(x509.IPAddress))
    return set(names) <= have_names and set(addresses) <= have_addresses
